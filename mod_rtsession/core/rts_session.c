/* SPDX-License-Identifier: Apache-2.0 */
/* Session records: naming, sealing, (de)serialization, store access. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_session.h"
#include "rts_session_codec.h"
#include "rts_record.h"
#include "rts_store.h"
#include "rts_crypto.h"
#include "rts_lifetime.h"
#include "rts_util.h"
#include "rts_config.h"

#define SESSION_KEY_PREFIX "rts:s:"
#define SEAL_INFO "rtsession session v2"   /* v2: binary plaintext (rts_session_codec.h) */

apr_status_t rts_session_new_id(apr_pool_t *p, const char **pid)
{
    return rts_random_token(p, RTS_SESSION_ID_BYTES, pid);
}

apr_status_t rts_session_new_id_placed(rts_ctx_t *ctx, const char **pid)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);
    apr_status_t rv;
    int i;

    /* The id is random anyway: draw again while its record would land on a memcached server
     * that is failed fast, so a login during a server's outage creates a session elsewhere
     * that stays where it is when the server returns (no key ever moves). 16 draws miss only
     * when nearly every server is down; the add then fails fast (503). */
    for (i = 0; i < RTS_PLACE_DRAWS; i++) {
        if ((rv = rts_session_new_id(ctx->pool, pid)) != APR_SUCCESS) {
            return rv;
        }
        if (rts_store_usable(ctx->store, rts_session_store_key(ctx->pool, secret, *pid))) {
            break;
        }
    }
    return APR_SUCCESS;
}

int rts_session_id_valid(const char *id)
{
    apr_size_t i;

    if (!id || strlen(id) != 43) {
        return 0;
    }
    for (i = 0; i < 43; i++) {
        char c = id[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

const char *rts_session_store_key(apr_pool_t *p, const rts_secret_t *secret, const char *id)
{
    return rts_record_key(p, secret, SESSION_KEY_PREFIX, apr_pstrcat(p, "s:", id, NULL));
}

apr_status_t rts_session_seal(apr_pool_t *p, const rts_config_t *cfg, rts_session_t *s,
                              const char **pval, apr_size_t *plen)
{
    const unsigned char *plain;
    apr_size_t plain_len;
    apr_status_t rv;

    if (!s->secret) {
        s->secret = &APR_ARRAY_IDX(cfg->secrets, 0, rts_secret_t);
    }
    if (!s->store_key) {
        s->store_key = rts_session_store_key(p, s->secret, s->id);
    }
    rv = rts_session_encode(p, s, &plain, &plain_len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (plain_len > RTS_SESSION_MAX_PLAIN) {
        return RTS_ETOOLARGE;   /* rts_session_open would refuse it: never write it */
    }
    /* bound to the cookie: memcached and the module secret without the cookie open nothing */
    return rts_record_seal(p, s->secret, s->id, SEAL_INFO, s->store_key, plain, plain_len,
                           pval, plen);
}

apr_status_t rts_session_open(apr_pool_t *p, const rts_secret_t *secret, const char *id,
                              const char *store_key, const char *val, apr_size_t len,
                              rts_session_t **ps)
{
    const char *plain;
    apr_size_t plain_len;
    rts_session_t *s;

    if (rts_record_open(p, secret, id, SEAL_INFO, store_key, val, len, &plain, &plain_len)
        != APR_SUCCESS || plain_len > RTS_SESSION_MAX_PLAIN) {
        return RTS_EBADTOKEN;
    }
    s = apr_pcalloc(p, sizeof(*s));
    if (rts_session_decode((const unsigned char *)plain, plain_len, s) != APR_SUCCESS) {
        return RTS_EBADTOKEN;
    }
    s->id = id;
    s->store_key = store_key;
    s->secret = secret;
    *ps = s;
    return APR_SUCCESS;
}

apr_status_t rts_session_load(rts_ctx_t *ctx, const char *id, rts_session_t **ps)
{
    int i;

    for (i = 0; i < ctx->cfg->secrets->nelts; i++) {
        const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, i, rts_secret_t);
        const char *key = rts_session_store_key(ctx->pool, secret, id);
        const char *val;
        apr_size_t len;
        apr_uint64_t cas;
        apr_status_t rv;

        rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, &cas);
        if (rv == APR_ENOENT) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = rts_session_open(ctx->pool, secret, id, key, val, len, ps);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        (*ps)->cas = cas;
        return APR_SUCCESS;
    }
    return APR_ENOENT;
}

apr_uint32_t rts_session_ttl(const rts_ctx_t *ctx, const rts_session_t *s)
{
    return rts_lifetime_ttl(ctx, s, rts_now(ctx));
}

apr_status_t rts_session_cas(rts_ctx_t *ctx, rts_session_t *s)
{
    const char *val;
    apr_size_t len;
    apr_status_t rv;

    s->seen = rts_now(ctx);   /* every write is activity: the idle deadline restarts */
    rv = rts_session_seal(ctx->pool, ctx->cfg, s, &val, &len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return ctx->store->cas(ctx->store, NULL, s->store_key, val, len, rts_session_ttl(ctx, s), s->cas);
}

apr_status_t rts_session_add(rts_ctx_t *ctx, rts_session_t *s)
{
    const char *val;
    apr_size_t len;
    apr_status_t rv;

    s->seen = rts_now(ctx);   /* every write is activity: the idle deadline restarts */
    rv = rts_session_seal(ctx->pool, ctx->cfg, s, &val, &len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return ctx->store->add(ctx->store, NULL, s->store_key, val, len, rts_session_ttl(ctx, s));
}

apr_status_t rts_session_delete(rts_ctx_t *ctx, rts_session_t *s)
{
    apr_status_t rv = ctx->store->del(ctx->store, NULL, s->store_key);

    return rv == APR_ENOENT ? APR_SUCCESS : rv;
}
