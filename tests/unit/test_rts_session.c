/* Session records (naming, sealing, rotation of secrets) and cookies. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "rts_cookie.h"
#include "rts_crypto.h"
#include "rts_session.h"

static test_env_t *env;

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
}

static rts_session_t *sample(void)
{
    rts_session_t *s = apr_pcalloc(rts_test_pool, sizeof(*s));

    ck_assert_int_eq(rts_session_new_id(rts_test_pool, &s->id), APR_SUCCESS);
    s->gen = 7;
    s->sub = "alice";
    s->id_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImVtYWlsIjoiYUBiLmMifQ.c2ln";
    s->access_token = "AT-secret-value";
    s->refresh_token = "RT-secret-value";
    s->at_expires = TEST_T0 + apr_time_from_sec(300);
    s->created = TEST_T0;
    return s;
}

START_TEST(test_session_id_is_random_and_well_formed)
{
    const char *a, *b;

    ck_assert_int_eq(rts_session_new_id(rts_test_pool, &a), APR_SUCCESS);
    ck_assert_int_eq(rts_session_new_id(rts_test_pool, &b), APR_SUCCESS);
    ck_assert_uint_eq(strlen(a), 43);
    ck_assert_str_ne(a, b);
    ck_assert(rts_session_id_valid(a));
    ck_assert(!rts_session_id_valid("short"));
    ck_assert(!rts_session_id_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    ck_assert(!rts_session_id_valid(NULL));
}
END_TEST

START_TEST(test_session_round_trip_through_store)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *s = sample(), *l;

    ck_assert_int_eq(rts_session_add(ctx, s), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(ctx, s->id, &l), APR_SUCCESS);
    ck_assert_int_eq(l->gen, 7);
    ck_assert_str_eq(l->sub, "alice");
    ck_assert_str_eq(l->access_token, "AT-secret-value");
    ck_assert_str_eq(l->refresh_token, "RT-secret-value");
    ck_assert_str_eq(l->id_token, s->id_token);
    ck_assert_int_eq(l->at_expires, s->at_expires);
    ck_assert_int_eq(l->created, s->created);
    ck_assert_ptr_null(l->lock_owner);
}
END_TEST

START_TEST(test_session_store_holds_no_secret_in_clear)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *s = sample();
    const char *val;
    apr_size_t len;

    ck_assert_int_eq(rts_session_add(ctx, s), APR_SUCCESS);
    /* the key does not contain the cookie value */
    ck_assert_ptr_null(strstr(s->store_key, s->id));
    ck_assert_int_eq(fake_store_peek(env->fs, rts_test_pool, s->store_key, &val, &len, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_ptr_null(memmem(val, len, "AT-secret-value", 15));
    ck_assert_ptr_null(memmem(val, len, "RT-secret-value", 15));
    ck_assert_ptr_null(memmem(val, len, "alice", 5));
}
END_TEST

START_TEST(test_session_tampered_record_does_not_open)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *s = sample(), *l;
    const char *val;
    apr_size_t len;
    char *bad;

    ck_assert_int_eq(rts_session_add(ctx, s), APR_SUCCESS);
    fake_store_peek(env->fs, rts_test_pool, s->store_key, &val, &len, NULL, NULL);
    bad = apr_pmemdup(rts_test_pool, val, len);
    bad[len / 2] ^= 1;
    fake_store_put(env->fs, s->store_key, bad, len, 600);
    ck_assert_int_eq(rts_session_load(ctx, s->id, &l), RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_session_record_bound_to_its_cookie)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *a = sample(), *b = sample(), *l;
    const char *val;
    apr_size_t len;

    ck_assert_int_eq(rts_session_add(ctx, a), APR_SUCCESS);
    ck_assert_int_eq(rts_session_add(ctx, b), APR_SUCCESS);
    /* a's record copied under b's key opens for neither */
    fake_store_peek(env->fs, rts_test_pool, a->store_key, &val, &len, NULL, NULL);
    fake_store_put(env->fs, b->store_key, val, len, 600);
    ck_assert_int_eq(rts_session_load(ctx, b->id, &l), RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_session_secret_rotation)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *s = sample(), *l;
    rts_secret_t *newer;
    apr_array_header_t *rotated = apr_array_make(rts_test_pool, 2, sizeof(rts_secret_t));

    ck_assert_int_eq(rts_session_add(ctx, s), APR_SUCCESS);
    /* a new secret goes first; the old one still opens existing sessions */
    newer = apr_array_push(rotated);
    rts_hkdf_sha256("another secret of thirty-two chars", 34, "t", 1, "id", 2, newer->key_id, 32);
    rts_hkdf_sha256("another secret of thirty-two chars", 34, "t", 1, "seal", 4, newer->key_seal, 32);
    *(rts_secret_t *)apr_array_push(rotated) = APR_ARRAY_IDX(env->cfg->secrets, 0, rts_secret_t);
    env->cfg->secrets = rotated;
    ck_assert_int_eq(rts_session_load(ctx, s->id, &l), APR_SUCCESS);
    ck_assert_str_eq(l->access_token, "AT-secret-value");
    /* without the old secret it is gone */
    rotated->nelts = 1;
    ck_assert_int_eq(rts_session_load(ctx, s->id, &l), APR_ENOENT);
}
END_TEST

START_TEST(test_session_claims_from_id_token)
{
    json_t *claims;

    ck_assert_int_eq(rts_session_claims(rts_test_pool, sample(), &claims), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "email")), "a@b.c");
}
END_TEST

START_TEST(test_cookie_get)
{
    const char *v;

    ck_assert_int_eq(rts_cookie_get(rts_test_pool, "a=1; rtsession=abc; b=2", "rtsession", &v),
                     APR_SUCCESS);
    ck_assert_str_eq(v, "abc");
    ck_assert_int_eq(rts_cookie_get(rts_test_pool, "rtsession=\"q\"", "rtsession", &v), APR_SUCCESS);
    ck_assert_str_eq(v, "q");
    ck_assert_int_eq(rts_cookie_get(rts_test_pool, "xrtsession=abc", "rtsession", &v), APR_ENOENT);
    ck_assert_int_eq(rts_cookie_get(rts_test_pool, "rtsessionx=abc", "rtsession", &v), APR_ENOENT);
    ck_assert_int_eq(rts_cookie_get(rts_test_pool, NULL, "rtsession", &v), APR_ENOENT);
    ck_assert_int_eq(rts_cookie_get(rts_test_pool, "rtsession=a; rtsession=b", "rtsession", &v),
                     APR_EINVAL);
    ck_assert_int_eq(rts_cookie_get(rts_test_pool, " ; ;rtsession = x ;", "rtsession", &v),
                     APR_SUCCESS);
    ck_assert_str_eq(v, "x");
}
END_TEST

START_TEST(test_cookie_strip_and_build)
{
    const char *names[] = { "__Host-rtsession", "__Host-rtsession_login", NULL };
    const char *c;

    ck_assert_str_eq(rts_cookie_strip(rts_test_pool,
                     "a=1; __Host-rtsession=zzz; b=2; __Host-rtsession_login=s", names), "a=1; b=2");
    ck_assert_ptr_null(rts_cookie_strip(rts_test_pool, "__Host-rtsession=zzz", names));
    c = rts_cookie_build(rts_test_pool, "__Host-rtsession", "v", 1, -1);
    ck_assert_str_eq(c, "__Host-rtsession=v; Path=/; HttpOnly; SameSite=Lax; Secure");
    c = rts_cookie_build(rts_test_pool, "rtsession", "", 0, 0);
    ck_assert_ptr_nonnull(strstr(c, "Max-Age=0"));
    ck_assert_ptr_null(strstr(c, "Secure"));
    ck_assert_str_eq(rts_cookie_name(rts_test_pool, "rtsession", 1), "__Host-rtsession");
    ck_assert_str_eq(rts_cookie_name(rts_test_pool, "rtsession", 0), "rtsession");
}
END_TEST

Suite *rts_suite_session(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_session_id_is_random_and_well_formed);
    tcase_add_test(tc, test_session_round_trip_through_store);
    tcase_add_test(tc, test_session_store_holds_no_secret_in_clear);
    tcase_add_test(tc, test_session_tampered_record_does_not_open);
    tcase_add_test(tc, test_session_record_bound_to_its_cookie);
    tcase_add_test(tc, test_session_secret_rotation);
    tcase_add_test(tc, test_session_claims_from_id_token);
    tcase_add_test(tc, test_cookie_get);
    tcase_add_test(tc, test_cookie_strip_and_build);
    suite_add_tcase(s, tc);
    return s;
}
