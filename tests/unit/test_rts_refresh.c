/* SPDX-License-Identifier: Apache-2.0 */
/* Refresh coordination: one token call per generation, whatever the interleaving. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "test_keys.h"
#include "rts_refresh.h"
#include "rts_session.h"
#include "rts_util.h"
#include "rts_metrics.h"

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
    ck_assert_ptr_null(cur->intent_owner);
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
    ck_assert_ptr_null(current(s)->intent_owner);
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
    other->intent_owner = "other-process";
    other->intent_until = env->now + apr_time_from_sec(10);
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

    held->intent_owner = "other-process";
    held->intent_until = env->now + apr_time_from_sec(10);
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
    held->intent_owner = "dead-process";
    held->intent_until = env->now + apr_time_from_msec(50);
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
    ck_assert_ptr_null(cur->intent_owner);      /* intent released: the token was not spent */
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
    ck_assert_int_eq(res.retry_after, 1);            /* the first backoff step */
    ck_assert_int_eq(current(s)->gen, 1);
    ck_assert_ptr_null(current(s)->intent_owner);
    /* and when the provider is back, after the backoff, the same session refreshes */
    env->now += RTS_REFRESH_BACKOFF_FIRST;
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

    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, "opaque", 120, 1, now),
                     now + apr_time_from_sec(120));
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, jwt, -1, 1, now),
                     apr_time_from_sec(1700000900));
    /* unknown lifetime: a default one when a refresh token can renew it, else never */
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, "opaque", -1, 1, now),
                     now + apr_time_from_sec(RTS_REFRESH_DEFAULT_LIFETIME));
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, "opaque", -1, 0, now), 0);
    /* a fractional exp is a NumericDate too (RFC 7519 §2): floored, not unknown */
    jwt = apr_pstrcat(rts_test_pool, "eyJhbGciOiJSUzI1NiJ9.",
                      rts_b64url_encode(rts_test_pool,
                                        (const unsigned char *)"{\"exp\":1700000900.7}", 20),
                      ".c2ln", NULL);
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, jwt, -1, 1, now),
                     apr_time_from_sec(1700000900));
    /* past year 9999 or not a number: unknown */
    jwt = apr_pstrcat(rts_test_pool, "eyJhbGciOiJSUzI1NiJ9.",
                      rts_b64url_encode(rts_test_pool,
                                        (const unsigned char *)"{\"exp\":\"1700000900\"}", 20),
                      ".c2ln", NULL);
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, jwt, -1, 1, now),
                     now + apr_time_from_sec(RTS_REFRESH_DEFAULT_LIFETIME));
    /* expires_in 0 or 1 would mean a token call per request */
    ck_assert_int_eq(rts_refresh_at_expiry(rts_test_pool, "opaque", 0, 1, now),
                     now + apr_time_from_sec(RTS_REFRESH_MIN_LIFETIME));
}
END_TEST


/* ---- refresh outcomes (issue 11 items 1-4): one helper per simulated request ---- */

static rts_refresh_outcome_t request(rts_session_t **ps, rts_result_t *res)
{
    rts_refresh_outcome_t out;

    rts_result_reset(res);
    *ps = current(*ps);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), ps, &out, res), APR_SUCCESS);
    return out;
}

static int session_gone(const rts_session_t *s)
{
    rts_session_t *gone;

    return rts_session_load(test_env_ctx(env), s->id, &gone) == APR_ENOENT;
}

/* The session as after one successful rotation (an invalid_grant now is the reuse signal). */
static rts_session_t *rotated_session(apr_interval_time_t at_in)
{
    rts_session_t *s = stored_session(at_in);

    s->gen = 2;
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), s), APR_SUCCESS);
    return current(s);
}

/* Item 1: refusals that do not look like invalid_grant end the session at the first answer. */
START_TEST(test_refresh_refusals_end_session)
{
    static const struct { int status; const char *body; const char *ctype; } cases[] = {
        {400, "", NULL},                                        /* 400, empty body */
        {400, "{\"error\":\"invalid_request\"}", "application/json"},
        {400, "{\"error\":\"unsupported_grant_type\"}", "application/json"},
        {400, "Bad Request", "text/plain"},
        {403, "<html><body>Forbidden</body></html>", "text/html"},
        {403, "", NULL},
        {403, "{\"error\":\"access_denied\"}", "application/json"},
    };
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rts_session_t *s = stored_session(apr_time_from_sec(30));
        unsigned before = token_calls();
        rts_result_t res;

        if (cases[i].ctype) {
            fake_http_push(env->fh, cases[i].status, cases[i].body, "Content-Type",
                           cases[i].ctype, NULL);
        }
        else {
            fake_http_push(env->fh, cases[i].status, cases[i].body, NULL);
        }
        ck_assert_msg(request(&s, &res) == RTS_REFRESH_ENDED, "case %u", i);
        ck_assert_msg(session_gone(s), "case %u: session kept", i);
        ck_assert_uint_eq(token_calls(), before + 1);
    }
}
END_TEST

/* Item 1: the client's own authentication refused: configuration, not the user's fault. The
 * session stays, and the next request within the backoff makes no token call. */
START_TEST(test_refresh_client_auth_failure_keeps_session)
{
    static const struct { int status; const char *body; } cases[] = {
        {401, ""},
        {401, "{\"error\":\"invalid_client\"}"},
        {400, "{\"error\":\"invalid_client\"}"},
        {403, "{\"error\":\"unauthorized_client\"}"},
        {400, "{\"error\":\"unauthorized_client\"}"},
        {500, "{\"error\":\"invalid_client\"}"},
    };
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rts_session_t *s = stored_session(apr_time_from_sec(30));
        unsigned before = token_calls();
        rts_result_t res;

        fake_http_push(env->fh, cases[i].status, cases[i].body, NULL);
        ck_assert_msg(request(&s, &res) == RTS_REFRESH_DEFERRED, "case %u", i);
        ck_assert_msg(!session_gone(s), "case %u: session ended", i);
        ck_assert_str_eq(current(s)->refresh_token, "RT1");
        ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DEFERRED);
        ck_assert_msg(token_calls() == before + 1, "case %u: %u calls", i,
                      token_calls() - before);
    }
}
END_TEST

/* Item 1: during an outage, an expired session gets 503 + Retry-After between attempts, and
 * at most one token call per backoff step, whatever the number of requests. */
START_TEST(test_refresh_backoff_one_call_per_step)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;
    int i;
    /* a connection refused is never sent: the backoff grows 1, 2, 4, 8, 16, 30, 30 s */
    static const int waits[] = {1, 2, 4, 8, 16, 30, 30};

    for (i = 0; i < 7; i++) {
        fake_http_push_error(env->fh, APR_ECONNREFUSED);
    }
    for (i = 0; i < 7; i++) {
        unsigned before = token_calls();
        int r;
        ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
        ck_assert_uint_eq(token_calls(), before + 1);
        ck_assert_int_eq(res.http_status, 503);
        ck_assert_int_eq(res.retry_after, waits[i]);
        /* ten more requests spread over the step: no token call, the remaining wait */
        for (r = 0; r < 10; r++) {
            env->now += apr_time_from_sec(waits[i]) / 11;
            ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
            ck_assert_int_ge(res.retry_after, 1);
            ck_assert_int_le(res.retry_after, waits[i]);
        }
        ck_assert_uint_eq(token_calls(), before + 1);
        env->now += apr_time_from_sec(waits[i]) - 10 * (apr_time_from_sec(waits[i]) / 11);
    }
    ck_assert_uint_eq(fake_http_pending(env->fh), 0);
    ck_assert(!session_gone(s));
}
END_TEST

/* Item 1: the backoff lives in the record: a request on another host (another context) honours
 * it; a request with a still-valid access token goes on without a call. */
START_TEST(test_refresh_backoff_shared_and_valid_token_goes_on)
{
    rts_session_t *s = stored_session(apr_time_from_sec(30));
    rts_session_t *other;
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_push_error(env->fh, APR_ECONNREFUSED);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DEFERRED);
    ck_assert_int_eq(token_calls(), 1);
    /* "another host": its own context and its own read of the record */
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), s->id, &other), APR_SUCCESS);
    ck_assert_int_eq(rts_refresh_ensure(test_env_ctx(env), &other, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_DEFERRED);
    ck_assert_str_eq(other->access_token, "AT1");
    ck_assert_int_eq(token_calls(), 1);
    /* after the step, the next request refreshes */
    env->now += RTS_REFRESH_BACKOFF_FIRST;
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 2);
    ck_assert_int_eq(current(s)->retry_at, 0);
    ck_assert_int_eq(current(s)->retry_step, 0);
}
END_TEST

/* Item 1: a 429's Retry-After is honoured (within the 30 s bound). */
START_TEST(test_refresh_retry_after_honoured)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;

    fake_http_push(env->fh, 429, "slow down", "Retry-After", "7", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(res.retry_after, 7);
    env->now += apr_time_from_sec(6);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(res.retry_after, 1);
    ck_assert_int_eq(token_calls(), 1);
    env->now += apr_time_from_sec(1);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 2);

    /* an hour asked for: 30 s at most */
    s = stored_session(-apr_time_from_sec(1));
    fake_http_push(env->fh, 503, "", "Retry-After", "3600", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(res.retry_after, 30);
}
END_TEST

/* Item 2: an answer lost after sending; the one further attempt is refused with invalid_grant:
 * the provider had rotated. The session ends, and it is not counted as reuse. */
START_TEST(test_refresh_lost_answer_then_refused_is_not_theft)
{
    rts_session_t *s = rotated_session(apr_time_from_sec(30));
    rts_ctx_t *ctx;
    rts_metrics_t *metrics = apr_pcalloc(env->pool, sizeof(*metrics));
    rts_refresh_outcome_t out;
    rts_result_t res;

    fake_http_push_error(env->fh, RTS_EUPSTREAM);           /* reset after sending */
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DEFERRED);
    ck_assert_int_eq(current(s)->rt_lost, 1);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DEFERRED);    /* within the backoff */
    ck_assert_int_eq(token_calls(), 1);
    env->now += RTS_REFRESH_BACKOFF_FIRST;
    fake_http_push(env->fh, 400, "{\"error\":\"invalid_grant\"}", NULL);
    s = current(s);
    ctx = test_env_ctx(env);
    ctx->metrics = metrics;
    ck_assert_int_eq(rts_refresh_ensure(ctx, &s, &out, &res), APR_SUCCESS);
    ck_assert_int_eq(out, RTS_REFRESH_ENDED);
    ck_assert(session_gone(s));
    ck_assert_int_eq(token_calls(), 2);
    ck_assert_uint_eq(rts_metrics_get(metrics, RTS_M_SESSIONS_ENDED_REUSE), 0);
    ck_assert_uint_eq(rts_metrics_get(metrics, RTS_M_SESSIONS_ENDED_LOST_REFRESH), 1);
}
END_TEST

/* Item 2: a provider with a reuse grace interval accepts the one further attempt. */
START_TEST(test_refresh_lost_answer_then_accepted)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;

    fake_http_push(env->fh, 502, "<html>Bad Gateway</html>", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    env->now += RTS_REFRESH_BACKOFF_FIRST;
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_str_eq(current(s)->refresh_token, "RT2");
    ck_assert_int_eq(current(s)->rt_lost, 0);
    ck_assert_int_eq(token_calls(), 2);
}
END_TEST

/* Item 1/2: an outage that loses answer after answer (5xx, timeouts) keeps the session: one
 * presentation per backoff step, and it refreshes when the provider is back. */
START_TEST(test_refresh_lost_answers_keep_session_with_backoff)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;
    int r;

    fake_http_push_error(env->fh, APR_TIMEUP);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(res.retry_after, 1);
    env->now += apr_time_from_sec(1);
    fake_http_push(env->fh, 503, "down", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(res.retry_after, 2);
    for (r = 0; r < 10; r++) {                           /* 10 requests within the step */
        env->now += apr_time_from_msec(150);
        ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    }
    ck_assert_int_eq(token_calls(), 2);
    env->now += apr_time_from_msec(500);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 3);
    ck_assert_int_eq(current(s)->rt_lost, 0);
    ck_assert_int_eq(current(s)->retry_step, 0);
}
END_TEST

/* Item 2: "never sent" does not count as a presentation: after two refused connections and
 * one lost answer, the one further attempt is still made. */
START_TEST(test_refresh_never_sent_is_not_a_presentation)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;

    fake_http_push_error(env->fh, APR_ECONNREFUSED);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    env->now += apr_time_from_sec(1);
    fake_http_push_error(env->fh, APR_ECONNREFUSED);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    env->now += apr_time_from_sec(2);
    fake_http_push_error(env->fh, APR_TIMEUP);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    env->now += apr_time_from_sec(4);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 4);
}
END_TEST

/* Item 2: a 200 whose optional members are malformed but whose new refresh token is fine:
 * the old token is spent, so the new one is kept (g+1) and presented next time. */
START_TEST(test_refresh_salvages_new_refresh_token)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;
    const rts_http_request_t *req;

    fake_http_push(env->fh, 200, "{\"access_token\":\"AT2\",\"token_type\":\"Bearer\","
                   "\"expires_in\":\"300\",\"refresh_token\":\"RT2\",\"id_token\":17}", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(current(s)->gen, 2);
    ck_assert_str_eq(current(s)->refresh_token, "RT2");
    ck_assert_str_eq(current(s)->access_token, "AT1");
    ck_assert_ptr_null(current(s)->intent_owner);
    env->now += RTS_REFRESH_BACKOFF_FIRST;
    fake_http_push(env->fh, 200, TOKEN_OK("AT3", "RT3"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    req = fake_http_last(env->fh);
    ck_assert_ptr_nonnull(strstr(req->body, "refresh_token=RT2"));
    ck_assert_str_eq(current(s)->refresh_token, "RT3");
    ck_assert_int_eq(current(s)->gen, 3);
}
END_TEST

/* Item 3: slow discovery is fetched before the intent is taken, so the intent outlives the
 * token call: at the call, the intent still has at least the call's timeout ahead. */
static void check_intent_covers_call(fake_http_t *fh, const rts_http_request_t *req, void *baton)
{
    rts_session_t *cur;

    (void)fh;
    if (!strstr(req->url, "/token")) {
        return;
    }
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), ((rts_session_t *)baton)->id, &cur),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(cur->intent_owner);
    ck_assert_msg(cur->intent_until - env->now >= req->timeout + RTS_REFRESH_WRITE_MARGIN,
                  "intent ends %" APR_TIME_T_FMT " ms after the call starts, timeout %"
                  APR_TIME_T_FMT " ms", apr_time_as_msec(cur->intent_until - env->now),
                  apr_time_as_msec(req->timeout));
}

START_TEST(test_refresh_slow_discovery_before_intent)
{
    rts_session_t *s;
    rts_result_t res;

    /* the environment queued discovery; make it take 4 s of a 5 s HTTP timeout */
    fake_http_delay_last(env->fh, apr_time_from_sec(4));
    s = stored_session(-apr_time_from_sec(1));
    fake_http_set_hook(env->fh, check_intent_covers_call, s);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 1);
}
END_TEST

/* Item 3: a slow token endpoint: the call is bounded by the intent (minus the write margin),
 * so nobody can take the intent over while the call is in flight. */
START_TEST(test_refresh_token_call_bounded_by_intent)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    const rts_http_request_t *req;
    rts_result_t res;

    env->cfg->intent_ttl = apr_time_from_sec(4);              /* shorter than the HTTP timeout */
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    fake_http_delay_last(env->fh, apr_time_from_sec(60));   /* never answers in time */
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    req = fake_http_last(env->fh);
    ck_assert_int_le(req->timeout, apr_time_from_sec(4) - RTS_REFRESH_WRITE_MARGIN);
    ck_assert_int_lt(env->now - TEST_T0, apr_time_from_sec(4));   /* done inside the intent */
    ck_assert_ptr_null(current(s)->intent_owner);
    ck_assert_int_eq(current(s)->rt_lost, 1);               /* sent: outcome unknown */
}
END_TEST

/* Item 3: when the store was slow and too little of the intent is left, no token call. */
static void slow_cas(fake_store_t *fs, fake_store_op_t op, const char *key, void *baton)
{
    (void)key;
    (void)baton;
    if (op == FAKE_STORE_OP_CAS) {
        fake_store_set_hook(fs, NULL, NULL);
        env->now += env->cfg->intent_ttl - apr_time_from_msec(500);
    }
}

START_TEST(test_refresh_no_call_when_intent_nearly_spent)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;

    s = current(s);
    fake_store_set_hook(env->fs, slow_cas, NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(token_calls(), 0);
    ck_assert_ptr_null(current(s)->intent_owner);
    ck_assert_int_eq(current(s)->rt_lost, 0);
}
END_TEST

/* Item 3: a reader whose clock runs ahead of the holder's (the intent looks expired by 3 s)
 * does not take over before the clock slack has passed too. */
static apr_time_t token_call_at;

static void note_token_call(fake_http_t *fh, const rts_http_request_t *req, void *baton)
{
    (void)fh;
    (void)baton;
    if (strstr(req->url, "/token")) {
        token_call_at = env->now;
    }
}

START_TEST(test_refresh_clock_ahead_does_not_take_over_early)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_session_t *held = current(s);
    rts_result_t res;
    apr_time_t until = env->now - apr_time_from_sec(3);

    held->intent_owner = "holder-on-a-slow-clock";
    held->intent_until = until;
    ck_assert_int_eq(rts_session_cas(test_env_ctx(env), held), APR_SUCCESS);
    token_call_at = 0;
    fake_http_set_hook(env->fh, note_token_call, NULL);
    fake_http_push(env->fh, 200, TOKEN_OK("AT2", "RT2"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_ge(token_call_at, until + RTS_REFRESH_CLOCK_SLACK);
}
END_TEST

/* Item 4: a 10 s access token (shorter than the 60 s window) is refreshed at about half its
 * life, not at every request. */
START_TEST(test_refresh_short_lifetime_refreshed_at_half)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;
    int i;

    fake_http_push(env->fh, 200, "{\"access_token\":\"AT2\",\"token_type\":\"Bearer\","
                   "\"expires_in\":10,\"refresh_token\":\"RT2\"}", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    for (i = 0; i < 4; i++) {                            /* +1 .. +4 s: nothing due */
        env->now += apr_time_from_sec(1);
        ck_assert_int_eq(request(&s, &res), RTS_REFRESH_NOT_DUE);
    }
    ck_assert_int_eq(token_calls(), 1);
    env->now += apr_time_from_sec(1);                    /* +5 s: half the lifetime */
    fake_http_push(env->fh, 200, "{\"access_token\":\"AT3\",\"token_type\":\"Bearer\","
                   "\"expires_in\":10,\"refresh_token\":\"RT3\"}", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 2);
}
END_TEST

/* Item 4: an opaque access token without expires_in is refreshed after the default lifetime
 * instead of never. */
START_TEST(test_refresh_opaque_without_expires_in)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;

    fake_http_push(env->fh, 200, "{\"access_token\":\"opaque2\",\"token_type\":\"Bearer\","
                   "\"refresh_token\":\"RT2\"}", NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(current(s)->at_expires,
                     env->now + apr_time_from_sec(RTS_REFRESH_DEFAULT_LIFETIME));
    env->now += apr_time_from_sec(RTS_REFRESH_DEFAULT_LIFETIME);
    fake_http_push(env->fh, 200, TOKEN_OK("AT3", "RT3"), NULL);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(token_calls(), 2);
}
END_TEST

/* Item 3: the new ID token of a refresh, whose key needs a JWKS fetch, is validated after g+1
 * is written and the intent released (no network call but the token request under the
 * intent); until it is validated, g+1 carries the previous ID token. */
static const char *refresh_id_token(const test_key_t *k, const char *sub)
{
    long now = (long)apr_time_sec(env->now);

    return test_jws_sign(rts_test_pool, k, NULL, apr_psprintf(rts_test_pool,
        "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"sub\":\"%s\","
        "\"iat\":%ld,\"exp\":%ld}", sub, now, now + 300));
}

static int jwks_checked;

static void check_written_before_jwks(fake_http_t *fh, const rts_http_request_t *req,
                                      void *baton)
{
    rts_session_t *cur;

    (void)fh;
    if (!strstr(req->url, "/jwks")) {
        return;
    }
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), ((rts_session_t *)baton)->id, &cur),
                     APR_SUCCESS);
    ck_assert_int_eq(cur->gen, 2);
    ck_assert_str_eq(cur->refresh_token, "RT2");
    ck_assert_ptr_null(cur->intent_owner);
    ck_assert_ptr_null(cur->id_token);                   /* not yet the unvalidated one */
    jwks_checked = 1;
}

static void push_refresh_with_id_token(const char *sub)
{
    const test_key_t *keys[1];

    keys[0] = test_key_generate(rts_test_pool, "RS256", "k-new");
    fake_http_push(env->fh, 200, apr_psprintf(rts_test_pool,
                   "{\"access_token\":\"AT2\",\"token_type\":\"Bearer\",\"expires_in\":300,"
                   "\"refresh_token\":\"RT2\",\"id_token\":\"%s\"}",
                   refresh_id_token(keys[0], sub)), NULL);
    fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, keys, 1), NULL);
}

START_TEST(test_refresh_id_token_validated_after_write)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;

    jwks_checked = 0;
    push_refresh_with_id_token("alice");
    fake_http_set_hook(env->fh, check_written_before_jwks, s);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DONE);
    ck_assert_int_eq(jwks_checked, 1);
    ck_assert_ptr_nonnull(current(s)->id_token);          /* adopted once validated */
    ck_assert_ptr_nonnull(s->id_token);
    ck_assert_int_eq(current(s)->gen, 2);
}
END_TEST

START_TEST(test_refresh_bad_id_token_after_write_ends_session)
{
    rts_session_t *s = stored_session(-apr_time_from_sec(1));
    rts_result_t res;

    jwks_checked = 0;
    push_refresh_with_id_token("mallory");               /* another user: refused */
    fake_http_set_hook(env->fh, check_written_before_jwks, s);
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_ENDED);
    ck_assert_int_eq(jwks_checked, 1);
    ck_assert(session_gone(s));
}
END_TEST

/* Item 3 with the provider cache that fails fast while a fetch is in flight or after a failed
 * one: a request whose token has expired does not answer 503 at once; it waits a little, as
 * for an intent, and follows the generation another host wrote meanwhile. */
START_TEST(test_refresh_metadata_unavailable_waits_and_follows)
{
    rts_session_t *s;
    rts_result_t res;

    env = test_env_create(rts_test_pool);                      /* no discovery queued ... */
    fake_http_push(env->fh, 500, "discovery down", NULL);      /* ... the fetch fails */
    s = stored_session(-apr_time_from_sec(1));
    env->on_sleep = test_env_next_gen_at_third_sleep;          /* another host refreshes */
    env->on_sleep_baton = s;
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_FOLLOWED);
    ck_assert_str_eq(s->access_token, "AT2");
    ck_assert_int_eq(token_calls(), 0);
    ck_assert_uint_eq(env->sleeps, 3);
}
END_TEST

/* ... and gives up after RTS_REFRESH_META_WAIT with a 503, without a token call. */
START_TEST(test_refresh_metadata_unavailable_gives_up)
{
    rts_session_t *s;
    rts_result_t res;

    env = test_env_create(rts_test_pool);
    fake_http_push(env->fh, 500, "discovery down", NULL);
    s = stored_session(-apr_time_from_sec(1));
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_UNAVAILABLE);
    ck_assert_int_eq(res.http_status, 503);
    ck_assert_int_eq(token_calls(), 0);
    ck_assert_int_ge(env->now - TEST_T0, RTS_REFRESH_META_WAIT);
    ck_assert_int_le(env->now - TEST_T0, RTS_REFRESH_META_WAIT + 2 * RTS_REFRESH_POLL);
    /* a valid token never waits for it */
    s = stored_session(apr_time_from_sec(30));
    env->sleeps = 0;
    ck_assert_int_eq(request(&s, &res), RTS_REFRESH_DEFERRED);
    ck_assert_uint_eq(env->sleeps, 0);
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
    tcase_add_test(tc, test_refresh_refusals_end_session);
    tcase_add_test(tc, test_refresh_client_auth_failure_keeps_session);
    tcase_add_test(tc, test_refresh_backoff_one_call_per_step);
    tcase_add_test(tc, test_refresh_backoff_shared_and_valid_token_goes_on);
    tcase_add_test(tc, test_refresh_retry_after_honoured);
    tcase_add_test(tc, test_refresh_lost_answer_then_refused_is_not_theft);
    tcase_add_test(tc, test_refresh_lost_answer_then_accepted);
    tcase_add_test(tc, test_refresh_lost_answers_keep_session_with_backoff);
    tcase_add_test(tc, test_refresh_never_sent_is_not_a_presentation);
    tcase_add_test(tc, test_refresh_salvages_new_refresh_token);
    tcase_add_test(tc, test_refresh_slow_discovery_before_intent);
    tcase_add_test(tc, test_refresh_token_call_bounded_by_intent);
    tcase_add_test(tc, test_refresh_no_call_when_intent_nearly_spent);
    tcase_add_test(tc, test_refresh_clock_ahead_does_not_take_over_early);
    tcase_add_test(tc, test_refresh_short_lifetime_refreshed_at_half);
    tcase_add_test(tc, test_refresh_opaque_without_expires_in);
    tcase_add_test(tc, test_refresh_id_token_validated_after_write);
    tcase_add_test(tc, test_refresh_bad_id_token_after_write_ends_session);
    tcase_add_test(tc, test_refresh_metadata_unavailable_waits_and_follows);
    tcase_add_test(tc, test_refresh_metadata_unavailable_gives_up);
    tcase_add_test(tc, test_refresh_intent_cas_answer_lost);
    tcase_add_test(tc, test_refresh_generation_cas_answer_lost);
    suite_add_tcase(s, tc);
    return s;
}
