/* Translation between httpd's request and the core's neutral types. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_req.h"
#include "mod_rtsession_status.h"
#include "rts_log.h"
#include "rts_claim.h"
#include "rts_cookie.h"
#include "rts_logout.h"

/* ---- log sinks: the core's levels are APLOG numbers ---- */

static int req_is_level(void *baton, int level)
{
    request_rec *r = baton;

    return APLOG_R_MODULE_IS_LEVEL(r, APLOG_MODULE_INDEX, level);
}

/* The request's id: mod_unique_id's when it is loaded, httpd's own otherwise (both through
 * the generate_log_id hook, as ErrorLogFormat's %L does), made on first use. */
const char *rts_req_log_id(request_rec *r)
{
    if (!r->log_id) {
        ap_run_generate_log_id(r->connection, r, &r->log_id);
    }
    return r->log_id ? r->log_id : "-";
}

/* The module's own status codes mean nothing to apr_strerror ("APR does not understand this
 * error code"): they are logged as text after the message, with no status. */
static void req_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    request_rec *r = baton;

    /* on every line, whatever the ErrorLogFormat, so an error page's reference finds it */
    if (rts_is_own_status(rv)) {
        ap_log_rerror_(file, line, APLOG_MODULE_INDEX, level, 0, r, "[rid %s] %s (%s)",
                       rts_req_log_id(r), msg, rts_strerror(r->pool, rv));
        return;
    }
    ap_log_rerror_(file, line, APLOG_MODULE_INDEX, level, rv, r, "[rid %s] %s",
                   rts_req_log_id(r), msg);
}

static int srv_is_level(void *baton, int level)
{
    server_rec *s = baton;

    return APLOG_MODULE_IS_LEVEL(s, APLOG_MODULE_INDEX, level);
}

static void srv_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    server_rec *s = baton;

    if (rts_is_own_status(rv)) {
        ap_log_error_(file, line, APLOG_MODULE_INDEX, level, 0, s, "%s (%s)", msg,
                      rts_strerror(s->process->pool, rv));
        return;
    }
    ap_log_error_(file, line, APLOG_MODULE_INDEX, level, rv, s, "%s", msg);
}

rts_log_t *rts_req_server_log(apr_pool_t *p, server_rec *s)
{
    rts_log_t *log = apr_pcalloc(p, sizeof(*log));

    log->is_level = srv_is_level;
    log->print = srv_print;
    log->baton = s;
    return log;
}

rts_ctx_t *rts_req_ctx(request_rec *r, rts_srv_conf_t *sc)
{
    rts_ctx_t *ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    rts_log_t *log = apr_pcalloc(r->pool, sizeof(*log));

    log->is_level = req_is_level;
    log->print = req_print;
    log->baton = r;
    ctx->pool = r->pool;
    ctx->log = log;
    ctx->store = sc->store;
    ctx->http = sc->http;
    ctx->cfg = sc->core;
    ctx->provider = sc->provider;
    ctx->touch_memo = sc->touch_memo;
    ctx->claims_memo = sc->claims_memo;
    rts_status_attach(ctx);
    return ctx;
}

/* ---- request description ---- */

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

rts_req_t *rts_req_describe(request_rec *r)
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

/* ---- responses ---- */

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

int rts_req_respond(request_rec *r, const rts_outcome_t *out)
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
    return rts_req_error_page(r, out->http_status, out->message);
}

int rts_req_error_page(request_rec *r, int status, const char *message)
{
    char *text = message ? apr_pstrcat(r->pool, message, ".", NULL)
                         : apr_pstrdup(r->pool, "An error occurred.");

    text[0] = (char)apr_toupper(text[0]);   /* the core's messages read as clauses */
    ap_custom_response(r, status,
        apr_psprintf(r->pool, "<!DOCTYPE html><html><head><title>%s</title></head><body>"
                     "<h1>%s</h1><p>%s</p><p>Reference: %s</p></body></html>\n",
                     status_title(status), status_title(status), ap_escape_html(r->pool, text),
                     ap_escape_html(r->pool, rts_req_log_id(r))));
    return status;
}

int rts_req_pass_anonymous(request_rec *r, const rts_outcome_t *out)
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

/* ---- headers for the backend ---- */

/* Header names compared as a CGI backend would see them: case-insensitive, '_' == '-'. */
static int header_name_matches(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a == '_' ? '-' : (char)apr_tolower(*a);
        char cb = *b == '_' ? '-' : (char)apr_tolower(*b);
        if (ca != cb) {
            return 0;
        }
    }
    return *a == *b;
}

typedef struct {
    const apr_array_header_t *server;  /* every name configured in the server's sections */
    const rts_dir_conf_t *dc;          /* this location's (may come from .htaccess) */
    apr_array_header_t *doomed;
} scrub_t;

static int dir_names_match(const rts_dir_conf_t *dc, const char *key)
{
    int i;

    if (*rts_config_user_header(dc) && header_name_matches(key, rts_config_user_header(dc))) {
        return 1;
    }
    if (*rts_config_at_header(dc) && header_name_matches(key, rts_config_at_header(dc))) {
        return 1;
    }
    for (i = 0; dc->claim_headers && i < dc->claim_headers->nelts; i++) {
        if (header_name_matches(key, APR_ARRAY_IDX(dc->claim_headers, i,
                                                   rts_claim_header_t).header)) {
            return 1;
        }
    }
    return 0;
}

static int scrub_visit(void *baton, const char *key, const char *value)
{
    scrub_t *st = baton;
    int i;

    for (i = 0; st->server && i < st->server->nelts; i++) {
        if (header_name_matches(key, APR_ARRAY_IDX(st->server, i, const char *))) {
            APR_ARRAY_PUSH(st->doomed, const char *) = key;
            return 1;
        }
    }
    if (dir_names_match(st->dc, key)) {
        APR_ARRAY_PUSH(st->doomed, const char *) = key;
    }
    return 1;
}

void rts_req_scrub(request_rec *r, const rts_srv_conf_t *sc, const rts_dir_conf_t *dc)
{
    scrub_t st;
    const char *cookie;
    int i;

    st.server = sc->scrub_names;
    st.dc = dc;
    st.doomed = apr_array_make(r->pool, 2, sizeof(const char *));
    apr_table_do(scrub_visit, &st, r->headers_in, NULL);
    for (i = 0; i < st.doomed->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(st.doomed, i, const char *));
    }
    /* the module's own cookies never reach the backend */
    cookie = apr_table_get(r->headers_in, "Cookie");
    if (cookie && sc->core) {
        const char *names[7];
        const char *rest;
        names[0] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_SESSION, 1);
        names[1] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_SESSION, 0);
        names[2] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGIN, 1);
        names[3] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGIN, 0);
        names[4] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGOUT, 1);
        names[5] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGOUT, 0);
        names[6] = NULL;
        rest = rts_cookie_strip(r->pool, cookie, names);
        if (rest) {
            apr_table_setn(r->headers_in, "Cookie", rest);
        }
        else {
            apr_table_unset(r->headers_in, "Cookie");
        }
    }
}

/* A claim as one header/environment value: the core's one rule (rts_claim.h) neutralises
 * control characters and drops over-long values. */
const char *rts_req_claim_value(apr_pool_t *p, const json_t *v)
{
    const char *text;

    rts_claim_value(p, v, RTS_CLAIM_AS_TEXT, &text);
    return text;
}

void rts_req_inject(request_rec *r, const rts_dir_conf_t *dc, const rts_outcome_t *out)
{
    const char *name;
    int i;

    /* r->user passed the user-name rule at check_authn */
    if (*(name = rts_config_user_header(dc)) && r->user) {
        apr_table_setn(r->headers_in, name, r->user);
    }
    if (*(name = rts_config_at_header(dc))) {
        apr_table_setn(r->headers_in, name, out->session->access_token);
    }
    for (i = 0; dc->claim_headers && out->claims && i < dc->claim_headers->nelts; i++) {
        const rts_claim_header_t *ch = &APR_ARRAY_IDX(dc->claim_headers, i, rts_claim_header_t);
        const char *v = rts_req_claim_value(r->pool, json_object_get(out->claims, ch->claim));
        if (v) {
            apr_table_setn(r->headers_in, ch->header, v);
        }
    }
}
