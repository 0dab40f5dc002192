/* Refresh coordination: one token call per generation, whatever the interleaving. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "rts_refresh.h"
#include "rts_session.h"
#include "rts_util.h"

#define TOKEN_OK(at, rt) "{\"access_token\":\"" at "\",\"token_type\":\"Bearer\"," \
                         "\"expires_in\":300,\"refresh_token\":\"" rt "\"}"

static test_env_t *env;

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
    test_env_push_discovery(env);
}

/* A stored session whose access token expires in `at_in` (may be negative). */
static rts_session_t *stored_session(apr_interval_time_t at_in)
{
    return test_env_session(env, at_in);
}

static rts_session_t *current(const rts_session_t *s)
{
    rts_session_t *cur;

    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &cur), APR_SUCCESS);
    return cur;
}

static unsigned token_calls(void)
{
    unsigned i, n = 0;

    for (i = 0; i < fake_http_count(env->fh); i++) {
        if (strstr(fake_http_request(env->fh, i)->url, "/token")) {
            n++;
        }
    }
    return n;
}

START_TEST(test_refresh_not_due_costs_nothing)
{
    rts_session_t *s = stored_session(apr_time_from_sec(600));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_store_reset_counts(env->fs);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_NOT_DUE);
    ck_assert_uint_eq(fake_http_count(env->fh), 0);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_ANY), 0);
}
END_TEST

START_TEST(test_refresh_due_refreshes_once_and_rotates)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));  /* inside the 60 s window */
    rts_refresh_outcome_t out;
    rts_result_t res;
    rts_session_t *cur;
    const rts_http_request_t *req;

    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), "Content-Type", "application/json", NULL);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DONE);
    ck_assert_str_eq(s->access_token, "AT2");
    ck_assert_int_eq(token_calls(), 1);
    req = fake_http_last(env->fh);
    ck_assert_ptr_nonnull(strstr(req->body, "grant_type=refresh_token"));
    ck_assert_ptr_nonnull(strstr(req->body, "refresh_token=RT1"));
    cur = current(s);
    ck_assert_int_eq(cur->gen, 2);
    ck_assert_str_eq(cur->refresh_token, "RT2");
    ck_assert_str_eq(cur->access_token, "AT2");
    ck_assert_ptr_null(cur->lock_owner);
    ck_assert_int_eq(cur->at_expires, env->now + apr_time_from_sec(300));
}
END_TEST

/* A store whose n-th cas is applied but answered RTS_ESTOREUNKNOWN (the answer was lost). */
typedef struct {
    rts_store_t store;
    rts_store_t *inner;
    int cas_calls, lie_at;
} lost_answer_store_t;

static apr_status_t la_get(rts_store_t *s, apr_pool_t *p, const char *g, const char *k,
                           const char **v, apr_size_t *l, apr_uint64_t *c)
{
    rts_store_t *in = ((lost_answer_store_t *)s->impl)->inner;
    return in->get(in, p, g, k, v, l, c);
}

static apr_status_t la_cas(rts_store_t *s, const char *g, const char *k, const char *v,
                           apr_size_t l, apr_uint32_t ttl, apr_uint64_t c)
{
    lost_answer_store_t *la = s->impl;
    apr_status_t rv = la->inner->cas(la->inner, g, k, v, l, ttl, c);

    return ++la->cas_calls == la->lie_at && rv == APR_SUCCESS ? RTS_ESTOREUNKNOWN : rv;
}

static rts_ctx_t *ctx_losing_cas_answer(int lie_at)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    lost_answer_store_t *la = apr_pcalloc(rts_test_pool, sizeof(*la));

    la->inner = ctx->store;
    la->store = *ctx->store;
    la->store.get = la_get;
    la->store.cas = la_cas;
    la->store.impl = la;
    la->lie_at = lie_at;
    ctx->store = &la->store;
    return ctx;
}

/* The intent's CAS was applied but its answer lost: the re-read shows our owner, so this
 * request holds the intent and refreshes (before: a store failure, the intent left hanging
 * until it expired and every request deferred or got 503). */
START_TEST(test_refresh_intent_cas_answer_lost)
{
    rts_session_t *s = stored_session(apr_time_from_sec(-1));
    rts_refresh_outcome_t out;
    rts_result_t res;

    rts_result_reset(&res);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), "Content-Type", "application/json", NULL);
    ck_assert_int_eq(rts_refresh_ensure(ctx_losing_cas_answer(1), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 1);
    ck_assert_int_eq(current(s)->gen, 2);
    ck_assert_str_eq(current(s)->refresh_token, "RT2");
    ck_assert_ptr_null(current(s)->lock_owner);
}
END_TEST

/* The new generation's CAS was applied but its answer lost: not "could not be stored". */
START_TEST(test_refresh_generation_cas_answer_lost)
{
    rts_session_t *s = stored_session(apr_time_from_sec(-1));
    rts_refresh_outcome_t out;
    rts_result_t res;

    rts_result_reset(&res);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), "Content-Type", "application/json", NULL);
    ck_assert_int_eq(rts_refresh_ensure(ctx_losing_cas_answer(2), &s, &out, &res), APR_SUCCESS);
    ck_assert_msg(out == RTS_REFRESH_DONE || out == RTS_REFRESH_FOLLOWED, "outcome %d", out);
    ck_assert_str_eq(s->access_token, "AT2");
    ck_assert_int_eq(token_calls(), 1);
    ck_assert_int_eq(current(s)->gen, 2);
}
END_TEST

/* Another process takes the intent between our read and our CAS. */
static void steal_intent(fake_store_t *fs, fake_store_op_t op, const char *key, void *baton)
{
    rts_session_t *victim = baton;
    rts_session_t *other;
    rts_ctx_t *ctx;

    if (op != FAKE_STORE_OP_CAS || !victim) {
        return;
    }
    fake_store_set_hook(fs, NULL, NULL);
    ctx = test_env_ctx(env);
    ck_assert_int_eq(rts_session_load(ctx, victim->id, &other), APR_SUCCESS);
    other->lock_owner = "other-process";
    other->lock_until = env->now + apr_time_from_sec(10);
    ck_assert_int_eq(rts_session_cas(ctx, other), APR_SUCCESS);
}

START_TEST(test_refresh_lost_race_with_valid_token_goes_on)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_store_set_hook(env->fs, steal_intent, s);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DEFERRED);
    ck_assert_str_eq(s->access_token, "AT1");
    ck_assert_int_eq(token_calls(), 0);
    ck_assert_uint_eq(env->sleeps, 0);       /* a valid access token never waits */
}
END_TEST

START_TEST(test_refresh_expired_token_waits_for_next_generation)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));   /* already expired */
    rts_refresh_outcome_t out;
    rts_result_t res;
    rts_session_t *held = current(s);

    held->lock_owner = "other-process";
    held->lock_until = env->now + apr_time_from_sec(10);
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), held), APR_SUCCESS);
    s = current(s);
    env->on_sleep = test_env_next_gen_at_third_sleep;  /* the holder finishes */
    env->on_sleep_baton = s;
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_FOLLOWED);
    ck_assert_str_eq(s->access_token, "AT2");
    ck_assert_int_eq(token_calls(), 0);
    ck_assert_uint_eq(env->sleeps, 3);
    /* woken within one poll step of the new generation */
    ck_assert_int_le(env->now - TEST_T0, 3 * RTS_REFRESH_POLL);
}
END_TEST

START_TEST(test_refresh_takes_over_expired_intent)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_refresh_outcome_t out;
    rts_result_t res;
    rts_session_t *held = current(s);

    /* a holder that died: its intent runs out in 50 ms */
    held->lock_owner = "dead-process";
    held->lock_until = env->now + apr_time_from_msec(50);
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), held), APR_SUCCESS);
    s = current(s);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 1);
    ck_assert_int_ge(env->now - TEST_T0, apr_time_from_msec(50));
    ck_assert_int_eq(current(s)->gen, 2);
}
END_TEST

START_TEST(test_refresh_invalid_grant_ends_session)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_session_t *gone;
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_push(env->fh, 400, "{\"error\":\"invalid_grant\"}", NULL);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_ENDED);
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &gone), APR_ENOENT);
}
END_TEST

START_TEST(test_refresh_transient_failure_keeps_session)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;
    rts_session_t *cur;

    fake_http_push(env->fh, 503, "busy", NULL);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DEFERRED);
    cur = current(s);
    ck_assert_int_eq(cur->gen, 1);
    ck_assert_str_eq(cur->refresh_token, "RT1");
    ck_assert_ptr_null(cur->lock_owner);      /* intent released: the token was not spent */
}
END_TEST

START_TEST(test_refresh_timeout_with_expired_token_is_unavailable)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(5));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_push_error(env->fh, APR_TIMEUP);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(current(s)->gen, 1);
    ck_assert_ptr_null(current(s)->lock_owner);
    /* and when the provider is back, the same session refreshes */
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    s = current(s);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DONE);
    ck_assert_str_eq(current(s)->refresh_token, "RT2");
}
END_TEST

START_TEST(test_refresh_without_rotation_keeps_refresh_token)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_push(env->fh, 200,
                   "{\"access_token\":\"AT2\",\"token_type\":\"bearer\",\"expires_in\":300}", NULL);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DONE);
    ck_assert_str_eq(current(s)->refresh_token, "RT1");
    ck_assert_str_eq(current(s)->access_token, "AT2");
}
END_TEST

/* A writer that rewrites the same generation while our token call is in flight. */
static void rewrite_same_generation(fake_http_t *fh, const rts_http_request_t *req, void *baton)
{
    rts_session_t *cur;
    rts_ctx_t *ctx = test_env_ctx(env);

    if (!strstr(req->url, "/token")) {
        return;
    }
    ck_assert_int_eq(rts_session_load(ctx, ((rts_session_t *)baton)->id, &cur), APR_SUCCESS);
    ck_assert_int_eq(rts_session_cas(ctx, cur), APR_SUCCESS);
}

START_TEST(test_refresh_final_write_survives_concurrent_rewrite)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_set_hook(env->fh, rewrite_same_generation, s);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DONE);
    ck_assert_str_eq(current(s)->refresh_token, "RT2");
    ck_assert_int_eq(current(s)->gen, 2);
}
END_TEST

static void delete_during_call(fake_http_t *fh, const rts_http_request_t *req, void *baton)
{
    if (strstr(req->url, "/token")) {
        fake_store_remove(env->fs, ((rts_session_t *)baton)->store_key);
    }
}

START_TEST(test_refresh_logout_during_call_ends)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_refresh_outcome_t out;
    rts_result_t res;
    rts_session_t *gone;

    fake_http_set_hook(env->fh, delete_during_call, s);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_ENDED);
    /* the new tokens are not written back into a deleted session */
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &gone), APR_ENOENT);
}
END_TEST

START_TEST(test_refresh_store_down_while_taking_intent)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_session_t *s2;
    rts_refresh_outcome_t out;
    rts_result_t res;

    s2 = current(s);
    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_CAS, APR_ECONNREFUSED);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DEFERRED);
    env->now += apr_time_from_sec(31);           /* now expired */
    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_CAS, APR_ECONNREFUSED);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &s2, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(res.http_status, 503);
    ck_assert_int_eq(token_calls(), 0);
}
END_TEST

/* Many requests read the same version at once; only one CAS can win. */
START_TEST(test_refresh_storm_one_token_call)
{
    enum { N = 25 };
    rts_session_t *first = stored_session(apr_time_from_sec(30));
    rts_session_t *readers[N];
    rts_refresh_outcome_t out;
    rts_result_t res;
    int i, done = 0, deferred = 0;

    for (i = 0; i < N; i++) {
        readers[i] = current(first);
    }
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    for (i = 0; i < N; i++) {
        ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &readers[i], &out, &res), APR_SUCCESS);
        done += out == RTS_REFRESH_DONE;
        deferred += out == RTS_REFRESH_FOLLOWED || out == RTS_REFRESH_NOT_DUE;
    }
    ck_assert_int_eq(done, 1);
    ck_assert_int_eq(deferred, N - 1);
    ck_assert_int_eq(token_calls(), 1);
    for (i = 0; i < N; i++) {
        ck_assert_str_eq(readers[i]->access_token, "AT2");
    }
}
END_TEST

START_TEST(test_refresh_at_expiry_sources)
{
    apr_time_t now = TEST_T0;
    const char *jwt_payload = rts_b64url_encode(rts_test_pool,
                                                (const unsigned char *)"{\"exp\":1700000900}", 18);
    const char *jwt = apr_pstrcat(rts_test_pool, "eyJhbGciOiJSUzI1NiJ9.", jwt_payload, ".c2ln", NULL);

    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, "opaque", 120, now),
                     now + apr_time_from_sec(120));
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, jwt, -1, now),
                     apr_time_from_sec(1700000900));
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, "opaque", -1, now), 0);
}
END_TEST

Suite *rts_suite_refresh(void)
{
    Suite *s = suite_create("refresh");
    TCase *tc = tcase_create("refresh");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_refresh_not_due_costs_nothing);
    tcase_add_test(tc, test_refresh_due_refreshes_once_and_rotates);
    tcase_add_test(tc, test_refresh_lost_race_with_valid_token_goes_on);
    tcase_add_test(tc, test_refresh_expired_token_waits_for_next_generation);
    tcase_add_test(tc, test_refresh_takes_over_expired_intent);
    tcase_add_test(tc, test_refresh_invalid_grant_ends_session);
    tcase_add_test(tc, test_refresh_transient_failure_keeps_session);
    tcase_add_test(tc, test_refresh_timeout_with_expired_token_is_unavailable);
    tcase_add_test(tc, test_refresh_without_rotation_keeps_refresh_token);
    tcase_add_test(tc, test_refresh_final_write_survives_concurrent_rewrite);
    tcase_add_test(tc, test_refresh_logout_during_call_ends);
    tcase_add_test(tc, test_refresh_store_down_while_taking_intent);
    tcase_add_test(tc, test_refresh_storm_one_token_call);
    tcase_add_test(tc, test_refresh_at_expiry_sources);
    tcase_add_test(tc, test_refresh_intent_cas_answer_lost);
    tcase_add_test(tc, test_refresh_generation_cas_answer_lost);
    suite_add_tcase(s, tc);
    return s;
}
