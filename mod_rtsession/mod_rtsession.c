/* SPDX-License-Identifier: Apache-2.0 */
/* mod_rtsession: an OpenID Connect relying party that keeps tokens server-side in memcached
 * and refreshes rotating refresh tokens exactly once per expiry across a cluster.
 * This file is the module record and the hooks: it registers every hook and calls the other
 * glue files, which call only files below them (docs/design.md, "Glue layers"); the protocol
 * lives in core/. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <mod_auth.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_config.h"
#include "mod_rtsession_log.h"
#include "mod_rtsession_ctx.h"
#include "mod_rtsession_page.h"
#include "mod_rtsession_headers.h"
#include "mod_rtsession_logout.h"
#include "mod_rtsession_authz.h"
#include "mod_rtsession_status.h"
#include "rts_claim.h"
#include "rts_claims_memo.h"
#include "rts_http.h"
#include "rts_lifetime.h"
#include "rts_metrics.h"
#include "rts_provider.h"
#include "rts_store.h"
#include "rts_version.h"

#define AUTH_TYPE "rtsession"

static int mrts_hook_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                  server_rec *s)
{
    return mrts_config_check(ptemp, s);
}

static int mrts_hook_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                 server_rec *s)
{
    apr_status_t rv = rts_http_curl_global_init();

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, RTSLOGNO(10310) "libcurl initialisation failed");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_add_version_component(pconf, apr_pstrcat(ptemp, "mod_rtsession/", rts_version(), NULL));
    /* httpd runs post_config twice at startup; the first pass only pre-loads the config */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, RTSLOGNO(10318) "mod_rtsession %s (%s) "
                     "configured", rts_version(), rts_version_libraries(ptemp));
    }
    return mrts_config_build(pconf, s);
}

/* Connections are made per child, after the fork; servers with the same settings share them. */
static void mrts_hook_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *stores = apr_hash_make(pchild);
    apr_hash_t *clients = apr_hash_make(pchild);
    apr_hash_t *providers = apr_hash_make(pchild);
    rts_touch_memo_t *memo = NULL;
    rts_claims_memo_t *claims_memo = NULL;
    rts_metrics_t *metrics = mrts_status_metrics();
    int threads = 1;
    apr_status_t rv;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    if (threads < 1) {
        threads = 1;
    }
    for (; s; s = s->next) {
        mrts_srv_conf_t *sc = mrts_config_srv(s);
        const char *ca_key, *prov_key;

        if (!sc->core) {
            continue;
        }
        /* one idle-slide memo per child: its entries are keyed by store key */
        if (!memo && rts_touch_memo_create(pchild, &memo) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RTSLOGNO(10320) "creating the idle-slide memo failed; sessions will be "
                         "touched at every request once a touch is due");
        }
        sc->touch_memo = memo;
        /* one claims memo per child: its entries are keyed by the ID token itself */
        if (!claims_memo && rts_claims_memo_create(pchild, &claims_memo) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         RTSLOGNO(10317) "creating the claims memo failed; the claims will be "
                         "parsed from the ID token at every request");
        }
        sc->claims_memo = claims_memo;
        sc->metrics = metrics;
        sc->store = apr_hash_get(stores, sc->memcached, APR_HASH_KEY_STRING);
        if (!sc->store) {
            rv = rts_store_memcached_create(pchild, sc->memcached, (unsigned)threads,
                                            sc->core->memcached_timeout, &sc->store);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                             RTSLOGNO(10311) "creating the memcached client failed");
                sc->store = NULL;
                continue;
            }
            /* breaker transitions and refusals are per child, not per request */
            rts_store_memcached_set_log(sc->store, mrts_log_server(pchild, s));
            rts_store_memcached_set_dead_after(sc->store, sc->core->memcached_dead_after);
            /* metered once per child, not per request; the counters are atomic */
            sc->store = rts_metrics_store_wrap(pchild, sc->store, metrics);
            apr_hash_set(stores, sc->memcached, APR_HASH_KEY_STRING, sc->store);
        }
        ca_key = sc->core->ca_file ? sc->core->ca_file : "";
        sc->http = apr_hash_get(clients, ca_key, APR_HASH_KEY_STRING);
        if (!sc->http) {
            rv = rts_http_curl_create(pchild, sc->core->ca_file, &sc->http);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                             RTSLOGNO(10312) "creating the HTTP client failed");
                sc->http = NULL;
                continue;
            }
            apr_hash_set(clients, ca_key, APR_HASH_KEY_STRING, sc->http);
        }
        prov_key = apr_pstrcat(pchild, sc->core->metadata_url, " ", sc->core->issuer, NULL);
        sc->provider = apr_hash_get(providers, prov_key, APR_HASH_KEY_STRING);
        if (!sc->provider) {
            rv = rts_provider_create(pchild, &sc->provider);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                             RTSLOGNO(10313) "creating the provider cache failed");
                sc->provider = NULL;
                continue;
            }
            apr_hash_set(providers, prov_key, APR_HASH_KEY_STRING, sc->provider);
        }
    }
}

static int ready(request_rec *r, const mrts_srv_conf_t *sc)
{
    if (sc->core && sc->store && sc->http && sc->provider) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "[rid %s] " RTSLOGNO(10314) "mod_rtsession is not configured or not "
                  "initialised for server %s (see earlier errors)", mrts_log_id(r),
                  r->server->server_hostname);
    return 0;
}

/* The redirect URI is answered wherever it is, before any <Location> or ProxyPass applies.
 * quick_handler, not post_read_request: a response from post_read_request makes httpd drop the
 * request and close a connection the browser was told it could keep. */
static int mrts_hook_callback(request_rec *r, int lookup_uri)
{
    mrts_srv_conf_t *sc = mrts_config_srv(r->server);
    rts_outcome_t out;
    rts_ctx_t *ctx;

    if (lookup_uri || !sc->core || r->main || r->prev || !r->parsed_uri.path
        || strcmp(r->parsed_uri.path, sc->callback_path)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!ready(r, sc)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx = mrts_ctx_make(r, sc);
    if (rts_flow_callback(ctx, mrts_ctx_describe(r), &out) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return mrts_page_respond(r, &out);
}

static int mrts_hook_check_authn(request_rec *r)
{
    mrts_srv_conf_t *sc;
    mrts_dir_conf_t *dc;
    mrts_req_state_t *st;
    rts_ctx_t *ctx;
    rts_req_t *req;
    mrts_unauth_action_t action;
    const char *type = ap_auth_type(r);
    const char *user;
    rts_claim_verdict_t verdict;
    json_t *v;

    if (!type || strcasecmp(type, AUTH_TYPE)) {
        return DECLINED;
    }
    /* Subrequests and internal redirects reuse what the first request decided. */
    if (r->main || r->prev) {
        request_rec *first = r->main ? r->main : r->prev;
        while (first->main || first->prev) {
            first = first->main ? first->main : first->prev;
        }
        st = mrts_ctx_state(first);
        if (st && first->user) {
            r->user = first->user;
            r->ap_auth_type = (char *)AUTH_TYPE;
            mrts_ctx_set_state(r, st);
            return OK;
        }
    }
    if (r->proxyreq == PROXYREQ_PROXY) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "[rid %s] " RTSLOGNO(10315) "AuthType rtsession cannot protect "
                      "forward-proxy requests", mrts_log_id(r));
        return HTTP_FORBIDDEN;
    }
    sc = mrts_config_srv(r->server);
    if (!ready(r, sc)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    dc = mrts_config_dir(r);
    ctx = mrts_ctx_make(r, sc);
    st = apr_pcalloc(r->pool, sizeof(*st));
    action = mrts_config_unauth_action(dc);
    req = mrts_ctx_describe(r);
    if (action != MRTS_UNAUTH_AUTO) {
        req->navigation = action == MRTS_UNAUTH_LOGIN;
    }
    if (rts_flow_authenticate(ctx, req, &st->outcome) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st->outcome.kind == RTS_OUT_DENY && action == MRTS_UNAUTH_PASS) {
        st->anonymous = 1;
        mrts_ctx_set_state(r, st);
        return mrts_page_pass_anonymous(r, &st->outcome);
    }
    if (st->outcome.kind != RTS_OUT_PASS) {
        return mrts_page_respond(r, &st->outcome);
    }
    v = st->outcome.claims ? json_object_get(st->outcome.claims, mrts_config_user_claim(dc)) : NULL;
    verdict = rts_claim_value(r->pool, v, RTS_CLAIM_AS_USER, &user);
    if (verdict == RTS_CLAIM_ABSENT || verdict == RTS_CLAIM_NOT_STRING) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "[rid %s] " RTSLOGNO(10316) "the ID token has no string claim '%s' for "
                      "REMOTE_USER (RTSessionUserClaim)", mrts_log_id(r),
                      mrts_config_user_claim(dc));
        return mrts_page_error(r, HTTP_FORBIDDEN, "you are logged in, but your account has "
                                  "no user name this part of the site can use; please contact "
                                  "its administrator");
    }
    if (verdict != RTS_CLAIM_OK) {
        /* the same rule as at login (rts_claim.h); the value itself is never logged */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "[rid %s] " RTSLOGNO(10330) "the ID token's claim '%s' for REMOTE_USER "
                      "(RTSessionUserClaim) %s (at most %d bytes without control "
                      "characters): request refused", mrts_log_id(r),
                      mrts_config_user_claim(dc), rts_claim_verdict_text(verdict),
                      RTS_CLAIM_USER_MAX);
        return mrts_page_error(r, HTTP_FORBIDDEN, "your account's user name cannot be used "
                                  "by this site; please contact its administrator");
    }
    r->user = apr_pstrdup(r->pool, user);
    r->ap_auth_type = (char *)AUTH_TYPE;
    mrts_ctx_set_state(r, st);
    return OK;
}

/* Runs for every request of a server that uses the module: spoofed identity headers and our
 * cookies are removed whether or not this location is protected. */
static int mrts_hook_fixups(request_rec *r)
{
    mrts_srv_conf_t *sc = mrts_config_srv(r->server);
    mrts_dir_conf_t *dc;
    mrts_req_state_t *st;

    if (!sc->enabled) {
        return DECLINED;
    }
    dc = mrts_config_dir(r);
    mrts_headers_scrub(r, sc, dc);
    st = mrts_ctx_state(r);
    if (st && st->anonymous && r->user && !*r->user) {
        /* authorization is over: "" only satisfied Require valid-user; the backend must see
         * no REMOTE_USER rather than an empty one */
        r->user = NULL;
    }
    if (st && st->outcome.kind == RTS_OUT_PASS && st->outcome.session) {
        mrts_headers_inject(r, dc, &st->outcome);
        mrts_headers_set_env(r, st->outcome.claims);
    }
    return DECLINED;
}

static void mrts_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(mrts_hook_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mrts_hook_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mrts_hook_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(mrts_hook_callback, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_quick_handler(mrts_logout_quick_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_check_authn(mrts_hook_check_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(mrts_hook_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(mrts_status_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(mrts_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "claim", AUTHZ_PROVIDER_VERSION,
                              &mrts_authz_claim_provider, AP_AUTH_INTERNAL_PER_CONF);
}

/* Declared without AP_DECLARE_MODULE: the log index is already declared in the private header. */
module AP_MODULE_DECLARE_DATA rtsession_module = {
    STANDARD20_MODULE_STUFF,
    mrts_config_create_dir,
    mrts_config_merge_dir,
    mrts_config_create_srv,
    mrts_config_merge_srv,
    mrts_directives,
    mrts_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
