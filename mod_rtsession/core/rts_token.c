/* SPDX-License-Identifier: Apache-2.0 */
/* The token endpoint: authorization code exchange (RFC 6749 §4.1.3, RFC 7636 §4.5), refresh
 * grant (RFC 6749 §6) and response parsing (RFC 6749 §5.1/§5.2, OIDC Core §3.1.3.3).
 *
 * Decisions where the specifications leave a choice (see docs/security.md):
 * - Only HTTP 200 is a success response (§5.1 says 200 OK); other 2xx are RTS_EUPSTREAM.
 * - Error responses are recognised on 400 and 401 only (§5.2). Other statuses are provider
 *   faults whatever the body says.
 * - The response Content-Type is not enforced: the body must parse as a JSON object (strictly,
 *   duplicate members refused) whatever the header says. Cache-Control/Pragma no-store is a
 *   server requirement and is not checked here.
 * - A member present with JSON null is a member of the wrong type (refused), never "absent".
 * - access_token and refresh_token must be non-empty strings of VSCHAR (%x20-7E, RFC 6749
 *   Appendix A.12/A.17): no control characters can travel into headers. id_token and scope
 *   must be non-empty strings when present (the ID token itself is validated elsewhere).
 * - expires_in (and the refresh_expires_in extension) must be JSON numbers with an integer
 *   value between 0 and RTS_TOKEN_EXPIRES_MAX; a JSON string of digits is refused, as RFC 6749
 *   §5.1 and Appendix A.14 define a number.
 * - token_type must be "Bearer", compared case-insensitively (RFC 6749 §5.1, §7.1); it is
 *   stored normalised as "Bearer".
 * - The OAuth error code must be 1..RTS_TOKEN_ERROR_MAX characters of NQSCHAR (%x20-21 /
 *   %x23-5B / %x5D-7E, RFC 6749 §5.2, Appendix A.7); otherwise the answer is RTS_EUPSTREAM.
 *   error_description is kept only as a sanitized copy: characters outside %x20-7E become '?',
 *   and it is truncated to RTS_TOKEN_DESC_MAX characters.
 * - http_status: 502 for provider faults and for OAuth errors other than invalid_grant (the
 *   provider refused us, not the user); 401 for invalid_grant (the code or refresh token is
 *   dead: the user logs in again). The caller may override.
 * - What an answer means for the grant (rts_token_classify, docs/design.md "Refresh outcomes"):
 *   401, or invalid_client / unauthorized_client in any status, is the client's own
 *   authentication failing (configuration: RTS_ECONFIG, logged at error level); other 400s and
 *   403s refuse the grant whatever the body (empty, HTML, invalid_request ...), except the
 *   server_error / temporarily_unavailable codes; everything else after sending (5xx, 429,
 *   other statuses, a 200 the parser refuses, a timeout or reset) leaves the grant's fate
 *   unknown. Token requests are never re-sent by the HTTP client (rts_http_request_t.once).
 * - client_secret_basic form-encodes id and secret with percent-encoding of everything but
 *   unreserved characters (a space becomes %20, never '+'), which every form decoder reads
 *   back correctly.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_cstr.h>
#include <apr_tables.h>
#include <apr_base64.h>
#include <apr_date.h>
#include <jansson.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_config.h"
#include "rts_http.h"
#include "rts_metrics.h"
#include "rts_json.h"
#include "rts_log.h"
#include "rts_result.h"
#include "rts_util.h"
#include "rts_token.h"

#define RTS_TOKEN_EXPIRES_MAX   (10 * 365 * 24 * 3600LL) /* ten years, in seconds */
#define RTS_TOKEN_ERROR_MAX     64
#define RTS_TOKEN_DESC_MAX      200
#define RTS_TOKEN_REASON        "upstream_error"

#define RTS_TOKEN_RETRY_AFTER_MAX   (24 * 3600)     /* seconds: bounds the arithmetic only */

/* 1*VSCHAR */
static int token_is_vschar(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;

    if (!*c) {
        return 0;
    }
    for (; *c; ++c) {
        if (*c < 0x20 || *c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* 1*NQSCHAR, bounded */
static int token_is_error_code(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    apr_size_t n = 0;

    if (!*c) {
        return 0;
    }
    for (; *c; ++c, ++n) {
        if (n >= RTS_TOKEN_ERROR_MAX || *c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\') {
            return 0;
        }
    }
    return 1;
}

/* A copy safe to log and show: printable ASCII only, bounded. */
static const char *token_sanitize(apr_pool_t *p, const char *s)
{
    apr_size_t len = strlen(s), i, n;
    char *out;

    n = len > RTS_TOKEN_DESC_MAX ? RTS_TOKEN_DESC_MAX : len;
    out = apr_palloc(p, n + 4);
    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
    }
    if (len > n) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static apr_status_t token_fault(rts_result_t *res, apr_pool_t *p, const char *what)
{
    return rts_result_set(res, p, RTS_EUPSTREAM, 502, RTS_TOKEN_REASON,
                          "token endpoint: %s", what);
}

/* An optional string member: APR_ENOENT when absent, APR_EINVAL when not a non-empty string. */
static apr_status_t token_get_str(const json_t *obj, const char *key, const char **pval)
{
    const json_t *v = json_object_get(obj, key);

    *pval = NULL;
    if (!v) {
        return APR_ENOENT;
    }
    if (!json_is_string(v) || json_string_length(v) == 0
        || strlen(json_string_value(v)) != json_string_length(v)) {
        return APR_EINVAL;
    }
    *pval = json_string_value(v);
    return APR_SUCCESS;
}

/* An optional lifetime in seconds: -1 when absent, APR_EINVAL when not an integer in range. */
static apr_status_t token_get_seconds(const json_t *obj, const char *key, apr_int64_t *pval)
{
    const json_t *v = json_object_get(obj, key);
    double d;

    *pval = -1;
    if (!v) {
        return APR_SUCCESS;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > RTS_TOKEN_EXPIRES_MAX) {
            return APR_EINVAL;
        }
        *pval = (apr_int64_t)i;
        return APR_SUCCESS;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        /* 3600.0 is an integer value; 3600.5, NaN and out-of-range values are not */
        if (!(d >= 0 && d <= (double)RTS_TOKEN_EXPIRES_MAX) || d != (double)(apr_int64_t)d) {
            return APR_EINVAL;
        }
        *pval = (apr_int64_t)d;
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

static apr_status_t token_parse_error(apr_pool_t *p, const json_t *json, rts_result_t *res)
{
    const char *error, *desc = NULL;
    const json_t *jdesc;
    apr_status_t rv;

    if (token_get_str(json, "error", &error) != APR_SUCCESS || !token_is_error_code(error)) {
        return token_fault(res, p, "error response without a valid error code");
    }
    error = apr_pstrdup(p, error);
    jdesc = json_object_get(json, "error_description");
    if (jdesc && json_is_string(jdesc)) {
        desc = token_sanitize(p, json_string_value(jdesc));
    }
    rv = strcmp(error, "invalid_grant") == 0 ? RTS_EINVALIDGRANT : RTS_EOAUTH;
    /* the description is empty when the provider gave none */
    return rts_result_set(res, p, rv, rv == RTS_EINVALIDGRANT ? 401 : 502, error, "%s",
                          desc ? desc : "");
}

apr_status_t rts_token_parse_response(apr_pool_t *p, const rts_http_response_t *resp,
                                      rts_token_set_t **ptokens, rts_result_t *res)
{
    rts_token_set_t *t;
    json_t *json = NULL;
    const char *s;
    apr_status_t rv;

    *ptokens = NULL;
    if (!resp) {
        return token_fault(res, p, "no response");
    }
    if (resp->status != 200 && resp->status != 400 && resp->status != 401) {
        return rts_result_set(res, p, RTS_EUPSTREAM, 502, RTS_TOKEN_REASON,
                              "token endpoint: unexpected HTTP status %d", resp->status);
    }
    if (!resp->body || resp->body_len == 0) {
        return token_fault(res, p, "empty response body");
    }
    rv = rts_json_parse_object(p, resp->body, resp->body_len, resp->body_len, &json);
    if (rv != APR_SUCCESS || !json) {
        return token_fault(res, p, "response is not a JSON object");
    }
    if (resp->status != 200) {
        return token_parse_error(p, json, res);
    }

    t = apr_pcalloc(p, sizeof(*t));
    rv = token_get_str(json, "access_token", &t->access_token);
    if (rv != APR_SUCCESS || !token_is_vschar(t->access_token)) {
        return token_fault(res, p, rv == APR_ENOENT ? "access_token missing"
                                                    : "access_token is not a valid string");
    }
    rv = token_get_str(json, "token_type", &s);
    if (rv != APR_SUCCESS) {
        return token_fault(res, p, rv == APR_ENOENT ? "token_type missing"
                                                    : "token_type is not a valid string");
    }
    if (apr_cstr_casecmp(s, "Bearer") != 0) {
        return token_fault(res, p, "token_type is not Bearer");
    }
    t->token_type = "Bearer";
    rv = token_get_str(json, "refresh_token", &t->refresh_token);
    if (rv == APR_EINVAL || (rv == APR_SUCCESS && !token_is_vschar(t->refresh_token))) {
        return token_fault(res, p, "refresh_token is not a valid string");
    }
    if (token_get_str(json, "id_token", &t->id_token) == APR_EINVAL) {
        return token_fault(res, p, "id_token is not a string");
    }
    if (token_get_str(json, "scope", &t->scope) == APR_EINVAL) {
        return token_fault(res, p, "scope is not a string");
    }
    if (token_get_seconds(json, "expires_in", &t->expires_in) != APR_SUCCESS) {
        return token_fault(res, p, "expires_in is not a non-negative integer");
    }
    if (token_get_seconds(json, "refresh_expires_in", &t->refresh_expires_in) != APR_SUCCESS) {
        return token_fault(res, p, "refresh_expires_in is not a non-negative integer");
    }
    /* The strings live in json, which the pool owns; copy them so nothing depends on that. */
    t->access_token = apr_pstrdup(p, t->access_token);
    t->refresh_token = t->refresh_token ? apr_pstrdup(p, t->refresh_token) : NULL;
    t->id_token = t->id_token ? apr_pstrdup(p, t->id_token) : NULL;
    t->scope = t->scope ? apr_pstrdup(p, t->scope) : NULL;
    *ptokens = t;
    return APR_SUCCESS;
}

static int token_is_client_auth_error(const char *error)
{
    return error && (!strcmp(error, "invalid_client") || !strcmp(error, "unauthorized_client"));
}

/* Codes that say the provider failed, not the grant (RFC 6749 §4.1.2.1 defines them for the
 * authorization endpoint; some providers send them from the token endpoint too). */
static int token_is_server_error(const char *error)
{
    return error && (!strcmp(error, "server_error") || !strcmp(error, "temporarily_unavailable"));
}

rts_token_kind_t rts_token_classify(apr_status_t transport_rv, const rts_http_response_t *resp,
                                    apr_status_t parse_rv, const char *error)
{
    if (transport_rv != APR_SUCCESS || !resp) {
        /* APR_EINVAL: our own URL or options were refused before anything was sent */
        return transport_rv == APR_ECONNREFUSED || transport_rv == APR_EINVAL
               ? RTS_TOKEN_NOT_SENT : RTS_TOKEN_UNKNOWN;
    }
    if (resp->status == 200) {
        return parse_rv == APR_SUCCESS ? RTS_TOKEN_OK : RTS_TOKEN_UNKNOWN;
    }
    if (resp->status == 401 || token_is_client_auth_error(error)) {
        return RTS_TOKEN_CLIENT_AUTH;
    }
    if ((resp->status == 400 || resp->status == 403) && !token_is_server_error(error)) {
        return RTS_TOKEN_REFUSED;
    }
    return RTS_TOKEN_UNKNOWN;      /* 5xx, 429, anything else: the provider may have acted */
}

/* The body as a JSON object, or NULL. */
static json_t *token_body_json(apr_pool_t *p, const rts_http_response_t *resp)
{
    json_t *json = NULL;

    if (!resp || !resp->body || resp->body_len == 0
        || rts_json_parse_object(p, resp->body, resp->body_len, resp->body_len, &json)
           != APR_SUCCESS) {
        return NULL;
    }
    return json;
}

/* A string member of a JSON body that passes valid(), copied; NULL when absent or not valid. */
static const char *token_body_member(apr_pool_t *p, const rts_http_response_t *resp,
                                     const char *key, int (*valid)(const char *))
{
    json_t *json = token_body_json(p, resp);
    const char *v;

    if (!json || token_get_str(json, key, &v) != APR_SUCCESS || !valid(v)) {
        return NULL;
    }
    return apr_pstrdup(p, v);
}

/* Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; 0 when absent or unusable. */
static apr_interval_time_t token_retry_after(const rts_ctx_t *ctx,
                                             const rts_http_response_t *resp)
{
    const char *v = resp && resp->headers ? apr_table_get(resp->headers, "Retry-After") : NULL;
    apr_int64_t secs = 0;
    apr_time_t when;
    const char *c;

    if (!v || !*v) {
        return 0;
    }
    for (c = v; *c >= '0' && *c <= '9'; c++) {
        secs = secs * 10 + (*c - '0');
        if (secs > RTS_TOKEN_RETRY_AFTER_MAX) {
            secs = RTS_TOKEN_RETRY_AFTER_MAX;
        }
    }
    if (!*c) {
        return apr_time_from_sec(secs);
    }
    when = apr_date_parse_http(v);
    if (when == APR_DATE_BAD || when <= rts_now(ctx)) {
        return 0;
    }
    return when - rts_now(ctx) > apr_time_from_sec(RTS_TOKEN_RETRY_AFTER_MAX)
           ? apr_time_from_sec(RTS_TOKEN_RETRY_AFTER_MAX) : when - rts_now(ctx);
}

/* "Basic " base64(urlencode(id) ":" urlencode(secret)), RFC 6749 §2.3.1. */
static const char *token_basic_auth(apr_pool_t *p, const char *id, const char *secret)
{
    const char *plain = apr_pstrcat(p, rts_url_encode(p, id), ":",
                                    rts_url_encode(p, secret), NULL);
    int len = (int)strlen(plain);
    char *coded = apr_palloc(p, (apr_size_t)apr_base64_encode_len(len));

    apr_base64_encode(coded, plain, len);
    return apr_pstrcat(p, "Basic ", coded, NULL);
}

void rts_token_client_auth(apr_pool_t *p, const rts_config_t *cfg, apr_table_t *headers,
                           const char **pbody)
{
    if (cfg->client_auth == RTS_AUTH_CLIENT_SECRET_BASIC) {
        apr_table_setn(headers, "Authorization",
                       token_basic_auth(p, cfg->client_id, cfg->client_secret));
    }
    else {
        *pbody = apr_pstrcat(p, *pbody, "&",
                             rts_form_build(p, "client_id", cfg->client_id,
                                            "client_secret", cfg->client_secret, NULL), NULL);
    }
}

/* Performs one token request (body without the client credentials, which are added here as
 * configured) and classifies its answer into *pans. timeout 0: the configured one. */
static apr_status_t token_request(rts_ctx_t *ctx, const char *token_endpoint,
                                  const char *grant_type, const char *body,
                                  apr_interval_time_t timeout, rts_token_set_t **ptokens,
                                  rts_token_answer_t *pans, rts_result_t *res)
{
    const rts_config_t *cfg = ctx->cfg;
    apr_pool_t *p = ctx->pool;
    rts_http_request_t req;
    rts_http_response_t *resp = NULL;
    rts_token_answer_t ans;
    apr_time_t started;
    apr_status_t rv, prv;

    memset(&req, 0, sizeof(req));
    memset(&ans, 0, sizeof(ans));
    req.method = "POST";
    req.url = token_endpoint;
    req.headers = apr_table_make(p, 4);
    apr_table_setn(req.headers, "Content-Type", "application/x-www-form-urlencoded");
    apr_table_setn(req.headers, "Accept", "application/json");
    rts_token_client_auth(p, cfg, req.headers, &body);
    req.body = body;
    req.body_len = strlen(body);
    /* the bounds come from rts_config_finish, which refuses a configuration without them */
    req.timeout = cfg->http_timeout;
    if (timeout > 0 && timeout < req.timeout) {
        req.timeout = timeout;
    }
    req.connect_timeout = cfg->connect_timeout;
    if (req.connect_timeout > req.timeout) {
        req.connect_timeout = req.timeout;
    }
    req.max_response = cfg->max_response;
    req.once = 1;                   /* a code or refresh token is spent at most once */

    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_DEBUG, 0, RTS_LOGNO(10400)
                   "token request: grant_type=%s, endpoint %s, client auth %s",
                   grant_type, token_endpoint,
                   cfg->client_auth == RTS_AUTH_CLIENT_SECRET_BASIC ? "client_secret_basic"
                                                                    : "client_secret_post");
    started = apr_time_now();
    rv = ctx->http->perform(ctx->http, p, &req, &resp);
    rts_metric_observe(ctx, RTS_H_TOKEN, apr_time_now() - started);
    if (rv != APR_SUCCESS || !resp) {
        ans.kind = rts_token_classify(rv, NULL, rv, NULL);
        if (pans) {
            *pans = ans;
        }
        rts_metric_inc(ctx, RTS_M_PROVIDER_ERRORS_TOKEN);
        if (rv != APR_TIMEUP && rv != APR_ECONNREFUSED) {
            rv = RTS_EUPSTREAM;
        }
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_DEBUG, rv, RTS_LOGNO(10401)
                       "token request (grant_type=%s) to %s failed, %s", grant_type,
                       token_endpoint, ans.kind == RTS_TOKEN_NOT_SENT
                       ? "never sent" : "after sending it (outcome unknown)");
        return rts_result_set(res, p, rv, 502, RTS_TOKEN_REASON,
                              "token endpoint: %s", rv == APR_TIMEUP ? "timeout"
                              : rv == APR_ECONNREFUSED ? "connection failed"
                              : "transport failure");
    }
    prv = rts_token_parse_response(p, resp, ptokens, res);
    ans.http_status = resp->status;
    /* the OAuth error code, validated, whatever the HTTP status */
    ans.error = resp->status != 200 ? token_body_member(p, resp, "error", token_is_error_code)
                                    : NULL;
    ans.kind = rts_token_classify(APR_SUCCESS, resp, prv, ans.error);
    if (ans.kind == RTS_TOKEN_UNKNOWN) {
        ans.retry_after = token_retry_after(ctx, resp);
        if (resp->status == 200) {
            /* refused for another member: a well-formed new refresh token is still kept */
            ans.refresh_token = token_body_member(p, resp, "refresh_token", token_is_vschar);
        }
    }
    if (pans) {
        *pans = ans;
    }
    switch (ans.kind) {
    case RTS_TOKEN_OK:
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_DEBUG, 0, RTS_LOGNO(10402)
                       "token response (grant_type=%s): id_token %s, refresh_token %s, "
                       "expires_in %" APR_INT64_T_FMT, grant_type,
                       (*ptokens)->id_token ? "present" : "absent",
                       (*ptokens)->refresh_token ? "present" : "absent",
                       (*ptokens)->expires_in);
        return APR_SUCCESS;
    case RTS_TOKEN_CLIENT_AUTH:
        rts_metric_inc(ctx, RTS_M_TOKEN_CLIENT_AUTH_FAILURES);
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, RTS_ECONFIG, RTS_LOGNO(10406)
                       "the provider refused this client's authentication at its token "
                       "endpoint (grant_type=%s): HTTP %d, error=%s. Check RTSessionClientID, "
                       "RTSessionClientSecret (or RTSessionClientSecretFile) and "
                       "RTSessionTokenEndpointAuth (now %s) against the client registered at "
                       "the provider, and that this client may use the %s grant there",
                       grant_type, resp->status, ans.error ? ans.error : "none",
                       cfg->client_auth == RTS_AUTH_CLIENT_SECRET_BASIC ? "client_secret_basic"
                                                                        : "client_secret_post",
                       grant_type);
        *ptokens = NULL;
        return rts_result_set(res, p, RTS_ECONFIG, 502, "client_auth_failed",
                              "token endpoint: client authentication refused (HTTP %d, %s)",
                              resp->status, ans.error ? ans.error : "no error code");
    case RTS_TOKEN_REFUSED:
        rts_metric_add(ctx, RTS_M_INVALID_GRANT,
                       ans.error && !strcmp(ans.error, "invalid_grant"));
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_DEBUG, prv, RTS_LOGNO(10403)
                       "token request (grant_type=%s) refused: HTTP %d, error=%s (%s)",
                       grant_type, resp->status, ans.error ? ans.error : "none",
                       (res && res->description) ? res->description : "no description");
        if (prv != RTS_EINVALIDGRANT && prv != RTS_EOAUTH) {
            /* an empty, non-JSON or codeless body: still a refusal of the grant */
            return rts_result_set(res, p, RTS_EOAUTH, 502, ans.error ? ans.error : "refused",
                                  "token endpoint: grant refused (HTTP %d, no error code)",
                                  resp->status);
        }
        return prv;
    default:
        rts_metric_inc(ctx, RTS_M_PROVIDER_ERRORS_TOKEN);
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_DEBUG, prv, RTS_LOGNO(10404)
                       "token response (grant_type=%s) unusable: HTTP %d, error=%s, %s",
                       grant_type, resp->status, ans.error ? ans.error : "none",
                       (res && res->description) ? res->description : "-");
        *ptokens = NULL;
        if (prv == APR_SUCCESS || prv == RTS_EOAUTH || prv == RTS_EINVALIDGRANT) {
            /* e.g. a 500 carrying an OAuth error body: a provider fault all the same */
            return rts_result_set(res, p, RTS_EUPSTREAM, 502, RTS_TOKEN_REASON,
                                  "token endpoint: HTTP %d (error=%s)", resp->status,
                                  ans.error ? ans.error : "none");
        }
        return prv;
    }
}

static apr_status_t token_check_ctx(rts_ctx_t *ctx, const char *token_endpoint,
                                    rts_token_set_t **ptokens, rts_result_t *res)
{
    const rts_config_t *cfg = ctx->cfg;

    *ptokens = NULL;
    if (!cfg || !ctx->http || !ctx->http->perform || !token_endpoint || !*token_endpoint
        || !cfg->client_id || !*cfg->client_id || !cfg->client_secret
        || (cfg->client_auth != RTS_AUTH_CLIENT_SECRET_BASIC
            && cfg->client_auth != RTS_AUTH_CLIENT_SECRET_POST)) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, RTS_ECONFIG, RTS_LOGNO(10405)
                       "token request impossible: token endpoint, client id, client secret "
                       "or client authentication not configured");
        return rts_result_set(res, ctx->pool, RTS_ECONFIG, 500, "server_error",
                              "token endpoint or client credentials not configured");
    }
    return APR_SUCCESS;
}

apr_status_t rts_token_exchange_code(rts_ctx_t *ctx, const char *token_endpoint,
                                     const char *code, const char *code_verifier,
                                     const char *redirect_uri,
                                     rts_token_set_t **ptokens, rts_result_t *res)
{
    apr_status_t rv = token_check_ctx(ctx, token_endpoint, ptokens, res);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!code || !*code || !code_verifier || !*code_verifier || !redirect_uri || !*redirect_uri) {
        return rts_result_set(res, ctx->pool, APR_EINVAL, 400, "invalid_request",
                              "code exchange without code, verifier or redirect_uri");
    }
    return token_request(ctx, token_endpoint, "authorization_code",
                         rts_form_build(ctx->pool, "grant_type", "authorization_code",
                                        "code", code, "redirect_uri", redirect_uri,
                                        "code_verifier", code_verifier, NULL),
                         0, ptokens, NULL, res);
}

apr_status_t rts_token_refresh(rts_ctx_t *ctx, const char *token_endpoint,
                               const char *refresh_token, apr_interval_time_t timeout,
                               rts_token_set_t **ptokens, rts_token_answer_t *panswer,
                               rts_result_t *res)
{
    apr_status_t rv = token_check_ctx(ctx, token_endpoint, ptokens, res);

    if (panswer) {
        memset(panswer, 0, sizeof(*panswer));
        panswer->kind = RTS_TOKEN_NOT_SENT;    /* until a request is made */
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!refresh_token || !*refresh_token) {
        return rts_result_set(res, ctx->pool, APR_EINVAL, 400, "invalid_request",
                              "refresh without a refresh token");
    }
    return token_request(ctx, token_endpoint, "refresh_token",
                         rts_form_build(ctx->pool, "grant_type", "refresh_token",
                                        "refresh_token", refresh_token, NULL),
                         timeout, ptokens, panswer, res);
}
