/* SPDX-License-Identifier: Apache-2.0 */
/* Identity safety: records bound to one client of one provider (issue 11 item 5), the one rule
 * for claim values (item 6), and a session record too large to be read back (item 8). */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "test_keys.h"
#include "rts_authreq.h"
#include "rts_claim.h"
#include "rts_flow.h"
#include "rts_json.h"
#include "rts_provider.h"
#include "rts_record.h"
#include "rts_session.h"
#include "rts_util.h"

static test_env_t *env;
static test_key_t *key;
static int logins;          /* discovery and JWKS are fetched at the first login only */
static const char secret[] = "0123456789abcdef0123456789abcdef";

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
    key = test_key_generate(rts_test_pool, "RS256", "k1");
    logins = 0;
}

/* ---- item 5: one client of one provider ---- */

/* The environment's configuration for another issuer or client, with the same secret. */
static rts_config_t *config_for(const char *issuer, const char *client_id)
{
    rts_config_t *c = apr_pmemdup(rts_test_pool, env->cfg, sizeof(*c));
    rts_secret_t *sec;

    c->issuer = issuer;
    c->client_id = client_id;
    c->secrets = apr_array_make(rts_test_pool, 1, sizeof(rts_secret_t));
    sec = apr_array_push(c->secrets);
    ck_assert_int_eq(rts_secret_derive(rts_test_pool, secret, issuer, client_id, sec),
                     APR_SUCCESS);
    return c;
}

static rts_ctx_t *ctx_for(const rts_config_t *cfg)
{
    rts_ctx_t *ctx = test_env_ctx(env);

    ctx->cfg = cfg;
    return ctx;
}

static void assert_session_not_shared(const rts_config_t *other)
{
    rts_session_t *s = test_env_session(env, apr_time_from_sec(300)), *l;
    const rts_secret_t *mine = &APR_ARRAY_IDX(env->cfg->secrets, 0, rts_secret_t);
    const rts_secret_t *theirs = &APR_ARRAY_IDX(other->secrets, 0, rts_secret_t);
    const char *val, *plain;
    apr_size_t len, plain_len;

    /* the other client neither finds the record ... */
    ck_assert_int_eq(rts_session_load(ctx_for(other), s->id, &l), APR_ENOENT);
    ck_assert_str_ne(rts_session_store_key(rts_test_pool, theirs, s->id), s->store_key);
    /* ... nor opens it when it is handed the record under its own name */
    ck_assert_int_eq(rts_session_seal(rts_test_pool, env->cfg, s, &val, &len), APR_SUCCESS);
    ck_assert_int_eq(rts_record_open(rts_test_pool, theirs, s->id, "rtsession session v2",
                                     s->store_key, val, len, &plain, &plain_len),
                     RTS_EBADTOKEN);
    ck_assert_int_eq(rts_record_open(rts_test_pool, mine, s->id, "rtsession session v2",
                                     s->store_key, val, len, &plain, &plain_len), APR_SUCCESS);
}

START_TEST(test_session_of_one_client_unknown_to_another)
{
    assert_session_not_shared(config_for(TEST_ISSUER, "client-2"));
}
END_TEST

START_TEST(test_session_of_one_issuer_unknown_to_another)
{
    assert_session_not_shared(config_for("https://other-op.example.test", TEST_CLIENT_ID));
}
END_TEST

START_TEST(test_binding_is_unambiguous)
{
    /* ("a", "bc") and ("ab", "c") must not derive the same keys */
    rts_secret_t x, y;

    ck_assert_int_eq(rts_secret_derive(rts_test_pool, secret, "https://a", "bc", &x), APR_SUCCESS);
    ck_assert_int_eq(rts_secret_derive(rts_test_pool, secret, "https://ab", "c", &y), APR_SUCCESS);
    ck_assert(memcmp(x.key_id, y.key_id, sizeof(x.key_id)) != 0);
    ck_assert(memcmp(x.key_seal, y.key_seal, sizeof(x.key_seal)) != 0);
    ck_assert_int_eq(rts_secret_derive(rts_test_pool, secret, NULL, "c", &y), APR_EINVAL);
}
END_TEST

START_TEST(test_pending_login_of_one_client_unknown_to_another)
{
    rts_provider_trip_t *pd, *got;

    ck_assert_int_eq(rts_authreq_new(rts_test_pool, "/app", env->now, &pd), APR_SUCCESS);
    ck_assert_int_eq(rts_authreq_save(test_env_ctx(env), pd), APR_SUCCESS);
    ck_assert_int_eq(rts_authreq_take(ctx_for(config_for(TEST_ISSUER, "client-2")), pd->state,
                                      &got), APR_ENOENT);
    ck_assert_int_eq(rts_authreq_take(test_env_ctx(env), pd->state, &got), APR_SUCCESS);
}
END_TEST

/* The sealed pending-login cookie (issue 11 item 8) is bound the same way: one client's does
 * not open at another sharing the secret. */
START_TEST(test_pending_cookie_of_one_client_unknown_to_another)
{
    rts_provider_trip_t *pd, *got;
    const char *value;

    ck_assert_int_eq(rts_authreq_new(rts_test_pool, "/app", env->now, &pd), APR_SUCCESS);
    ck_assert_int_eq(rts_authreq_cookie_value(test_env_ctx(env), pd, &value), APR_SUCCESS);
    ck_assert_int_eq(rts_authreq_cookie_open(ctx_for(config_for(TEST_ISSUER, "client-2")), value,
                                             pd->state, &got), RTS_EBADTOKEN);
    ck_assert_int_eq(rts_authreq_cookie_open(test_env_ctx(env), value, pd->state, &got),
                     APR_SUCCESS);
    ck_assert_str_eq(got->nonce, pd->nonce);
}
END_TEST

START_TEST(test_cookie_of_app1_at_app2_starts_a_new_login)
{
    rts_session_t *s = test_env_session(env, apr_time_from_sec(300));
    const char *cookie = apr_pstrcat(rts_test_pool, "__Host-rtsession=", s->id, NULL);
    rts_outcome_t out;

    /* app1 (this client) lets it in */
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env),
                                           test_env_request(env, "/app", cookie, 1), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_PASS);
    /* app2 (another client id, same secret and store) sends the browser to log in */
    test_env_push_discovery(env);
    ck_assert_int_eq(rts_flow_authenticate(ctx_for(config_for(TEST_ISSUER, "client-2")),
                                           test_env_request(env, "/app", cookie, 1), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_REDIRECT);
    ck_assert_ptr_nonnull(strstr(out.location, "client_id=client-2"));
    ck_assert_ptr_null(out.session);
}
END_TEST

/* ---- item 6: the one rule for claim values ---- */

static rts_claim_verdict_t as(const char *json, rts_claim_use_t use, const char **text)
{
    json_t *v = NULL;
    json_error_t err;

    if (json) {
        v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        ck_assert_msg(v != NULL, "bad test JSON %s", json);
        rts_json_pool_own(rts_test_pool, v);
    }
    return rts_claim_value(rts_test_pool, v, use, text);
}

START_TEST(test_claim_user_name_rule)
{
    const char *t;
    char *big = apr_palloc(rts_test_pool, RTS_CLAIM_USER_MAX + 4);

    ck_assert_int_eq(as("\"alice\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_OK);
    ck_assert_str_eq(t, "alice");
    /* UTF-8 is kept as it is */
    ck_assert_int_eq(as("\"Jos\\u00e9 \\u5c71\\u7530\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_OK);
    ck_assert_str_eq(t, "Jos\xc3\xa9 \xe5\xb1\xb1\xe7\x94\xb0");
    /* refused, never neutralised */
    ck_assert_int_eq(as("\"Eve\\r\\nX-Injected: 1\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_CONTROL);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(as("\"Eve\\nadmin\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_CONTROL);
    ck_assert_int_eq(as("\"Eve\\radmin\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_CONTROL);
    ck_assert_int_eq(as("\"admin\\u0000evil\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_CONTROL);
    ck_assert_int_eq(as("\"tab\\there\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_CONTROL);
    ck_assert_int_eq(as("\"del\\u007f\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_CONTROL);
    ck_assert_int_eq(as("\"c1\\u009b31m\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_CONTROL);
    ck_assert_int_eq(as("\"\"", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_EMPTY);
    ck_assert_int_eq(as("42", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_NOT_STRING);
    ck_assert_int_eq(as("[\"a\"]", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_NOT_STRING);
    ck_assert_int_eq(as("null", RTS_CLAIM_AS_USER, &t), RTS_CLAIM_ABSENT);
    ck_assert_int_eq(as(NULL, RTS_CLAIM_AS_USER, &t), RTS_CLAIM_ABSENT);
    memset(big, 'u', RTS_CLAIM_USER_MAX);
    big[RTS_CLAIM_USER_MAX] = '\0';
    ck_assert_int_eq(as(apr_pstrcat(rts_test_pool, "\"", big, "\"", NULL), RTS_CLAIM_AS_USER,
                        &t), RTS_CLAIM_OK);
    ck_assert_int_eq(as(apr_pstrcat(rts_test_pool, "\"", big, "u\"", NULL), RTS_CLAIM_AS_USER,
                        &t), RTS_CLAIM_TOO_LONG);
}
END_TEST

START_TEST(test_claim_text_rule)
{
    const char *t;
    char *big = apr_palloc(rts_test_pool, RTS_CLAIM_TEXT_MAX + 2);

    ck_assert_int_eq(as("\"Alice Liddell\"", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_OK);
    ck_assert_str_eq(t, "Alice Liddell");
    ck_assert_int_eq(as("\"Jos\\u00e9\"", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_OK);
    ck_assert_str_eq(t, "Jos\xc3\xa9");
    /* each control character becomes one space: no header or log line is split */
    ck_assert_int_eq(as("\"Eve\\r\\nX-Injected: 1\"", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_CONTROL);
    ck_assert_str_eq(t, "Eve  X-Injected: 1");
    ck_assert_int_eq(as("\"a\\u0000b\"", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_CONTROL);
    ck_assert_str_eq(t, "a b");
    ck_assert_int_eq(as("\"x\\u009by\\u007fz\"", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_CONTROL);
    ck_assert_str_eq(t, "x y z");
    /* arrays joined, the rule applied to the whole */
    ck_assert_int_eq(as("[\"staff\",\"r\\ne\"]", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_CONTROL);
    ck_assert_str_eq(t, "staff,r e");
    ck_assert_int_eq(as("[\"staff\",null,7,true]", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_OK);
    ck_assert_str_eq(t, "staff,7,true");
    ck_assert_int_eq(as("{\"a\":\"x\\ny\"}", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_OK);
    ck_assert_ptr_null(strpbrk(t, "\r\n"));
    ck_assert_int_eq(as("null", RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_ABSENT);
    ck_assert_ptr_null(t);
    /* over-long: dropped */
    memset(big, 'g', RTS_CLAIM_TEXT_MAX + 1);
    big[RTS_CLAIM_TEXT_MAX + 1] = '\0';
    ck_assert_int_eq(as(apr_pstrcat(rts_test_pool, "\"", big, "\"", NULL), RTS_CLAIM_AS_TEXT,
                        &t), RTS_CLAIM_TOO_LONG);
    ck_assert_ptr_null(t);
    big[RTS_CLAIM_TEXT_MAX / 2] = '\0';
    ck_assert_int_eq(as(apr_pstrcat(rts_test_pool, "[\"", big, "\",\"", big, "\",\"x\"]", NULL),
                        RTS_CLAIM_AS_TEXT, &t), RTS_CLAIM_TOO_LONG);
    ck_assert_ptr_null(t);
}
END_TEST

/* ---- login with chosen claims and tokens ---- */

static const char *set_cookie(const rts_outcome_t *out, const char *name)
{
    return test_outcome_cookie(rts_test_pool, out, name);
}

/* A whole login whose ID token carries extra_claims (JSON members, may be "") and whose token
 * response carries access_token; returns the callback's outcome. */
static rts_outcome_t *login_with(const char *extra_claims, const char *access_token)
{
    rts_outcome_t *started = apr_pcalloc(rts_test_pool, sizeof(*started));
    rts_outcome_t *out = apr_pcalloc(rts_test_pool, sizeof(*out));
    const test_key_t *keys[1];
    const char *state, *cookie, *nonce, *idt;
    apr_table_t *q;
    long now = (long)apr_time_sec(env->now);

    if (!logins) {
        test_env_push_discovery(env);
    }
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env),
                                           test_env_request(env, "/app", NULL, 1), started),
                     APR_SUCCESS);
    cookie = set_cookie(started, "__Host-rtsession_login");
    ck_assert_int_eq(rts_form_parse(rts_test_pool, strchr(started->location, '?') + 1, &q),
                     APR_SUCCESS);
    nonce = apr_table_get(q, "nonce");
    state = apr_table_get(q, "state");   /* the cookie: the state and its sealed login */
    idt = test_jws_sign(rts_test_pool, key, NULL, apr_psprintf(rts_test_pool,
        "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"sub\":\"alice\","
        "\"nonce\":\"%s\",\"iat\":%ld,\"exp\":%ld%s%s}", nonce, now, now + 300,
        *extra_claims ? "," : "", extra_claims));
    fake_http_push(env->fh, 200, apr_psprintf(rts_test_pool,
                   "{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":300,"
                   "\"refresh_token\":\"RT1\",\"id_token\":\"%s\"}", access_token, idt), NULL);
    keys[0] = key;
    if (!logins++) {
        fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, keys, 1), NULL);
    }
    ck_assert_int_eq(rts_flow_callback(test_env_ctx(env),
        test_env_request(env, apr_pstrcat(rts_test_pool, "/rtsession/callback?code=c&state=",
                                          state, NULL),
                         apr_pstrcat(rts_test_pool, "__Host-rtsession_login=", cookie, NULL), 1),
        out), APR_SUCCESS);
    return out;
}

static const char *const name_claims[] = { "sub", "name", NULL };

START_TEST(test_login_refused_when_user_claim_unusable)
{
    static const char *const bad[] = {
        "\"name\":\"Eve\\r\\nX-Injected: 1\"", "\"name\":\"Eve\\nX\"", "\"name\":\"Eve\\rX\"",
        "\"name\":42", "\"name\":\"\""
    };
    unsigned i;

    env->cfg->user_claims = name_claims;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rts_outcome_t *out = login_with(bad[i], "AT1");
        ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
        ck_assert_int_eq(out->http_status, 403);
        ck_assert_str_eq(out->result.error, "unusable_user");
        ck_assert_ptr_nonnull(strstr(out->message, "user name"));
        ck_assert_ptr_null(set_cookie(out, "__Host-rtsession"));     /* no session */
        ck_assert_str_eq(set_cookie(out, "__Host-rtsession_login"), "");
        ck_assert_uint_eq(fake_store_size(env->fs), 0);
    }
}
END_TEST

START_TEST(test_login_with_nul_in_user_claim_refused)
{
    rts_outcome_t *out;

    env->cfg->user_claims = name_claims;
    out = login_with("\"name\":\"admin\\u0000evil\"", "AT1");
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_ptr_null(set_cookie(out, "__Host-rtsession"));
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

START_TEST(test_login_accepts_utf8_and_absent_user_claim)
{
    rts_outcome_t *out;

    env->cfg->user_claims = name_claims;
    out = login_with("\"name\":\"Jos\\u00e9 \\u5c71\\u7530\"", "AT1");
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_ptr_nonnull(set_cookie(out, "__Host-rtsession"));
    /* absent: the login goes on; locations that need it answer 403 */
    out = login_with("", "AT1");
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    /* a claim nobody uses as the user name is not judged */
    env->cfg->user_claims = NULL;
    out = login_with("\"name\":\"Eve\\r\\nX\"", "AT1");
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
}
END_TEST

/* ---- item 8: a session record that could not be read back is never written ---- */

START_TEST(test_login_refused_when_session_too_large)
{
    apr_size_t n = RTS_SESSION_MAX_PLAIN;
    char *at = apr_palloc(rts_test_pool, n + 1);
    rts_outcome_t *out;

    memset(at, 'A', n);
    at[n] = '\0';
    out = login_with("", at);
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out->http_status, 500);
    ck_assert_str_eq(out->result.error, "session_too_large");
    ck_assert_ptr_null(set_cookie(out, "__Host-rtsession"));       /* no cookie: no loop */
    ck_assert_str_eq(set_cookie(out, "__Host-rtsession_login"), "");
    /* no session: the store holds only the login's consumed-state marker (issue 11 item 8) */
    ck_assert_uint_eq(fake_store_size(env->fs), 1);
    ck_assert_ptr_null(strstr(out->message, "bytes"));              /* details: log only */
}
END_TEST

START_TEST(test_session_write_bounded_like_read)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *s = apr_pcalloc(rts_test_pool, sizeof(*s)), *l;
    apr_size_t n = RTS_SESSION_MAX_PLAIN - 200;
    char *at = apr_palloc(rts_test_pool, n + 1);

    memset(at, 'A', n);
    at[n] = '\0';
    ck_assert_int_eq(rts_session_new_id(rts_test_pool, &s->id), APR_SUCCESS);
    s->gen = 1;
    s->sub = "alice";
    s->access_token = at;
    s->refresh_token = "RT1";
    s->created = env->now;
    /* just under the bound: written and read back */
    ck_assert_int_eq(rts_session_add(ctx, s), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(ctx, s->id, &l), APR_SUCCESS);
    /* over it: refused at write, as the reader would refuse it */
    l->refresh_token = apr_pstrcat(rts_test_pool, "RT1", at + n - 300, NULL);
    ck_assert_int_eq(rts_session_cas(ctx, l), RTS_ETOOLARGE);
}
END_TEST

/* ---- item 10: the issuer-mismatch line names both issuers ---- */

START_TEST(test_issuer_mismatch_names_both_issuers)
{
    static const char doc[] = "{\"issuer\":\"https://evil.example\\r\\nRTS99999: forged\","
                              "\"authorization_endpoint\":\"https://op.example.test/auth\","
                              "\"token_endpoint\":\"https://op.example.test/token\","
                              "\"jwks_uri\":\"https://op.example.test/jwks\"}";
    rts_provider_meta_t *meta;
    rts_result_t res;

    rts_result_reset(&res);
    ck_assert_int_eq(rts_provider_parse_meta(rts_test_pool, doc, sizeof(doc) - 1, TEST_ISSUER, 0,
                                             &meta, &res), RTS_EUPSTREAM);
    ck_assert_str_eq(res.error, "issuer_mismatch");
    ck_assert_ptr_nonnull(strstr(res.description, "'https://evil.example  RTS99999: forged'"));
    ck_assert_ptr_nonnull(strstr(res.description, TEST_ISSUER));
    ck_assert_ptr_null(strpbrk(res.description, "\r\n"));
}
END_TEST

Suite *rts_suite_identity(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("identity");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_session_of_one_client_unknown_to_another);
    tcase_add_test(tc, test_session_of_one_issuer_unknown_to_another);
    tcase_add_test(tc, test_binding_is_unambiguous);
    tcase_add_test(tc, test_pending_login_of_one_client_unknown_to_another);
    tcase_add_test(tc, test_pending_cookie_of_one_client_unknown_to_another);
    tcase_add_test(tc, test_cookie_of_app1_at_app2_starts_a_new_login);
    tcase_add_test(tc, test_claim_user_name_rule);
    tcase_add_test(tc, test_claim_text_rule);
    tcase_add_test(tc, test_login_refused_when_user_claim_unusable);
    tcase_add_test(tc, test_login_with_nul_in_user_claim_refused);
    tcase_add_test(tc, test_login_accepts_utf8_and_absent_user_claim);
    tcase_add_test(tc, test_login_refused_when_session_too_large);
    tcase_add_test(tc, test_session_write_bounded_like_read);
    tcase_add_test(tc, test_issuer_mismatch_names_both_issuers);
    suite_add_tcase(s, tc);
    return s;
}
