/* SPDX-License-Identifier: Apache-2.0 */
/* Session lifetime: idle timeout by item expiry, the touch slide, absolute and refresh-token
 * ends. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "rts_flow.h"
#include "rts_lifetime.h"
#include "rts_session.h"

static test_env_t *env;

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
    env->cfg->idle_timeout = apr_time_from_sec(60);
    env->cfg->touch_interval = apr_time_from_sec(10);
    env->cfg->session_max = apr_time_from_sec(3600);
}

/* A stored session, created now, as a request would load it. */
static rts_session_t *stored(apr_time_t rt_expires)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *s = apr_pcalloc(rts_test_pool, sizeof(*s));
    rts_session_t *loaded;

    ck_assert_int_eq(rts_session_new_id(rts_test_pool, &s->id), APR_SUCCESS);
    s->gen = 1;
    s->sub = "alice";
    s->access_token = "AT1";
    s->refresh_token = "RT1";
    s->rt_expires = rt_expires;
    s->created = env->now;
    ck_assert_int_eq(rts_session_add(ctx, s), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(ctx, s->id, &loaded), APR_SUCCESS);
    return loaded;
}

static int alive(const rts_session_t *s)
{
    rts_session_t *cur;

    return rts_session_load(test_env_ctx(env), s->id, &cur) == APR_SUCCESS;
}

static rts_ctx_t *ctx_with_memo(rts_touch_memo_t *memo)
{
    rts_ctx_t *ctx = test_env_ctx(env);

    ctx->touch_memo = memo;
    return ctx;
}

START_TEST(test_lifetime_ttl_is_earliest_deadline)
{
    rts_session_t *s = stored(0);

    /* idle (60 s) first */
    ck_assert_uint_eq(rts_lifetime_ttl(test_env_ctx(env), s, env->now), 60);
    /* near the absolute end, what is left of it */
    ck_assert_uint_eq(rts_lifetime_ttl(test_env_ctx(env), s, env->now + apr_time_from_sec(3590)),
                      10);
    /* the refresh token's expiry when it is earlier still */
    s->rt_expires = env->now + apr_time_from_sec(30);
    ck_assert_uint_eq(rts_lifetime_ttl(test_env_ctx(env), s, env->now), 30);
    /* idle off: the absolute end */
    s->rt_expires = 0;
    env->cfg->idle_timeout = 0;
    ck_assert_uint_eq(rts_lifetime_ttl(test_env_ctx(env), s, env->now), 3600);
    /* never 0 (memcached's "forever") even past the end */
    ck_assert_uint_eq(rts_lifetime_ttl(test_env_ctx(env), s, env->now + apr_time_from_sec(7200)),
                      1);
}
END_TEST

START_TEST(test_lifetime_record_keeps_last_write)
{
    rts_session_t *s = stored(0);

    ck_assert(s->seen == env->now);
    env->now += apr_time_from_sec(5);
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), s), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &s), APR_SUCCESS);
    ck_assert(s->seen == env->now);
}
END_TEST

START_TEST(test_lifetime_idle_session_expires_in_store)
{
    rts_session_t *s = stored(0);

    env->now += apr_time_from_sec(59);
    ck_assert(alive(s));
    env->now += apr_time_from_sec(2);
    ck_assert(!alive(s));
}
END_TEST

START_TEST(test_lifetime_slide_not_before_interval)
{
    rts_session_t *s = stored(0);
    int touched = 1;

    fake_store_reset_counts(env->fs);
    env->now += apr_time_from_sec(9);
    ck_assert_int_eq(rts_lifetime_slide(test_env_ctx(env), s, &touched), APR_SUCCESS);
    ck_assert_int_eq(touched, 0);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_ANY), 0);
}
END_TEST

START_TEST(test_lifetime_slide_once_per_interval_with_memo)
{
    rts_session_t *s = stored(0);
    rts_touch_memo_t *memo;
    int touched, i;

    ck_assert_int_eq(rts_touch_memo_create(rts_test_pool, &memo), APR_SUCCESS);
    fake_store_reset_counts(env->fs);
    /* 50 requests, one every 0.5 s from +10 s to +35 s: slots 1, 2 and 3 */
    env->now += apr_time_from_sec(10);
    for (i = 0; i < 50; i++) {
        ck_assert_int_eq(rts_lifetime_slide(ctx_with_memo(memo), s, &touched), APR_SUCCESS);
        env->now += apr_time_from_msec(500);
    }
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_TOUCH), 3);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_CAS), 0);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_SET), 0);
    /* the last touch at +30 s keeps it alive until +90 s, though created at 0 with idle 60 */
    env->now = TEST_T0 + apr_time_from_sec(89);
    ck_assert(alive(s));
    env->now = TEST_T0 + apr_time_from_sec(91);
    ck_assert(!alive(s));
}
END_TEST

START_TEST(test_lifetime_slide_without_memo_touches_when_due)
{
    rts_session_t *s = stored(0);
    int touched;

    fake_store_reset_counts(env->fs);
    env->now += apr_time_from_sec(10);
    ck_assert_int_eq(rts_lifetime_slide(test_env_ctx(env), s, &touched), APR_SUCCESS);
    ck_assert_int_eq(touched, 1);
    ck_assert_int_eq(rts_lifetime_slide(test_env_ctx(env), s, &touched), APR_SUCCESS);
    ck_assert_int_eq(touched, 1);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_TOUCH), 2);
}
END_TEST

START_TEST(test_lifetime_memo_restarts_after_a_write)
{
    rts_session_t *s = stored(0);
    rts_touch_memo_t *memo;
    int touched;

    ck_assert_int_eq(rts_touch_memo_create(rts_test_pool, &memo), APR_SUCCESS);
    env->now += apr_time_from_sec(25);                  /* slot 2 of the first anchor */
    ck_assert_int_eq(rts_lifetime_slide(ctx_with_memo(memo), s, &touched), APR_SUCCESS);
    ck_assert_int_eq(touched, 1);
    /* a refresh rewrites the record: slots count from the new write */
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), s), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &s), APR_SUCCESS);
    env->now += apr_time_from_sec(10);                  /* slot 1 of the new anchor */
    ck_assert_int_eq(rts_lifetime_slide(ctx_with_memo(memo), s, &touched), APR_SUCCESS);
    ck_assert_int_eq(touched, 1);
}
END_TEST

START_TEST(test_lifetime_slide_keeps_cas_unique)
{
    rts_session_t *s = stored(0);
    rts_session_t *cur;
    int touched;

    env->now += apr_time_from_sec(10);
    ck_assert_int_eq(rts_lifetime_slide(test_env_ctx(env), s, &touched), APR_SUCCESS);
    ck_assert_int_eq(touched, 1);
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &cur), APR_SUCCESS);
    ck_assert(cur->cas == s->cas);
    /* so a refresh intent CAS based on the earlier read still succeeds */
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), s), APR_SUCCESS);
}
END_TEST

START_TEST(test_lifetime_slide_gone_item)
{
    rts_session_t *s = stored(0);
    int touched;

    fake_store_remove(env->fs, s->store_key);
    env->now += apr_time_from_sec(10);
    ck_assert_int_eq(rts_lifetime_slide(test_env_ctx(env), s, &touched), APR_ENOENT);
}
END_TEST

START_TEST(test_lifetime_idle_off_never_touches)
{
    rts_session_t *s;
    int touched = 1;

    env->cfg->idle_timeout = 0;
    s = stored(0);
    env->now += apr_time_from_sec(100);
    ck_assert_int_eq(rts_lifetime_slide(test_env_ctx(env), s, &touched), APR_SUCCESS);
    ck_assert_int_eq(touched, 0);
    ck_assert(alive(s));
}
END_TEST

START_TEST(test_lifetime_check_verdicts)
{
    rts_session_t *s = stored(env->now + apr_time_from_sec(100));

    ck_assert_int_eq(rts_lifetime_check(test_env_ctx(env), s, env->now), RTS_LIFETIME_OK);
    ck_assert_int_eq(rts_lifetime_check(test_env_ctx(env), s, env->now + apr_time_from_sec(100)),
                     RTS_LIFETIME_RT_EXPIRED);
    s->rt_expires = 0;
    ck_assert_int_eq(rts_lifetime_check(test_env_ctx(env), s, env->now + apr_time_from_sec(3599)),
                     RTS_LIFETIME_OK);
    ck_assert_int_eq(rts_lifetime_check(test_env_ctx(env), s, env->now + apr_time_from_sec(3600)),
                     RTS_LIFETIME_MAX);
}
END_TEST

static rts_outcome_t *authenticate(const rts_session_t *s, int navigation)
{
    rts_outcome_t *out = apr_pcalloc(rts_test_pool, sizeof(*out));
    rts_req_t *req = apr_pcalloc(rts_test_pool, sizeof(*req));

    req->method = "GET";
    req->secure = 1;
    req->origin = "https://rp.example.test:8443";
    req->uri = "/app";
    req->cookie_header = apr_pstrcat(rts_test_pool, "__Host-rtsession=", s->id, NULL);
    req->navigation = navigation;
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), req, out), APR_SUCCESS);
    return out;
}

START_TEST(test_lifetime_flow_absolute_end)
{
    rts_session_t *s;

    env->cfg->idle_timeout = 0;
    s = stored(0);
    ck_assert_int_eq(authenticate(s, 0)->kind, RTS_OUT_PASS);
    env->now += apr_time_from_sec(3600);
    ck_assert_int_eq(authenticate(s, 0)->kind, RTS_OUT_DENY);
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

START_TEST(test_lifetime_flow_refresh_token_expiry_ends)
{
    rts_session_t *s = stored(env->now + apr_time_from_sec(30));

    env->now += apr_time_from_sec(29);
    ck_assert_int_eq(authenticate(s, 0)->kind, RTS_OUT_PASS);
    env->now += apr_time_from_sec(1);
    ck_assert_int_eq(authenticate(s, 0)->kind, RTS_OUT_DENY);
}
END_TEST

START_TEST(test_lifetime_flow_active_session_outlives_idle)
{
    rts_session_t *s = stored(0);
    rts_outcome_t *out;
    int i;

    /* a request every 20 s for 5 minutes: idle 60 s never reached */
    for (i = 0; i < 15; i++) {
        env->now += apr_time_from_sec(20);
        out = authenticate(s, 0);
        ck_assert_int_eq(out->kind, RTS_OUT_PASS);
    }
    /* then 61 s of silence */
    env->now += apr_time_from_sec(61);
    ck_assert_int_eq(authenticate(s, 0)->kind, RTS_OUT_DENY);
}
END_TEST

Suite *rts_suite_lifetime(void)
{
    Suite *s = suite_create("lifetime");
    TCase *tc = tcase_create("lifetime");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_lifetime_ttl_is_earliest_deadline);
    tcase_add_test(tc, test_lifetime_record_keeps_last_write);
    tcase_add_test(tc, test_lifetime_idle_session_expires_in_store);
    tcase_add_test(tc, test_lifetime_slide_not_before_interval);
    tcase_add_test(tc, test_lifetime_slide_once_per_interval_with_memo);
    tcase_add_test(tc, test_lifetime_slide_without_memo_touches_when_due);
    tcase_add_test(tc, test_lifetime_memo_restarts_after_a_write);
    tcase_add_test(tc, test_lifetime_slide_keeps_cas_unique);
    tcase_add_test(tc, test_lifetime_slide_gone_item);
    tcase_add_test(tc, test_lifetime_idle_off_never_touches);
    tcase_add_test(tc, test_lifetime_check_verdicts);
    tcase_add_test(tc, test_lifetime_flow_absolute_end);
    tcase_add_test(tc, test_lifetime_flow_refresh_token_expiry_ends);
    tcase_add_test(tc, test_lifetime_flow_active_session_outlives_idle);
    suite_add_tcase(s, tc);
    return s;
}
