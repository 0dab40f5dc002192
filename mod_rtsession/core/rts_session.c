/* Session records: naming, sealing, (de)serialization, store access. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_session.h"
#include "rts_record.h"
#include "rts_store.h"
#include "rts_crypto.h"
#include "rts_json.h"
#include "rts_jose.h"
#include "rts_lifetime.h"
#include "rts_util.h"

#define SESSION_MAX_PLAIN (48 * 1024)
#define SESSION_KEY_PREFIX "rts:s:"
#define SEAL_INFO "rtsession session v1"

apr_status_t rts_session_new_id(apr_pool_t *p, const char **pid)
{
    return rts_random_token(p, RTS_SESSION_ID_BYTES, pid);
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

static void json_set_str(json_t *o, const char *k, const char *v)
{
    if (v) {
        json_object_set_new(o, k, json_string(v));
    }
}

static void json_set_time(json_t *o, const char *k, apr_time_t t)
{
    if (t) {
        /* milliseconds: enough precision for lock deadlines, compact for the rest */
        json_object_set_new(o, k, json_integer((json_int_t)(t / 1000)));
    }
}

apr_status_t rts_session_seal(apr_pool_t *p, const rts_config_t *cfg, rts_session_t *s,
                              const char **pval, apr_size_t *plen)
{
    json_t *o = rts_json_pool_own(p, json_object());
    const char *plain;
    apr_size_t plain_len;
    apr_status_t rv;

    if (!s->secret) {
        s->secret = &APR_ARRAY_IDX(cfg->secrets, 0, rts_secret_t);
    }
    if (!s->store_key) {
        s->store_key = rts_session_store_key(p, s->secret, s->id);
    }
    json_object_set_new(o, "v", json_integer(RTS_SESSION_FORMAT));
    json_object_set_new(o, "g", json_integer((json_int_t)s->gen));
    json_set_str(o, "s", s->sub);
    json_set_str(o, "i", s->id_token);
    json_set_str(o, "a", s->access_token);
    json_set_str(o, "r", s->refresh_token);
    json_set_time(o, "ae", s->at_expires);
    json_set_time(o, "re", s->rt_expires);
    json_set_time(o, "c", s->created);
    json_set_time(o, "t", s->seen);
    json_set_str(o, "sid", s->sid);
    json_set_str(o, "lo", s->lock_owner);
    json_set_time(o, "lu", s->lock_until);
    plain = rts_json_dump(p, o, &plain_len);
    if (!plain) {
        return APR_ENOMEM;
    }
    /* bound to the cookie: memcached and the module secret without the cookie open nothing */
    rv = rts_record_seal(p, s->secret, s->id, SEAL_INFO, s->store_key, plain, plain_len,
                         pval, plen);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return APR_SUCCESS;
}

static apr_time_t json_get_time(const json_t *o, const char *k)
{
    apr_int64_t ms;

    /* bounded (year 9999) before scaling: no signed overflow on a corrupt record (fuzzing) */
    return rts_json_int(o, k, &ms) == APR_SUCCESS && ms > 0 && ms <= 253402300799000LL
           ? (apr_time_t)ms * 1000 : 0;
}

apr_status_t rts_session_open(apr_pool_t *p, const rts_secret_t *secret, const char *id,
                              const char *store_key, const char *val, apr_size_t len,
                              rts_session_t **ps)
{
    const char *plain;
    apr_size_t plain_len;
    json_t *o;
    rts_session_t *s;
    apr_int64_t v, gen;
    apr_status_t rv;

    rv = rts_record_open(p, secret, id, SEAL_INFO, store_key, val, len, &plain, &plain_len);
    if (rv != APR_SUCCESS) {
        return RTS_EBADTOKEN;
    }
    if (rts_json_parse_object(p, plain, plain_len, SESSION_MAX_PLAIN, &o)
        != APR_SUCCESS
        || rts_json_int(o, "v", &v) != APR_SUCCESS || v != RTS_SESSION_FORMAT
        || rts_json_int(o, "g", &gen) != APR_SUCCESS
        || !rts_json_str(o, "s") || !rts_json_str(o, "a")) {
        return RTS_EBADTOKEN;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->id = id;
    s->store_key = store_key;
    s->secret = secret;
    s->gen = gen;
    s->sub = rts_json_str(o, "s");
    s->id_token = rts_json_str(o, "i");
    s->access_token = rts_json_str(o, "a");
    s->refresh_token = rts_json_str(o, "r");
    s->at_expires = json_get_time(o, "ae");
    s->rt_expires = json_get_time(o, "re");
    s->created = json_get_time(o, "c");
    s->seen = json_get_time(o, "t");
    s->sid = rts_json_str(o, "sid");
    s->lock_owner = rts_json_str(o, "lo");
    s->lock_until = json_get_time(o, "lu");
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

apr_status_t rts_session_claims(apr_pool_t *p, const rts_session_t *s, json_t **pclaims)
{
    /* verified when it was stored */
    return rts_jwt_peek_claims(p, s->id_token, SESSION_MAX_PLAIN, pclaims);
}
