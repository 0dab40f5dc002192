/* SPDX-License-Identifier: Apache-2.0 */
/* The provider cache under a slow or hung provider: no thread waits for another's fetch (the
 * cache lock is never held across network I/O), one fetch per document in flight, the stale
 * copy (or a fast failure) meanwhile and for a few seconds after a failed fetch. Threads, a
 * fake HTTP client whose fetch takes real time, and the test's clock. */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "test_common.h"
#include "test_ctx.h"
#include "test_keys.h"
#include "rts_provider.h"

#define SLOW_FETCH apr_time_from_msec(400)
#define FAST apr_time_from_msec(100)

/* The fake HTTP client's hook: each fetch takes SLOW_FETCH of real time (a hung provider,
 * bounded here so the test ends), while env->slow is set. */
static volatile int fetch_started;

static void slow_hook(fake_http_t *fh, const rts_http_request_t *req, void *baton)
{
    int *slow = baton;

    (void)fh;
    (void)req;
    fetch_started = 1;
    if (*slow) {
        apr_sleep(SLOW_FETCH);
    }
}

/* A context of its own (own pool), for a thread. */
static rts_ctx_t *thread_ctx(test_env_t *env)
{
    rts_ctx_t *ctx = apr_pmemdup(env->pool, test_env_ctx(env), sizeof(rts_ctx_t));

    apr_pool_create_unmanaged(&ctx->pool);
    return ctx;
}

typedef struct {
    rts_ctx_t *ctx;
    int jwks;
    apr_status_t rv;
    const void *doc;
    apr_interval_time_t took;
} call_t;

static void *APR_THREAD_FUNC caller(apr_thread_t *t, void *baton)
{
    call_t *c = baton;
    apr_time_t start = apr_time_now();
    rts_result_t res;

    rts_result_reset(&res);
    if (c->jwks) {
        const rts_jwks_t *j = NULL;
        c->rv = rts_provider_jwks(c->ctx, 0, &j, &res);
        c->doc = j;
    }
    else {
        const rts_provider_meta_t *m = NULL;
        c->rv = rts_provider_meta(c->ctx, &m, &res);
        c->doc = m;
    }
    c->took = apr_time_now() - start;
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Every caller but the first (the fetcher) got the first's document at once. */
static void assert_others_served_at_once(const call_t *calls, int n)
{
    int i;

    ck_assert_int_eq(calls[0].rv, APR_SUCCESS);
    for (i = 1; i < n; i++) {
        ck_assert_msg(calls[i].rv == APR_SUCCESS && calls[i].doc == calls[0].doc,
                      "caller %d: %d", i, calls[i].rv);
        ck_assert_msg(calls[i].took < FAST, "caller %d waited %" APR_TIME_T_FMT " us", i,
                      calls[i].took);
    }
}

/* The first caller fetches (slowly, and fails: a hung provider times out); the others start
 * while it is in flight and must neither wait nor fetch. */
static void race(test_env_t *env, int jwks, call_t *calls, int n)
{
    apr_thread_t *th[8];
    apr_status_t trv;
    int i;

    fetch_started = 0;
    for (i = 0; i < n; i++) {      /* allocations from env's pools: before any thread runs */
        calls[i] = (call_t){ thread_ctx(env), jwks, APR_EGENERAL, NULL, 0 };
    }
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, caller, &calls[i], rts_test_pool),
                         APR_SUCCESS);
        if (i == 0) {
            int waited;
            for (waited = 0; !fetch_started && waited < 5000; waited++) {
                apr_sleep(apr_time_from_msec(1));   /* until the first one is in its fetch */
            }
            ck_assert(fetch_started);
        }
    }
    for (i = 0; i < n; i++) {
        apr_thread_join(&trv, th[i]);
    }
    for (i = 0; i < n; i++) {
        apr_pool_destroy(calls[i].ctx->pool);
    }
}

static test_env_t *env_with_cache(int *slow, int with_jwks)
{
    test_env_t *env = test_env_create(rts_test_pool);
    const rts_provider_meta_t *m;
    rts_result_t res;

    rts_result_reset(&res);
    fake_http_set_hook(env->fh, slow_hook, slow);
    test_env_push_discovery(env);
    ck_assert_int_eq(rts_provider_meta(test_env_ctx(env), &m, &res), APR_SUCCESS);
    if (with_jwks) {
        const test_key_t *k = test_key_generate(rts_test_pool, "ES256", "k1");
        const rts_jwks_t *j;
        fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, &k, 1), NULL);
        ck_assert_int_eq(rts_provider_jwks(test_env_ctx(env), 0, &j, &res), APR_SUCCESS);
    }
    return env;
}

START_TEST(test_provider_stale_metadata_while_fetch_hangs)
{
    int slow = 0;
    test_env_t *env = env_with_cache(&slow, 0);
    const rts_provider_meta_t *m;
    call_t calls[6];
    unsigned fetches;
    rts_result_t res;

    env->now += env->cfg->metadata_ttl + apr_time_from_sec(1);    /* stale */
    slow = 1;
    fake_http_push_error(env->fh, APR_TIMEUP);
    fetches = fake_http_count(env->fh);
    race(env, 0, calls, 6);
    ck_assert_int_ge(calls[0].took, SLOW_FETCH - FAST);            /* stale after its failure */
    assert_others_served_at_once(calls, 6);
    ck_assert_uint_eq(fake_http_count(env->fh), fetches + 1);      /* one fetch in flight */
    /* after the failure: no new fetch for a few seconds, the stale copy is used */
    slow = 0;
    rts_result_reset(&res);
    env->now += apr_time_from_sec(2);
    ck_assert_int_eq(rts_provider_meta(test_env_ctx(env), &m, &res), APR_SUCCESS);
    ck_assert_uint_eq(fake_http_count(env->fh), fetches + 1);
    /* then one fetch again, which succeeds and replaces it */
    env->now += apr_time_from_sec(4);
    test_env_push_discovery(env);
    ck_assert_int_eq(rts_provider_meta(test_env_ctx(env), &m, &res), APR_SUCCESS);
    ck_assert_uint_eq(fake_http_count(env->fh), fetches + 2);
    ck_assert_ptr_ne(m, calls[0].doc);
    ck_assert_uint_eq(fake_http_unexpected(env->fh), 0);
}
END_TEST

START_TEST(test_provider_no_metadata_fails_fast_while_fetch_hangs)
{
    int slow = 1;
    test_env_t *env = test_env_create(rts_test_pool);
    call_t calls[4];
    int i;

    fake_http_set_hook(env->fh, slow_hook, &slow);
    fake_http_push_error(env->fh, APR_TIMEUP);
    race(env, 0, calls, 4);
    ck_assert_int_ne(calls[0].rv, APR_SUCCESS);
    for (i = 1; i < 4; i++) {
        ck_assert_int_eq(calls[i].rv, RTS_EUPSTREAM);
        ck_assert_msg(calls[i].took < FAST, "caller %d waited %" APR_TIME_T_FMT " us", i,
                      calls[i].took);
    }
    ck_assert_uint_eq(fake_http_count(env->fh), 1);
}
END_TEST

START_TEST(test_provider_stale_jwks_while_fetch_hangs)
{
    int slow = 0;
    test_env_t *env = env_with_cache(&slow, 1);
    const rts_jwks_t *j;
    call_t calls[5];
    unsigned fetches;
    rts_result_t res;

    /* stale JWKS; the metadata refetched, fresh */
    {
        const rts_provider_meta_t *m;
        rts_result_reset(&res);
        env->now += env->cfg->metadata_ttl + apr_time_from_sec(1);
        test_env_push_discovery(env);
        ck_assert_int_eq(rts_provider_meta(test_env_ctx(env), &m, &res), APR_SUCCESS);
    }
    slow = 1;
    fake_http_push_error(env->fh, APR_TIMEUP);
    fetches = fake_http_count(env->fh);
    race(env, 1, calls, 5);
    assert_others_served_at_once(calls, 5);
    ck_assert_uint_eq(fake_http_count(env->fh), fetches + 1);
    slow = 0;
    rts_result_reset(&res);
    ck_assert_int_eq(rts_provider_jwks(test_env_ctx(env), 0, &j, &res), APR_SUCCESS);
    ck_assert_uint_eq(fake_http_count(env->fh), fetches + 1);     /* failed recently: no fetch */
    ck_assert_uint_eq(fake_http_unexpected(env->fh), 0);
}
END_TEST

/* Past the bound, a stale copy is no longer used while the provider fails. */
START_TEST(test_provider_stale_metadata_is_bounded)
{
    int slow = 0;
    test_env_t *env = env_with_cache(&slow, 0);
    const rts_provider_meta_t *m;
    rts_result_t res;

    rts_result_reset(&res);
    env->now += env->cfg->metadata_ttl + apr_time_from_sec(25 * 3600);
    fake_http_push_error(env->fh, APR_ECONNREFUSED);
    ck_assert_int_ne(rts_provider_meta(test_env_ctx(env), &m, &res), APR_SUCCESS);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_provider_meta(test_env_ctx(env), &m, &res), RTS_EUPSTREAM);
    ck_assert_str_eq(res.error, "provider_unavailable");
}
END_TEST

Suite *rts_suite_provider(void)
{
    Suite *s = suite_create("provider");
    TCase *tc = tcase_create("provider");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_set_timeout(tc, 30);
#if APR_HAS_THREADS
    tcase_add_test(tc, test_provider_stale_metadata_while_fetch_hangs);
    tcase_add_test(tc, test_provider_no_metadata_fails_fast_while_fetch_hangs);
    tcase_add_test(tc, test_provider_stale_jwks_while_fetch_hangs);
#endif
    tcase_add_test(tc, test_provider_stale_metadata_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}
