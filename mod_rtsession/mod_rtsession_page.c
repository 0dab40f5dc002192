/* SPDX-License-Identifier: Apache-2.0 */
/* What the browser gets when the core does not let a request pass: a redirect, a 401 or an
 * error page in the user's terms with a reference that finds the log line. */
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_page.h"
#include "mod_rtsession_log.h"

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Login failed";
    case 401: return "Login required";
    case 403: return "Access denied";
    case 502: return "Identity provider unavailable";
    case 503: return "Service temporarily unavailable";
    default:  return "Login error";
    }
}

int mrts_page_respond(request_rec *r, const rts_outcome_t *out)
{
    int i;

    for (i = 0; i < out->set_cookies->nelts; i++) {
        apr_table_add(r->err_headers_out, "Set-Cookie",
                      APR_ARRAY_IDX(out->set_cookies, i, const char *));
    }
    /* responses that set or clear cookies must not be cached by anyone */
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    switch (out->kind) {
    case RTS_OUT_REDIRECT:
        apr_table_setn(r->headers_out, "Location", out->location);
        return HTTP_MOVED_TEMPORARILY;
    case RTS_OUT_DENY:
        apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                       apr_psprintf(r->pool, "rtsession realm=\"%s\"",
                                    ap_escape_quotes(r->pool, ap_get_server_name(r))));
        ap_custom_response(r, HTTP_UNAUTHORIZED,
                           "<!DOCTYPE html><html><head><title>Login required</title></head>"
                           "<body><h1>Login required</h1><p>This resource requires a login. "
                           "Open it in the browser to sign in.</p></body></html>\n");
        return HTTP_UNAUTHORIZED;
    default:
        break;
    }
    if (out->retry_after > 0) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_itoa(r->pool, out->retry_after));
    }
    /* the user's terms only (out->message); URLs, addresses and errors stay in the log line,
     * which the reference finds */
    return mrts_page_error(r, out->http_status, out->message);
}

int mrts_page_error(request_rec *r, int status, const char *message)
{
    char *text = message ? apr_pstrcat(r->pool, message, ".", NULL)
                         : apr_pstrdup(r->pool, "An error occurred.");

    text[0] = (char)apr_toupper(text[0]);   /* the core's messages read as clauses */
    ap_custom_response(r, status,
        apr_psprintf(r->pool, "<!DOCTYPE html><html><head><title>%s</title></head><body>"
                     "<h1>%s</h1><p>%s</p><p>Reference: %s</p></body></html>\n",
                     status_title(status), status_title(status), ap_escape_html(r->pool, text),
                     ap_escape_html(r->pool, mrts_log_id(r))));
    return status;
}

int mrts_page_pass_anonymous(request_rec *r, const rts_outcome_t *out)
{
    int i;

    /* a dead session's cookie is still cleared */
    for (i = 0; i < out->set_cookies->nelts; i++) {
        apr_table_add(r->err_headers_out, "Set-Cookie",
                      APR_ARRAY_IDX(out->set_cookies, i, const char *));
    }
    if (out->set_cookies->nelts) {
        apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    }
    /* "" satisfies Require valid-user without naming anyone; no identity is injected, and the
     * fixups hook unsets it again so that the backend sees no REMOTE_USER at all */
    r->user = "";
    r->ap_auth_type = "rtsession";
    return OK;
}
