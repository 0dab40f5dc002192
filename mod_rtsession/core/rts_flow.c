/* SPDX-License-Identifier: Apache-2.0 */
/* Login, callback and session decisions. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_flow.h"
#include "rts_authreq.h"
#include "rts_claims_memo.h"
#include "rts_backchannel.h"
#include "rts_config.h"
#include "rts_claim.h"
#include "rts_cookie.h"
#include "rts_json.h"
#include "rts_jwt_claims.h"
#include "rts_lifetime.h"
#include "rts_log.h"
#include "rts_metrics.h"
#include "rts_oidc.h"
#include "rts_provider.h"
#include "rts_refresh.h"
#include "rts_token.h"
#include "rts_util.h"

#define RETRY_AFTER_SECS 2

const char *rts_flow_redirect_uri(apr_pool_t *p, const rts_config_t *cfg, const rts_req_t *req)
{
    if (cfg->redirect_uri[0] != '/') {
        return cfg->redirect_uri;
    }
    return apr_pstrcat(p, req->origin, cfg->redirect_uri, NULL);
}

const char *rts_flow_callback_path(apr_pool_t *p, const rts_config_t *cfg)
{
    const char *u = cfg->redirect_uri, *slash, *q;

    if (u[0] != '/') {
        const char *scheme_end = strstr(u, "://");
        slash = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
        u = slash ? slash : "/";
    }
    q = strpbrk(u, "?#");
    return q ? apr_pstrmemdup(p, u, (apr_size_t)(q - u)) : u;
}

static apr_status_t out_error(rts_ctx_t *ctx, rts_outcome_t *out, int status, const char *error,
                              const char *description);

static void out_init(rts_ctx_t *ctx, rts_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    out->set_cookies = apr_array_make(ctx->pool, 2, sizeof(const char *));
    rts_result_reset(&out->result);
}

static void add_cookie(rts_ctx_t *ctx, rts_outcome_t *out, const char *name, const char *value,
                       int secure, apr_int64_t max_age)
{
    APR_ARRAY_PUSH(out->set_cookies, const char *) =
        rts_cookie_build(ctx->pool, name, value, secure, max_age);
}

void rts_flow_out_init(rts_ctx_t *ctx, rts_outcome_t *out)
{
    out_init(ctx, out);
}

const char *rts_flow_cookie(const rts_ctx_t *ctx, rts_cookie_kind_t kind, int secure)
{
    return rts_cookie_name(ctx->pool, ctx->cfg->cookie_name, kind, secure);
}

void rts_flow_add_cookie(rts_ctx_t *ctx, rts_outcome_t *out, const char *name, const char *value,
                         int secure, apr_int64_t max_age)
{
    add_cookie(ctx, out, name, value, secure, max_age);
}

apr_status_t rts_flow_out_error(rts_ctx_t *ctx, rts_outcome_t *out, int status,
                                const char *error, const char *description)
{
    return out_error(ctx, out, status, error, description);
}

static apr_status_t out_error(rts_ctx_t *ctx, rts_outcome_t *out, int status, const char *error,
                              const char *description)
{
    out->kind = RTS_OUT_ERROR;
    out->http_status = status;
    out->message = description;
    if (!out->result.error) {
        out->result.error = error;
    }
    if (!out->result.description) {
        out->result.description = description;
    }
    if (status == 503) {
        out->retry_after = RETRY_AFTER_SECS;
    }
    return APR_SUCCESS;
}

/* Sends the browser to the provider (navigation) or answers 401 (anything else). */
static apr_status_t start_login(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out)
{
    const rts_provider_meta_t *meta;
    rts_provider_trip_t *pending;
    const char *return_url = rts_return_url_ok(req->uri) ? req->uri : "/", *cookie;
    apr_status_t rv;

    if (!req->navigation) {
        out->kind = RTS_OUT_DENY;
        out->http_status = 401;
        return APR_SUCCESS;
    }
    rv = rts_provider_meta(ctx, &meta, &out->result);
    if (rv != APR_SUCCESS) {
        rts_metric_login_failed(ctx, "provider_unavailable");
        return out_error(ctx, out, 502, "provider_unavailable",
                         "the identity provider could not be reached");
    }
    /* the pending login lives in a sealed cookie: an anonymous navigation writes nothing to
     * the store, so a flood of them cannot evict sessions (docs/design.md, "Pending logins") */
    rv = rts_authreq_new(ctx->pool, return_url, rts_now(ctx), &pending);
    if (rv == APR_SUCCESS) {
        rts_authreq_place(ctx, pending);
        rv = rts_authreq_cookie_value(ctx, pending, &cookie);
    }
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10521) "could not seal a pending login into its cookie");
        rts_metric_login_failed(ctx, "other");
        return out_error(ctx, out, 500, "internal", "the login could not be started");
    }
    add_cookie(ctx, out, rts_flow_cookie(ctx, RTS_COOKIE_LOGIN, req->secure), cookie,
               req->secure, apr_time_sec(ctx->cfg->pending_ttl));
    out->kind = RTS_OUT_REDIRECT;
    out->http_status = 302;
    rts_metric_inc(ctx, RTS_M_LOGIN_STARTED);
    out->location = rts_authreq_url(ctx->pool, meta->authorization_endpoint, ctx->cfg->client_id,
                                    rts_flow_redirect_uri(ctx->pool, ctx->cfg, req),
                                    ctx->cfg->scope, pending);
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_DEBUG, 0,
                   RTS_LOGNO(10002) "login started, state %s",
                   rts_log_fingerprint(ctx->pool, pending->state));
    return APR_SUCCESS;
}

/* The session is over or unusable: forget the cookie and start again. */
static apr_status_t restart_login(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out)
{
    apr_status_t rv = start_login(ctx, req, out);

    add_cookie(ctx, out, rts_flow_cookie(ctx, RTS_COOKIE_SESSION, req->secure), "",
               req->secure, 0);
    return rv;
}

apr_status_t rts_flow_authenticate(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out)
{
    const char *id = NULL;
    rts_session_t *s;
    rts_refresh_outcome_t refreshed;
    rts_lifetime_verdict_t lifetime;
    int touched = 0;
    apr_status_t rv;

    out_init(ctx, out);
    rv = rts_cookie_get(ctx->pool, req->cookie_header,
                        rts_flow_cookie(ctx, RTS_COOKIE_SESSION, req->secure), &id);
    if (rv == APR_EINVAL) {
        /* Two session cookies (one planted) or an oversized header: refuse to guess, and
         * clear ours so the next attempt can succeed. */
        add_cookie(ctx, out, rts_flow_cookie(ctx, RTS_COOKIE_SESSION, req->secure), "",
                   req->secure, 0);
        return out_error(ctx, out, 400, "bad_cookie",
                         "the request carries conflicting or oversized session cookies");
    }
    if (rv != APR_SUCCESS || !rts_session_id_valid(id)) {
        return id ? restart_login(ctx, req, out) : start_login(ctx, req, out);
    }
    rv = rts_session_load(ctx, id, &s);
    if (rv == APR_ENOENT || rv == RTS_EBADTOKEN) {
        if (rv == RTS_EBADTOKEN) {
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, rv,
                           RTS_LOGNO(10003) "session %s does not open (secret changed or "
                           "record tampered with); starting a new login",
                           rts_log_fingerprint(ctx->pool, id));
        }
        return restart_login(ctx, req, out);
    }
    if (rv == RTS_ESTOREGONE) {
        /* Its memcached server has been down past RTSessionMemcachedDeadAfter: the session is
         * taken as lost, as with a server that restarted empty; the new one lands elsewhere. */
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10005) "session %s is on a memcached server that has been down "
                       "longer than RTSessionMemcachedDeadAfter; starting a new login",
                       rts_log_fingerprint(ctx->pool, id));
        return restart_login(ctx, req, out);
    }
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10004) "session store unavailable while loading a session");
        return out_error(ctx, out, 503, "store_unavailable", "the session store is unavailable");
    }
    lifetime = rts_lifetime_check(ctx, s, rts_now(ctx));
    if (lifetime != RTS_LIFETIME_OK) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                       RTS_LOGNO(10501) "session %s ended: %s",
                       rts_log_fingerprint(ctx->pool, id),
                       lifetime == RTS_LIFETIME_MAX ? "maximum lifetime reached"
                                                    : "refresh token expired");
        rts_session_delete(ctx, s);
        return restart_login(ctx, req, out);
    }
    rv = rts_refresh_ensure(ctx, &s, &refreshed, &out->result);
    if (rv != APR_SUCCESS) {
        return out_error(ctx, out, 500, "internal", "refresh failed");
    }
    switch (refreshed) {
    case RTS_REFRESH_ENDED:
        return restart_login(ctx, req, out);
    case RTS_REFRESH_UNAVAILABLE:
        out_error(ctx, out, 503, "refresh_unavailable",
                  "your session could not be renewed right now; please retry shortly");
        if (out->result.retry_after > 0) {
            out->retry_after = out->result.retry_after;    /* the session's backoff */
        }
        return APR_SUCCESS;
    case RTS_REFRESH_NOT_DUE:
    case RTS_REFRESH_DEFERRED:
        /* a refresh rewrote the record (and its expiry) already; otherwise slide */
        rts_lifetime_slide(ctx, s, &touched);
        break;
    default:
        break;
    }
    /* a refresh or a slide writes anyway: keep the back-channel index as recent as the session
     * and catch a logout it escaped (never on the hot path) */
    if (ctx->cfg->backchannel_path && (refreshed == RTS_REFRESH_DONE || touched)
        && rts_backchannel_session_check(ctx, s) == RTS_BACKCHANNEL_LOGGED_OUT) {
        rts_session_delete(ctx, s);
        return restart_login(ctx, req, out);
    }
    out->kind = RTS_OUT_PASS;
    out->session = s;
    if (rts_claims_memo_get(ctx->claims_memo, ctx->pool, s->id_token, RTS_SESSION_MAX_PLAIN,
                            &out->claims) != APR_SUCCESS) {
        out->claims = NULL;
    }
    return APR_SUCCESS;
}

static apr_status_t callback_error(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out,
                                   int status, const char *error, const char *description,
                                   int clear_pending)
{
    rts_log_perror(ctx->log, RTS_LOG_MARK, status >= 500 ? RTS_LOG_ERR : RTS_LOG_WARNING,
                   out->result.status, RTS_LOGNO(10010) "login callback failed (%s): %s%s%s",
                   error, description,
                   out->result.description ? ": " : "",
                   out->result.description ? out->result.description : "");
    rts_metric_login_failed(ctx, error);
    if (clear_pending) {
        add_cookie(ctx, out, rts_flow_cookie(ctx, RTS_COOKIE_LOGIN, req->secure), "",
                   req->secure, 0);
    }
    out->result.error = error;
    out->result.description = description;
    return out_error(ctx, out, status, error, description);
}

/* Indexes a new session for back-channel logout; a session that cannot be indexed, or whose
 * sid/sub a back-channel logout ended while this callback was in flight, is deleted again: no
 * session may live where a logout cannot reach it. */
static int index_new_session(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out,
                             rts_session_t *s, json_t *claims, apr_time_t login_started)
{
    apr_int64_t auth_time;
    apr_status_t rv;

    if (rts_jwt_numeric_date(claims, "auth_time", &auth_time) != APR_SUCCESS
        && rts_jwt_numeric_date(claims, "iat", &auth_time) != APR_SUCCESS) {
        auth_time = 0;
    }
    rv = rts_backchannel_index_add(ctx, s, auth_time, login_started);
    if (rv == APR_SUCCESS) {
        return 1;
    }
    rts_session_delete(ctx, s);
    if (rv == RTS_BACKCHANNEL_LOGGED_OUT) {
        callback_error(ctx, req, out, 400, "logged_out",
                       "the identity provider ended this sign-in before it completed; please "
                       "sign in again", 1);
        return 0;
    }
    out->result.status = rv;
    callback_error(ctx, req, out, 503, "store_unavailable", "the session store is unavailable",
                   1);
    return 0;
}

static apr_status_t create_session(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out,
                                   const rts_token_set_t *tokens, json_t *claims,
                                   const char *return_url, apr_time_t started,
                                   apr_time_t login_started)
{
    rts_session_t *s = apr_pcalloc(ctx->pool, sizeof(*s));
    apr_status_t rv;
    int attempt;

    s->gen = 1;
    s->sub = rts_json_str(claims, "sub");
    s->id_token = tokens->id_token;
    s->access_token = tokens->access_token;
    s->refresh_token = tokens->refresh_token;
    s->at_issued = started;
    s->at_expires = rts_refresh_at_expiry(ctx->pool, tokens->access_token, tokens->expires_in,
                                          tokens->refresh_token != NULL, started);
    if (tokens->refresh_expires_in > 0) {
        s->rt_expires = started + apr_time_from_sec(tokens->refresh_expires_in);
    }
    s->created = rts_now(ctx);
    s->sid = rts_json_str(claims, "sid");
    /* A fresh id at every login (no fixation); add never overwrites another session. An add
     * refused before anything was sent (a server this child had not yet seen fail: its breaker
     * is open now) is drawn again, and the next id lands on a live server. */
    for (attempt = 0; attempt < 3; attempt++) {
        if ((rv = rts_session_new_id_placed(ctx, &s->id)) != APR_SUCCESS) {
            return rv;
        }
        s->secret = NULL;
        s->store_key = NULL;
        rv = rts_session_add(ctx, s);
        if (rv != APR_EEXIST && rv != APR_ECONNREFUSED && rv != RTS_ESTOREDOWN) {
            break;
        }
    }
    if (rv == RTS_ETOOLARGE) {
        /* the reader refuses such a record: storing it would loop the browser through logins */
        out->result.status = rv;
        out->result.description = apr_psprintf(ctx->pool, "the session record would exceed "
            "%d bytes (ID token %" APR_SIZE_T_FMT ", access token %" APR_SIZE_T_FMT
            ", refresh token %" APR_SIZE_T_FMT " bytes); ask the provider for smaller tokens "
            "(fewer claims or groups in them)", RTS_SESSION_MAX_PLAIN,
            strlen(tokens->id_token), strlen(tokens->access_token),
            tokens->refresh_token ? strlen(tokens->refresh_token) : 0);
        return callback_error(ctx, req, out, 500, "session_too_large",
                              "your login could not be completed: the identity provider's "
                              "answer is too large for this site", 1);
    }
    if (rv != APR_SUCCESS) {
        return callback_error(ctx, req, out, 503, "store_unavailable",
                              "the session store is unavailable", 1);
    }
    if (ctx->cfg->backchannel_path && !index_new_session(ctx, req, out, s, claims,
                                                         login_started)) {
        return APR_SUCCESS;   /* the error page is set */
    }
    add_cookie(ctx, out, rts_flow_cookie(ctx, RTS_COOKIE_SESSION, req->secure), s->id,
               req->secure, -1);
    add_cookie(ctx, out, rts_flow_cookie(ctx, RTS_COOKIE_LOGIN, req->secure), "",
               req->secure, 0);
    out->kind = RTS_OUT_REDIRECT;
    out->http_status = 302;
    out->location = return_url;
    out->session = s;
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                   RTS_LOGNO(10011) "login completed: session %s created",
                   rts_log_fingerprint(ctx->pool, s->id));
    rts_metric_inc(ctx, RTS_M_LOGIN_COMPLETED);
    return APR_SUCCESS;
}

apr_status_t rts_flow_callback(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out)
{
    apr_table_t *params;
    const char *state, *cookie_state = NULL, *code, *error, *iss;
    const rts_provider_meta_t *meta;
    rts_provider_trip_t *pending;
    rts_token_set_t *tokens;
    json_t *claims;
    apr_time_t started;
    apr_status_t rv;
    int sealed, i;

    out_init(ctx, out);
    if (rts_form_parse(ctx->pool, req->query ? req->query : "", &params) != APR_SUCCESS) {
        return callback_error(ctx, req, out, 400, "invalid_request",
                              "the login response is malformed", 0);
    }
    state = apr_table_get(params, "state");
    code = apr_table_get(params, "code");
    error = apr_table_get(params, "error");
    iss = apr_table_get(params, "iss");
    rts_cookie_get(ctx->pool, req->cookie_header,
                   rts_flow_cookie(ctx, RTS_COOKIE_LOGIN, req->secure), &cookie_state);

    /* The state must be ours, in this browser: the URL and the cookie agree. */
    if (!state || !cookie_state || !rts_authreq_value_ok(state)) {
        return callback_error(ctx, req, out, 400, "invalid_state",
                              "this login response does not belong to a login started in this "
                              "browser (missing or mismatched state); please start again", 0);
    }
    sealed = rts_authreq_cookie_sealed(cookie_state);
    if (sealed) {
        rv = rts_authreq_cookie_open(ctx, cookie_state, state, &pending);
        if (rv == RTS_ESTATE) {
            return callback_error(ctx, req, out, 400, "invalid_state",
                                  "this login response does not belong to a login started in "
                                  "this browser (missing or mismatched state); please start "
                                  "again", 0);
        }
        if (rv == APR_SUCCESS) {
            rv = rts_authreq_consumed(ctx, state);
        }
        if (rv == APR_EEXIST) {
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                           RTS_LOGNO(10520) "login callback of state %s presented again after "
                           "it completed (replay or a reload); refused",
                           rts_log_fingerprint(ctx->pool, state));
            rv = APR_ENOENT;
        }
    }
    else if (!rts_ct_streq(state, cookie_state)) {
        return callback_error(ctx, req, out, 400, "invalid_state",
                              "this login response does not belong to a login started in this "
                              "browser (missing or mismatched state); please start again", 0);
    }
    else {
        /* a pending login started before the upgrade: its record is in the store */
        rv = rts_authreq_take(ctx, state, &pending);
    }
    if (rv == APR_ENOENT || rv == RTS_EBADTOKEN) {
        return callback_error(ctx, req, out, 400, "invalid_state",
                              "this login has expired or was already completed; please start "
                              "again", 1);
    }
    if (rv != APR_SUCCESS) {
        out->result.status = rv;
        return callback_error(ctx, req, out, 503, "store_unavailable",
                              "the session store is unavailable", 0);
    }
    rv = rts_provider_meta(ctx, &meta, &out->result);
    if (rv != APR_SUCCESS) {
        return callback_error(ctx, req, out, 502, "provider_unavailable",
                              "the identity provider could not be reached", 1);
    }
    /* RFC 9207: the response names its issuer; a mix-up attack would show another one. */
    if ((iss && strcmp(iss, ctx->cfg->issuer)) || (!iss && meta->iss_parameter_supported)) {
        return callback_error(ctx, req, out, 400, "invalid_issuer",
                              "the login response came from an unexpected issuer", 1);
    }
    if (error) {
        int denied = !strcmp(error, "access_denied");
        return callback_error(ctx, req, out, denied ? 403 : 400,
                              denied ? "access_denied" : "login_error",
                              denied ? "the identity provider did not grant access"
                                     : "the identity provider reported an error", 1);
    }
    if (!code || !*code || strlen(code) > 2048) {
        return callback_error(ctx, req, out, 400, "invalid_request",
                              "the login response carries no authorization code", 1);
    }
    started = rts_now(ctx);
    rv = rts_token_exchange_code(ctx, meta->token_endpoint, code, pending->code_verifier,
                                 rts_flow_redirect_uri(ctx->pool, ctx->cfg, req), &tokens,
                                 &out->result);
    if (rv == RTS_EINVALIDGRANT) {
        return callback_error(ctx, req, out, 400, "invalid_grant",
                              "the identity provider refused the authorization code (expired or "
                              "already used); please start again", 1);
    }
    if (rv == RTS_ECONFIG) {
        /* the provider refused this site's client credentials (RTS10406 names them) */
        return callback_error(ctx, req, out, 502, "token_error",
                              "the identity provider refused this site's client credentials; "
                              "the site's configuration must be fixed", 1);
    }
    if (rv != APR_SUCCESS) {
        return callback_error(ctx, req, out, 502, "token_error",
                              "the identity provider's token endpoint failed", 1);
    }
    if (!tokens->id_token) {
        return callback_error(ctx, req, out, 502, "no_id_token",
                              "the identity provider returned no ID token", 1);
    }
    rv = rts_oidc_validate_id_token(ctx, tokens->id_token, pending->nonce, NULL,
                                    tokens->access_token, &claims, &out->result);
    if (rv != APR_SUCCESS) {
        return callback_error(ctx, req, out, rv == RTS_EBADTOKEN || rv == RTS_ENOKEY ? 403 : 502,
                              "invalid_id_token", "the identity provider's ID token was rejected",
                              1);
    }
    for (i = 0; ctx->cfg->user_claims && ctx->cfg->user_claims[i]; i++) {
        const char *name = ctx->cfg->user_claims[i], *user;
        rts_claim_verdict_t verdict = rts_claim_value(ctx->pool, json_object_get(claims, name),
                                                      RTS_CLAIM_AS_USER, &user);
        /* absent: the locations that name it answer 403; anything else would be a user name
         * that cannot be passed on safely */
        if (verdict != RTS_CLAIM_OK && verdict != RTS_CLAIM_ABSENT) {
            out->result.description = apr_psprintf(ctx->pool, "the ID token's claim '%s' "
                "(RTSessionUserClaim) %s (at most %d bytes without control characters)", name,
                rts_claim_verdict_text(verdict), RTS_CLAIM_USER_MAX);
            return callback_error(ctx, req, out, 403, "unusable_user",
                                  "your account's user name cannot be used by this site; "
                                  "please contact its administrator", 1);
        }
    }
    /* single use, written only now: a write needs a login the provider completed, so no
     * anonymous flood reaches the store; two concurrent callbacks of one state (which the
     * provider's single-use code should already stop) make one session */
    if (sealed && (rv = rts_authreq_consume(ctx, state)) != APR_SUCCESS) {
        if (rv == APR_EEXIST) {
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                           RTS_LOGNO(10520) "login callback of state %s completed twice at once "
                           "(replay or a reload); the second is refused",
                           rts_log_fingerprint(ctx->pool, state));
            return callback_error(ctx, req, out, 400, "invalid_state",
                                  "this login was already completed; please start again", 1);
        }
        out->result.status = rv;
        return callback_error(ctx, req, out, 503, "store_unavailable",
                              "the session store is unavailable", 1);
    }
    return create_session(ctx, req, out, tokens, claims,
                          rts_return_url_ok(pending->return_url) ? pending->return_url : "/",
                          started, pending->created);
}
