/* SPDX-License-Identifier: Apache-2.0 */
/* Pending logins, the authorization request, and return-URL checks. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "rts_authreq.h"
#include "rts_crypto.h"
#include "rts_util.h"

static test_env_t *env;

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
}

START_TEST(test_authreq_values_fresh_and_unguessable)
{
    rts_provider_trip_t *a, *b;

    ck_assert_int_eq(rts_authreq_new(rts_test_pool, "/app", TEST_T0, &a), APR_SUCCESS);
    ck_assert_int_eq(rts_authreq_new(rts_test_pool, "/app", TEST_T0, &b), APR_SUCCESS);
    ck_assert(rts_authreq_value_ok(a->state));
    ck_assert(rts_authreq_value_ok(a->nonce));
    ck_assert_uint_eq(strlen(a->code_verifier), 43);   /* RFC 7636: 43..128 characters */
    ck_assert_str_ne(a->state, b->state);
    ck_assert_str_ne(a->nonce, b->nonce);
    ck_assert_str_ne(a->code_verifier, b->code_verifier);
    ck_assert_str_ne(a->state, a->nonce);
}
END_TEST

START_TEST(test_authreq_url_parameters)
{
    rts_provider_trip_t *pd;
    const char *url;
    apr_table_t *q;

    rts_authreq_new(rts_test_pool, "/app", TEST_T0, &pd);
    url = rts_authreq_url(rts_test_pool, "https://op/auth", "c 1", "https://rp/cb", "openid email", pd);
    ck_assert_int_eq(strncmp(url, "https://op/auth?", 16), 0);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, url + 16, &q), APR_SUCCESS);
    ck_assert_str_eq(apr_table_get(q, "response_type"), "code");
    ck_assert_str_eq(apr_table_get(q, "client_id"), "c 1");
    ck_assert_str_eq(apr_table_get(q, "redirect_uri"), "https://rp/cb");
    ck_assert_str_eq(apr_table_get(q, "scope"), "openid email");
    ck_assert_str_eq(apr_table_get(q, "state"), pd->state);
    ck_assert_str_eq(apr_table_get(q, "nonce"), pd->nonce);
    ck_assert_str_eq(apr_table_get(q, "code_challenge_method"), "S256");
    ck_assert_str_eq(apr_table_get(q, "code_challenge"), rts_pkce_s256(rts_test_pool, pd->code_verifier));
    url = rts_authreq_url(rts_test_pool, "https://op/auth?tenant=x", "c", "https://rp/cb", "openid", pd);
    ck_assert_int_eq(strncmp(url, "https://op/auth?tenant=x&response_type=code", 42), 0);
}
END_TEST

START_TEST(test_authreq_pending_single_use)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_provider_trip_t *pd, *got;

    rts_authreq_new(rts_test_pool, "/app?x=1", TEST_T0, &pd);
    ck_assert_int_eq(rts_authreq_save(ctx, pd), APR_SUCCESS);
    ck_assert_int_eq(rts_authreq_take(ctx, pd->state, &got), APR_SUCCESS);
    ck_assert_str_eq(got->nonce, pd->nonce);
    ck_assert_str_eq(got->code_verifier, pd->code_verifier);
    ck_assert_str_eq(got->return_url, "/app?x=1");
    ck_assert_int_eq(rts_authreq_take(ctx, pd->state, &got), APR_ENOENT);
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

/* Two callbacks with the same state read the record at once: the delete picks one. */
static void consume_first(fake_store_t *fs, fake_store_op_t op, const char *key, void *baton)
{
    if (op == FAKE_STORE_OP_DEL) {
        fake_store_set_hook(fs, NULL, NULL);
        fake_store_remove(fs, key);
    }
}

START_TEST(test_authreq_pending_concurrent_take)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_provider_trip_t *pd, *got;

    rts_authreq_new(rts_test_pool, "/", TEST_T0, &pd);
    rts_authreq_save(ctx, pd);
    fake_store_set_hook(env->fs, consume_first, NULL);
    ck_assert_int_eq(rts_authreq_take(ctx, pd->state, &got), APR_ENOENT);
}
END_TEST

START_TEST(test_authreq_pending_expires)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_provider_trip_t *pd, *got;

    rts_authreq_new(rts_test_pool, "/", TEST_T0, &pd);
    rts_authreq_save(ctx, pd);
    env->now += env->cfg->pending_ttl + apr_time_from_sec(2);
    ck_assert_int_eq(rts_authreq_take(ctx, pd->state, &got), APR_ENOENT);
}
END_TEST

START_TEST(test_return_url_accepts_relative_paths)
{
    ck_assert(rts_return_url_ok("/"));
    ck_assert(rts_return_url_ok("/app"));
    ck_assert(rts_return_url_ok("/app/x?y=1&z=%20"));
    ck_assert(rts_return_url_ok("/a//b"));
}
END_TEST

START_TEST(test_return_url_refuses_other_origins)
{
    static const char *const bad[] = {
        "//evil.example", "/\\evil.example", "\\\\evil", "https://evil.example/", "http:evil",
        "javascript:alert(1)", "evil.example", "", "/%2Fevil.example", "/%5Cevil.example",
        "/%252Fevil.example", "/%2f%2fevil", "/app\r\nSet-Cookie: x=1", "/a b", "/\t/evil",
        "/\x01", NULL
    };
    int i;

    for (i = 0; bad[i]; i++) {
        ck_assert_msg(!rts_return_url_ok(bad[i]), "accepted: %s", bad[i]);
    }
    ck_assert(!rts_return_url_ok(NULL));
    ck_assert(!rts_return_url_ok(apr_pstrcat(rts_test_pool, "/",
                                             apr_psprintf(rts_test_pool, "%03000d", 1), NULL)));
}
END_TEST

Suite *rts_suite_authreq(void)
{
    Suite *s = suite_create("authreq");
    TCase *tc = tcase_create("authreq");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_authreq_values_fresh_and_unguessable);
    tcase_add_test(tc, test_authreq_url_parameters);
    tcase_add_test(tc, test_authreq_pending_single_use);
    tcase_add_test(tc, test_authreq_pending_concurrent_take);
    tcase_add_test(tc, test_authreq_pending_expires);
    tcase_add_test(tc, test_return_url_accepts_relative_paths);
    tcase_add_test(tc, test_return_url_refuses_other_origins);
    suite_add_tcase(s, tc);
    return s;
}
