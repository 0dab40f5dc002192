/* SPDX-License-Identifier: Apache-2.0 */
/* Directives, per-server and per-directory configuration, and their translation into the
 * core's rts_config_t. */
#ifndef MOD_RTSESSION_CONFIG_H
#define MOD_RTSESSION_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include "rts.h"
#include "rts_config.h"

#define MRTS_UNSET (-1)

typedef struct mrts_srv_conf_t {
    int enabled;                       /* some RTSession directive applies to this server */
    const char *metadata_url;
    const char *issuer;
    const char *client_id;
    const char *client_secret;
    const char *redirect_uri;
    const char *scope;
    int client_auth;                   /* rts_client_auth_t or MRTS_UNSET */
    const char *memcached;
    apr_array_header_t *secrets;       /* of const char *; NULL when unset */
    const char *cookie_name;
    const char *ca_file;
    apr_interval_time_t http_timeout;  /* MRTS_UNSET when unset */
    apr_interval_time_t provider_cache_ttl;   /* MRTS_UNSET when unset */
    apr_interval_time_t refresh_window;
    apr_interval_time_t memcached_timeout;
    apr_interval_time_t memcached_dead_after;  /* MRTS_UNSET when unset; 0: never */
    apr_interval_time_t idle_timeout;  /* 0: off */
    apr_interval_time_t max_lifetime;
    apr_interval_time_t touch_interval;
    const char *logout_path;           /* NULL: no logout endpoint */
    const char *logout_redirect;
    int logout_at_provider;            /* MRTS_UNSET, 0 or 1 */
    int revoke_at_logout;
    const char *backchannel_path;      /* NULL: no back-channel logout endpoint */
    /* read from the sections of this server (not .htaccess), for the unions below */
    apr_array_header_t *identity_headers;  /* of const char *: user, claim, token headers */
    apr_array_header_t *user_claims;       /* of const char *: RTSessionUserClaim values */
    /* built at post_config */
    rts_config_t *core;
    const char *callback_path;
    /* every identity header configured anywhere (all servers and sections, and the default
     * user header): a client-sent copy is removed from every request of a server that uses
     * the module, whatever applies to its location */
    const apr_array_header_t *scrub_names;
    /* per child (child_init) */
    rts_store_t *store;
    rts_http_t *http;
    rts_provider_t *provider;
    rts_touch_memo_t *touch_memo;
    rts_claims_memo_t *claims_memo;
    rts_metrics_t *metrics;            /* shared counters; store above is already metered */
} mrts_srv_conf_t;

typedef struct mrts_claim_header_t {
    const char *header;
    const char *claim;
} mrts_claim_header_t;

/* What a request without a session gets (RTSessionUnauthAction). */
typedef enum {
    MRTS_UNAUTH_AUTO = 0,               /* navigations log in, anything else 401 */
    MRTS_UNAUTH_LOGIN,
    MRTS_UNAUTH_401,
    MRTS_UNAUTH_PASS                    /* goes on without identity */
} mrts_unauth_action_t;

typedef struct mrts_dir_conf_t {
    const char *user_claim;
    const char *user_header;           /* "" means off */
    const char *at_header;             /* "" means off */
    apr_array_header_t *claim_headers; /* of mrts_claim_header_t; NULL when unset */
    int unauth_action;                 /* mrts_unauth_action_t or MRTS_UNSET */
} mrts_dir_conf_t;

extern const command_rec mrts_directives[];

void *mrts_config_create_srv(apr_pool_t *p, server_rec *s);
void *mrts_config_merge_srv(apr_pool_t *p, void *basev, void *addv);
void *mrts_config_create_dir(apr_pool_t *p, char *dir);
void *mrts_config_merge_dir(apr_pool_t *p, void *basev, void *addv);

mrts_srv_conf_t *mrts_config_srv(const server_rec *s);
mrts_dir_conf_t *mrts_config_dir(const request_rec *r);

/* Typed getters that apply the defaults. */
const char *mrts_config_user_claim(const mrts_dir_conf_t *dc);
const char *mrts_config_user_header(const mrts_dir_conf_t *dc);
const char *mrts_config_at_header(const mrts_dir_conf_t *dc);
mrts_unauth_action_t mrts_config_unauth_action(const mrts_dir_conf_t *dc);

/* Checks every server that uses the module; logs each problem naming the directive and
 * returns non-OK so that startup and `apachectl configtest` fail. */
int mrts_config_check(apr_pool_t *p, server_rec *s);
/* Builds the core configuration of every server that uses the module. */
int mrts_config_build(apr_pool_t *p, server_rec *s);

#endif
