/* SPDX-License-Identifier: Apache-2.0 */
/* Apache glue of the logout endpoint: request_rec in, rts_logout_handle, response out. */
#include <string.h>
#include <http_protocol.h>
#include <http_request.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_config.h"
#include "mod_rtsession_ctx.h"
#include "mod_rtsession_log.h"
#include "mod_rtsession_logout.h"
#include "mod_rtsession_page.h"
#include "rts_logout.h"
#include "rts_backchannel.h"

#define BACKCHANNEL_MAX_BODY (RTS_LOGOUT_TOKEN_MAX + 64)

/* The POSTed form, at most max bytes; NULL when larger or unreadable. */
static const char *read_body(request_rec *r, apr_size_t max, apr_size_t *plen)
{
    char *buf = apr_palloc(r->pool, max + 1);
    apr_size_t len = 0;
    long n;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK || !ap_should_client_block(r)) {
        return NULL;
    }
    while ((n = ap_get_client_block(r, buf + len, max + 1 - len)) > 0) {
        len += (apr_size_t)n;
        if (len > max) {
            return NULL;
        }
    }
    if (n < 0) {
        return NULL;
    }
    buf[len] = '\0';
    *plen = len;
    return buf;
}

static int json_answer(request_rec *r, int status, const char *error, const char *description)
{
    r->status = status;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!error) {
        ap_set_content_length(r, 0);
        return OK;
    }
    ap_set_content_type(r, "application/json");
    ap_rprintf(r, "{\"error\":\"%s\",\"error_description\":\"%s\"}\n", error,
               ap_escape_quotes(r->pool, description ? description : ""));
    return OK;
}

/* OpenID Connect Back-Channel Logout 1.0 §2.8: 200 on success, 400 with a JSON error,
 * Cache-Control: no-store either way. */
static int backchannel(request_rec *r, mrts_srv_conf_t *sc)
{
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    const char *body;
    apr_size_t len = 0;
    rts_result_t res;
    int ended = 0;
    apr_status_t rv;

    if (r->method_number != M_POST) {
        r->allowed = AP_METHOD_BIT << M_POST;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33)) {
        ap_discard_request_body(r);
        return json_answer(r, 400, "invalid_request",
                           "expects an application/x-www-form-urlencoded POST");
    }
    body = read_body(r, BACKCHANNEL_MAX_BODY, &len);
    if (!body) {
        return json_answer(r, 400, "invalid_request", "the request body is missing or too large");
    }
    rts_result_reset(&res);
    rv = rts_backchannel_handle(mrts_ctx_make(r, sc), body, len, &ended, &res);
    if (rv == APR_SUCCESS) {
        return json_answer(r, 200, NULL, NULL);
    }
    return json_answer(r, res.http_status ? res.http_status : 400,
                       res.error ? res.error : "invalid_request", res.description);
}

/* quick_handler: before any <Location>, so the logout paths work whatever protects them. */
int mrts_logout_quick_handler(request_rec *r, int lookup_uri)
{
    mrts_srv_conf_t *sc = mrts_config_srv(r->server);
    rts_outcome_t out;
    rts_ctx_t *ctx;
    int rc, is_backchannel;

    if (lookup_uri || !sc->core || r->main || r->prev || !r->parsed_uri.path) {
        return DECLINED;
    }
    is_backchannel = sc->core->backchannel_path
                     && !strcmp(r->parsed_uri.path, sc->core->backchannel_path);
    if (!is_backchannel
        && (!sc->core->logout_path || strcmp(r->parsed_uri.path, sc->core->logout_path))) {
        return DECLINED;
    }
    if (is_backchannel) {
        if (!sc->store || !sc->http || !sc->provider) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "[rid %s] " RTSLOGNO(10322) "back-channel logout endpoint: "
                          "mod_rtsession is not initialised for server %s", mrts_log_id(r),
                          r->server->server_hostname);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        return backchannel(r, sc);
    }
    if (r->method_number != M_GET && r->method_number != M_POST) {
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_POST);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!sc->store || !sc->http || !sc->provider) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "[rid %s] " RTSLOGNO(10321) "logout endpoint: mod_rtsession is not "
                      "initialised for server %s (see earlier errors)", mrts_log_id(r),
                      r->server->server_hostname);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* a POSTed form carries nothing we need; read it so keep-alive survives */
    if ((rc = ap_discard_request_body(r)) != OK) {
        return rc;
    }
    ctx = mrts_ctx_make(r, sc);
    if (rts_logout_handle(ctx, mrts_ctx_describe(r), apr_table_get(r->headers_in, "Sec-Fetch-Site"),
                          &out) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return mrts_page_respond(r, &out);
}
