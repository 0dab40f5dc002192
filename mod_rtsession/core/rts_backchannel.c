/* SPDX-License-Identifier: Apache-2.0 */
/* Back-channel logout: the sid/sub index, logout token validation, ending the sessions. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_backchannel.h"
#include "rts_config.h"
#include "rts_crypto.h"
#include "rts_jose.h"
#include "rts_json.h"
#include "rts_jwt_claims.h"
#include "rts_lifetime.h"
#include "rts_log.h"
#include "rts_metrics.h"
#include "rts_record.h"
#include "rts_provider.h"
#include "rts_store.h"
#include "rts_util.h"

#define INDEX_PREFIX "rts:b:"
#define INDEX_MAX_TEXT (RTS_BACKCHANNEL_INDEX_MAX * 96 + 128)
/* a compare-and-swap loses only to another write of the same item; logins and logouts of one
 * user are few, so a handful of rounds is plenty and bounds the work */
#define INDEX_CAS_ATTEMPTS 8
#define MAX_RELATIVE_TTL (30 * 24 * 3600)
#define SESSION_KEY_PREFIX "rts:s:"

/* One index item, parsed. */
typedef struct {
    json_t *keys;           /* store keys, oldest first */
    json_t *auth;           /* their auth times (provider clock, s), aligned with keys */
    apr_int64_t logout_iat; /* "x": iat of the latest logout of this sid/sub; 0: none */
    apr_int64_t logout_at;  /* "t": when that logout was processed (our clock, ms: a login
                             * begun in the same second after it must not be refused) */
} index_t;

static const char *index_key(apr_pool_t *p, const rts_secret_t *secret, const char *kind,
                             const char *iss, const char *value)
{
    return rts_record_key(p, secret, INDEX_PREFIX,
                          apr_pstrcat(p, kind, ":", iss, "\n", value, NULL));
}

/* An item's lifetime: the longest a session it names may live. */
static apr_uint32_t index_ttl(const rts_ctx_t *ctx)
{
    apr_int64_t secs = apr_time_sec(ctx->cfg->session_max) + 1;

    return (apr_uint32_t)(secs > MAX_RELATIVE_TTL ? MAX_RELATIVE_TTL : secs);
}

/* Parses an item (NULL: absent) into fresh arrays owned by p; an unreadable item counts as
 * empty. Items written before "a" existed give auth time 0 (ended by any logout of the sub). */
static void index_parse(apr_pool_t *p, const char *val, apr_size_t len, index_t *ix)
{
    json_t *o, *keys, *auth;
    size_t i;

    memset(ix, 0, sizeof(*ix));
    ix->keys = rts_json_pool_own(p, json_array());
    ix->auth = rts_json_pool_own(p, json_array());
    if (!val || rts_json_parse_object(p, val, len, INDEX_MAX_TEXT, &o) != APR_SUCCESS) {
        return;
    }
    keys = json_object_get(o, "k");
    auth = json_object_get(o, "a");
    for (i = 0; json_is_array(keys) && i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i), *a = json_is_array(auth) ? json_array_get(auth, i)
                                                                      : NULL;
        if (json_is_string(k)) {
            json_array_append(ix->keys, k);
            json_array_append_new(ix->auth, json_integer(json_is_integer(a)
                                                         ? json_integer_value(a) : 0));
        }
    }
    if (rts_json_int(o, "x", &ix->logout_iat) != APR_SUCCESS) {
        ix->logout_iat = 0;
    }
    if (rts_json_int(o, "t", &ix->logout_at) != APR_SUCCESS) {
        ix->logout_at = 0;
    }
}

static const char *index_dump(apr_pool_t *p, const index_t *ix, apr_size_t *plen)
{
    json_t *o = rts_json_pool_own(p, json_object());

    json_object_set(o, "k", ix->keys);
    json_object_set(o, "a", ix->auth);
    if (ix->logout_iat || ix->logout_at) {
        json_object_set_new(o, "x", json_integer((json_int_t)ix->logout_iat));
        json_object_set_new(o, "t", json_integer((json_int_t)ix->logout_at));
    }
    return rts_json_dump(p, o, plen);
}

/* Whether a logout recorded in the item forbids a session of that sid/sub: one whose login
 * began (our clock) no later than the logout was processed. A login begun after it goes on,
 * even in a provider session that kept its sid or its old auth_time (a provider that sends a
 * logout and keeps its own session): refusing those would refuse every login to come. */
static int index_forbids(const index_t *ix, apr_time_t login_started)
{
    return (ix->logout_iat || ix->logout_at) && apr_time_as_msec(login_started) <= ix->logout_at;
}

/* Writes ix over the version read (cas), or creates it (add) when there was none.
 * APR_EEXIST / APR_ENOENT: someone else wrote or it vanished: read again. */
static apr_status_t index_write(rts_ctx_t *ctx, const char *key, const index_t *ix, int existed,
                                apr_uint64_t cas)
{
    apr_size_t len;
    const char *text = index_dump(ctx->pool, ix, &len);

    if (!text) {
        return APR_ENOMEM;
    }
    return existed ? ctx->store->cas(ctx->store, NULL, key, text, len, index_ttl(ctx), cas)
                   : ctx->store->add(ctx->store, NULL, key, text, len, index_ttl(ctx));
}

static int index_find(const index_t *ix, const char *store_key)
{
    size_t i;

    for (i = 0; i < json_array_size(ix->keys); i++) {
        if (!strcmp(json_string_value(json_array_get(ix->keys, i)), store_key)) {
            return (int)i;
        }
    }
    return -1;
}

/* Adds store_key to one index item by compare-and-swap (add when absent). *pdropped: the key
 * that fell out of a full item (NULL if none); the caller ends that session. */
static apr_status_t index_append(rts_ctx_t *ctx, const char *key,
                                 const char *store_key, apr_int64_t auth_time,
                                 apr_time_t login_started, const char **pdropped)
{
    int attempt;

    *pdropped = NULL;
    for (attempt = 0; attempt < INDEX_CAS_ATTEMPTS; attempt++) {
        const char *val = NULL;
        apr_size_t len = 0;
        apr_uint64_t cas = 0;
        index_t ix;
        apr_status_t rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, &cas);

        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            return rv;
        }
        index_parse(ctx->pool, rv == APR_SUCCESS ? val : NULL, len, &ix);
        if (index_forbids(&ix, login_started)) {
            return RTS_BACKCHANNEL_LOGGED_OUT;
        }
        if (index_find(&ix, store_key) >= 0) {
            return APR_SUCCESS;
        }
        json_array_append_new(ix.keys, json_string(store_key));
        json_array_append_new(ix.auth, json_integer((json_int_t)auth_time));
        *pdropped = NULL;
        if (json_array_size(ix.keys) > RTS_BACKCHANNEL_INDEX_MAX) {
            /* the oldest login: most likely over already; if not, it ends (a documented
             * limit) rather than live on where no logout can find it */
            *pdropped = apr_pstrdup(ctx->pool, json_string_value(json_array_get(ix.keys, 0)));
            json_array_remove(ix.keys, 0);
            json_array_remove(ix.auth, 0);
        }
        rv = index_write(ctx, key, &ix, rv == APR_SUCCESS, cas);
        if (rv != APR_EEXIST && rv != APR_ENOENT) {
            return rv;
        }
    }
    return APR_EEXIST;
}

/* Ends the session that fell out of a full index. */
static void end_dropped(rts_ctx_t *ctx, const rts_session_t *s, const char *kind,
                        const char *dropped)
{
    apr_status_t rv;

    if (!dropped || !strcmp(dropped, s->store_key)
        || strncmp(dropped, SESSION_KEY_PREFIX, sizeof(SESSION_KEY_PREFIX) - 1)) {
        return;
    }
    rv = ctx->store->del(ctx->store, NULL, dropped);
    if (rv == APR_SUCCESS) {
        rts_metric_inc(ctx, RTS_M_BACKCHANNEL_INDEX_OVERFLOW);
    }
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv == APR_ENOENT ? 0 : rv,
                   RTS_LOGNO(10514) "more than %d sessions of one %s: the oldest %s so that "
                   "back-channel logout reaches every session (session %s is the newest)",
                   RTS_BACKCHANNEL_INDEX_MAX, kind,
                   rv == APR_SUCCESS ? "was ended" : rv == APR_ENOENT ? "had ended already"
                                                                      : "could not be ended",
                   rts_log_fingerprint(ctx->pool, s->id));
}

apr_status_t rts_backchannel_index_add(rts_ctx_t *ctx, const rts_session_t *s,
                                       apr_int64_t auth_time, apr_time_t login_started)
{
    const rts_config_t *cfg = ctx->cfg;
    const rts_secret_t *secret = &APR_ARRAY_IDX(cfg->secrets, 0, rts_secret_t);
    const char *kinds[2] = {"sid", "sub"}, *values[2] = {s->sid, s->sub};
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (!s->store_key) {
        return APR_EINVAL;
    }
    for (i = 0; i < 2 && rv == APR_SUCCESS; i++) {
        const char *dropped;

        if (!values[i]) {
            continue;
        }
        rv = index_append(ctx, index_key(ctx->pool, secret, kinds[i], cfg->issuer, values[i]),
                          s->store_key, auth_time, login_started, &dropped);
        if (rv == APR_SUCCESS) {
            end_dropped(ctx, s, kinds[i], dropped);
        }
    }
    if (rv == RTS_BACKCHANNEL_LOGGED_OUT) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10515) "login refused: the provider logged out its %s "
                       "(back-channel logout) while this login was completing; session %s not "
                       "created", i == 1 ? "sid" : "sub", rts_log_fingerprint(ctx->pool, s->id));
        rts_metric_inc(ctx, RTS_M_BACKCHANNEL_LATE_LOGINS_REFUSED);
    }
    else if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10510) "session %s could not be indexed for back-channel "
                       "logout; login refused (a logout could not reach it)",
                       rts_log_fingerprint(ctx->pool, s->id));
    }
    return rv;
}

apr_status_t rts_backchannel_session_check(rts_ctx_t *ctx, const rts_session_t *s)
{
    const rts_config_t *cfg = ctx->cfg;
    const rts_secret_t *secret = &APR_ARRAY_IDX(cfg->secrets, 0, rts_secret_t);
    const char *kinds[2] = {"sid", "sub"}, *values[2] = {s->sid, s->sub};
    int i;

    if (!s->store_key) {
        return APR_EINVAL;
    }
    for (i = 0; i < 2; i++) {
        const char *key, *val = NULL, *dropped;
        apr_size_t len = 0;
        index_t ix;
        apr_status_t rv;

        if (!values[i]) {
            continue;
        }
        key = index_key(ctx->pool, secret, kinds[i], cfg->issuer, values[i]);
        /* the read is what keeps the item as recent as its sessions in the LRU */
        rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, NULL);
        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            return rv;
        }
        index_parse(ctx->pool, rv == APR_SUCCESS ? val : NULL, len, &ix);
        if (index_find(&ix, s->store_key) >= 0) {
            continue;   /* indexed after the logout, or spared by it (a later login) */
        }
        if (index_forbids(&ix, s->created)) {
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                           RTS_LOGNO(10516) "session %s ended: its %s was logged out by "
                           "back-channel logout, which it had escaped (index evicted or "
                           "written concurrently)", rts_log_fingerprint(ctx->pool, s->id),
                           kinds[i]);
            rts_metric_inc(ctx, RTS_M_BACKCHANNEL_ENDED_AT_CHECK);
            return RTS_BACKCHANNEL_LOGGED_OUT;
        }
        /* memcached evicted the item (or this session fell out of a full one): put it back */
        rv = index_append(ctx, key, s->store_key, 0, s->created, &dropped);
        if (rv == RTS_BACKCHANNEL_LOGGED_OUT) {
            return rv;
        }
        if (rv == APR_SUCCESS) {
            end_dropped(ctx, s, kinds[i], dropped);
            rts_metric_inc(ctx, RTS_M_BACKCHANNEL_INDEX_RESTORED);
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                           RTS_LOGNO(10517) "session %s was missing from its %s index (evicted "
                           "by memcached?); added again", rts_log_fingerprint(ctx->pool, s->id),
                           kinds[i]);
        }
    }
    return APR_SUCCESS;
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
    const json_t *c = jws->claims, *events, *ev;
    rts_jwt_times_t times = { rts_now(ctx), cfg->leeway, cfg->iat_max_age, 1 };
    const char *iss = rts_json_str(c, "iss"), *jti = rts_json_str(c, "jti"), *sid, *sub, *why;

    /* typ, aud and the times follow the rules of every JWT (rts_jwt_claims.h); exp may be
     * absent (drafts before Back-Channel Logout 1.0 final did not have it) */
    if (rts_jwt_check_typ(ctx->pool, jws->typ, "logout+jwt", &why) != APR_SUCCESS) {
        return invalid(res, ctx->pool, why);
    }
    if (!iss || strcmp(iss, cfg->issuer)) {
        return invalid(res, ctx->pool, "wrong issuer");
    }
    if (rts_jwt_check_aud(c, cfg->client_id, NULL, &why) != APR_SUCCESS
        || rts_jwt_check_times(c, &times, &why) != APR_SUCCESS) {
        return invalid(res, ctx->pool, why);
    }
    events = json_object_get(c, "events");
    ev = json_is_object(events) ? json_object_get(events, RTS_BACKCHANNEL_EVENT) : NULL;
    if (!json_is_object(ev)) {
        return invalid(res, ctx->pool, "events lacks the back-channel logout event");
    }
    if (json_object_get(c, "nonce")) {
        return invalid(res, ctx->pool, "a nonce is present (an ID token?)");
    }
    /* §2.4: jti is REQUIRED; without it a token could not be told from its replay */
    if (!jti || !*jti || strlen(jti) > RTS_BACKCHANNEL_JTI_MAX) {
        return invalid(res, ctx->pool, "jti missing, empty, not a string or over-long");
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

/* Ends the sessions of one index item and leaves the logout in it (a tombstone), by
 * compare-and-swap: a login that appends meanwhile makes the swap fail, and the next round
 * ends that session too. A sub logout ends the sessions authenticated at or before its iat (a
 * replayed or late token spares later logins), unless all is set (an administrator's order);
 * a sid logout ends them all. Under secrets[0] the tombstone is written even when the item is
 * absent, so that a login completing later is refused. */
static apr_status_t end_item(rts_ctx_t *ctx, const char *kind, const char *key, int tombstone,
                             apr_int64_t iat, int all, int *pended)
{
    int attempt;

    for (attempt = 0; attempt < INDEX_CAS_ATTEMPTS; attempt++) {
        const char *val = NULL;
        apr_size_t len = 0;
        apr_uint64_t cas = 0;
        index_t ix, after;
        size_t n;
        apr_status_t rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, &cas);

        if (rv == APR_ENOENT && !tombstone) {
            return APR_SUCCESS;
        }
        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            return rv;
        }
        index_parse(ctx->pool, rv == APR_SUCCESS ? val : NULL, len, &ix);
        index_parse(ctx->pool, NULL, 0, &after);
        for (n = 0; n < json_array_size(ix.keys); n++) {
            const char *store_key = json_string_value(json_array_get(ix.keys, n));
            apr_int64_t auth = (apr_int64_t)json_integer_value(json_array_get(ix.auth, n));
            apr_status_t drv;

            if (!all && !strcmp(kind, "sub") && auth > iat) {
                /* a login after this logout: it stays */
                json_array_append(after.keys, json_array_get(ix.keys, n));
                json_array_append(after.auth, json_array_get(ix.auth, n));
                continue;
            }
            if (strncmp(store_key, SESSION_KEY_PREFIX, sizeof(SESSION_KEY_PREFIX) - 1)) {
                continue;          /* only session records, whatever the item says */
            }
            drv = ctx->store->del(ctx->store, NULL, store_key);
            if (drv == APR_SUCCESS) {
                (*pended)++;
            }
            else if (drv != APR_ENOENT) {
                return drv;
            }
        }
        after.logout_iat = iat > ix.logout_iat ? iat : ix.logout_iat;
        after.logout_at = apr_time_as_msec(rts_now(ctx));
        rv = index_write(ctx, key, &after, rv == APR_SUCCESS, cas);
        if (rv != APR_EEXIST && rv != APR_ENOENT) {
            return rv;
        }
    }
    return APR_EEXIST;   /* still contended: 503, and the provider retries */
}

/* Every item of kind/value, under each configured secret (items written before a rotation). */
static apr_status_t end_indexed(rts_ctx_t *ctx, const char *kind, const char *value,
                                apr_int64_t iat, int all, int *pended)
{
    int i;

    for (i = 0; i < ctx->cfg->secrets->nelts; i++) {
        const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, i, rts_secret_t);
        apr_status_t rv = end_item(ctx, kind,
                                   index_key(ctx->pool, secret, kind, ctx->cfg->issuer, value),
                                   i == 0, iat, all, pended);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t rts_backchannel_end_user(rts_ctx_t *ctx, const char *sub, int *pended)
{
    *pended = 0;
    if (!sub || !*sub) {
        return APR_EINVAL;
    }
    return end_indexed(ctx, "sub", sub, apr_time_sec(rts_now(ctx)), 1, pended);
}

static const char *jti_key(rts_ctx_t *ctx, const char *jti)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);

    return index_key(ctx->pool, secret, "jti", ctx->cfg->issuer, jti);
}

/* §2.6 step 9: a jti recorded within the token's acceptance window is a replay. RTS_EBADTOKEN
 * then; a store failure as returned. Only a read: the jti is recorded after success. */
static apr_status_t check_replay(rts_ctx_t *ctx, const char *jti, rts_result_t *res)
{
    const char *val;
    apr_size_t len;
    apr_status_t rv;

    if (!jti) {
        return APR_SUCCESS;
    }
    rv = ctx->store->get(ctx->store, ctx->pool, NULL, jti_key(ctx, jti), &val, &len, NULL);
    if (rv == APR_SUCCESS) {
        return invalid(res, ctx->pool, "replayed (jti seen before)");
    }
    return rv == APR_ENOENT ? APR_SUCCESS : rv;
}

/* Records a processed jti. A concurrent duplicate delivery may have processed it too (add finds
 * it): harmless, ending sessions twice ends nothing more. A failure is logged only: the
 * sessions are ended, and a replay could end no later login (end_item spares them). */
static void record_jti(rts_ctx_t *ctx, const char *jti)
{
    apr_int64_t secs = apr_time_sec(ctx->cfg->iat_max_age + 2 * ctx->cfg->leeway) + 1;
    apr_status_t rv;

    if (!jti) {
        return;
    }
    rv = ctx->store->add(ctx->store, NULL, jti_key(ctx, jti), "1", 1,
                         (apr_uint32_t)(secs > MAX_RELATIVE_TTL ? MAX_RELATIVE_TTL : secs));
    if (rv != APR_SUCCESS && rv != APR_EEXIST) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10518) "back-channel logout: sessions ended, but the token's "
                       "jti could not be recorded (a replay would be processed again)");
    }
}

apr_status_t rts_backchannel_handle(rts_ctx_t *ctx, const char *body, apr_size_t len,
                                    int *pended, rts_result_t *res)
{
    apr_table_t *form;
    const char *token, *sid, *sub, *jti;
    json_t *claims;
    apr_int64_t iat = 0;
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
    sid = rts_json_str(claims, "sid");
    sub = rts_json_str(claims, "sub");
    jti = rts_json_str(claims, "jti");
    rts_jwt_numeric_date(claims, "iat", &iat);   /* checked by the validation */
    rv = check_replay(ctx, jti, res);
    if (rv == RTS_EBADTOKEN) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10511) "back-channel logout refused: %s", res->description);
        return rv;
    }
    /* with a sid, that provider session only; with a sub alone, every session of the user */
    if (rv == APR_SUCCESS) {
        rv = sid ? end_indexed(ctx, "sid", sid, iat, 0, pended)
                 : end_indexed(ctx, "sub", sub, iat, 0, pended);
    }
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10512) "back-channel logout: session store unavailable; "
                       "%d session(s) ended before the failure, the provider's retry ends the "
                       "rest", *pended);
        return rts_result_set(res, ctx->pool, rv, 503, "temporarily_unavailable",
                              "the session store is unavailable");
    }
    record_jti(ctx, jti);
    rts_metric_inc(ctx, RTS_M_BACKCHANNEL_LOGOUTS);
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                   RTS_LOGNO(10513) "back-channel logout by %s %s: %d session(s) ended",
                   sid ? "sid" : "sub", rts_log_fingerprint(ctx->pool, sid ? sid : sub), *pended);
    return APR_SUCCESS;
}
