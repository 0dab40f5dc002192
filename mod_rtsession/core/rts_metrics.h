/* SPDX-License-Identifier: Apache-2.0 */
/* Operational counters and latency histograms, summed across processes.
 * The counters live in one rts_metrics_t that the caller places in memory shared by every
 * process (the Apache glue: anonymous shared memory made at post_config, inherited by the
 * children); updates are relaxed 64-bit atomics, so no lock is taken on the request path.
 * A ctx whose metrics is NULL counts nothing. Nothing here ever sees a token or user data:
 * the only inputs are counter ids, fixed cause names and durations. */
#ifndef RTS_METRICS_H
#define RTS_METRICS_H

#include <apr_pools.h>
#include "rts.h"
#include "rts_store.h"

typedef enum {
    RTS_M_LOGIN_STARTED = 0,
    RTS_M_LOGIN_COMPLETED,
    /* logins that failed, one counter per cause (the error code of the error page) */
    RTS_M_LOGIN_FAILED_INVALID_REQUEST,
    RTS_M_LOGIN_FAILED_INVALID_STATE,
    RTS_M_LOGIN_FAILED_INVALID_ISSUER,
    RTS_M_LOGIN_FAILED_ACCESS_DENIED,
    RTS_M_LOGIN_FAILED_LOGIN_ERROR,
    RTS_M_LOGIN_FAILED_INVALID_GRANT,
    RTS_M_LOGIN_FAILED_TOKEN_ERROR,
    RTS_M_LOGIN_FAILED_NO_ID_TOKEN,
    RTS_M_LOGIN_FAILED_INVALID_ID_TOKEN,
    RTS_M_LOGIN_FAILED_PROVIDER_UNAVAILABLE,
    RTS_M_LOGIN_FAILED_STORE_UNAVAILABLE,
    RTS_M_LOGIN_FAILED_OTHER,
    RTS_M_REFRESH_STARTED,
    RTS_M_REFRESH_SUCCEEDED,
    RTS_M_REFRESH_FAILED_INVALID_GRANT,
    RTS_M_REFRESH_FAILED_PROVIDER_ERROR,
    RTS_M_REFRESH_FAILED_ID_TOKEN_REJECTED,
    RTS_M_REFRESH_FAILED_STORE_ERROR,
    RTS_M_REFRESH_FAILED_WAIT_TIMEOUT,
    RTS_M_REFRESH_INTENT_WAITS,
    RTS_M_REFRESH_INTENT_WAIT_USEC,
    RTS_M_INVALID_GRANT,
    RTS_M_SESSIONS_ENDED_REUSE,
    RTS_M_BACKCHANNEL_LOGOUTS,
    RTS_M_MEMCACHED_ERRORS,
    RTS_M_PROVIDER_ERRORS_DISCOVERY,
    RTS_M_PROVIDER_ERRORS_JWKS,
    RTS_M_PROVIDER_ERRORS_TOKEN,
    /* issue 11 item 4 (resilience): operations answered at once because their memcached
     * server is failed fast (circuit open) or the store refuses to work (CAS disabled) */
    RTS_M_MEMCACHED_FAILED_FAST,
    /* issue 11 items 1-3, 10 (refresh outcomes): each kind of ending counted for what it is */
    RTS_M_REFRESH_FAILED_REFUSED,        /* grant refused (not a reuse signal): session ended */
    RTS_M_REFRESH_FAILED_CLIENT_AUTH,    /* the client's credentials refused: session kept */
    RTS_M_REFRESH_FAILED_UNKNOWN,        /* sent, no usable answer: session kept, marked */
    RTS_M_SESSIONS_ENDED_REFUSED,        /* ended: refresh refused (no reuse signal) */
    RTS_M_SESSIONS_ENDED_LOST_REFRESH,   /* ended: refused when presented after a lost answer */
    RTS_M_REFRESH_BACKOFF,               /* requests that found the refresh backing off */
    RTS_M_TOKEN_CLIENT_AUTH_FAILURES,    /* token calls refused for client auth (login too) */
    /* issue 11 item 7 (back-channel logout never lets a session survive) */
    RTS_M_BACKCHANNEL_INDEX_OVERFLOW,
    RTS_M_BACKCHANNEL_LATE_LOGINS_REFUSED,
    RTS_M_BACKCHANNEL_ENDED_AT_CHECK,
    RTS_M_BACKCHANNEL_INDEX_RESTORED,
    RTS_M_COUNT
} rts_metric_t;

typedef enum {
    RTS_H_TOKEN = 0,          /* token endpoint calls (code exchange and refresh) */
    RTS_H_MEMCACHED,          /* every memcached operation */
    RTS_H_COUNT
} rts_histogram_t;

/* Upper bounds of the histogram buckets, in microseconds; one more bucket is +Inf. */
#define RTS_METRICS_BUCKETS 13
extern const apr_interval_time_t rts_metrics_bounds[RTS_METRICS_BUCKETS];

typedef struct {
    apr_uint64_t bucket[RTS_METRICS_BUCKETS + 1];   /* not cumulative; the last is +Inf */
    apr_uint64_t sum_usec;
    apr_uint64_t count;
} rts_metrics_hist_t;

struct rts_metrics_t {
    apr_uint64_t counter[RTS_M_COUNT];
    rts_metrics_hist_t hist[RTS_H_COUNT];
};

/* Adds n to counter m of ctx->metrics (nothing when ctx or its metrics is NULL). */
void rts_metric_add(const rts_ctx_t *ctx, rts_metric_t m, apr_uint64_t n);
#define rts_metric_inc(ctx, m) rts_metric_add((ctx), (m), 1)
/* Records one duration in histogram h. */
void rts_metric_observe(const rts_ctx_t *ctx, rts_histogram_t h, apr_interval_time_t t);
/* Counts a failed login under the error code of its error page ("invalid_state", ...). */
void rts_metric_login_failed(const rts_ctx_t *ctx, const char *error);
/* A refresh waiter: counts the request once (*since is 0 the first time) ... */
void rts_metric_waiting(const rts_ctx_t *ctx, apr_time_t *since);
/* ... and sleeps like rts_sleep, adding the time slept to the total wait time. */
void rts_metric_sleep(const rts_ctx_t *ctx, apr_interval_time_t t);

/* Reads counter m, or histogram h, consistently enough for a status page. */
apr_uint64_t rts_metrics_get(const rts_metrics_t *metrics, rts_metric_t m);
void rts_metrics_get_hist(const rts_metrics_t *metrics, rts_histogram_t h,
                          rts_metrics_hist_t *out);

/* A store that forwards to inner and counts its errors (anything but success, APR_ENOENT
 * and APR_EEXIST) and latencies in metrics. Allocated from p; cheap enough per request. */
rts_store_t *rts_metrics_store_wrap(apr_pool_t *p, rts_store_t *inner, rts_metrics_t *metrics);

/* The Prometheus text exposition format (version 0.0.4) of every counter and histogram. */
const char *rts_metrics_format(apr_pool_t *p, const rts_metrics_t *metrics);

#endif
