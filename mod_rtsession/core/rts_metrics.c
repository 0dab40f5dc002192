/* SPDX-License-Identifier: Apache-2.0 */
/* Shared counters: relaxed atomics on a block of memory that every process maps. */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_metrics.h"

const apr_interval_time_t rts_metrics_bounds[RTS_METRICS_BUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};
/* The same bounds as Prometheus "le" labels (APR's %g would drop the leading zero). */
static const char *const bound_labels[RTS_METRICS_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10"
};

/* One exposed sample: family name, label set (or NULL), help of the family. Rows of one
 * family are adjacent, so HELP and TYPE are written once per family. */
typedef struct {
    rts_metric_t m;
    const char *family;
    const char *labels;
    const char *help;
    int seconds;            /* the counter holds microseconds, exposed as seconds */
} metric_row_t;

#define FAILED_LOGIN "Logins that failed, by the error code of the error page."
#define FAILED_REFRESH "Refreshes that failed, by cause."
#define PROVIDER_ERR "Failed calls to the identity provider (transport, 5xx, unusable answer)."

static const metric_row_t rows[] = {
    {RTS_M_LOGIN_STARTED, "rtsession_logins_started_total", NULL,
     "Browsers sent to the identity provider to log in.", 0},
    {RTS_M_LOGIN_COMPLETED, "rtsession_logins_completed_total", NULL,
     "Logins that created a session.", 0},
    {RTS_M_LOGIN_FAILED_INVALID_REQUEST, "rtsession_logins_failed_total",
     "cause=\"invalid_request\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_INVALID_STATE, "rtsession_logins_failed_total",
     "cause=\"invalid_state\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_INVALID_ISSUER, "rtsession_logins_failed_total",
     "cause=\"invalid_issuer\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_ACCESS_DENIED, "rtsession_logins_failed_total",
     "cause=\"access_denied\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_LOGIN_ERROR, "rtsession_logins_failed_total",
     "cause=\"login_error\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_INVALID_GRANT, "rtsession_logins_failed_total",
     "cause=\"invalid_grant\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_TOKEN_ERROR, "rtsession_logins_failed_total",
     "cause=\"token_error\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_NO_ID_TOKEN, "rtsession_logins_failed_total",
     "cause=\"no_id_token\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_INVALID_ID_TOKEN, "rtsession_logins_failed_total",
     "cause=\"invalid_id_token\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_PROVIDER_UNAVAILABLE, "rtsession_logins_failed_total",
     "cause=\"provider_unavailable\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_STORE_UNAVAILABLE, "rtsession_logins_failed_total",
     "cause=\"store_unavailable\"", FAILED_LOGIN, 0},
    {RTS_M_LOGIN_FAILED_OTHER, "rtsession_logins_failed_total",
     "cause=\"other\"", FAILED_LOGIN, 0},
    {RTS_M_REFRESH_STARTED, "rtsession_refreshes_started_total", NULL,
     "Refresh token grants sent to the token endpoint.", 0},
    {RTS_M_REFRESH_SUCCEEDED, "rtsession_refreshes_succeeded_total", NULL,
     "Refreshes whose new tokens were stored.", 0},
    {RTS_M_REFRESH_FAILED_INVALID_GRANT, "rtsession_refreshes_failed_total",
     "cause=\"invalid_grant\"", FAILED_REFRESH, 0},
    {RTS_M_REFRESH_FAILED_PROVIDER_ERROR, "rtsession_refreshes_failed_total",
     "cause=\"provider_error\"", FAILED_REFRESH, 0},
    {RTS_M_REFRESH_FAILED_ID_TOKEN_REJECTED, "rtsession_refreshes_failed_total",
     "cause=\"id_token_rejected\"", FAILED_REFRESH, 0},
    {RTS_M_REFRESH_FAILED_STORE_ERROR, "rtsession_refreshes_failed_total",
     "cause=\"store_error\"", FAILED_REFRESH, 0},
    {RTS_M_REFRESH_FAILED_WAIT_TIMEOUT, "rtsession_refreshes_failed_total",
     "cause=\"wait_timeout\"", FAILED_REFRESH, 0},
    /* issue 11 items 1-3: a family's rows stay together for the exposition format */
    {RTS_M_REFRESH_FAILED_REFUSED, "rtsession_refreshes_failed_total",
     "cause=\"refused\"", FAILED_REFRESH, 0},
    {RTS_M_REFRESH_FAILED_CLIENT_AUTH, "rtsession_refreshes_failed_total",
     "cause=\"client_auth\"", FAILED_REFRESH, 0},
    {RTS_M_REFRESH_FAILED_UNKNOWN, "rtsession_refreshes_failed_total",
     "cause=\"unknown_outcome\"", FAILED_REFRESH, 0},
    {RTS_M_REFRESH_INTENT_WAITS, "rtsession_refresh_intent_waits_total", NULL,
     "Requests that found another request refreshing the same session and waited for or "
     "followed its result.", 0},
    {RTS_M_REFRESH_INTENT_WAIT_USEC, "rtsession_refresh_intent_wait_seconds_total", NULL,
     "Total time requests slept waiting for another request's refresh.", 1},
    {RTS_M_INVALID_GRANT, "rtsession_invalid_grant_total", NULL,
     "invalid_grant answers of the token endpoint (codes and refresh tokens).", 0},
    {RTS_M_SESSIONS_ENDED_REUSE, "rtsession_sessions_ended_by_reuse_total", NULL,
     "Sessions ended because the provider refused their refresh token (reuse detected, "
     "revoked or expired).", 0},
    {RTS_M_BACKCHANNEL_LOGOUTS, "rtsession_backchannel_logouts_total", NULL,
     "Back-channel logout requests that ended sessions.", 0},
    {RTS_M_MEMCACHED_ERRORS, "rtsession_memcached_errors_total", NULL,
     "memcached operations that failed (unreachable, timeout, server error).", 0},
    {RTS_M_PROVIDER_ERRORS_DISCOVERY, "rtsession_provider_errors_total",
     "endpoint=\"discovery\"", PROVIDER_ERR, 0},
    {RTS_M_PROVIDER_ERRORS_JWKS, "rtsession_provider_errors_total",
     "endpoint=\"jwks\"", PROVIDER_ERR, 0},
    {RTS_M_PROVIDER_ERRORS_TOKEN, "rtsession_provider_errors_total",
     "endpoint=\"token\"", PROVIDER_ERR, 0},
    /* issue 11 item 4 */
    {RTS_M_MEMCACHED_FAILED_FAST, "rtsession_memcached_failed_fast_total", NULL,
     "memcached operations answered at once, not sent: their server is failed fast after a "
     "timeout or refusal (circuit open), or the store refuses to work (CAS disabled); also "
     "counted in rtsession_memcached_errors_total.", 0},
    /* issue 11 items 1-3, 10 (refresh outcomes) */
    {RTS_M_SESSIONS_ENDED_REFUSED, "rtsession_sessions_ended_refused_total", NULL,
     "Sessions ended because the provider refused their refresh token with no sign of reuse "
     "(revoked, expired, purged: a 400/403 other than invalid_grant after a rotation).", 0},
    {RTS_M_SESSIONS_ENDED_LOST_REFRESH, "rtsession_sessions_ended_lost_refresh_total", NULL,
     "Sessions ended because the provider refused a refresh token presented again after its "
     "answer was lost in flight (not counted as reuse).", 0},
    {RTS_M_REFRESH_BACKOFF, "rtsession_refresh_backoff_total", NULL,
     "Requests that found their session's refresh backing off after a failure (no token "
     "call made).", 0},
    {RTS_M_TOKEN_CLIENT_AUTH_FAILURES, "rtsession_token_client_auth_failures_total", NULL,
     "Token endpoint calls (login and refresh) refused because of the client's own "
     "authentication: a configuration fault (RTS10406).", 0},
    /* issue 11 item 7 */
    {RTS_M_BACKCHANNEL_INDEX_OVERFLOW, "rtsession_backchannel_index_overflow_total", NULL,
     "Sessions ended because their user (or provider session) had more sessions than the "
     "back-channel index holds.", 0},
    {RTS_M_BACKCHANNEL_LATE_LOGINS_REFUSED, "rtsession_backchannel_late_logins_refused_total",
     NULL, "Logins refused because a back-channel logout of their sid or sub came first.", 0},
    {RTS_M_BACKCHANNEL_ENDED_AT_CHECK, "rtsession_backchannel_ended_at_check_total", NULL,
     "Sessions that a back-channel logout had missed, ended at their next refresh or slide.", 0},
    {RTS_M_BACKCHANNEL_INDEX_RESTORED, "rtsession_backchannel_index_restored_total", NULL,
     "Sessions put back into a back-channel index item that memcached had evicted.", 0},
};

static const struct {
    const char *family;
    const char *help;
} hists[RTS_H_COUNT] = {
    {"rtsession_token_request_duration_seconds",
     "Duration of token endpoint calls (code exchange and refresh)."},
    {"rtsession_memcached_request_duration_seconds", "Duration of memcached operations."},
};

/* Error codes of the login error pages, in the order of their counters. */
static const char *const login_causes[] = {
    "invalid_request", "invalid_state", "invalid_issuer", "access_denied", "login_error",
    "invalid_grant", "token_error", "no_id_token", "invalid_id_token", "provider_unavailable",
    "store_unavailable"
};

static void add(apr_uint64_t *x, apr_uint64_t n)
{
    __atomic_fetch_add(x, n, __ATOMIC_RELAXED);
}

static apr_uint64_t load(const apr_uint64_t *x)
{
    return __atomic_load_n(x, __ATOMIC_RELAXED);
}

void rts_metric_add(const rts_ctx_t *ctx, rts_metric_t m, apr_uint64_t n)
{
    if (ctx && ctx->metrics && (unsigned)m < RTS_M_COUNT) {
        add(&ctx->metrics->counter[m], n);
    }
}

static void observe(rts_metrics_t *metrics, rts_histogram_t h, apr_interval_time_t t)
{
    rts_metrics_hist_t *hist;
    unsigned i;

    if (!metrics || (unsigned)h >= RTS_H_COUNT) {
        return;
    }
    if (t < 0) {
        t = 0;
    }
    hist = &metrics->hist[h];
    for (i = 0; i < RTS_METRICS_BUCKETS && t > rts_metrics_bounds[i]; i++) {
    }
    add(&hist->bucket[i], 1);
    add(&hist->sum_usec, (apr_uint64_t)t);
    add(&hist->count, 1);
}

void rts_metric_observe(const rts_ctx_t *ctx, rts_histogram_t h, apr_interval_time_t t)
{
    if (ctx) {
        observe(ctx->metrics, h, t);
    }
}

void rts_metric_login_failed(const rts_ctx_t *ctx, const char *error)
{
    unsigned i;

    for (i = 0; error && i < sizeof(login_causes) / sizeof(login_causes[0]); i++) {
        if (!strcmp(error, login_causes[i])) {
            rts_metric_inc(ctx, (rts_metric_t)(RTS_M_LOGIN_FAILED_INVALID_REQUEST + i));
            return;
        }
    }
    rts_metric_inc(ctx, RTS_M_LOGIN_FAILED_OTHER);
}

void rts_metric_waiting(const rts_ctx_t *ctx, apr_time_t *since)
{
    if (!*since) {
        *since = rts_now(ctx);
        rts_metric_inc(ctx, RTS_M_REFRESH_INTENT_WAITS);
    }
}

void rts_metric_sleep(const rts_ctx_t *ctx, apr_interval_time_t t)
{
    apr_time_t before = rts_now(ctx), after;

    rts_sleep(ctx, t);
    after = rts_now(ctx);
    if (after > before) {
        rts_metric_add(ctx, RTS_M_REFRESH_INTENT_WAIT_USEC, (apr_uint64_t)(after - before));
    }
}

apr_uint64_t rts_metrics_get(const rts_metrics_t *metrics, rts_metric_t m)
{
    return metrics && (unsigned)m < RTS_M_COUNT ? load(&metrics->counter[m]) : 0;
}

void rts_metrics_get_hist(const rts_metrics_t *metrics, rts_histogram_t h,
                          rts_metrics_hist_t *out)
{
    unsigned i;

    memset(out, 0, sizeof(*out));
    if (!metrics || (unsigned)h >= RTS_H_COUNT) {
        return;
    }
    for (i = 0; i <= RTS_METRICS_BUCKETS; i++) {
        out->bucket[i] = load(&metrics->hist[h].bucket[i]);
    }
    out->sum_usec = load(&metrics->hist[h].sum_usec);
    /* Read last, and never below the buckets' total, so +Inf equals _count. */
    out->count = 0;
    for (i = 0; i <= RTS_METRICS_BUCKETS; i++) {
        out->count += out->bucket[i];
    }
}

/* ---- the metering store ---- */

typedef struct {
    rts_store_t *inner;
    rts_metrics_t *metrics;
} meter_t;

static apr_status_t meter_done(rts_store_t *s, apr_time_t started, apr_status_t rv)
{
    meter_t *m = s->impl;

    observe(m->metrics, RTS_H_MEMCACHED, apr_time_now() - started);
    if (rv != APR_SUCCESS && rv != APR_ENOENT && rv != APR_EEXIST) {
        add(&m->metrics->counter[RTS_M_MEMCACHED_ERRORS], 1);
    }
    if (rv == RTS_ESTOREDOWN) {
        add(&m->metrics->counter[RTS_M_MEMCACHED_FAILED_FAST], 1);
    }
    return rv;
}

#define INNER(s) (((meter_t *)(s)->impl)->inner)

static apr_status_t meter_get(rts_store_t *s, apr_pool_t *p, const char *group_key,
                              const char *key, const char **pval, apr_size_t *plen,
                              apr_uint64_t *pcas)
{
    apr_time_t t = apr_time_now();

    return meter_done(s, t, INNER(s)->get(INNER(s), p, group_key, key, pval, plen, pcas));
}

static apr_status_t meter_set(rts_store_t *s, const char *group_key, const char *key,
                              const char *val, apr_size_t len, apr_uint32_t ttl)
{
    apr_time_t t = apr_time_now();

    return meter_done(s, t, INNER(s)->set(INNER(s), group_key, key, val, len, ttl));
}

static apr_status_t meter_add(rts_store_t *s, const char *group_key, const char *key,
                              const char *val, apr_size_t len, apr_uint32_t ttl)
{
    apr_time_t t = apr_time_now();

    return meter_done(s, t, INNER(s)->add(INNER(s), group_key, key, val, len, ttl));
}

static apr_status_t meter_cas(rts_store_t *s, const char *group_key, const char *key,
                              const char *val, apr_size_t len, apr_uint32_t ttl,
                              apr_uint64_t cas)
{
    apr_time_t t = apr_time_now();

    return meter_done(s, t, INNER(s)->cas(INNER(s), group_key, key, val, len, ttl, cas));
}

static apr_status_t meter_del(rts_store_t *s, const char *group_key, const char *key)
{
    apr_time_t t = apr_time_now();

    return meter_done(s, t, INNER(s)->del(INNER(s), group_key, key));
}

static apr_status_t meter_touch(rts_store_t *s, const char *group_key, const char *key,
                                apr_uint32_t ttl)
{
    apr_time_t t = apr_time_now();

    return meter_done(s, t, INNER(s)->touch(INNER(s), group_key, key, ttl));
}

static int meter_usable(rts_store_t *s, const char *group_key)
{
    return rts_store_usable(INNER(s), group_key);
}

rts_store_t *rts_metrics_store_wrap(apr_pool_t *p, rts_store_t *inner, rts_metrics_t *metrics)
{
    rts_store_t *s;
    meter_t *m;

    if (!inner || !metrics) {
        return inner;
    }
    s = apr_pcalloc(p, sizeof(*s));
    m = apr_pcalloc(p, sizeof(*m));
    m->inner = inner;
    m->metrics = metrics;
    s->name = inner->name;
    s->get = meter_get;
    s->set = meter_set;
    s->add = meter_add;
    s->cas = meter_cas;
    s->del = meter_del;
    s->touch = inner->touch ? meter_touch : NULL;
    s->usable = inner->usable ? meter_usable : NULL;
    s->impl = m;
    return s;
}

/* ---- exposition ---- */

static const char *seconds(apr_pool_t *p, apr_uint64_t usec)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT,
                        usec / APR_USEC_PER_SEC, usec % APR_USEC_PER_SEC);
}

static void format_hist(apr_pool_t *p, apr_array_header_t *out, const rts_metrics_t *metrics,
                        rts_histogram_t h)
{
    rts_metrics_hist_t v;
    apr_uint64_t cumulative = 0;
    unsigned i;

    rts_metrics_get_hist(metrics, h, &v);
    APR_ARRAY_PUSH(out, const char *) = apr_psprintf(p, "# HELP %s %s\n# TYPE %s histogram\n",
                                                     hists[h].family, hists[h].help,
                                                     hists[h].family);
    for (i = 0; i <= RTS_METRICS_BUCKETS; i++) {
        cumulative += v.bucket[i];
        APR_ARRAY_PUSH(out, const char *) =
            apr_psprintf(p, "%s_bucket{le=\"%s\"} %" APR_UINT64_T_FMT "\n", hists[h].family,
                         i < RTS_METRICS_BUCKETS ? bound_labels[i] : "+Inf",
                         cumulative);
    }
    APR_ARRAY_PUSH(out, const char *) =
        apr_psprintf(p, "%s_sum %s\n%s_count %" APR_UINT64_T_FMT "\n", hists[h].family,
                     seconds(p, v.sum_usec), hists[h].family, v.count);
}

const char *rts_metrics_format(apr_pool_t *p, const rts_metrics_t *metrics)
{
    apr_array_header_t *out = apr_array_make(p, 128, sizeof(const char *));
    const char *family = NULL;
    unsigned i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const metric_row_t *row = &rows[i];
        apr_uint64_t v = rts_metrics_get(metrics, row->m);

        if (!family || strcmp(family, row->family)) {
            family = row->family;
            APR_ARRAY_PUSH(out, const char *) =
                apr_psprintf(p, "# HELP %s %s\n# TYPE %s counter\n", family, row->help, family);
        }
        APR_ARRAY_PUSH(out, const char *) =
            apr_psprintf(p, "%s%s%s%s %s\n", row->family, row->labels ? "{" : "",
                         row->labels ? row->labels : "", row->labels ? "}" : "",
                         row->seconds ? seconds(p, v)
                                      : apr_psprintf(p, "%" APR_UINT64_T_FMT, v));
    }
    for (i = 0; i < RTS_H_COUNT; i++) {
        format_hist(p, out, metrics, (rts_histogram_t)i);
    }
    return apr_array_pstrcat(p, out, 0);
}
