/* Back-channel logout: the sid/sub index, logout token validation, ending the sessions. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_backchannel.h"
#include "rts_config.h"
#include "rts_crypto.h"
#include "rts_jose.h"
#include "rts_json.h"
#include "rts_lifetime.h"
#include "rts_log.h"
#include "rts_metrics.h"
#include "rts_record.h"
#include "rts_provider.h"
#include "rts_store.h"
#include "rts_util.h"

#define INDEX_PREFIX "rts:b:"
#define INDEX_MAX_TEXT (RTS_BACKCHANNEL_INDEX_MAX * 64 + 64)
#define INDEX_CAS_ATTEMPTS 5
#define MAX_RELATIVE_TTL (30 * 24 * 3600)

static const char *index_key(apr_pool_t *p, const rts_secret_t *secret, const char *kind,
                             const char *iss, const char *value)
{
    return rts_record_key(p, secret, INDEX_PREFIX,
                          apr_pstrcat(p, kind, ":", iss, "\n", value, NULL));
}

/* The store keys an index item names; an empty list when absent or unreadable. */
static json_t *index_parse(apr_pool_t *p, const char *val, apr_size_t len)
{
    json_t *o, *keys;

    if (val && rts_json_parse_object(p, val, len, INDEX_MAX_TEXT, &o) == APR_SUCCESS
        && json_is_array(keys = json_object_get(o, "k"))) {
        return keys;
    }
    return rts_json_pool_own(p, json_array());
}

/* Adds store_key to one index item: add when absent, else compare-and-swap. */
static apr_status_t index_append(rts_ctx_t *ctx, const char *key, const char *store_key,
                                 apr_uint32_t ttl)
{
    int attempt;

    for (attempt = 0; attempt < INDEX_CAS_ATTEMPTS; attempt++) {
        const char *val = NULL, *text;
        apr_size_t len = 0, tlen;
        apr_uint64_t cas = 0;
        json_t *keys, *o;
        apr_status_t rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, &cas);

        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            return rv;
        }
        keys = json_deep_copy(index_parse(ctx->pool, rv == APR_SUCCESS ? val : NULL, len));
        rts_json_pool_own(ctx->pool, keys);
        json_array_append_new(keys, json_string(store_key));
        while (json_array_size(keys) > RTS_BACKCHANNEL_INDEX_MAX) {
            json_array_remove(keys, 0);   /* the oldest: most likely expired already */
        }
        o = rts_json_pool_own(ctx->pool, json_object());
        json_object_set(o, "k", keys);
        text = rts_json_dump(ctx->pool, o, &tlen);
        if (!text) {
            return APR_ENOMEM;
        }
        /* the item lives as long as the longest session it may name */
        rv = rv == APR_ENOENT ? ctx->store->add(ctx->store, NULL, key, text, tlen, ttl)
                              : ctx->store->cas(ctx->store, NULL, key, text, tlen, ttl, cas);
        if (rv == APR_EEXIST || rv == APR_ENOENT) {
            continue;                     /* another login raced us: read again */
        }
        return rv;
    }
    return APR_EEXIST;
}

apr_status_t rts_backchannel_index_add(rts_ctx_t *ctx, const rts_session_t *s)
{
    const rts_config_t *cfg = ctx->cfg;
    const rts_secret_t *secret = &APR_ARRAY_IDX(cfg->secrets, 0, rts_secret_t);
    apr_int64_t secs = apr_time_sec(cfg->session_max) + 1;
    apr_uint32_t ttl = (apr_uint32_t)(secs > MAX_RELATIVE_TTL ? MAX_RELATIVE_TTL : secs);
    const char *store_key = s->store_key;
    apr_status_t rv = APR_SUCCESS;

    if (!store_key) {
        return APR_EINVAL;
    }
    if (s->sid) {
        rv = index_append(ctx, index_key(ctx->pool, secret, "sid", cfg->issuer, s->sid),
                          store_key, ttl);
    }
    if (rv == APR_SUCCESS && s->sub) {
        rv = index_append(ctx, index_key(ctx->pool, secret, "sub", cfg->issuer, s->sub),
                          store_key, ttl);
    }
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10510) "session %s could not be indexed for back-channel "
                       "logout", rts_log_fingerprint(ctx->pool, s->id));
    }
    return rv;
}

static apr_status_t invalid(rts_result_t *res, apr_pool_t *p, const char *why)
{
    return rts_result_set(res, p, RTS_EBADTOKEN, 400, "invalid_request",
                          "logout token rejected: %s", why);
}

/* The claim rules of §2.6 after the signature. */
static apr_status_t check_claims(rts_ctx_t *ctx, const rts_jws_t *jws, rts_result_t *res)
{
    const rts_config_t *cfg = ctx->cfg;
    const json_t *c = jws->claims, *aud, *events, *ev;
    apr_time_t now = rts_now(ctx);
    apr_int64_t iat, exp;
    const char *iss = rts_json_str(c, "iss"), *sid, *sub;
    apr_status_t rv;
    int aud_ok = 0;

    if (jws->typ && strcmp(jws->typ, "logout+jwt") && strcmp(jws->typ, "JWT")
        && strcasecmp(jws->typ, "application/logout+jwt")) {
        return invalid(res, ctx->pool, "unexpected typ");
    }
    if (!iss || strcmp(iss, cfg->issuer)) {
        return invalid(res, ctx->pool, "wrong issuer");
    }
    aud = json_object_get(c, "aud");
    if (json_is_string(aud)) {
        aud_ok = !strcmp(json_string_value(aud), cfg->client_id);
    }
    else if (json_is_array(aud)) {
        size_t i;
        json_t *a;
        json_array_foreach(aud, i, a) {
            aud_ok |= json_is_string(a) && !strcmp(json_string_value(a), cfg->client_id);
        }
    }
    if (!aud_ok) {
        return invalid(res, ctx->pool, "audience is not this client");
    }
    if (rts_json_int(c, "iat", &iat) != APR_SUCCESS) {
        return invalid(res, ctx->pool, "iat missing");
    }
    /* NumericDates bounded (0..year 9999) before scaling to microseconds: no signed overflow
     * (found by tests/fuzz, target logout) */
    if (iat < 0 || iat > 253402300799LL) {
        return invalid(res, ctx->pool, "iat out of range");
    }
    if (apr_time_from_sec(iat) > now + cfg->leeway) {
        return invalid(res, ctx->pool, "issued in the future");
    }
    if (cfg->iat_max_age > 0 && apr_time_from_sec(iat) < now - cfg->iat_max_age - cfg->leeway) {
        return invalid(res, ctx->pool, "issued too long ago");
    }
    rv = rts_json_int(c, "exp", &exp);
    if (rv == APR_SUCCESS && (exp < 0 || exp > 253402300799LL)) {
        return invalid(res, ctx->pool, "exp out of range");
    }
    if (rv == APR_EINVAL || (rv == APR_SUCCESS && apr_time_from_sec(exp) + cfg->leeway <= now)) {
        return invalid(res, ctx->pool, "expired");
    }
    events = json_object_get(c, "events");
    ev = json_is_object(events) ? json_object_get(events, RTS_BACKCHANNEL_EVENT) : NULL;
    if (!json_is_object(ev)) {
        return invalid(res, ctx->pool, "events lacks the back-channel logout event");
    }
    if (json_object_get(c, "nonce")) {
        return invalid(res, ctx->pool, "a nonce is present (an ID token?)");
    }
    sid = rts_json_str(c, "sid");
    sub = rts_json_str(c, "sub");
    if ((json_object_get(c, "sid") && (!sid || !*sid))
        || (json_object_get(c, "sub") && (!sub || !*sub))) {
        return invalid(res, ctx->pool, "sid or sub is not a non-empty string");
    }
    if (!sid && !sub) {
        return invalid(res, ctx->pool, "neither sid nor sub");
    }
    return APR_SUCCESS;
}

apr_status_t rts_backchannel_validate(rts_ctx_t *ctx, const char *logout_token,
                                      json_t **pclaims, rts_result_t *res)
{
    const rts_jwks_t *jwks;
    rts_jws_t *jws;
    apr_status_t rv;
    int attempt;

    rv = rts_jws_parse(ctx->pool, logout_token, RTS_LOGOUT_TOKEN_MAX, &jws, res);
    if (rv != APR_SUCCESS) {
        return invalid(res, ctx->pool, "not a signed JWT");
    }
    for (attempt = 0; attempt < 2; attempt++) {
        rv = rts_provider_jwks(ctx, attempt > 0, &jwks, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = rts_jws_verify(ctx->pool, jws, jwks, ctx->cfg->allowed_algs, res);
        if (rv != RTS_ENOKEY) {
            break;
        }
    }
    if (rv != APR_SUCCESS) {
        return invalid(res, ctx->pool, "bad signature or unknown key");
    }
    rv = check_claims(ctx, jws, res);
    if (rv == APR_SUCCESS) {
        *pclaims = jws->claims;
    }
    return rv;
}

/* Deletes every session an index item names, then the item, under each configured secret. */
static apr_status_t end_indexed(rts_ctx_t *ctx, const char *kind, const char *value,
                                int *pended)
{
    int i;

    for (i = 0; i < ctx->cfg->secrets->nelts; i++) {
        const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, i, rts_secret_t);
        const char *key = index_key(ctx->pool, secret, kind, ctx->cfg->issuer, value);
        const char *val;
        apr_size_t len, n;
        json_t *keys, *k;
        apr_status_t rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, NULL);

        if (rv == APR_ENOENT) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        keys = index_parse(ctx->pool, val, len);
        json_array_foreach(keys, n, k) {
            const char *store_key = json_string_value(k);
            if (!store_key || strncmp(store_key, "rts:s:", 6)) {
                continue;          /* only session records, whatever the item says */
            }
            rv = ctx->store->del(ctx->store, NULL, store_key);
            if (rv == APR_SUCCESS) {
                (*pended)++;
            }
            else if (rv != APR_ENOENT) {
                return rv;
            }
        }
        rv = ctx->store->del(ctx->store, NULL, key);
        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* §2.6 step 9: a jti seen within the token's acceptance window is a replay. RTS_EBADTOKEN
 * then; a store failure as returned. */
static apr_status_t check_replay(rts_ctx_t *ctx, const json_t *claims, rts_result_t *res)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);
    const char *jti = rts_json_str(claims, "jti");
    apr_int64_t secs = apr_time_sec(ctx->cfg->iat_max_age + 2 * ctx->cfg->leeway) + 1;
    const char *key;
    apr_status_t rv;

    if (!jti) {
        return APR_SUCCESS;
    }
    key = index_key(ctx->pool, secret, "jti", ctx->cfg->issuer, jti);
    rv = ctx->store->add(ctx->store, NULL, key, "1", 1,
                         (apr_uint32_t)(secs > MAX_RELATIVE_TTL ? MAX_RELATIVE_TTL : secs));
    if (rv == APR_EEXIST) {
        return invalid(res, ctx->pool, "replayed (jti seen before)");
    }
    return rv;
}

apr_status_t rts_backchannel_handle(rts_ctx_t *ctx, const char *body, apr_size_t len,
                                    int *pended, rts_result_t *res)
{
    apr_table_t *form;
    const char *token, *sid, *sub;
    json_t *claims;
    apr_status_t rv;

    *pended = 0;
    if (!body || len > RTS_LOGOUT_TOKEN_MAX + 64 || strlen(body) != len
        || rts_form_parse(ctx->pool, body, &form) != APR_SUCCESS
        || !(token = apr_table_get(form, "logout_token")) || !*token) {
        return rts_result_set(res, ctx->pool, RTS_EBADINPUT, 400, "invalid_request",
                              "the request carries no logout_token");
    }
    rv = rts_backchannel_validate(ctx, token, &claims, res);
    if (rv != APR_SUCCESS) {
        if (rv != RTS_EBADTOKEN) {
            /* the keys could not be had: the provider may retry (§2.8 allows any 4xx/5xx) */
            rts_result_set(res, ctx->pool, rv, 400, "invalid_request",
                           "the provider's keys could not be fetched");
            rv = RTS_EBADTOKEN;
        }
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10511) "back-channel logout refused: %s", res->description);
        return rv;
    }
    rv = check_replay(ctx, claims, res);
    if (rv == RTS_EBADTOKEN) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10511) "back-channel logout refused: %s", res->description);
        return rv;
    }
    sid = rts_json_str(claims, "sid");
    sub = rts_json_str(claims, "sub");
    /* with a sid, that provider session only; with a sub alone, every session of the user */
    if (rv == APR_SUCCESS) {
        rv = sid ? end_indexed(ctx, "sid", sid, pended) : end_indexed(ctx, "sub", sub, pended);
    }
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10512) "back-channel logout: session store unavailable");
        return rts_result_set(res, ctx->pool, rv, 503, "temporarily_unavailable",
                              "the session store is unavailable");
    }
    rts_metric_inc(ctx, RTS_M_BACKCHANNEL_LOGOUTS);
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                   RTS_LOGNO(10513) "back-channel logout by %s %s: %d session(s) ended",
                   sid ? "sid" : "sub", rts_log_fingerprint(ctx->pool, sid ? sid : sub), *pended);
    return APR_SUCCESS;
}
