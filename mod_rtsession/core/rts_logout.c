/* SPDX-License-Identifier: Apache-2.0 */
/* Local and RP-initiated logout, token revocation. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_authreq.h"
#include "rts_config.h"
#include "rts_cookie.h"
#include "rts_json.h"
#include "rts_log.h"
#include "rts_logout.h"
#include "rts_provider.h"
#include "rts_token.h"
#include "rts_util.h"


int rts_logout_allowed(const char *method, const char *fetch_site)
{
    int site_ok = fetch_site && (!strcmp(fetch_site, "same-origin") || !strcmp(fetch_site, "none"));

    if (method && !strcmp(method, "POST")) {
        /* old browsers send no Sec-Fetch-Site; SameSite=Lax keeps our cookie off their
         * cross-site POSTs anyway */
        return !fetch_site || site_ok;
    }
    return method && !strcmp(method, "GET") && site_ok;
}

/* The OAuth error code of an error answer, when it is one (JSON object, short token-like
 * "error"); NULL otherwise. Only the code is ever logged, never the body. */
static const char *revoke_error_code(apr_pool_t *p, const rts_http_response_t *resp)
{
    json_t *o;
    const char *e, *c;

    if (!resp || !resp->body || !resp->body_len
        || rts_json_parse_object(p, resp->body, resp->body_len, 4096, &o) != APR_SUCCESS
        || !(e = rts_json_str(o, "error")) || !*e || strlen(e) > 64) {
        return NULL;
    }
    for (c = e; *c; c++) {
        if (!apr_isalnum(*c) && *c != '_' && *c != '-' && *c != '.') {
            return NULL;
        }
    }
    return e;
}

/* RFC 7009 §2.2.1 / RFC 6749 §5.2: the provider refused the client itself (401, 403, or
 * invalid_client / unauthorized_client in any status): a configuration fault, not the token's. */
static int client_auth_refused(int status, const char *error)
{
    return status == 401 || status == 403
           || (error && (!strcmp(error, "invalid_client") || !strcmp(error, "unauthorized_client")));
}

/* One RFC 7009 request; 200 is success (also for tokens the provider no longer knows). */
static apr_status_t revoke_one(rts_ctx_t *ctx, const char *endpoint, const char *token,
                               const char *hint)
{
    const rts_config_t *cfg = ctx->cfg;
    rts_http_request_t hreq;
    rts_http_response_t *resp = NULL;
    const char *body = rts_form_build(ctx->pool, "token", token, "token_type_hint", hint, NULL);
    apr_status_t rv;

    memset(&hreq, 0, sizeof(hreq));
    hreq.method = "POST";
    hreq.url = endpoint;
    hreq.headers = apr_table_make(ctx->pool, 4);
    apr_table_setn(hreq.headers, "Content-Type", "application/x-www-form-urlencoded");
    rts_token_client_auth(ctx->pool, cfg, hreq.headers, &body);
    hreq.body = body;
    hreq.body_len = strlen(body);
    hreq.timeout = cfg->http_timeout;
    hreq.connect_timeout = cfg->connect_timeout;
    hreq.max_response = cfg->max_response;
    rv = ctx->http->perform(ctx->http, ctx->pool, &hreq, &resp);
    if (rv == APR_SUCCESS && resp->status != 200) {
        const char *error = revoke_error_code(ctx->pool, resp);

        if (client_auth_refused(resp->status, error)) {
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, 0,
                           RTS_LOGNO(10519) "revoking the %s at %s: the provider refused this "
                           "client's authentication (HTTP %d, error %s): check RTSessionClientID, "
                           "RTSessionClientSecret (or RTSessionClientSecretFile) and "
                           "RTSessionTokenEndpointAuth against the client's registration at the "
                           "provider; the token was not revoked, logout goes on",
                           hint, endpoint, resp->status, error ? error : "none");
            return RTS_EOAUTH;
        }
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10502) "revoking the %s at %s failed (HTTP %d, error %s); "
                       "logout goes on", hint, endpoint, resp->status, error ? error : "none");
        return RTS_EOAUTH;
    }
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10502) "revoking the %s at %s failed (no answer); logout goes "
                       "on", hint, endpoint);
    }
    return rv;
}

apr_status_t rts_logout_revoke(rts_ctx_t *ctx, const char *revocation_endpoint,
                               const rts_session_t *s)
{
    apr_status_t rv = APR_SUCCESS, rv2;

    /* the refresh token first: revoking it ends the grant, and with it (at most providers) the
     * access tokens; the access token is revoked too for those that do not */
    if (s->refresh_token) {
        rv = revoke_one(ctx, revocation_endpoint, s->refresh_token, "refresh_token");
    }
    if (s->access_token) {
        rv2 = revoke_one(ctx, revocation_endpoint, s->access_token, "access_token");
        if (rv == APR_SUCCESS) {
            rv = rv2;
        }
    }
    return rv;
}

static apr_status_t redirect(rts_outcome_t *out, const char *location)
{
    out->kind = RTS_OUT_REDIRECT;
    out->http_status = 302;
    out->location = location;
    return APR_SUCCESS;
}

/* The return from the provider's end_session_endpoint. */
static apr_status_t logout_return(rts_ctx_t *ctx, const rts_req_t *req, const char *state,
                                  rts_outcome_t *out)
{
    const char *cookie_name = rts_flow_cookie(ctx, RTS_COOKIE_LOGOUT, req->secure);
    const char *cookie_state = NULL;
    rts_provider_trip_t *pending;
    apr_status_t rv;

    rts_cookie_get(ctx->pool, req->cookie_header, cookie_name, &cookie_state);
    rts_flow_add_cookie(ctx, out, cookie_name, "", req->secure, 0);
    if (!cookie_state || !rts_authreq_value_ok(state) || !rts_ct_streq(state, cookie_state)) {
        return rts_flow_out_error(ctx, out, 400, "invalid_state",
                                  "this logout response does not belong to a logout started in "
                                  "this browser; you are logged out here");
    }
    rv = rts_authreq_take(ctx, state, &pending);
    if (rv != APR_SUCCESS) {
        return rts_flow_out_error(ctx, out, 400, "invalid_state",
                                  "this logout has expired or was already completed; you are "
                                  "logged out here");
    }
    return redirect(out, pending->return_url);
}

/* Sends the browser to the provider to end its session there. APR_EGENERAL when that is not
 * possible (the caller then redirects locally). */
static apr_status_t logout_at_provider(rts_ctx_t *ctx, const rts_req_t *req,
                                       const rts_provider_meta_t *meta, const rts_session_t *s,
                                       const char *target, rts_outcome_t *out)
{
    rts_provider_trip_t *pending;
    const char *query;
    apr_status_t rv;

    rv = rts_authreq_new(ctx->pool, target, rts_now(ctx), &pending);
    if (rv == APR_SUCCESS) {
        rv = rts_authreq_save(ctx, pending);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    query = rts_form_build(ctx->pool,
                           "id_token_hint", s->id_token,
                           "client_id", ctx->cfg->client_id,
                           "post_logout_redirect_uri",
                           apr_pstrcat(ctx->pool, req->origin, ctx->cfg->logout_path, NULL),
                           "state", pending->state,
                           NULL);
    rts_flow_add_cookie(ctx, out, rts_flow_cookie(ctx, RTS_COOKIE_LOGOUT, req->secure),
                        pending->state, req->secure, apr_time_sec(ctx->cfg->pending_ttl));
    return redirect(out, apr_pstrcat(ctx->pool, meta->end_session_endpoint,
                                     strchr(meta->end_session_endpoint, '?') ? "&" : "?",
                                     query, NULL));
}

apr_status_t rts_logout_handle(rts_ctx_t *ctx, const rts_req_t *req, const char *fetch_site,
                               rts_outcome_t *out)
{
    const rts_config_t *cfg = ctx->cfg;
    const char *cookie_name = rts_flow_cookie(ctx, RTS_COOKIE_SESSION, req->secure);
    const rts_provider_meta_t *meta = NULL;
    apr_table_t *params;
    const char *state, *ret, *target, *id = NULL;
    rts_session_t *s = NULL;
    apr_status_t rv;

    rts_flow_out_init(ctx, out);
    if (rts_form_parse(ctx->pool, req->query ? req->query : "", &params) != APR_SUCCESS) {
        return rts_flow_out_error(ctx, out, 400, "invalid_request", "malformed logout request");
    }
    state = apr_table_get(params, "state");
    if (state && req->method && !strcmp(req->method, "GET")) {
        return logout_return(ctx, req, state, out);
    }
    if (!rts_logout_allowed(req->method, fetch_site)) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                       RTS_LOGNO(10503) "logout refused: %s request with Sec-Fetch-Site %s "
                       "(possible cross-site logout)", req->method ? req->method : "-",
                       fetch_site ? fetch_site : "absent");
        return rts_flow_out_error(ctx, out, 403, "logout_refused",
                                  "logging out needs a request from this site (a POST, or a "
                                  "link on this site)");
    }
    ret = apr_table_get(params, "return");
    target = ret && rts_return_url_ok(ret) ? ret
             : cfg->logout_redirect ? cfg->logout_redirect : "/";

    rv = rts_cookie_get(ctx->pool, req->cookie_header, cookie_name, &id);
    if (rv == APR_SUCCESS && rts_session_id_valid(id)) {
        rv = rts_session_load(ctx, id, &s);
        if (rv != APR_SUCCESS && rv != APR_ENOENT && rv != RTS_EBADTOKEN) {
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                           RTS_LOGNO(10504) "session store unavailable at logout");
            return rts_flow_out_error(ctx, out, 503, "store_unavailable",
                                      "the session store is unavailable; you are not logged "
                                      "out yet, please retry");
        }
    }
    /* the cookie goes in every case, even when the record is gone already */
    rts_flow_add_cookie(ctx, out, cookie_name, "", req->secure, 0);
    if (!s || s->id == NULL) {
        return redirect(out, target);
    }
    if ((cfg->revoke_at_logout || cfg->logout_at_provider)
        && rts_provider_meta(ctx, &meta, &out->result) != APR_SUCCESS) {
        meta = NULL;   /* logged by the provider cache; the local logout goes on */
    }
    if (meta && cfg->revoke_at_logout && meta->revocation_endpoint) {
        rts_logout_revoke(ctx, meta->revocation_endpoint, s);
    }
    rv = rts_session_delete(ctx, s);
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10504) "session store unavailable at logout");
        return rts_flow_out_error(ctx, out, 503, "store_unavailable",
                                  "the session store is unavailable; you are not logged out "
                                  "yet, please retry");
    }
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, 0,
                   RTS_LOGNO(10505) "session %s logged out",
                   rts_log_fingerprint(ctx->pool, s->id));
    if (meta && cfg->logout_at_provider && meta->end_session_endpoint && s->id_token
        && cfg->logout_path) {
        rv = logout_at_provider(ctx, req, meta, s, target, out);
        if (rv == APR_SUCCESS) {
            return APR_SUCCESS;
        }
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10506) "could not start the logout at the provider; logged "
                       "out locally only");
    }
    return redirect(out, target);
}
