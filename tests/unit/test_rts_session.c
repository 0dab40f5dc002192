/* SPDX-License-Identifier: Apache-2.0 */
/* Session records (naming, sealing, rotation of secrets) and cookies. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "rts_cookie.h"
#include "rts_crypto.h"
#include "rts_session.h"
#include "rts_session_codec.h"
#include "rts_claims_memo.h"
#include "rts_util.h"
#include <apr_thread_proc.h>

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
    ck_assert_ptr_null(l->intent_owner);
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

    ck_assert_int_eq(rts_claims_memo_get(NULL, rts_test_pool, sample()->id_token,
                                         RTS_SESSION_MAX_PLAIN, &claims), APR_SUCCESS);
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
    ck_assert_str_eq(rts_cookie_name(rts_test_pool, "rtsession", RTS_COOKIE_SESSION, 1),
                     "__Host-rtsession");
    ck_assert_str_eq(rts_cookie_name(rts_test_pool, "rtsession", RTS_COOKIE_SESSION, 0),
                     "rtsession");
    ck_assert_str_eq(rts_cookie_name(rts_test_pool, "rts", RTS_COOKIE_LOGIN, 1),
                     "__Host-rts_login");
    ck_assert_str_eq(rts_cookie_name(rts_test_pool, "rts", RTS_COOKIE_LOGOUT, 0), "rts_logout");
}
END_TEST

/* --- the binary plaintext (rts_session_codec.h) --- */

static rts_session_t *decoded(const unsigned char *buf, apr_size_t len, apr_status_t want)
{
    rts_session_t *d = apr_pcalloc(rts_test_pool, sizeof(*d));

    ck_assert_int_eq(rts_session_decode(buf, len, d), want);
    return d;
}

START_TEST(test_codec_round_trip_every_field)
{
    rts_session_t *s = sample(), *d;
    const unsigned char *buf;
    apr_size_t len;

    s->rt_expires = TEST_T0 + apr_time_from_sec(86400);
    s->seen = TEST_T0 + apr_time_from_sec(5);
    s->sid = "op-sid";
    s->intent_owner = "host/123/7";
    s->intent_until = TEST_T0 + apr_time_from_sec(35);
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    d = decoded(buf, len, APR_SUCCESS);
    ck_assert_int_eq(d->gen, 7);
    ck_assert_str_eq(d->sub, "alice");
    ck_assert_str_eq(d->id_token, s->id_token);
    ck_assert_str_eq(d->access_token, "AT-secret-value");
    ck_assert_str_eq(d->refresh_token, "RT-secret-value");
    ck_assert_str_eq(d->sid, "op-sid");
    ck_assert_str_eq(d->intent_owner, "host/123/7");
    /* times keep millisecond precision */
    ck_assert_int_eq(d->at_expires, s->at_expires / 1000 * 1000);
    ck_assert_int_eq(d->rt_expires, s->rt_expires / 1000 * 1000);
    ck_assert_int_eq(d->created, s->created / 1000 * 1000);
    ck_assert_int_eq(d->seen, s->seen / 1000 * 1000);
    ck_assert_int_eq(d->intent_until, s->intent_until / 1000 * 1000);
    /* zero-copy: the strings point into the plaintext */
    ck_assert((const unsigned char *)d->access_token > buf
              && (const unsigned char *)d->access_token < buf + len);
}
END_TEST

START_TEST(test_codec_absent_and_empty_strings_differ)
{
    rts_session_t *s = sample(), *d;
    const unsigned char *buf;
    apr_size_t len;

    s->refresh_token = NULL;
    s->id_token = "";
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    d = decoded(buf, len, APR_SUCCESS);
    ck_assert_ptr_null(d->refresh_token);
    ck_assert_ptr_null(d->sid);
    ck_assert_ptr_null(d->intent_owner);
    ck_assert_str_eq(d->id_token, "");
    ck_assert_int_eq(d->rt_expires, 0);
    ck_assert_int_eq(d->intent_until, 0);
}
END_TEST

START_TEST(test_codec_rejects_every_truncation_and_trailing_bytes)
{
    rts_session_t *s = sample();
    const unsigned char *buf;
    unsigned char *longer;
    apr_size_t len, n;

    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    for (n = 0; n < len; n++) {
        decoded(buf, n, RTS_EBADTOKEN);
    }
    longer = apr_palloc(rts_test_pool, len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    decoded(longer, len + 1, RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_codec_rejects_bad_fields)
{
    rts_session_t *s = sample();
    const unsigned char *buf;
    unsigned char *bad;
    apr_size_t len, sub_at = 1 + 8 + 5 * 8;

    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[0] = 1;                          /* another format (the JSON of v1 starts with '{') */
    decoded(bad, len, RTS_EBADTOKEN);
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[1] = 0x80;                       /* gen beyond int64 */
    decoded(bad, len, RTS_EBADTOKEN);
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[9] = 0x7f;                       /* at_expires beyond year 9999 */
    decoded(bad, len, RTS_EBADTOKEN);
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[sub_at + 2 + 1] = 0;             /* a NUL inside sub ("a\0ice") */
    decoded(bad, len, RTS_EBADTOKEN);
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[sub_at + 2 + 5] = 'x';           /* sub's terminating NUL missing */
    decoded(bad, len, RTS_EBADTOKEN);
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[sub_at + 1] = 0xff;              /* sub's length beyond the buffer */
    decoded(bad, len, RTS_EBADTOKEN);
    /* sub and access_token are required */
    s->sub = NULL;
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    decoded(buf, len, RTS_EBADTOKEN);
    s = sample();
    s->access_token = NULL;
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    decoded(buf, len, RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_codec_bounds_string_length)
{
    rts_session_t *s = sample(), *d;
    const unsigned char *buf;
    apr_size_t len;
    char *big = apr_palloc(rts_test_pool, RTS_SESSION_CODEC_MAX_STR + 2);

    memset(big, 'A', RTS_SESSION_CODEC_MAX_STR + 1);
    big[RTS_SESSION_CODEC_MAX_STR] = '\0';
    s->access_token = big;
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    d = decoded(buf, len, APR_SUCCESS);
    ck_assert_uint_eq(strlen(d->access_token), RTS_SESSION_CODEC_MAX_STR);
    big[RTS_SESSION_CODEC_MAX_STR] = 'A';
    big[RTS_SESSION_CODEC_MAX_STR + 1] = '\0';
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_EINVAL);
}
END_TEST

/* --- the per-child claims memo (rts_claims_memo.h) --- */

static const char *token_for(const char *sub, const char *sig)
{
    const char *payload = apr_psprintf(rts_test_pool, "{\"sub\":\"%s\",\"groups\":[\"a\",\"b\"]}", sub);

    return apr_pstrcat(rts_test_pool, "eyJhbGciOiJSUzI1NiJ9.",
                       rts_b64url_encode(rts_test_pool, (const unsigned char *)payload,
                                         strlen(payload)), ".", sig, NULL);
}

START_TEST(test_claims_memo_hit_returns_the_same_claims)
{
    rts_claims_memo_t *memo;
    apr_pool_t *r1, *r2;
    json_t *c1, *c2;
    const char *tok = token_for("alice", "c2ln");

    ck_assert_int_eq(rts_claims_memo_create(rts_test_pool, &memo), APR_SUCCESS);
    apr_pool_create(&r1, rts_test_pool);
    apr_pool_create(&r2, rts_test_pool);
    ck_assert_int_eq(rts_claims_memo_get(memo, r1, tok, 4096, &c1), APR_SUCCESS);
    /* an equal token in another buffer: memoized, the same object */
    ck_assert_int_eq(rts_claims_memo_get(memo, r2, apr_pstrdup(r2, tok), 4096, &c2), APR_SUCCESS);
    ck_assert_ptr_eq(c1, c2);
    ck_assert_str_eq(json_string_value(json_object_get(c2, "sub")), "alice");
    /* each request pool holds its own reference: destroying one leaves the other's intact */
    apr_pool_destroy(r1);
    ck_assert_str_eq(json_string_value(json_object_get(c2, "sub")), "alice");
    apr_pool_destroy(r2);
}
END_TEST

START_TEST(test_claims_memo_keyed_by_the_whole_token)
{
    rts_claims_memo_t *memo;
    json_t *a, *b, *c;

    ck_assert_int_eq(rts_claims_memo_create(rts_test_pool, &memo), APR_SUCCESS);
    ck_assert_int_eq(rts_claims_memo_get(memo, rts_test_pool, token_for("alice", "c2ln"), 4096, &a),
                     APR_SUCCESS);
    /* same signature bytes (same slot), other payload: never alice's claims */
    ck_assert_int_eq(rts_claims_memo_get(memo, rts_test_pool, token_for("bob", "c2ln"), 4096, &b),
                     APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(b, "sub")), "bob");
    ck_assert_int_eq(rts_claims_memo_get(memo, rts_test_pool, token_for("alice", "c2ln"), 4096, &c),
                     APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(c, "sub")), "alice");
    ck_assert_str_eq(json_string_value(json_object_get(a, "sub")), "alice");   /* still alive */
}
END_TEST

START_TEST(test_claims_memo_bad_tokens_and_no_memo)
{
    rts_claims_memo_t *memo;
    json_t *c;

    ck_assert_int_eq(rts_claims_memo_create(rts_test_pool, &memo), APR_SUCCESS);
    ck_assert_int_eq(rts_claims_memo_get(memo, rts_test_pool, NULL, 4096, &c), APR_ENOENT);
    ck_assert_int_eq(rts_claims_memo_get(memo, rts_test_pool, "a.!!!.c", 4096, &c), RTS_EBADTOKEN);
    ck_assert_int_eq(rts_claims_memo_get(memo, rts_test_pool, "a.!!!.c", 4096, &c), RTS_EBADTOKEN);
    /* over the bound: refused, memoized or not */
    ck_assert_int_ne(rts_claims_memo_get(memo, rts_test_pool, token_for("alice", "x"), 8, &c),
                     APR_SUCCESS);
    ck_assert_int_eq(rts_claims_memo_get(NULL, rts_test_pool, token_for("carol", "x"), 4096, &c),
                     APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(c, "sub")), "carol");
}
END_TEST

#if APR_HAS_THREADS
typedef struct memo_worker_t {
    rts_claims_memo_t *memo;
    const char **tokens, **subs;
    int n, seed, wrong;
} memo_worker_t;

static void *APR_THREAD_FUNC memo_worker(apr_thread_t *t, void *data)
{
    memo_worker_t *w = data;
    apr_pool_t *p;
    int i;

    apr_pool_create_unmanaged(&p);
    for (i = 0; i < 3000; i++) {
        json_t *c;
        int k = (i * 7 + w->seed) % w->n;

        if (rts_claims_memo_get(w->memo, p, w->tokens[k], 4096, &c) != APR_SUCCESS
            || strcmp(json_string_value(json_object_get(c, "sub")), w->subs[k]) != 0) {
            w->wrong++;
        }
        if (i % 50 == 0) {
            apr_pool_clear(p);
        }
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(test_claims_memo_under_threads)
{
    enum { N_TOKENS = 3 * RTS_CLAIMS_MEMO_SLOTS, N_THREADS = 4 };
    rts_claims_memo_t *memo;
    memo_worker_t w[N_THREADS];
    apr_thread_t *th[N_THREADS];
    const char **tokens = apr_palloc(rts_test_pool, N_TOKENS * sizeof(*tokens));
    const char **subs = apr_palloc(rts_test_pool, N_TOKENS * sizeof(*subs));
    apr_status_t trv;
    int i;

    ck_assert_int_eq(rts_claims_memo_create(rts_test_pool, &memo), APR_SUCCESS);
    /* more tokens than slots: hits, misses and replacements race */
    for (i = 0; i < N_TOKENS; i++) {
        subs[i] = apr_psprintf(rts_test_pool, "user-%d", i);
        tokens[i] = token_for(subs[i], apr_psprintf(rts_test_pool, "sig%d", i % 17));
    }
    for (i = 0; i < N_THREADS; i++) {
        w[i] = (memo_worker_t){ memo, tokens, subs, N_TOKENS, i * 31, 0 };
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, memo_worker, &w[i], rts_test_pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < N_THREADS; i++) {
        apr_thread_join(&trv, th[i]);
        ck_assert_int_eq(w[i].wrong, 0);
    }
}
END_TEST
#endif

/* Format 3 carries the refresh-outcome state; format 2 records (no tail) are still read, with
 * that state unset, so an upgrade keeps every session. */
START_TEST(test_codec_format3_tail_and_format2_read)
{
    rts_session_t *s = sample(), *d;
    const unsigned char *buf;
    unsigned char *old, *bad;
    apr_size_t len;

    s->at_issued = TEST_T0 - apr_time_from_sec(10);
    s->retry_at = TEST_T0 + apr_time_from_sec(4);
    s->retry_step = 3;
    s->rt_lost = 1;
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_SUCCESS);
    ck_assert_int_eq(buf[0], 3);
    d = decoded(buf, len, APR_SUCCESS);
    ck_assert_int_eq(d->at_issued, s->at_issued);
    ck_assert_int_eq(d->retry_at, s->retry_at);
    ck_assert_int_eq(d->retry_step, 3);
    ck_assert_int_eq(d->rt_lost, 1);
    /* the same record as the previous release wrote it */
    old = apr_pmemdup(rts_test_pool, buf, len - 18);
    old[0] = 2;
    d = decoded(old, len - 18, APR_SUCCESS);
    ck_assert_str_eq(d->refresh_token, "RT-secret-value");
    ck_assert_int_eq(d->at_issued, 0);
    ck_assert_int_eq(d->retry_at, 0);
    ck_assert_int_eq(d->retry_step, 0);
    ck_assert_int_eq(d->rt_lost, 0);
    /* format 2 with a tail, format 3 without: refused */
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[0] = 2;
    decoded(bad, len, RTS_EBADTOKEN);
    old[0] = 3;
    decoded(old, len - 18, RTS_EBADTOKEN);
    /* out-of-range step or count: refused */
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[len - 1] = 4;
    decoded(bad, len, RTS_EBADTOKEN);
    bad = apr_pmemdup(rts_test_pool, buf, len);
    bad[len - 2] = RTS_SESSION_CODEC_MAX_STEP + 1;
    decoded(bad, len, RTS_EBADTOKEN);
    s->rt_lost = 4;
    ck_assert_int_eq(rts_session_encode(rts_test_pool, s, &buf, &len), APR_EINVAL);
}
END_TEST

Suite *rts_suite_session(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_session_id_is_random_and_well_formed);
    tcase_add_test(tc, test_codec_format3_tail_and_format2_read);
    tcase_add_test(tc, test_session_round_trip_through_store);
    tcase_add_test(tc, test_session_store_holds_no_secret_in_clear);
    tcase_add_test(tc, test_session_tampered_record_does_not_open);
    tcase_add_test(tc, test_session_record_bound_to_its_cookie);
    tcase_add_test(tc, test_session_secret_rotation);
    tcase_add_test(tc, test_session_claims_from_id_token);
    tcase_add_test(tc, test_codec_round_trip_every_field);
    tcase_add_test(tc, test_codec_absent_and_empty_strings_differ);
    tcase_add_test(tc, test_codec_rejects_every_truncation_and_trailing_bytes);
    tcase_add_test(tc, test_codec_rejects_bad_fields);
    tcase_add_test(tc, test_codec_bounds_string_length);
    tcase_add_test(tc, test_claims_memo_hit_returns_the_same_claims);
    tcase_add_test(tc, test_claims_memo_keyed_by_the_whole_token);
    tcase_add_test(tc, test_claims_memo_bad_tokens_and_no_memo);
#if APR_HAS_THREADS
    tcase_add_test(tc, test_claims_memo_under_threads);
#endif
    tcase_add_test(tc, test_cookie_get);
    tcase_add_test(tc, test_cookie_strip_and_build);
    suite_add_tcase(s, tc);
    return s;
}
