/* SPDX-License-Identifier: Apache-2.0 */
/* Per-child memo of ID token claims (see rts_claims_memo.h). */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "rts_claims_memo.h"
#include "rts_jose.h"
#include "rts_json.h"
#include "rts_lock.h"

typedef struct slot_t {
    char *id_token;                  /* malloc'd copy: the key */
    apr_size_t len;
    json_t *claims;                  /* the memo's own reference */
} slot_t;

struct rts_claims_memo_t {
    rts_lock_t *lock;
    slot_t slots[RTS_CLAIMS_MEMO_SLOTS];
};

static void slot_clear(slot_t *s)
{
    if (s->id_token) {
        OPENSSL_cleanse(s->id_token, s->len);
        free(s->id_token);
    }
    json_decref(s->claims);
    s->id_token = NULL;
    s->len = 0;
    s->claims = NULL;
}

static apr_status_t memo_cleanup(void *data)
{
    rts_claims_memo_t *m = data;
    int i;

    for (i = 0; i < RTS_CLAIMS_MEMO_SLOTS; i++) {
        slot_clear(&m->slots[i]);
    }
    return APR_SUCCESS;
}

apr_status_t rts_claims_memo_create(apr_pool_t *p, rts_claims_memo_t **pmemo)
{
    rts_claims_memo_t *m = apr_pcalloc(p, sizeof(*m));
    apr_status_t rv = rts_lock_create(p, &m->lock);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* registered after the mutex: cleanups run in reverse order, the mutex outlives the slots */
    apr_pool_cleanup_register(p, m, memo_cleanup, apr_pool_cleanup_null);
    *pmemo = m;
    return APR_SUCCESS;
}

/* FNV-1a over the token's last bytes: its signature, which differs between any two tokens. */
static unsigned slot_of(const char *id_token, apr_size_t len)
{
    apr_uint32_t h = 2166136261u;
    apr_size_t i = len > 32 ? len - 32 : 0;

    for (; i < len; i++) {
        h ^= (unsigned char)id_token[i];
        h *= 16777619u;
    }
    return h % RTS_CLAIMS_MEMO_SLOTS;
}

apr_status_t rts_claims_memo_get(rts_claims_memo_t *memo, apr_pool_t *p, const char *id_token,
                                 apr_size_t max_len, json_t **pclaims)
{
    json_t *claims = NULL;
    slot_t *s;
    apr_size_t len;
    char *copy;
    apr_status_t rv;

    if (!memo || !id_token) {
        return rts_jwt_peek_claims(p, id_token, max_len, pclaims);
    }
    len = strlen(id_token);
    s = &memo->slots[slot_of(id_token, len)];
    rts_lock(memo->lock);
    if (s->claims && s->len == len && memcmp(s->id_token, id_token, len) == 0) {
        claims = json_incref(s->claims);      /* atomic: the object is shared, never changed */
    }
    rts_unlock(memo->lock);
    if (claims) {
        *pclaims = rts_json_pool_own(p, claims);
        return APR_SUCCESS;
    }
    /* parsed outside the lock; a concurrent miss on the same slot just parses twice */
    if ((rv = rts_jwt_peek_claims(p, id_token, max_len, pclaims)) != APR_SUCCESS) {
        return rv;
    }
    if ((copy = malloc(len + 1)) == NULL) {
        return APR_SUCCESS;                   /* not memoized; the answer is still right */
    }
    memcpy(copy, id_token, len + 1);
    rts_lock(memo->lock);
    slot_clear(s);
    s->id_token = copy;
    s->len = len;
    s->claims = json_incref(*pclaims);
    rts_unlock(memo->lock);
    return APR_SUCCESS;
}
