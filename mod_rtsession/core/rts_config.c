/* SPDX-License-Identifier: Apache-2.0 */
/* One home for the configuration's defaults, derived values and invariants: the glue and the
 * unit tests both start from rts_config_defaults and end with rts_config_finish. */
#include <string.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include "rts.h"
#include "rts_config.h"
#include "rts_cookie.h"
#include "rts_flow.h"
#include "rts_store.h"

#define DEF_SCOPE            "openid"
#define DEF_HTTP_TIMEOUT     apr_time_from_sec(10)
#define DEF_MAX_RESPONSE     (256 * 1024)
#define DEF_LEEWAY           apr_time_from_sec(60)
#define DEF_IAT_MAX_AGE      apr_time_from_sec(600)
#define DEF_REFRESH_WINDOW   apr_time_from_sec(60)
#define DEF_PENDING_TTL      apr_time_from_sec(600)
#define DEF_MAX_LIFETIME     apr_time_from_sec(8 * 3600)
#define DEF_IDLE_TIMEOUT     apr_time_from_sec(3600)
#define DEF_TOUCH_INTERVAL   apr_time_from_sec(300)
#define DEF_METADATA_TTL     apr_time_from_sec(3600)
#define DEF_JWKS_MIN_REFETCH apr_time_from_sec(10)
#define DEF_MEMCACHED_TIMEOUT apr_time_from_msec(1000)
/* connecting to the provider takes at most this of a call's time */
#define CONNECT_TIMEOUT_MAX  apr_time_from_sec(5)
/* the intent outlives the token call it covers by this: the holder stops calling 2 s before
 * its deadline (rts_refresh.c) and needs the rest to write the next generation */
#define INTENT_MARGIN        apr_time_from_sec(5)

static const char *const default_algs[] = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", NULL
};
static const char *const default_user_claims[] = { RTS_CONFIG_USER_CLAIM, NULL };

void rts_config_defaults(rts_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->scope = DEF_SCOPE;
    c->client_auth = RTS_AUTH_CLIENT_SECRET_BASIC;
    c->http_timeout = DEF_HTTP_TIMEOUT;
    c->max_response = DEF_MAX_RESPONSE;
    c->leeway = DEF_LEEWAY;
    c->iat_max_age = DEF_IAT_MAX_AGE;
    c->refresh_window = DEF_REFRESH_WINDOW;
    c->pending_ttl = DEF_PENDING_TTL;
    c->session_max = DEF_MAX_LIFETIME;
    c->idle_timeout = DEF_IDLE_TIMEOUT;
    c->touch_interval = DEF_TOUCH_INTERVAL;
    c->metadata_ttl = DEF_METADATA_TTL;
    c->jwks_min_refetch = DEF_JWKS_MIN_REFETCH;
    c->allowed_algs = default_algs;
    c->cookie_name = RTS_COOKIE_DEFAULT_NAME;
    c->logout_redirect = "/";
    c->logout_at_provider = 1;
    c->revoke_at_logout = 1;
    c->user_claims = default_user_claims;
    c->memcached_timeout = DEF_MEMCACHED_TIMEOUT;
    c->memcached_dead_after = RTS_STORE_DEAD_AFTER_DEFAULT;
}

static apr_status_t refuse(apr_pool_t *p, const char **perr, const char *what)
{
    *perr = apr_pstrdup(p, what);
    return RTS_ECONFIG;
}

static int same_path(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

apr_status_t rts_config_finish(apr_pool_t *p, rts_config_t *c, const char **perr)
{
    const char *callback;

    *perr = NULL;
    if (!c->metadata_url || !c->issuer || !c->client_id || !c->client_secret
        || !c->redirect_uri) {
        return refuse(p, perr, "the provider (RTSessionProviderMetadataURL, RTSessionIssuer), "
                      "the client (RTSessionClientID, RTSessionClientSecret) and "
                      "RTSessionRedirectURI are required");
    }
    if (!c->secrets || c->secrets->nelts < 1) {
        return refuse(p, perr, "at least one RTSessionSecret is required");
    }
    if (!c->scope || !c->cookie_name || !*c->cookie_name || !c->allowed_algs
        || !c->allowed_algs[0] || !c->logout_redirect) {
        return refuse(p, perr, "the scope, the cookie name, the signature algorithms and the "
                      "logout redirect must be set (rts_config_defaults)");
    }
    if (c->http_timeout <= 0 || c->memcached_timeout <= 0 || c->memcached_dead_after < 0
        || c->session_max <= 0 || c->pending_ttl <= 0 || c->idle_timeout < 0
        || c->touch_interval <= 0 || c->refresh_window < 0 || c->metadata_ttl <= 0
        || c->max_response == 0) {
        return refuse(p, perr, "RTSessionHTTPTimeout, RTSessionMemcachedTimeout, "
                      "RTSessionMaxLifetime, RTSessionTouchInterval and "
                      "RTSessionProviderCacheTTL must be positive, RTSessionIdleTimeout, "
                      "RTSessionRefreshWindow and RTSessionMemcachedDeadAfter not negative");
    }
    callback = rts_flow_callback_path(p, c);
    if (same_path(callback, c->logout_path) || same_path(callback, c->backchannel_path)
        || same_path(c->logout_path, c->backchannel_path)) {
        return refuse(p, perr, apr_psprintf(p, "the path of RTSessionRedirectURI (%s), "
                      "RTSessionLogoutPath (%s) and RTSessionBackchannelLogoutPath (%s) must "
                      "differ: only one endpoint would answer", callback,
                      c->logout_path ? c->logout_path : "none",
                      c->backchannel_path ? c->backchannel_path : "none"));
    }
    c->connect_timeout = c->http_timeout < CONNECT_TIMEOUT_MAX ? c->http_timeout
                                                               : CONNECT_TIMEOUT_MAX;
    /* the intent must outlive the token call it covers */
    c->intent_ttl = c->http_timeout + INTENT_MARGIN;
    /* at least two chances to slide before an active session idles out */
    if (c->idle_timeout > 0 && c->touch_interval > c->idle_timeout / 2) {
        c->touch_interval = c->idle_timeout / 2 > 0 ? c->idle_timeout / 2 : 1;
    }
    if (!c->user_claims) {
        c->user_claims = default_user_claims;
    }
    return APR_SUCCESS;
}

const char *rts_config_issuer(apr_pool_t *p, const char *issuer, const char *metadata_url)
{
    apr_size_t ulen, slen = strlen(RTS_CONFIG_DISCOVERY_SUFFIX);

    if (issuer) {
        return issuer;
    }
    ulen = metadata_url ? strlen(metadata_url) : 0;
    if (ulen > slen && !strcmp(metadata_url + ulen - slen, RTS_CONFIG_DISCOVERY_SUFFIX)) {
        return apr_pstrmemdup(p, metadata_url, ulen - slen);
    }
    return NULL;
}

const char *rts_config_read_secret_file(apr_pool_t *p, const char *directive, const char *fname,
                                        const char **out)
{
    apr_file_t *f;
    char buf[1024];
    apr_size_t len = sizeof(buf) - 1;
    apr_status_t rv;

    rv = apr_file_open(&f, fname, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_read(f, buf, &len);
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(p, "%s: cannot read '%s': %pm", directive, fname, &rv);
    }
    buf[len] = '\0';
    while (len > 0 && apr_isspace(buf[len - 1])) {
        buf[--len] = '\0';
    }
    if (!len || strchr(buf, '\n')) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return apr_psprintf(p, "%s: '%s' must hold the secret on a single line", directive, fname);
    }
    *out = apr_pstrdup(p, buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return NULL;
}

static apr_status_t wipe_secrets(void *data)
{
    apr_array_header_t *secrets = data;

    OPENSSL_cleanse(secrets->elts, (size_t)secrets->nelts * (size_t)secrets->elt_size);
    return APR_SUCCESS;
}

void rts_config_wipe_secrets_at_cleanup(apr_pool_t *p, apr_array_header_t *secrets)
{
    apr_pool_cleanup_register(p, secrets, wipe_secrets, apr_pool_cleanup_null);
}
