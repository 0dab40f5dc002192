/* SPDX-License-Identifier: Apache-2.0 */
/* mod_rtsession protocol core: shared definitions.
 * The core depends on APR, OpenSSL 3, jansson, libcurl and libmemcached only; never on httpd. */
#ifndef RTS_H
#define RTS_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

/* Module-specific status codes, beside APR's (APR_ENOENT, APR_EEXIST, APR_TIMEUP, ...). */
#define RTS_ERR_BASE        (APR_OS_START_USERERR + 7400)
#define RTS_EBADTOKEN       (RTS_ERR_BASE + 1)  /* a JWT/JWS failed parsing or validation */
#define RTS_ENOKEY          (RTS_ERR_BASE + 2)  /* no JWKS key matches the token's kid/alg */
#define RTS_EOAUTH          (RTS_ERR_BASE + 3)  /* the provider answered with an OAuth error */
#define RTS_EINVALIDGRANT   (RTS_ERR_BASE + 4)  /* ... and that error was invalid_grant */
#define RTS_EUPSTREAM       (RTS_ERR_BASE + 5)  /* unusable answer from the provider (5xx, garbage) */
#define RTS_ETOOLARGE       (RTS_ERR_BASE + 6)  /* a size bound was exceeded */
#define RTS_ESTATE          (RTS_ERR_BASE + 7)  /* callback state missing, unknown or not bound */
#define RTS_ECONFIG         (RTS_ERR_BASE + 8)  /* configuration error */
#define RTS_EBADINPUT       (RTS_ERR_BASE + 9)  /* malformed input from the client */
#define RTS_ESTORE          (RTS_ERR_BASE + 10) /* session store unreachable or failing */
/* A write (add, set, cas) reached the store, or may have, and no answer came back: it may
 * have been applied. Re-read to learn the outcome; never treat it as "lost the race". */
#define RTS_ESTOREUNKNOWN   (RTS_ERR_BASE + 11)
/* The key's memcached server is failed fast after a timeout or refusal (circuit open), or the
 * store refuses to work (CAS disabled); nothing was sent. */
#define RTS_ESTOREDOWN      (RTS_ERR_BASE + 12)
/* A read of a server that has been failed fast for longer than the store's dead-after grace:
 * its records are taken as lost (their users log in again on a live server). Reads only. */
#define RTS_ESTOREGONE      (RTS_ERR_BASE + 13)
#define RTS_ERR_LAST        RTS_ESTOREGONE

typedef struct rts_log_t rts_log_t;
typedef struct rts_store_t rts_store_t;
typedef struct rts_http_t rts_http_t;
typedef struct rts_config_t rts_config_t;
typedef struct rts_provider_t rts_provider_t;
typedef struct rts_touch_memo_t rts_touch_memo_t;
typedef struct rts_claims_memo_t rts_claims_memo_t;
typedef struct rts_metrics_t rts_metrics_t;

/* A clock the tests can control. Returns microseconds since the epoch, like apr_time_now(). */
typedef apr_time_t rts_clock_fn(void *baton);

/* Everything a core operation needs, built by the caller per request (or per test). */
typedef struct rts_ctx_t {
    apr_pool_t *pool;              /* request lifetime */
    const rts_log_t *log;
    rts_clock_fn *clock;           /* NULL means apr_time_now() */
    void *clock_baton;
    rts_store_t *store;
    rts_http_t *http;
    const rts_config_t *cfg;
    rts_provider_t *provider;      /* per-child metadata + JWKS cache */
    /* Sleeps while a waiter polls; the tests replace it to advance the fake clock. */
    void (*sleep)(void *baton, apr_interval_time_t t);
    void *sleep_baton;
    rts_touch_memo_t *touch_memo;  /* per-child idle-slide memo; NULL: touch whenever due */
    rts_claims_memo_t *claims_memo;   /* per-child parsed ID token claims; NULL: parse each time */
    rts_metrics_t *metrics;        /* shared counters (rts_metrics.h); NULL counts nothing */
} rts_ctx_t;

const char *rts_strerror(apr_pool_t *p, apr_status_t rv);
/* One of the module's own codes above, which apr_strerror does not know. */
int rts_is_own_status(apr_status_t rv);

#endif
