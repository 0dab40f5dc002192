/* SPDX-License-Identifier: Apache-2.0 */
/* request_rec in: the core's context and neutral request description, and the per-request
 * state that check_authn leaves for the later phases. */
#include <string.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_ctx.h"
#include "mod_rtsession_log.h"

rts_ctx_t *mrts_ctx_make(request_rec *r, const mrts_srv_conf_t *sc)
{
    rts_ctx_t *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

    ctx->pool = r->pool;
    ctx->log = mrts_log_request(r);
    ctx->store = sc->store;
    ctx->http = sc->http;
    ctx->cfg = sc->core;
    ctx->provider = sc->provider;
    ctx->touch_memo = sc->touch_memo;
    ctx->claims_memo = sc->claims_memo;
    ctx->metrics = sc->metrics;
    return ctx;
}

/* A top-level browser navigation may be sent to the provider; anything else (XHR, fetch,
 * API clients) gets 401, since a redirect to a login page would only confuse it. */
static int is_navigation(request_rec *r)
{
    const char *mode = apr_table_get(r->headers_in, "Sec-Fetch-Mode");
    const char *accept;

    if (r->method_number != M_GET) {
        return 0;
    }
    if (mode) {
        return !strcasecmp(mode, "navigate");
    }
    if (apr_table_get(r->headers_in, "X-Requested-With")) {
        return 0;
    }
    accept = apr_table_get(r->headers_in, "Accept");
    return accept && ap_strcasestr(accept, "text/html") != NULL;
}

rts_req_t *mrts_ctx_describe(request_rec *r)
{
    rts_req_t *req = apr_pcalloc(r->pool, sizeof(*req));
    const char *origin = ap_construct_url(r->pool, "/", r);

    req->method = r->method;
    req->secure = !strcmp(ap_http_scheme(r), "https");
    req->origin = apr_pstrmemdup(r->pool, origin, strlen(origin) - 1);
    req->uri = r->unparsed_uri;
    req->query = r->args;
    req->cookie_header = apr_table_get(r->headers_in, "Cookie");
    req->navigation = is_navigation(r);
    return req;
}

mrts_req_state_t *mrts_ctx_state(const request_rec *r)
{
    return ap_get_module_config(r->request_config, &rtsession_module);
}

void mrts_ctx_set_state(request_rec *r, mrts_req_state_t *st)
{
    ap_set_module_config(r->request_config, &rtsession_module, st);
}

json_t *mrts_ctx_claims(const request_rec *r)
{
    const mrts_req_state_t *st = mrts_ctx_state(r);

    return st && st->outcome.kind == RTS_OUT_PASS ? st->outcome.claims : NULL;
}
