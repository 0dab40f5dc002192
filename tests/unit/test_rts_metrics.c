/* SPDX-License-Identifier: Apache-2.0 */
/* Counters and histograms: what the core counts, where, and how the status page shows it. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "test_keys.h"
#include "rts_cookie.h"
#include "rts_flow.h"
#include "rts_metrics.h"
#include "rts_refresh.h"
#include "rts_session.h"
#include "rts_util.h"

#define TOKEN_OK(at, rt) "{\"access_token\":\"" at "\",\"token_type\":\"Bearer\"," \
                         "\"expires_in\":300,\"refresh_token\":\"" rt "\"}"

static test_env_t *env;
static rts_metrics_t *metrics;

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
    test_env_push_discovery(env);
    metrics = apr_pcalloc(rts_test_pool, sizeof(*metrics));
}

/* A request context that counts into this test's metrics. */
static rts_ctx_t *mctx(void)
{
    rts_ctx_t *ctx = test_env_ctx(env);

    ctx->metrics = metrics;
    return ctx;
}

static apr_uint64_t count(rts_metric_t m)
{
    return rts_metrics_get(metrics, m);
}

/* N requests read the same version at once: one refresh, N-1 followers, nobody slept. */
START_TEST(test_metrics_refresh_storm_counts_one_refresh)
{
    enum { N = 20 };
    rts_session_t *first = test_env_session(env, apr_time_from_sec(30));
    rts_session_t *readers[N];
    rts_refresh_outcome_t out;
    rts_result_t res;
    rts_metrics_hist_t h;
    int i;

    for (i = 0; i < N; i++) {
        ck_assert_int_eq(rts_session_load(test_env_ctx(env), first->id, &readers[i]),
                         APR_SUCCESS);
    }
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(rts_refresh_ensure(mctx(), &readers[i], &out, &res), APR_SUCCESS);
    }
    ck_assert_uint_eq(count(RTS_M_REFRESH_STARTED), 1);
    ck_assert_uint_eq(count(RTS_M_REFRESH_SUCCEEDED), 1);
    ck_assert_uint_eq(count(RTS_M_REFRESH_INTENT_WAITS), N - 1);
    ck_assert_uint_eq(count(RTS_M_REFRESH_INTENT_WAIT_USEC), 0);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_INVALID_GRANT), 0);
    ck_assert_uint_eq(count(RTS_M_MEMCACHED_ERRORS), 0);
    rts_metrics_get_hist(metrics, RTS_H_TOKEN, &h);
    ck_assert_uint_eq(h.count, 1);
}
END_TEST

START_TEST(test_metrics_wait_time_is_time_slept)
{
    rts_session_t *s = test_env_session(env, -apr_time_from_sec(1));
    rts_session_t *held;
    rts_refresh_outcome_t out;
    rts_result_t res;

    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &held), APR_SUCCESS);
    held->intent_owner = "other-process";
    held->intent_until = env->now + apr_time_from_sec(10);
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), held), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &s), APR_SUCCESS);
    env->on_sleep = test_env_next_gen_at_third_sleep;   /* the holder finishes */
    env->on_sleep_baton = s;
    ck_assert_int_eq(rts_refresh_ensure(mctx(), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_FOLLOWED);
    ck_assert_uint_eq(env->sleeps, 3);
    ck_assert_uint_eq(count(RTS_M_REFRESH_INTENT_WAITS), 1);      /* one request, three polls */
    ck_assert_uint_eq(count(RTS_M_REFRESH_INTENT_WAIT_USEC), 3 * RTS_REFRESH_POLL);
    ck_assert_uint_eq(count(RTS_M_REFRESH_STARTED), 0);
}
END_TEST

/* invalid_grant for a refresh token that came from a rotation: the reuse (theft) signal. */
START_TEST(test_metrics_invalid_grant_ends_by_reuse)
{
    rts_session_t *s = test_env_session(env, apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;

    s->gen = 2;
    ck_assert_int_eq(rts_session_cas(mctx(), s), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(mctx(), s->id, &s), APR_SUCCESS);
    fake_http_push(env->fh, 400, "{\"error\":\"invalid_grant\"}", NULL);
    ck_assert_int_eq(rts_refresh_ensure(mctx(), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_ENDED);
    ck_assert_uint_eq(count(RTS_M_REFRESH_STARTED), 1);
    ck_assert_uint_eq(count(RTS_M_REFRESH_SUCCEEDED), 0);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_INVALID_GRANT), 1);
    ck_assert_uint_eq(count(RTS_M_INVALID_GRANT), 1);
    ck_assert_uint_eq(count(RTS_M_SESSIONS_ENDED_REUSE), 1);
    ck_assert_uint_eq(count(RTS_M_SESSIONS_ENDED_REFUSED), 0);
    ck_assert_uint_eq(count(RTS_M_PROVIDER_ERRORS_TOKEN), 0);
}
END_TEST

/* Each kind of ending counted for what it is: invalid_grant for the login's refresh token
 * (no rotation yet), 400 with an empty body, 403 HTML: refused, not reuse, not provider_error. */
START_TEST(test_metrics_refusals_counted_as_refused)
{
    static const struct { int status; const char *body; } cases[] = {
        {400, "{\"error\":\"invalid_grant\"}"}, {400, ""}, {403, "<html>no</html>"},
        {400, "{\"error\":\"invalid_request\"}"},
    };
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rts_session_t *s = test_env_session(env, apr_time_from_sec(30));
        rts_refresh_outcome_t out;
        rts_result_t res;

        fake_http_push(env->fh, cases[i].status, cases[i].body, NULL);
        ck_assert_int_eq(rts_refresh_ensure(mctx(), &s, &out, &res), APR_SUCCESS);
        ck_assert_int_eq(out, RTS_REFRESH_ENDED);
    }
    ck_assert_uint_eq(count(RTS_M_SESSIONS_ENDED_REFUSED), 4);
    ck_assert_uint_eq(count(RTS_M_SESSIONS_ENDED_REUSE), 0);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_INVALID_GRANT), 1);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_REFUSED), 3);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_PROVIDER_ERROR), 0);
    ck_assert_uint_eq(count(RTS_M_PROVIDER_ERRORS_TOKEN), 0);
}
END_TEST

/* The client's credentials refused: counted as such, not as the user's ending. */
START_TEST(test_metrics_client_auth_counted)
{
    rts_session_t *s = test_env_session(env, apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_push(env->fh, 401, "{\"error\":\"invalid_client\"}", NULL);
    ck_assert_int_eq(rts_refresh_ensure(mctx(), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DEFERRED);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_CLIENT_AUTH), 1);
    ck_assert_uint_eq(count(RTS_M_TOKEN_CLIENT_AUTH_FAILURES), 1);
    ck_assert_uint_eq(count(RTS_M_SESSIONS_ENDED_REFUSED), 0);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_PROVIDER_ERROR), 0);
}
END_TEST

START_TEST(test_metrics_provider_failure_counted)
{
    rts_session_t *s = test_env_session(env, apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_push(env->fh, 503, "busy", NULL);
    ck_assert_int_eq(rts_refresh_ensure(mctx(), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DEFERRED);
    /* a 503 after sending: the refresh token's fate is unknown */
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_UNKNOWN), 1);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_PROVIDER_ERROR), 0);
    ck_assert_uint_eq(count(RTS_M_PROVIDER_ERRORS_TOKEN), 1);
    ck_assert_uint_eq(count(RTS_M_INVALID_GRANT), 0);
    ck_assert_uint_eq(count(RTS_M_SESSIONS_ENDED_REUSE), 0);
}
END_TEST

START_TEST(test_metrics_discovery_failure_counted)
{
    rts_session_t *s;
    rts_refresh_outcome_t out;
    rts_result_t res;

    env = test_env_create(rts_test_pool);      /* no discovery document queued */
    s = test_env_session(env, apr_time_from_sec(30));
    fake_http_push_error(env->fh, APR_ECONNREFUSED);
    ck_assert_int_eq(rts_refresh_ensure(mctx(), &s, &out, &res), APR_SUCCESS);
    ck_assert_uint_eq(count(RTS_M_PROVIDER_ERRORS_DISCOVERY), 1);
    ck_assert_uint_eq(count(RTS_M_REFRESH_FAILED_PROVIDER_ERROR), 1);
    ck_assert_uint_eq(count(RTS_M_PROVIDER_ERRORS_TOKEN), 0);
}
END_TEST

/* ---- logins through the flow ---- */

/* A browser navigation. */
static rts_req_t *nav(const char *uri, const char *cookie)
{
    return test_env_request(env, uri, cookie, 1);
}

/* The value of the pending-login cookie an outcome sets. */
static const char *pending_cookie(const rts_outcome_t *out)
{
    const char *name = "__Host-rtsession_login=";
    int i;

    for (i = 0; i < out->set_cookies->nelts; i++) {
        const char *c = APR_ARRAY_IDX(out->set_cookies, i, const char *);
        if (!strncmp(c, name, strlen(name))) {
            return apr_pstrmemdup(rts_test_pool, c + strlen(name),
                                  (apr_size_t)(strchr(c, ';') - c - (long)strlen(name)));
        }
    }
    return NULL;
}

START_TEST(test_metrics_login_started_completed_failed)
{
    test_key_t *key = test_key_generate(rts_test_pool, "RS256", "k1");
    const test_key_t *keys[1];
    rts_outcome_t out;
    apr_table_t *q;
    const char *state, *nonce, *cookie, *callback;
    long now = (long)apr_time_sec(env->now);
    rts_metrics_hist_t h;

    ck_assert_int_eq(rts_flow_authenticate(mctx(), nav("/app", NULL), &out), APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_REDIRECT);
    ck_assert_uint_eq(count(RTS_M_LOGIN_STARTED), 1);
    /* an API request without a session is denied, not a login */
    ck_assert_int_eq(rts_flow_authenticate(mctx(), test_env_request(env, "/api", NULL, 0), &out),
                     APR_SUCCESS);
    ck_assert_uint_eq(count(RTS_M_LOGIN_STARTED), 1);

    ck_assert_int_eq(rts_flow_authenticate(mctx(), nav("/app", NULL), &out), APR_SUCCESS);
    state = pending_cookie(&out);
    ck_assert_ptr_nonnull(state);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, strchr(out.location, '?') + 1, &q),
                     APR_SUCCESS);
    nonce = apr_table_get(q, "nonce");
    cookie = apr_pstrcat(rts_test_pool, "__Host-rtsession_login=", state, NULL);
    state = apr_table_get(q, "state");   /* the cookie is the state and its sealed login */
    callback = apr_pstrcat(rts_test_pool, "/rtsession/callback?code=abc&state=", state, NULL);

    /* a callback whose state is not this browser's */
    ck_assert_int_eq(rts_flow_callback(mctx(), nav("/rtsession/callback?code=x&state=zz", cookie),
                                       &out), APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_ERROR);
    ck_assert_uint_eq(count(RTS_M_LOGIN_FAILED_INVALID_STATE), 1);

    keys[0] = key;
    fake_http_push(env->fh, 200, apr_psprintf(rts_test_pool,
        "{\"access_token\":\"AT1\",\"token_type\":\"Bearer\",\"expires_in\":300,"
        "\"refresh_token\":\"RT1\",\"id_token\":\"%s\"}",
        test_jws_sign(rts_test_pool, key, NULL, apr_psprintf(rts_test_pool,
            "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"sub\":\"alice\","
            "\"nonce\":\"%s\",\"iat\":%ld,\"exp\":%ld}", nonce, now, now + 300))), NULL);
    fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, keys, 1), NULL);
    ck_assert_int_eq(rts_flow_callback(mctx(), nav(callback, cookie), &out), APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_REDIRECT);
    ck_assert_uint_eq(count(RTS_M_LOGIN_STARTED), 2);
    ck_assert_uint_eq(count(RTS_M_LOGIN_COMPLETED), 1);
    ck_assert_uint_eq(count(RTS_M_LOGIN_FAILED_OTHER), 0);
    rts_metrics_get_hist(metrics, RTS_H_TOKEN, &h);
    ck_assert_uint_eq(h.count, 1);

    /* the same state again: the pending login was consumed */
    ck_assert_int_eq(rts_flow_callback(mctx(), nav(callback, cookie), &out), APR_SUCCESS);
    ck_assert_uint_eq(count(RTS_M_LOGIN_FAILED_INVALID_STATE), 2);
    ck_assert_uint_eq(count(RTS_M_LOGIN_COMPLETED), 1);
}
END_TEST

START_TEST(test_metrics_login_failed_causes)
{
    rts_ctx_t *ctx = mctx();

    rts_metric_login_failed(ctx, "access_denied");
    rts_metric_login_failed(ctx, "store_unavailable");
    rts_metric_login_failed(ctx, "something_new");
    rts_metric_login_failed(ctx, NULL);
    ck_assert_uint_eq(count(RTS_M_LOGIN_FAILED_ACCESS_DENIED), 1);
    ck_assert_uint_eq(count(RTS_M_LOGIN_FAILED_STORE_UNAVAILABLE), 1);
    ck_assert_uint_eq(count(RTS_M_LOGIN_FAILED_OTHER), 2);
    /* no metrics: nothing counted, nothing crashes */
    ctx->metrics = NULL;
    rts_metric_login_failed(ctx, "access_denied");
    rts_metric_observe(ctx, RTS_H_TOKEN, 5);
    rts_metric_inc(NULL, RTS_M_LOGIN_STARTED);
    ck_assert_uint_eq(count(RTS_M_LOGIN_FAILED_ACCESS_DENIED), 1);
}
END_TEST

/* ---- the metering store ---- */

START_TEST(test_metrics_store_errors_and_latency)
{
    rts_store_t *inner = fake_store_store(env->fs);
    rts_store_t *s = rts_metrics_store_wrap(rts_test_pool, inner, metrics);
    rts_metrics_hist_t h;
    const char *val;
    apr_size_t len;

    ck_assert_ptr_ne(s, inner);
    ck_assert_int_eq(s->set(s, NULL, "k", "v", 1, 60), APR_SUCCESS);
    ck_assert_int_eq(s->add(s, NULL, "k", "v", 1, 60), APR_EEXIST);          /* not an error */
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "nope", &val, &len, NULL), APR_ENOENT);
    fake_store_fail_next(env->fs, 2, FAKE_STORE_OP_GET, APR_TIMEUP);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, &len, NULL), APR_TIMEUP);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, &len, NULL), APR_TIMEUP);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, &len, NULL), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, NULL, "k"), APR_SUCCESS);
    ck_assert_uint_eq(count(RTS_M_MEMCACHED_ERRORS), 2);
    ck_assert_uint_eq(count(RTS_M_MEMCACHED_FAILED_FAST), 0);
    /* failed fast (circuit open): an error, and counted apart */
    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_GET, RTS_ESTOREDOWN);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, &len, NULL), RTS_ESTOREDOWN);
    ck_assert_uint_eq(count(RTS_M_MEMCACHED_ERRORS), 3);
    ck_assert_uint_eq(count(RTS_M_MEMCACHED_FAILED_FAST), 1);
    rts_metrics_get_hist(metrics, RTS_H_MEMCACHED, &h);
    ck_assert_uint_eq(h.count, 8);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_ANY), 8);
    /* without metrics the store is handed back as it is */
    ck_assert_ptr_eq(rts_metrics_store_wrap(rts_test_pool, inner, NULL), inner);
}
END_TEST

/* ---- exposition ---- */

static int has_line(const char *text, const char *line)
{
    const char *p = text;
    apr_size_t n = strlen(line);

    while ((p = strstr(p, line)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') {
            return 1;
        }
        p += n;
    }
    return 0;
}

START_TEST(test_metrics_format_prometheus)
{
    rts_ctx_t *ctx = mctx();
    const char *text;

    rts_metric_inc(ctx, RTS_M_LOGIN_STARTED);
    rts_metric_inc(ctx, RTS_M_LOGIN_STARTED);
    rts_metric_login_failed(ctx, "invalid_state");
    rts_metric_add(ctx, RTS_M_REFRESH_INTENT_WAIT_USEC, 1500000);
    rts_metric_observe(ctx, RTS_H_TOKEN, 500);          /* 0.0005 s */
    rts_metric_observe(ctx, RTS_H_TOKEN, 3000);         /* 0.003 s */
    rts_metric_observe(ctx, RTS_H_TOKEN, apr_time_from_sec(20));
    text = rts_metrics_format(rts_test_pool, metrics);

    ck_assert(has_line(text, "# TYPE rtsession_logins_started_total counter"));
    ck_assert(has_line(text, "rtsession_logins_started_total 2"));
    ck_assert(has_line(text, "rtsession_logins_failed_total{cause=\"invalid_state\"} 1"));
    ck_assert(has_line(text, "rtsession_logins_failed_total{cause=\"access_denied\"} 0"));
    ck_assert(has_line(text, "rtsession_refresh_intent_wait_seconds_total 1.500000"));
    ck_assert(has_line(text, "rtsession_backchannel_logouts_total 0"));
    ck_assert(has_line(text, "rtsession_backchannel_index_overflow_total 0"));
    ck_assert(has_line(text, "rtsession_backchannel_late_logins_refused_total 0"));
    ck_assert(has_line(text, "rtsession_backchannel_ended_at_check_total 0"));
    ck_assert(has_line(text, "rtsession_backchannel_index_restored_total 0"));
    ck_assert(has_line(text, "rtsession_provider_errors_total{endpoint=\"jwks\"} 0"));
    ck_assert(has_line(text, "# TYPE rtsession_token_request_duration_seconds histogram"));
    ck_assert(has_line(text, "rtsession_token_request_duration_seconds_bucket{le=\"0.001\"} 1"));
    ck_assert(has_line(text, "rtsession_token_request_duration_seconds_bucket{le=\"0.0025\"} 1"));
    ck_assert(has_line(text, "rtsession_token_request_duration_seconds_bucket{le=\"0.005\"} 2"));
    ck_assert(has_line(text, "rtsession_token_request_duration_seconds_bucket{le=\"10\"} 2"));
    ck_assert(has_line(text, "rtsession_token_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
    ck_assert(has_line(text, "rtsession_token_request_duration_seconds_count 3"));
    ck_assert(has_line(text, "rtsession_token_request_duration_seconds_sum 20.003500"));
    ck_assert(has_line(text, "rtsession_memcached_request_duration_seconds_count 0"));
    /* one HELP per family, even with several label sets */
    ck_assert_ptr_eq(strstr(strstr(text, "# HELP rtsession_logins_failed_total") + 1,
                            "# HELP rtsession_logins_failed_total"), NULL);
}
END_TEST

Suite *rts_suite_metrics(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_metrics_refresh_storm_counts_one_refresh);
    tcase_add_test(tc, test_metrics_wait_time_is_time_slept);
    tcase_add_test(tc, test_metrics_invalid_grant_ends_by_reuse);
    tcase_add_test(tc, test_metrics_refusals_counted_as_refused);
    tcase_add_test(tc, test_metrics_client_auth_counted);
    tcase_add_test(tc, test_metrics_provider_failure_counted);
    tcase_add_test(tc, test_metrics_discovery_failure_counted);
    tcase_add_test(tc, test_metrics_login_started_completed_failed);
    tcase_add_test(tc, test_metrics_login_failed_causes);
    tcase_add_test(tc, test_metrics_store_errors_and_latency);
    tcase_add_test(tc, test_metrics_format_prometheus);
    suite_add_tcase(s, tc);
    return s;
}
