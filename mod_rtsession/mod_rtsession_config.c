/* SPDX-License-Identifier: Apache-2.0 */
/* Directives and configuration: "unset" sentinels, one explicit merge line per field,
 * typed getters for the defaults, the translation into the core's rts_config_t (defaults and
 * derived values from rts_config_defaults/rts_config_finish) and a check that fails
 * startup/configtest by name. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_uri.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <http_core.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_config.h"
#include "rts_crypto.h"
#include "rts_flow.h"
#include "rts_record.h"
#include "rts_store.h"

/* The core's defaults and derived values are in core/rts_config.c; these are the glue's own. */
#define DEFAULT_USER_HEADER "X-Remote-User"

void *mrts_config_create_srv(apr_pool_t *p, server_rec *s)
{
    mrts_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->client_auth = MRTS_UNSET;
    sc->http_timeout = MRTS_UNSET;
    sc->provider_cache_ttl = MRTS_UNSET;
    sc->refresh_window = MRTS_UNSET;
    sc->memcached_timeout = MRTS_UNSET;
    sc->memcached_dead_after = MRTS_UNSET;
    sc->idle_timeout = MRTS_UNSET;
    sc->max_lifetime = MRTS_UNSET;
    sc->touch_interval = MRTS_UNSET;
    sc->logout_at_provider = MRTS_UNSET;
    sc->revoke_at_logout = MRTS_UNSET;
    return sc;
}

#define MERGE_PTR(f) n->f = add->f ? add->f : base->f
#define MERGE_VAL(f) n->f = add->f != MRTS_UNSET ? add->f : base->f

/* Lists of names are concatenated: a virtual host's unions include the main server's names. */
static apr_array_header_t *merge_names(apr_pool_t *p, apr_array_header_t *base,
                                       apr_array_header_t *add)
{
    if (!base || !add) {
        return base ? base : add;
    }
    return apr_array_append(p, base, add);
}

void *mrts_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    mrts_srv_conf_t *base = basev, *add = addv;
    mrts_srv_conf_t *n = apr_pcalloc(p, sizeof(*n));

    n->enabled = base->enabled || add->enabled;
    MERGE_PTR(metadata_url);
    MERGE_PTR(issuer);
    MERGE_PTR(client_id);
    MERGE_PTR(client_secret);
    MERGE_PTR(redirect_uri);
    MERGE_PTR(scope);
    MERGE_VAL(client_auth);
    MERGE_PTR(memcached);
    MERGE_PTR(secrets);
    MERGE_PTR(cookie_name);
    MERGE_PTR(ca_file);
    MERGE_VAL(http_timeout);
    MERGE_VAL(provider_cache_ttl);
    MERGE_VAL(refresh_window);
    MERGE_VAL(memcached_timeout);
    MERGE_VAL(memcached_dead_after);
    MERGE_VAL(idle_timeout);
    MERGE_VAL(max_lifetime);
    MERGE_VAL(touch_interval);
    MERGE_PTR(logout_path);
    MERGE_PTR(logout_redirect);
    MERGE_VAL(logout_at_provider);
    MERGE_VAL(revoke_at_logout);
    MERGE_PTR(backchannel_path);
    n->identity_headers = merge_names(p, base->identity_headers, add->identity_headers);
    n->user_claims = merge_names(p, base->user_claims, add->user_claims);
    /* core, callback_path, store, http, provider are built later, per server */
    return n;
}

void *mrts_config_create_dir(apr_pool_t *p, char *dir)
{
    mrts_dir_conf_t *dc = apr_pcalloc(p, sizeof(mrts_dir_conf_t));

    dc->unauth_action = MRTS_UNSET;
    return dc;
}

void *mrts_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    mrts_dir_conf_t *base = basev, *add = addv;
    mrts_dir_conf_t *n = apr_pcalloc(p, sizeof(*n));

    MERGE_PTR(user_claim);
    MERGE_PTR(user_header);
    MERGE_PTR(at_header);
    MERGE_PTR(claim_headers);
    MERGE_VAL(unauth_action);
    return n;
}

mrts_srv_conf_t *mrts_config_srv(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &rtsession_module);
}

mrts_dir_conf_t *mrts_config_dir(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &rtsession_module);
}

const char *mrts_config_user_claim(const mrts_dir_conf_t *dc)
{
    return dc->user_claim ? dc->user_claim : RTS_CONFIG_USER_CLAIM;
}

const char *mrts_config_user_header(const mrts_dir_conf_t *dc)
{
    return dc->user_header ? dc->user_header : DEFAULT_USER_HEADER;
}

const char *mrts_config_at_header(const mrts_dir_conf_t *dc)
{
    return dc->at_header ? dc->at_header : "";
}

mrts_unauth_action_t mrts_config_unauth_action(const mrts_dir_conf_t *dc)
{
    return dc->unauth_action != MRTS_UNSET ? (mrts_unauth_action_t)dc->unauth_action
                                          : MRTS_UNAUTH_AUTO;
}

/* ---- value checks shared by the setters ---- */

static int is_token(const char *s)
{
    /* RFC 7230 token: what header and cookie names may contain */
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) {
            return 0;
        }
    }
    return 1;
}

static int is_url(const char *s)
{
    return (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7)) && !strpbrk(s, " \t\r\n#");
}

/* Remembers a name set in a server's sections for the server-wide unions built at post_config;
 * a value from .htaccess (read per request, in the request's pool) only applies where it is. */
static void remember_name(cmd_parms *cmd, int user_claim, const char *name)
{
    mrts_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &rtsession_module);
    apr_array_header_t **list = user_claim ? &sc->user_claims : &sc->identity_headers;

    if (cmd->pool != cmd->server->process->pconf) {
        return;
    }
    if (!*list) {
        *list = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(*list, const char *) = name;
}

static const char *check_header_name(cmd_parms *cmd, const char *name)
{
    if (!is_token(name)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid header name", cmd->cmd->name, name);
    }
    return NULL;
}

static const char *parse_seconds(cmd_parms *cmd, const char *arg, apr_interval_time_t min,
                                 apr_interval_time_t max, apr_interval_time_t *out)
{
    apr_interval_time_t t;

    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS || t < min || t > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration between %" APR_TIME_T_FMT
                            " ms and %" APR_TIME_T_FMT " s (e.g. 10, 500ms)", cmd->cmd->name,
                            arg, apr_time_as_msec(min), apr_time_sec(max));
    }
    *out = t;
    return NULL;
}

static mrts_srv_conf_t *srv_conf(cmd_parms *cmd)
{
    mrts_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config, &rtsession_module);

    sc->enabled = 1;
    return sc;
}

static const char *read_secret_file(cmd_parms *cmd, const char *path, const char **out)
{
    const char *fname = ap_server_root_relative(cmd->pool, path);

    if (!fname) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, path);
    }
    return rts_config_read_secret_file(cmd->pool, cmd->cmd->name, fname, out);
}

/* ---- server directives ---- */

static const char *set_metadata_url(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!is_url(arg)) {
        return "RTSessionProviderMetadataURL: expects an https:// URL of the provider's "
               "discovery document";
    }
    srv_conf(cmd)->metadata_url = arg;
    return NULL;
}

static const char *set_issuer(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!is_url(arg)) {
        return "RTSessionIssuer: expects the provider's issuer URL";
    }
    srv_conf(cmd)->issuer = arg;
    return NULL;
}

static const char *set_client_id(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!*arg) {
        return "RTSessionClientID: must not be empty";
    }
    srv_conf(cmd)->client_id = arg;
    return NULL;
}

static const char *set_client_secret(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!*arg) {
        return "RTSessionClientSecret: must not be empty";
    }
    srv_conf(cmd)->client_secret = arg;
    return NULL;
}

static const char *set_client_secret_file(cmd_parms *cmd, void *dc, const char *arg)
{
    return read_secret_file(cmd, arg, &srv_conf(cmd)->client_secret);
}

static const char *set_redirect_uri(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!(arg[0] == '/' && arg[1] != '/') && !is_url(arg)) {
        return "RTSessionRedirectURI: expects a path such as /rtsession/callback, or an absolute "
               "https:// URL; it must be registered at the provider";
    }
    if (strpbrk(arg, "?# \t")) {
        return "RTSessionRedirectURI: must not contain a query, fragment or spaces";
    }
    srv_conf(cmd)->redirect_uri = arg;
    return NULL;
}

static const char *set_scope(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *s = apr_pstrcat(cmd->temp_pool, " ", arg, " ", NULL);

    if (!strstr(s, " openid ")) {
        return "RTSessionScope: must include the scope 'openid'";
    }
    srv_conf(cmd)->scope = arg;
    return NULL;
}

static const char *set_token_auth(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!strcasecmp(arg, "client_secret_basic")) {
        srv_conf(cmd)->client_auth = RTS_AUTH_CLIENT_SECRET_BASIC;
    }
    else if (!strcasecmp(arg, "client_secret_post")) {
        srv_conf(cmd)->client_auth = RTS_AUTH_CLIENT_SECRET_POST;
    }
    else {
        return "RTSessionTokenEndpointAuth: expects client_secret_basic or client_secret_post";
    }
    return NULL;
}

static const char *set_memcached(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if (rts_store_memcached_check(cmd->temp_pool, arg, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "RTSessionMemcached: not a valid libmemcached "
                            "configuration string (e.g. \"--SERVER=127.0.0.1:11211\"): %s",
                            err ? err : "unknown error");
    }
    srv_conf(cmd)->memcached = arg;
    return NULL;
}

static const char *set_memcached_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_msec(10), apr_time_from_sec(10),
                         &srv_conf(cmd)->memcached_timeout);
}

static const char *set_memcached_dead_after(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!strcasecmp(arg, "never")) {
        srv_conf(cmd)->memcached_dead_after = 0;
        return NULL;
    }
    return parse_seconds(cmd, arg, apr_time_from_sec(1), apr_time_from_sec(86400),
                         &srv_conf(cmd)->memcached_dead_after);
}

static const char *add_secret(cmd_parms *cmd, const char *secret)
{
    mrts_srv_conf_t *sc = srv_conf(cmd);

    if (strlen(secret) < RTS_CONFIG_MIN_SECRET_LEN) {
        return apr_psprintf(cmd->pool, "%s: each secret must be at least %d characters long "
                            "(e.g. from `openssl rand -base64 32`)", cmd->cmd->name, RTS_CONFIG_MIN_SECRET_LEN);
    }
    if (!sc->secrets) {
        sc->secrets = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(sc->secrets, const char *) = secret;
    return NULL;
}

static const char *set_secret(cmd_parms *cmd, void *dc, const char *arg)
{
    return add_secret(cmd, arg);
}

static const char *set_secret_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *secret;
    const char *err = read_secret_file(cmd, arg, &secret);

    return err ? err : add_secret(cmd, secret);
}

static const char *set_cookie_name(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!is_token(arg) || !strncasecmp(arg, "__Host-", 7) || !strncasecmp(arg, "__Secure-", 9)) {
        return "RTSessionCookieName: expects a plain cookie name (letters, digits, - and _); "
               "the __Host- prefix is added by the module on https";
    }
    srv_conf(cmd)->cookie_name = arg;
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;

    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "RTSessionCAFile: '%s' is not a readable file", arg);
    }
    srv_conf(cmd)->ca_file = path;
    return NULL;
}

static const char *set_http_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_msec(100), apr_time_from_sec(60),
                         &srv_conf(cmd)->http_timeout);
}

static const char *set_provider_cache_ttl(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_sec(1), apr_time_from_sec(7 * 86400),
                         &srv_conf(cmd)->provider_cache_ttl);
}

static const char *set_refresh_window(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, 0, apr_time_from_sec(3600), &srv_conf(cmd)->refresh_window);
}

static const char *set_idle_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!strcasecmp(arg, "off")) {
        srv_conf(cmd)->idle_timeout = 0;
        return NULL;
    }
    return parse_seconds(cmd, arg, apr_time_from_sec(1), apr_time_from_sec(30 * 24 * 3600),
                         &srv_conf(cmd)->idle_timeout);
}

static const char *set_max_lifetime(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_sec(1), apr_time_from_sec(365 * 24 * 3600),
                         &srv_conf(cmd)->max_lifetime);
}

static const char *set_touch_interval(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_seconds(cmd, arg, apr_time_from_sec(1), apr_time_from_sec(24 * 3600),
                         &srv_conf(cmd)->touch_interval);
}

static const char *set_logout_path(cmd_parms *cmd, void *dc, const char *arg)
{
    if (arg[0] != '/' || arg[1] == '/' || strpbrk(arg, "?# \t")) {
        return "RTSessionLogoutPath: expects a path such as /rtsession/logout (no query); "
               "register https://<host><path> as post-logout redirect URI at the provider";
    }
    srv_conf(cmd)->logout_path = arg;
    return NULL;
}

static const char *set_backchannel_path(cmd_parms *cmd, void *dc, const char *arg)
{
    if (arg[0] != '/' || arg[1] == '/' || strpbrk(arg, "?# \t")) {
        return "RTSessionBackchannelLogoutPath: expects a path such as "
               "/rtsession/backchannel-logout (no query); register https://<host><path> as "
               "backchannel_logout_uri at the provider";
    }
    srv_conf(cmd)->backchannel_path = arg;
    return NULL;
}

static const char *set_logout_redirect(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!(arg[0] == '/' && arg[1] != '/' && arg[1] != '\\') && !is_url(arg)) {
        return "RTSessionLogoutRedirect: expects a path on this site (/bye) or an absolute "
               "http(s) URL";
    }
    srv_conf(cmd)->logout_redirect = arg;
    return NULL;
}

static const char *set_logout_at_provider(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->logout_at_provider = flag;
    return NULL;
}

static const char *set_revoke_at_logout(cmd_parms *cmd, void *dc, int flag)
{
    srv_conf(cmd)->revoke_at_logout = flag;
    return NULL;
}

/* ---- directory directives ---- */

static const char *set_unauth_action(cmd_parms *cmd, void *dcv, const char *arg)
{
    mrts_dir_conf_t *dc = dcv;

    if (!strcasecmp(arg, "auto")) {
        dc->unauth_action = MRTS_UNAUTH_AUTO;
    }
    else if (!strcasecmp(arg, "login")) {
        dc->unauth_action = MRTS_UNAUTH_LOGIN;
    }
    else if (!strcmp(arg, "401")) {
        dc->unauth_action = MRTS_UNAUTH_401;
    }
    else if (!strcasecmp(arg, "pass")) {
        dc->unauth_action = MRTS_UNAUTH_PASS;
    }
    else {
        return "RTSessionUnauthAction: expects auto, login, 401 or pass";
    }
    return NULL;
}

static const char *set_user_claim(cmd_parms *cmd, void *dcv, const char *arg)
{
    ((mrts_dir_conf_t *)dcv)->user_claim = arg;
    remember_name(cmd, 1, arg);
    return NULL;
}

static const char *set_user_header(cmd_parms *cmd, void *dcv, const char *arg)
{
    const char *err = strcasecmp(arg, "off") ? check_header_name(cmd, arg) : NULL;

    ((mrts_dir_conf_t *)dcv)->user_header = strcasecmp(arg, "off") ? arg : "";
    if (!err && strcasecmp(arg, "off")) {
        remember_name(cmd, 0, arg);
    }
    return err;
}

static const char *set_at_header(cmd_parms *cmd, void *dcv, const char *arg)
{
    const char *err = strcasecmp(arg, "off") ? check_header_name(cmd, arg) : NULL;

    ((mrts_dir_conf_t *)dcv)->at_header = strcasecmp(arg, "off") ? arg : "";
    if (!err && strcasecmp(arg, "off")) {
        remember_name(cmd, 0, arg);
    }
    return err;
}

static const char *add_claim_header(cmd_parms *cmd, void *dcv, const char *header,
                                    const char *claim)
{
    mrts_dir_conf_t *dc = dcv;
    mrts_claim_header_t *ch;
    const char *err = check_header_name(cmd, header);

    if (err) {
        return err;
    }
    if (!dc->claim_headers) {
        dc->claim_headers = apr_array_make(cmd->pool, 4, sizeof(mrts_claim_header_t));
    }
    ch = apr_array_push(dc->claim_headers);
    ch->header = header;
    ch->claim = claim;
    remember_name(cmd, 0, header);
    return NULL;
}

const command_rec mrts_directives[] = {
    AP_INIT_TAKE1("RTSessionProviderMetadataURL", set_metadata_url, NULL, RSRC_CONF,
                  "URL of the OpenID Provider's discovery document"),
    AP_INIT_TAKE1("RTSessionIssuer", set_issuer, NULL, RSRC_CONF,
                  "The provider's issuer, when it cannot be derived from the metadata URL"),
    AP_INIT_TAKE1("RTSessionClientID", set_client_id, NULL, RSRC_CONF,
                  "Client ID registered at the provider"),
    AP_INIT_TAKE1("RTSessionClientSecret", set_client_secret, NULL, RSRC_CONF,
                  "Client secret registered at the provider"),
    AP_INIT_TAKE1("RTSessionClientSecretFile", set_client_secret_file, NULL, RSRC_CONF,
                  "File holding the client secret"),
    AP_INIT_TAKE1("RTSessionRedirectURI", set_redirect_uri, NULL, RSRC_CONF,
                  "Path (or absolute URL) of the redirect URI registered at the provider"),
    AP_INIT_TAKE1("RTSessionScope", set_scope, NULL, RSRC_CONF,
                  "Scopes to request, space-separated, including openid"),
    AP_INIT_TAKE1("RTSessionTokenEndpointAuth", set_token_auth, NULL, RSRC_CONF,
                  "client_secret_basic (default) or client_secret_post"),
    AP_INIT_TAKE1("RTSessionMemcached", set_memcached, NULL, RSRC_CONF,
                  "libmemcached configuration string for the session store"),
    AP_INIT_TAKE1("RTSessionMemcachedTimeout", set_memcached_timeout, NULL, RSRC_CONF,
                  "Bound of each memcached operation (default 1s)"),
    AP_INIT_TAKE1("RTSessionMemcachedDeadAfter", set_memcached_dead_after, NULL, RSRC_CONF,
                  "How long a failing memcached server answers 503 before its sessions are "
                  "taken as lost and their users log in again (default 60s; never)"),
    AP_INIT_ITERATE("RTSessionSecret", set_secret, NULL, RSRC_CONF,
                    "Module secrets: the first seals sessions, all open them (rotation)"),
    AP_INIT_TAKE1("RTSessionSecretFile", set_secret_file, NULL, RSRC_CONF,
                  "File holding a module secret (may be repeated; the first seals)"),
    AP_INIT_TAKE1("RTSessionCookieName", set_cookie_name, NULL, RSRC_CONF,
                  "Session cookie name (default rtsession; __Host- prefixed on https)"),
    AP_INIT_TAKE1("RTSessionCAFile", set_ca_file, NULL, RSRC_CONF,
                  "CA certificates to trust for the provider's TLS (default: system store)"),
    AP_INIT_TAKE1("RTSessionHTTPTimeout", set_http_timeout, NULL, RSRC_CONF,
                  "Bound of each call to the provider (default 10s)"),
    AP_INIT_TAKE1("RTSessionProviderCacheTTL", set_provider_cache_ttl, NULL, RSRC_CONF,
                  "How long the provider's discovery document and JWKS are cached (default 1h)"),
    AP_INIT_TAKE1("RTSessionRefreshWindow", set_refresh_window, NULL, RSRC_CONF,
                  "Refresh when the access token expires within this (default 60s)"),
    AP_INIT_TAKE1("RTSessionIdleTimeout", set_idle_timeout, NULL, RSRC_CONF,
                  "A session unused this long ends (default 1h; off)"),
    AP_INIT_TAKE1("RTSessionMaxLifetime", set_max_lifetime, NULL, RSRC_CONF,
                  "Absolute session lifetime from login (default 8h)"),
    AP_INIT_TAKE1("RTSessionTouchInterval", set_touch_interval, NULL, RSRC_CONF,
                  "The idle timeout slides at most once per this (default 5min)"),
    AP_INIT_TAKE1("RTSessionLogoutPath", set_logout_path, NULL, RSRC_CONF,
                  "Path of the logout endpoint (default: none)"),
    AP_INIT_TAKE1("RTSessionBackchannelLogoutPath", set_backchannel_path, NULL, RSRC_CONF,
                  "Path of the back-channel logout endpoint (default: none)"),
    AP_INIT_TAKE1("RTSessionLogoutRedirect", set_logout_redirect, NULL, RSRC_CONF,
                  "Where the browser goes after logout (default /)"),
    AP_INIT_FLAG("RTSessionLogoutAtProvider", set_logout_at_provider, NULL, RSRC_CONF,
                 "Also end the provider's session (RP-initiated logout; default on)"),
    AP_INIT_FLAG("RTSessionRevokeOnLogout", set_revoke_at_logout, NULL, RSRC_CONF,
                 "Revoke the tokens at the provider on logout (default on)"),
    AP_INIT_TAKE1("RTSessionUnauthAction", set_unauth_action, NULL, OR_AUTHCFG,
                  "Without a session: auto (default), login, 401 or pass"),
    AP_INIT_TAKE1("RTSessionUserClaim", set_user_claim, NULL, OR_AUTHCFG,
                  "Claim that becomes REMOTE_USER (default sub)"),
    AP_INIT_TAKE1("RTSessionUserHeader", set_user_header, NULL, OR_AUTHCFG,
                  "Request header carrying the user to the backend (default X-Remote-User; off)"),
    AP_INIT_TAKE2("RTSessionClaimHeader", add_claim_header, NULL, OR_AUTHCFG,
                  "A request header for the backend and the claim it carries"),
    AP_INIT_TAKE1("RTSessionAccessTokenHeader", set_at_header, NULL, OR_AUTHCFG,
                  "Request header carrying the access token to the backend (default off)"),
    { NULL, { NULL }, NULL, 0, RAW_ARGS, NULL }
};

/* ---- startup checks and translation ---- */

/* "app.example.test (<VirtualHost *:443> at /etc/apache2/sites-enabled/app.conf:1)": the
 * name and the address the admin wrote. s->port is 0 unless ServerName names a port. */
static const char *server_label(apr_pool_t *p, server_rec *s)
{
    const char *name = s->server_hostname ? s->server_hostname : "(unnamed)";

    if (s->is_virtual && s->addrs) {
        return apr_psprintf(p, "%s (<VirtualHost %s:%s> at %s:%d)", name,
                            s->addrs->virthost ? s->addrs->virthost : "*",
                            s->addrs->host_port ? apr_itoa(p, s->addrs->host_port) : "*",
                            s->defn_name ? s->defn_name : "?", s->defn_line_number);
    }
    return apr_psprintf(p, "%s (main server)", name);
}

/* An http:// provider would carry the client secret, codes and tokens in clear: only a
 * provider on this machine (loopback) may be reached that way. */
static int url_clear_and_remote(apr_pool_t *p, const char *url)
{
    apr_uri_t u;
    struct in_addr v4;
    struct in6_addr v6;

    if (strncasecmp(url, "http://", 7)) {
        return 0;
    }
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.hostname) {
        return 1;
    }
    /* address literals only (and localhost): "127.0.0.1.example.com" is a remote name */
    if (inet_pton(AF_INET, u.hostname, &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) != 127;
    }
    if (inet_pton(AF_INET6, u.hostname, &v6) == 1) {
        return !IN6_IS_ADDR_LOOPBACK(&v6);
    }
    return strcasecmp(u.hostname, "localhost") != 0;
}

static const char *derived_issuer(apr_pool_t *p, const mrts_srv_conf_t *sc)
{
    return rts_config_issuer(p, sc->issuer, sc->metadata_url);
}


/* Adds the names of list not yet in u (header names compare case-insensitively). */
static void union_add(apr_array_header_t *u, const apr_array_header_t *list, int nocase)
{
    int i, j;

    for (i = 0; list && i < list->nelts; i++) {
        const char *name = APR_ARRAY_IDX(list, i, const char *);
        for (j = 0; j < u->nelts; j++) {
            const char *have = APR_ARRAY_IDX(u, j, const char *);
            if (nocase ? !strcasecmp(have, name) : !strcmp(have, name)) {
                break;
            }
        }
        if (j == u->nelts) {
            APR_ARRAY_PUSH(u, const char *) = name;
        }
    }
}

#define TAKE(f, from) do { if (sc->from != MRTS_UNSET) c->f = sc->from; } while (0)

/* The core configuration of one server: the core's defaults, this server's directives, its
 * keys, then the core's derived values and checks. OK, or non-OK with the reason in *perr. */
static int core_config(apr_pool_t *p, const mrts_srv_conf_t *sc, rts_config_t **pc,
                       const char **perr)
{
    rts_config_t *c = apr_palloc(p, sizeof(*c));
    apr_array_header_t *claims;
    int i;

    rts_config_defaults(c);
    c->metadata_url = sc->metadata_url;
    c->issuer = derived_issuer(p, sc);
    c->client_id = sc->client_id;
    c->client_secret = sc->client_secret;
    c->redirect_uri = sc->redirect_uri;
    c->scope = sc->scope ? sc->scope : c->scope;
    TAKE(client_auth, client_auth);
    c->ca_file = sc->ca_file;
    TAKE(http_timeout, http_timeout);
    TAKE(refresh_window, refresh_window);
    TAKE(session_max, max_lifetime);
    TAKE(idle_timeout, idle_timeout);
    TAKE(touch_interval, touch_interval);
    TAKE(metadata_ttl, provider_cache_ttl);
    TAKE(memcached_timeout, memcached_timeout);
    TAKE(memcached_dead_after, memcached_dead_after);
    TAKE(logout_at_provider, logout_at_provider);
    TAKE(revoke_at_logout, revoke_at_logout);
    c->logout_path = sc->logout_path;
    c->backchannel_path = sc->backchannel_path;
    c->logout_redirect = sc->logout_redirect ? sc->logout_redirect : c->logout_redirect;
    c->cookie_name = sc->cookie_name ? sc->cookie_name : c->cookie_name;
    c->secrets = apr_array_make(p, sc->secrets->nelts, sizeof(rts_secret_t));
    rts_config_wipe_secrets_at_cleanup(p, c->secrets);
    for (i = 0; i < sc->secrets->nelts; i++) {
        rts_secret_t *sec = apr_array_push(c->secrets);
        if (rts_secret_derive(p, APR_ARRAY_IDX(sc->secrets, i, const char *), c->issuer,
                              c->client_id, sec) != APR_SUCCESS) {
            *perr = "deriving keys from RTSessionSecret failed";
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    /* this server's user claims (its sections and the main server's; sub by default) */
    claims = apr_array_make(p, 4, sizeof(const char *));
    APR_ARRAY_PUSH(claims, const char *) = RTS_CONFIG_USER_CLAIM;
    union_add(claims, sc->user_claims, 0);
    APR_ARRAY_PUSH(claims, const char *) = NULL;
    c->user_claims = (const char *const *)claims->elts;
    if (rts_config_finish(p, c, perr) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    *pc = c;
    return OK;
}

int mrts_config_check(apr_pool_t *p, server_rec *s)
{
    int failed = 0;

    for (; s; s = s->next) {
        mrts_srv_conf_t *sc = mrts_config_srv(s);
        const char *missing[8];
        int n = 0, i;

        if (!sc->enabled) {
            continue;
        }
        if (!sc->metadata_url) missing[n++] = "RTSessionProviderMetadataURL";
        if (!sc->client_id) missing[n++] = "RTSessionClientID";
        if (!sc->client_secret) missing[n++] = "RTSessionClientSecret (or RTSessionClientSecretFile)";
        if (!sc->redirect_uri) missing[n++] = "RTSessionRedirectURI";
        if (!sc->memcached) missing[n++] = "RTSessionMemcached";
        if (!sc->secrets) missing[n++] = "RTSessionSecret (or RTSessionSecretFile)";
        for (i = 0; i < n; i++) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         RTSLOGNO(10301) "server %s: %s is required when mod_rtsession is "
                         "configured", server_label(p, s), missing[i]);
        }
        if (sc->metadata_url && !derived_issuer(p, sc)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         RTSLOGNO(10302) "server %s: RTSessionIssuer is required when "
                         "RTSessionProviderMetadataURL does not end in %s",
                         server_label(p, s), RTS_CONFIG_DISCOVERY_SUFFIX);
            n++;
        }
        if (sc->metadata_url && url_clear_and_remote(p, sc->metadata_url)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         RTSLOGNO(10305) "server %s: RTSessionProviderMetadataURL %s is http:// "
                         "on a host other than this machine: the client secret, codes and tokens "
                         "would cross the network in clear; use the provider's https:// URL "
                         "(http:// is accepted on loopback only)", server_label(p, s),
                         sc->metadata_url);
            n++;
        }
        if (!n) {
            /* the core's own checks, under configtest too (post_config does not run there) */
            rts_config_t *c;
            const char *err;
            if (core_config(p, sc, &c, &err) != OK) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                             RTSLOGNO(10370) "server %s: %s", server_label(p, s), err);
                n++;
            }
            else if (c->memcached_timeout > c->http_timeout) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, s,
                             RTSLOGNO(10303) "server %s: RTSessionMemcachedTimeout is longer "
                             "than RTSessionHTTPTimeout", server_label(p, s));
            }
        }
        failed |= n > 0;
    }
    return failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

int mrts_config_build(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *headers = apr_array_make(p, 8, sizeof(const char *));
    server_rec *first = s;

    APR_ARRAY_PUSH(headers, const char *) = DEFAULT_USER_HEADER;
    for (; s; s = s->next) {
        union_add(headers, mrts_config_srv(s)->identity_headers, 1);
    }
    for (s = first; s; s = s->next) {
        mrts_srv_conf_t *sc = mrts_config_srv(s);
        rts_config_t *c;
        const char *err;

        sc->scrub_names = headers;
        if (!sc->enabled) {
            continue;
        }
        if (core_config(p, sc, &c, &err) != OK) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                         RTSLOGNO(10304) "server %s: %s", server_label(p, s), err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        sc->core = c;
        sc->callback_path = rts_flow_callback_path(p, c);
    }
    return OK;
}
