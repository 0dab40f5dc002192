/* SPDX-License-Identifier: Apache-2.0 */
/* rtsessionctl: the module's settings read from an Apache configuration file (the RTSession*
 * server directives of one virtual host, over those of the main server, as httpd merges them),
 * overridden by command-line flags, and turned into the core's rts_config_t. No httpd code: the
 * file is read line by line with httpd's quoting rules. */
#ifndef RTSCTL_CONF_H
#define RTSCTL_CONF_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "rts.h"
#include "rts_config.h"

#define RTSCTL_UNSET (-1)

typedef struct rtsctl_settings_t {
    const char *metadata_url;
    const char *issuer;
    const char *client_id;
    const char *client_secret;
    int client_auth;                    /* rts_client_auth_t, or RTSCTL_UNSET */
    const char *memcached;
    apr_array_header_t *secrets;        /* of const char *; the first seals, all open */
    const char *ca_file;
    const char *redirect_uri;
    const char *backchannel_path;
    apr_interval_time_t http_timeout;   /* RTSCTL_UNSET: the module's default */
    apr_interval_time_t memcached_timeout;
    apr_interval_time_t max_lifetime;
    apr_interval_time_t idle_timeout;
    int seen;                           /* RTSession* directives read into this set */
} rtsctl_settings_t;

void rtsctl_settings_init(rtsctl_settings_t *st);

/* Reads file (following Include and IncludeOptional, relative paths under server_root, which
 * a ServerRoot directive in the files replaces) into *out: the virtual host named vhost
 * (ServerName, ServerAlias or its <VirtualHost> address) merged over the main server, or
 * without vhost the first virtual host with RTSession directives, else the main server.
 * *pwhere names what was read (and says when several virtual hosts would have fitted). NULL on
 * success, else an error message. */
const char *rtsctl_conf_read(apr_pool_t *p, const char *file, const char *server_root,
                             const char *vhost, rtsctl_settings_t *out, const char **pwhere);

/* Applies one directive (name, argument) as the module would; used for the file and for the
 * command-line overrides. NULL or an error message. */
const char *rtsctl_conf_set(apr_pool_t *p, rtsctl_settings_t *st, const char *server_root,
                            const char *name, const char *arg);

/* The core configuration of these settings, with the module's defaults and derived values
 * (rts_config_defaults, rts_config_finish: as the module builds its own) and the keys of every
 * secret (rts_secret_derive: bound to issuer and client id). need: a string of
 * what the command needs, among 'p' (provider: metadata URL, client id and secret), 'k' (keys:
 * issuer, client id, secrets) and 'm' (memcached). NULL or an error message naming what is
 * missing (and the flag that sets it). */
const char *rtsctl_conf_build(apr_pool_t *p, const rtsctl_settings_t *st, const char *need,
                              rts_config_t **pcfg);

#endif
