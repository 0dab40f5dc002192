/* SPDX-License-Identifier: Apache-2.0 */
/* The core's view of the configuration: plain data, no Apache types. The glue builds one per
 * virtual host: rts_config_defaults, then the configured values, then rts_config_finish (the
 * derived values and the checks). The unit tests build theirs the same way. */
#ifndef RTS_CONFIG_H
#define RTS_CONFIG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "rts_crypto.h"

typedef enum {
    RTS_AUTH_CLIENT_SECRET_BASIC = 0,
    RTS_AUTH_CLIENT_SECRET_POST = 1
} rts_client_auth_t;

/* One configured module secret and the keys derived from it (HKDF, at config time). */
typedef struct rts_secret_t {
    unsigned char key_id[RTS_SEAL_KEY_LEN];   /* HMAC key naming store records */
    unsigned char key_seal[RTS_SEAL_KEY_LEN]; /* PRK of the per-record sealing keys */
    rts_hmac_key_t *mac_id, *mac_seal;        /* the same keys set up once; NULL: per use */
} rts_secret_t;

struct rts_config_t {
    const char *metadata_url;          /* discovery document URL */
    const char *issuer;                /* expected issuer (Discovery §4.3) */
    const char *client_id;
    const char *client_secret;
    const char *redirect_uri;          /* absolute URL, or a path completed from the request */
    const char *scope;                 /* space-separated, includes "openid" */
    rts_client_auth_t client_auth;
    const char *ca_file;               /* NULL: system trust store */
    apr_interval_time_t http_timeout;  /* each call to the provider */
    apr_interval_time_t connect_timeout; /* derived: the HTTP timeout, at most 5 s */
    apr_size_t max_response;           /* bytes accepted from the provider per response */
    apr_interval_time_t leeway;        /* clock skew tolerated on exp/iat/nbf */
    apr_interval_time_t iat_max_age;   /* an ID token issued longer ago than this is refused */
    apr_interval_time_t refresh_window;/* refresh when the access token expires within this */
    apr_interval_time_t intent_ttl;    /* derived: refresh intent lifetime, HTTP timeout + 5 s */
    apr_interval_time_t pending_ttl;   /* lifetime of a pending login (state) */
    apr_interval_time_t session_max;   /* absolute session lifetime */
    apr_interval_time_t idle_timeout;  /* a session unused this long ends; 0: none */
    apr_interval_time_t touch_interval;/* the idle timeout slides at most once per this; at
                                        * most half the idle timeout (rts_config_finish) */
    apr_interval_time_t metadata_ttl;  /* how long discovery + JWKS are cached */
    apr_interval_time_t jwks_min_refetch; /* at most one JWKS refetch per this, on unknown kid */
    const char *const *allowed_algs;   /* NULL-terminated */
    apr_array_header_t *secrets;       /* of rts_secret_t; the first seals, all open */
    const char *cookie_name;           /* base name; "__Host-" is prefixed on https */
    const char *logout_path;           /* local logout endpoint; NULL: none */
    const char *logout_redirect;       /* where logout ends: a path or an absolute URL */
    int logout_at_provider;            /* RP-initiated logout when end_session_endpoint exists */
    int revoke_at_logout;              /* RFC 7009 revocation when revocation_endpoint exists */
    const char *backchannel_path;      /* back-channel logout endpoint; NULL: none (no index) */
    /* every RTSessionUserClaim of the server's configuration (and the default, sub),
     * NULL-terminated: a login whose ID token carries one of them unusable is refused */
    const char *const *user_claims;
    apr_interval_time_t memcached_timeout;    /* bound of each store operation */
    apr_interval_time_t memcached_dead_after; /* a failing server's keys are lost after; 0: never */
};

/* The claim that becomes the user name unless RTSessionUserClaim says otherwise. */
#define RTS_CONFIG_USER_CLAIM "sub"

/* Every setting at its default (the directives' documented defaults); the required ones
 * (provider, client, redirect URI, secrets) NULL. */
void rts_config_defaults(rts_config_t *c);
/* Computes the derived values (connect timeout, intent lifetime, touch interval clamp) and
 * checks what the core relies on. APR_SUCCESS, or RTS_ECONFIG with a sentence naming the
 * directive in *perr (allocated from p). Run it again after changing a setting. */
apr_status_t rts_config_finish(apr_pool_t *p, rts_config_t *c, const char **perr);

/* Shared by the module and rtsessionctl, which read the same directives. */
#define RTS_CONFIG_MIN_SECRET_LEN 32
#define RTS_CONFIG_DISCOVERY_SUFFIX "/.well-known/openid-configuration"
/* The issuer: the configured one, else the metadata URL without the discovery suffix, else
 * NULL (the URL has an unusual form and RTSessionIssuer is needed). */
const char *rts_config_issuer(apr_pool_t *p, const char *issuer, const char *metadata_url);
/* Reads a secret held on a single line of the file fname (already resolved against the server
 * root); trailing white space is dropped. NULL and *out, or the error text naming directive. The
 * read buffer is wiped. */
const char *rts_config_read_secret_file(apr_pool_t *p, const char *directive, const char *fname,
                                        const char **out);
/* Wipes the derived secrets (an array of rts_secret_t) when pool p is cleared. */
void rts_config_wipe_secrets_at_cleanup(apr_pool_t *p, apr_array_header_t *secrets);

#endif
