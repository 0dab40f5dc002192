/* SPDX-License-Identifier: Apache-2.0 */
/* The orchestrator: login start, callback, authenticated requests, error paths. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "test_keys.h"
#include "rts_authreq.h"
#include "rts_cookie.h"
#include "rts_flow.h"
#include "rts_json.h"
#include "rts_session.h"
#include "rts_util.h"
#include "rts_record.h"
#include "rts_backchannel.h"

static test_env_t *env;
static test_key_t *key;

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
    key = test_key_generate(rts_test_pool, "RS256", "k1");
}

static rts_req_t *request(const char *uri, const char *cookie, int navigation)
{
    return test_env_request(env, uri, cookie, navigation);
}

static const char *set_cookie(const rts_outcome_t *out, const char *name)
{
    return test_outcome_cookie(rts_test_pool, out, name);
}

static const char *id_token(const char *nonce, const char *sub)
{
    long now = (long)apr_time_sec(env->now);

    return test_jws_sign(rts_test_pool, key, NULL, apr_psprintf(rts_test_pool,
        "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"sub\":\"%s\","
        "\"email\":\"alice@example.test\",\"nonce\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
        sub, nonce, now, now + 300));
}

/* The last login started: its state (as sent to the provider) and its pending-login cookie. */
static const char *last_state, *last_cookie;

/* A query parameter of an outcome's Location. */
static const char *location_param(const rts_outcome_t *out, const char *name)
{
    apr_table_t *q;

    ck_assert_int_eq(rts_form_parse(rts_test_pool, strchr(out->location, '?') + 1, &q),
                     APR_SUCCESS);
    return apr_table_get(q, name);
}

/* Starts a login (discovery cached already unless fetch); *pstate is its state. */
static rts_outcome_t *login_started_fetch(const char *uri, const char **pstate, int fetch)
{
    rts_outcome_t *out = apr_pcalloc(rts_test_pool, sizeof(*out));

    if (fetch) {
        test_env_push_discovery(env);
    }
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request(uri, NULL, 1), out),
                     APR_SUCCESS);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    last_cookie = set_cookie(out, "__Host-rtsession_login");
    ck_assert_ptr_nonnull(last_cookie);
    *pstate = last_state = location_param(out, "state");
    ck_assert_ptr_nonnull(*pstate);
    return out;
}

/* Starts the first login of a test (discovery fetched). */
static rts_outcome_t *login_started(const char *uri, const char **pstate)
{
    return login_started_fetch(uri, pstate, 1);
}

/* Peeks at the nonce the module sent to the provider. */
static const char *nonce_of(const rts_outcome_t *started)
{
    apr_table_t *q;

    ck_assert_int_eq(rts_form_parse(rts_test_pool, strchr(started->location, '?') + 1, &q),
                     APR_SUCCESS);
    return apr_table_get(q, "nonce");
}

/* The callback with the pending-login cookie of state_cookie (the browser's cookie when it is
 * the state of the last login started, else that value itself). */
static rts_outcome_t *callback(const char *query, const char *state_cookie)
{
    rts_outcome_t *out = apr_pcalloc(rts_test_pool, sizeof(*out));
    const char *cookie;

    if (state_cookie && last_state && !strcmp(state_cookie, last_state)) {
        state_cookie = last_cookie;
    }
    cookie = state_cookie
        ? apr_pstrcat(rts_test_pool, "__Host-rtsession_login=", state_cookie, NULL) : NULL;
    ck_assert_int_eq(rts_flow_callback(test_env_ctx(env),
                                       request(apr_pstrcat(rts_test_pool, "/rtsession/callback?",
                                                           query, NULL), cookie, 1), out),
                     APR_SUCCESS);
    return out;
}

static void push_token_response(const char *nonce)
{
    fake_http_push(env->fh, 200, apr_psprintf(rts_test_pool,
                   "{\"access_token\":\"AT1\",\"token_type\":\"Bearer\",\"expires_in\":300,"
                   "\"refresh_token\":\"RT1\",\"id_token\":\"%s\"}", id_token(nonce, "alice")), NULL);
}

/* The token response, then the JWKS (fetched once: the provider caches it). */
static void push_tokens(const char *nonce)
{
    const test_key_t *keys[1];

    keys[0] = key;
    push_token_response(nonce);
    fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, keys, 1), NULL);
}

/* A complete login; returns the session cookie value. */
static const char *logged_in(void)
{
    const char *state;
    rts_outcome_t *started = login_started("/app/page?x=1", &state);
    rts_outcome_t *out;

    push_tokens(nonce_of(started));
    out = callback(apr_pstrcat(rts_test_pool, "code=abc&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, "/app/page?x=1");
    return set_cookie(out, "__Host-rtsession");
}

START_TEST(test_flow_no_session_navigation_redirects)
{
    const char *state;
    rts_outcome_t *out = login_started("/app", &state);

    ck_assert_int_eq(strncmp(out->location, TEST_ISSUER "/auth?", strlen(TEST_ISSUER) + 6), 0);
    ck_assert_ptr_nonnull(strstr(out->location, apr_pstrcat(rts_test_pool, "state=", state, NULL)));
    ck_assert_ptr_nonnull(strstr(out->location,
        "redirect_uri=https%3A%2F%2Frp.example.test%2Frtsession%2Fcallback"));
    /* the pending login is in the browser's cookie: nothing in the store */
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

START_TEST(test_flow_no_session_api_request_gets_401)
{
    rts_outcome_t out;

    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/api", NULL, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_DENY);
    ck_assert_int_eq(out.http_status, 401);
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

START_TEST(test_flow_login_creates_session)
{
    const char *sid = logged_in();
    const rts_http_request_t *token_req = fake_http_request(env->fh, 1);
    rts_session_t *s;

    ck_assert(rts_session_id_valid(sid));
    ck_assert_ptr_nonnull(strstr(token_req->body, "grant_type=authorization_code"));
    ck_assert_ptr_nonnull(strstr(token_req->body, "code_verifier="));
    ck_assert_int_eq(rts_session_load(test_env_ctx(env), sid, &s), APR_SUCCESS);
    ck_assert_str_eq(s->sub, "alice");
    ck_assert_str_eq(s->refresh_token, "RT1");
    ck_assert_int_eq(s->gen, 1);
    /* the session, and the small marker that makes the callback single use */
    ck_assert_uint_eq(fake_store_size(env->fs), 2);
}
END_TEST

START_TEST(test_flow_session_hot_path_one_get_no_write)
{
    const char *sid = logged_in();
    rts_outcome_t out;

    fake_store_reset_counts(env->fs);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", apr_pstrcat(
                     rts_test_pool, "a=b; __Host-rtsession=", sid, NULL), 0), &out), APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_PASS);
    ck_assert_str_eq(out.session->access_token, "AT1");
    ck_assert_str_eq(json_string_value(json_object_get(out.claims, "email")), "alice@example.test");
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_GET), 1);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_ANY), 1);
}
END_TEST

static rts_outcome_t *hot_request(const char *sid)
{
    rts_outcome_t *out = apr_pcalloc(rts_test_pool, sizeof(*out));

    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", apr_pstrcat(
                     rts_test_pool, "__Host-rtsession=", sid, NULL), 0), out), APR_SUCCESS);
    ck_assert_int_eq(out->kind, RTS_OUT_PASS);
    return out;
}

START_TEST(test_flow_claims_memoized_per_id_token)
{
    const char *first = logged_in(), *second, *state, *nonce_a, *nonce_b;
    rts_outcome_t *started, *a1, *a2, *b;

    /* a second login: discovery and JWKS are cached, only the token response is fetched */
    started = apr_pcalloc(rts_test_pool, sizeof(*started));
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app/", NULL, 1), started),
                     APR_SUCCESS);
    last_cookie = set_cookie(started, "__Host-rtsession_login");
    ck_assert_ptr_nonnull(last_cookie);
    state = last_state = location_param(started, "state");
    push_token_response(nonce_of(started));
    second = set_cookie(callback(apr_pstrcat(rts_test_pool, "code=def&state=", state, NULL), state),
                        "__Host-rtsession");
    ck_assert_ptr_nonnull(second);
    a1 = hot_request(first);
    a2 = hot_request(first);
    b = hot_request(second);
    nonce_a = json_string_value(json_object_get(a1->claims, "nonce"));
    nonce_b = json_string_value(json_object_get(b->claims, "nonce"));
    /* the same stored ID token: one parse for the child, shared by its requests */
    ck_assert_ptr_eq(a1->claims, a2->claims);
    /* another session's ID token (another nonce): its own claims, never the first's */
    ck_assert_ptr_ne(a1->claims, b->claims);
    ck_assert_ptr_nonnull(nonce_a);
    ck_assert_ptr_nonnull(nonce_b);
    ck_assert_str_ne(nonce_a, nonce_b);
}
END_TEST

START_TEST(test_flow_unknown_session_cookie_restarts_login)
{
    rts_outcome_t out;
    const char *bogus = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    test_env_push_discovery(env);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", apr_pstrcat(
                     rts_test_pool, "__Host-rtsession=", bogus, NULL), 1), &out), APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(set_cookie(&out, "__Host-rtsession"), "");
}
END_TEST

START_TEST(test_flow_store_down_is_503)
{
    rts_outcome_t out;
    const char *sid = logged_in();

    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_GET, APR_ECONNREFUSED);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", apr_pstrcat(
                     rts_test_pool, "__Host-rtsession=", sid, NULL), 1), &out), APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out.http_status, 503);
    ck_assert_int_gt(out.retry_after, 0);
}
END_TEST

/* A session on a memcached server down past RTSessionMemcachedDeadAfter is taken as lost: a
 * navigation logs in again (cookie cleared), anything else gets 401; never a 503 for ever. */
START_TEST(test_flow_store_gone_restarts_login)
{
    rts_outcome_t out;
    const char *sid = logged_in();
    const char *cookie = apr_pstrcat(rts_test_pool, "__Host-rtsession=", sid, NULL);

    test_env_push_discovery(env);
    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_GET, RTS_ESTOREGONE);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", cookie, 1), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(set_cookie(&out, "__Host-rtsession"), "");
    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_GET, RTS_ESTOREGONE);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", cookie, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_DENY);
    ck_assert_int_eq(out.http_status, 401);
}
END_TEST

/* A hook that makes the first add of a session record fail as refused before it was sent. */
static void refuse_first_session_add(fake_store_t *fs, fake_store_op_t op, const char *item,
                                     void *baton)
{
    int *refused = baton;

    if (op == FAKE_STORE_OP_ADD && !*refused && !strncmp(item, "rts:s:", 6)) {
        *refused = 1;
        fake_store_fail_next(fs, 1, FAKE_STORE_OP_ADD, APR_ECONNREFUSED);
    }
}

/* The session add at the callback refused before anything was sent (a server this child had
 * not yet seen fail): the id is drawn again and the login completes, not a 503. */
START_TEST(test_flow_session_add_refused_draws_again)
{
    const char *state;
    rts_outcome_t *started = login_started("/app/page?x=1", &state);
    rts_outcome_t *out;
    unsigned adds;

    int refused = 0;

    push_tokens(nonce_of(started));
    adds = fake_store_count(env->fs, FAKE_STORE_OP_ADD);
    /* the first session add (after the login's consumed marker) is refused */
    fake_store_set_hook(env->fs, refuse_first_session_add, &refused);
    out = callback(apr_pstrcat(rts_test_pool, "code=abc&state=", state, NULL), state);
    fake_store_set_hook(env->fs, NULL, NULL);
    ck_assert_int_eq(refused, 1);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, "/app/page?x=1");
    ck_assert_ptr_nonnull(set_cookie(out, "__Host-rtsession"));
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_ADD) - adds, 3);
}
END_TEST

START_TEST(test_flow_provider_down_at_login_is_502)
{
    rts_outcome_t out;

    fake_http_push_error(env->fh, APR_ECONNREFUSED);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", NULL, 1), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out.http_status, 502);
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

START_TEST(test_flow_callback_state_checks)
{
    const char *state, *other;
    rts_outcome_t *out;

    login_started("/app", &state);
    rts_random_token(rts_test_pool, 32, &other);
    /* state in the URL differs from the browser's */
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", other, NULL), state);
    ck_assert_int_eq(out->http_status, 400);
    /* no state cookie */
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), NULL);
    ck_assert_int_eq(out->http_status, 400);
    /* no state at all */
    out = callback("code=c", state);
    ck_assert_int_eq(out->http_status, 400);
    /* repeated parameter */
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, "&state=", state, NULL), state);
    ck_assert_int_eq(out->http_status, 400);
    ck_assert_int_eq(fake_http_count(env->fh), 1);   /* only discovery: no code was redeemed */
}
END_TEST

START_TEST(test_flow_callback_replay_refused)
{
    const char *state;
    rts_outcome_t *started = login_started("/app", &state);
    rts_outcome_t *out;
    const char *q;
    unsigned calls;

    push_tokens(nonce_of(started));
    q = apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL);
    out = callback(q, state);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    /* item 8: the same callback (URL and pending-login cookie) again is refused before the code
     * is presented a second time */
    calls = fake_http_count(env->fh);
    out = callback(q, state);
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out->http_status, 400);
    ck_assert_str_eq(out->result.error, "invalid_state");
    ck_assert_uint_eq(fake_http_count(env->fh), calls);
}
END_TEST

START_TEST(test_flow_callback_access_denied)
{
    const char *state;
    rts_outcome_t *out;

    login_started("/app", &state);
    out = callback(apr_pstrcat(rts_test_pool, "error=access_denied&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out->http_status, 403);
    ck_assert_str_eq(set_cookie(out, "__Host-rtsession_login"), "");   /* no loop */
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

START_TEST(test_flow_callback_wrong_iss)
{
    const char *state;
    rts_outcome_t *out;

    login_started("/app", &state);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&iss=https%3A%2F%2Fevil&state=", state, NULL),
                   state);
    ck_assert_int_eq(out->http_status, 400);
    ck_assert_int_eq(fake_http_count(env->fh), 1);
}
END_TEST

START_TEST(test_flow_callback_wrong_nonce_rejected)
{
    const char *state, *wrong;
    rts_outcome_t *out;

    login_started("/app", &state);
    rts_random_token(rts_test_pool, 32, &wrong);
    push_tokens(wrong);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out->http_status, 403);
    ck_assert_uint_eq(fake_store_size(env->fs), 0);   /* no session */
}
END_TEST

START_TEST(test_flow_callback_token_error)
{
    const char *state;
    rts_outcome_t *out;

    login_started("/app", &state);
    fake_http_push(env->fh, 400, "{\"error\":\"invalid_grant\"}", NULL);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    ck_assert_int_eq(out->http_status, 400);
    login_started("/app", &state);
    fake_http_push_error(env->fh, APR_TIMEUP);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    ck_assert_int_eq(out->http_status, 502);
}
END_TEST

START_TEST(test_flow_unsafe_return_url_becomes_root)
{
    const char *state;
    rts_outcome_t *started = login_started("//evil.example/x", &state);
    rts_outcome_t *out;

    push_tokens(nonce_of(started));
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, "/");
}
END_TEST

/* Item 8: anonymous navigations keep their pending login in the browser: a flood of them
 * writes nothing to the store (before: one item each, evicting real sessions). */
START_TEST(test_flow_anonymous_navigations_write_nothing)
{
    int i;

    test_env_push_discovery(env);
    fake_store_reset_counts(env->fs);
    for (i = 0; i < 200; i++) {
        rts_outcome_t out;

        ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env),
                                               request(apr_psprintf(rts_test_pool, "/app/%d", i),
                                                       NULL, 1), &out), APR_SUCCESS);
        ck_assert_int_eq(out.kind, RTS_OUT_REDIRECT);
    }
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_ANY), 0);
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

static void mark_consumed_hook(fake_store_t *fs, fake_store_op_t op, const char *item, void *baton)
{
    if (op == FAKE_STORE_OP_ADD && !strcmp(item, (const char *)baton)) {
        fake_store_put(fs, item, "1", 1, 60);   /* another callback of this state won */
    }
}

/* Item 8: two callbacks of one state at once: the one that records the state second makes no
 * session. */
START_TEST(test_flow_concurrent_callbacks_one_session)
{
    const char *state, *marker;
    rts_outcome_t *started = login_started("/app", &state);
    rts_outcome_t *out;

    marker = rts_record_key(rts_test_pool, &APR_ARRAY_IDX(env->cfg->secrets, 0, rts_secret_t),
                            "rts:p:", apr_pstrcat(rts_test_pool, "c:", state, NULL));
    push_tokens(nonce_of(started));
    fake_store_set_hook(env->fs, mark_consumed_hook, (void *)marker);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    fake_store_set_hook(env->fs, NULL, NULL);
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out->http_status, 400);
    ck_assert_ptr_null(set_cookie(out, "__Host-rtsession"));
    ck_assert_uint_eq(fake_store_size(env->fs), 1);   /* the marker only: no session */
}
END_TEST

/* Item 8: the sealed pending login binds to its state and the module secret: another login's
 * cookie, an altered cookie, an expired one are refused without redeeming the code. */
START_TEST(test_flow_pending_cookie_tampering_refused)
{
    const char *state_a, *cookie_a, *state_b, *cookie_b, *bad;
    rts_outcome_t *out;
    char *flip;

    login_started("/a", &state_a);
    cookie_a = last_cookie;
    login_started_fetch("/b", &state_b, 0);
    cookie_b = last_cookie;
    /* B's cookie with A's state in the URL */
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state_a, NULL), cookie_b);
    ck_assert_int_eq(out->http_status, 400);
    /* A's state glued to B's sealed login */
    bad = apr_pstrcat(rts_test_pool, state_a, strchr(cookie_b, '.'), NULL);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state_a, NULL), bad);
    ck_assert_int_eq(out->http_status, 400);
    /* one character of the sealed part changed */
    flip = apr_pstrdup(rts_test_pool, cookie_a);
    flip[strlen(flip) - 5] = flip[strlen(flip) - 5] == 'A' ? 'B' : 'A';
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state_a, NULL), flip);
    ck_assert_int_eq(out->http_status, 400);
    /* too old */
    env->now += env->cfg->pending_ttl + apr_time_from_sec(2);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state_a, NULL), cookie_a);
    ck_assert_int_eq(out->http_status, 400);
    ck_assert_str_eq(out->result.error, "invalid_state");
    ck_assert_uint_eq(fake_http_count(env->fh), 1);   /* discovery only: no code redeemed */
    ck_assert_uint_eq(fake_store_size(env->fs), 0);
}
END_TEST

/* Item 8: the cookie stays bounded whatever the return URL (JSON escapes included). */
START_TEST(test_flow_pending_cookie_bounded)
{
    char url[RTS_RETURN_URL_MAX + 1];
    const char *state;
    rts_outcome_t *out;

    memset(url, '"', sizeof(url) - 1);
    url[0] = '/';
    url[sizeof(url) - 1] = '\0';
    ck_assert(rts_return_url_ok(url));
    out = login_started(url, &state);
    ck_assert_uint_le(strlen(last_cookie), RTS_AUTHREQ_COOKIE_MAX);
    ck_assert_uint_le(strlen(APR_ARRAY_IDX(out->set_cookies, 0, const char *)), 3400);
    /* an ordinary long URL is kept */
    memset(url, 'a', sizeof(url) - 1);
    url[0] = '/';
    push_token_response(nonce_of(login_started_fetch(url, &state, 0)));
    fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, (const test_key_t **)&key, 1),
                   NULL);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, url);
}
END_TEST

/* Item 8, upgrade: a login started before it (bare state cookie, record in the store)
 * completes, once. */
START_TEST(test_flow_pending_login_of_earlier_version_completes)
{
    rts_provider_trip_t *pending;
    rts_outcome_t *out;
    const char *q;

    test_env_push_discovery(env);
    ck_assert_int_eq(rts_authreq_new(rts_test_pool, "/old", env->now, &pending), APR_SUCCESS);
    ck_assert_int_eq(rts_authreq_save(test_env_ctx(env), pending), APR_SUCCESS);
    push_tokens(pending->nonce);
    q = apr_pstrcat(rts_test_pool, "code=c&state=", pending->state, NULL);
    out = callback(q, pending->state);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, "/old");
    out = callback(q, pending->state);
    ck_assert_int_eq(out->http_status, 400);
}
END_TEST

/* A back-channel logout of alice (sub), issued now, as the provider POSTs it; the number of
 * sessions it ended. */
static int backchannel_logout_alice(const char *jti)
{
    const char *body = apr_pstrcat(rts_test_pool, "logout_token=", rts_url_encode(rts_test_pool,
        test_jws_sign(rts_test_pool, key, NULL, apr_psprintf(rts_test_pool,
        "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"iat\":%ld,\"jti\":\"%s\","
        "\"sub\":\"alice\",\"events\":{\"" RTS_BACKCHANNEL_EVENT "\":{}}}",
        (long)apr_time_sec(env->now), jti))), NULL);
    rts_result_t res;
    int ended;

    rts_result_reset(&res);
    ck_assert_int_eq(rts_backchannel_handle(test_env_ctx(env), body, strlen(body), &ended, &res),
                     APR_SUCCESS);
    return ended;
}

/* Item 7: a login whose callback completes after a back-channel logout of its user (the login
 * began before the logout) creates no session; the next login does. */
START_TEST(test_flow_late_callback_after_backchannel_logout_refused)
{
    const test_key_t *keys[1];
    const char *state;
    rts_outcome_t *started, *out;

    env->cfg->backchannel_path = "/rtsession/backchannel";
    keys[0] = key;
    started = login_started("/app", &state);
    env->now += apr_time_from_sec(2);
    fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, keys, 1), NULL);
    ck_assert_int_eq(backchannel_logout_alice("j1"), 0);
    env->now += apr_time_from_sec(2);
    push_token_response(nonce_of(started));
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_str_eq(out->result.error, "logged_out");
    ck_assert_ptr_null(set_cookie(out, "__Host-rtsession"));
    /* the next login, begun after the logout, works */
    env->now += apr_time_from_sec(2);
    started = login_started_fetch("/app", &state, 0);
    push_token_response(nonce_of(started));
    out = callback(apr_pstrcat(rts_test_pool, "code=d&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_ptr_nonnull(set_cookie(out, "__Host-rtsession"));
}
END_TEST

/* The auth time a login indexes for back-channel logout is the ID token's auth_time read as
 * every NumericDate (rts_jwt_claims.h): a fractional one is floored, not replaced by iat (which
 * would spare the session from a sub logout issued between its authentication and its iat). */
START_TEST(test_flow_indexes_fractional_auth_time)
{
    const test_key_t *keys[1];
    const char *state, *item;
    rts_outcome_t *started, *out;
    long now = (long)apr_time_sec(env->now);
    apr_size_t len;
    json_t *ix;

    env->cfg->backchannel_path = "/rtsession/backchannel";
    keys[0] = key;
    started = login_started("/app", &state);
    fake_http_push(env->fh, 200, apr_psprintf(rts_test_pool,
                   "{\"access_token\":\"AT1\",\"token_type\":\"Bearer\",\"expires_in\":300,"
                   "\"id_token\":\"%s\"}",
                   test_jws_sign(rts_test_pool, key, NULL, apr_psprintf(rts_test_pool,
                       "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\","
                       "\"sub\":\"alice\",\"nonce\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
                       "\"auth_time\":%ld.75}", nonce_of(started), now, now + 300, now - 100))),
                   NULL);
    fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, keys, 1), NULL);
    out = callback(apr_pstrcat(rts_test_pool, "code=c&state=", state, NULL), state);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_int_eq(fake_store_peek(env->fs, rts_test_pool, rts_record_key(rts_test_pool,
                         &APR_ARRAY_IDX(env->cfg->secrets, 0, rts_secret_t), "rts:b:",
                         "sub:" TEST_ISSUER "\nalice"), &item, &len, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(rts_json_parse_object(rts_test_pool, item, len, 4096, &ix), APR_SUCCESS);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(ix, "a"), 0)), now - 100);
}
END_TEST

/* Item 7: with back-channel logout on, a request that neither refreshes nor slides is still one
 * get and no write; the slide (a write anyway) reads the index, and a session that a logout
 * missed because memcached had evicted its index item ends there. */
START_TEST(test_flow_slide_ends_session_a_logout_missed)
{
    const char *sid, *cookie;
    rts_outcome_t out;

    env->cfg->backchannel_path = "/rtsession/backchannel";
    env->cfg->idle_timeout = apr_time_from_sec(3600);
    env->cfg->touch_interval = apr_time_from_sec(60);
    sid = logged_in();
    cookie = apr_pstrcat(rts_test_pool, "__Host-rtsession=", sid, NULL);
    fake_store_reset_counts(env->fs);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", cookie, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_PASS);
    ck_assert_uint_eq(fake_store_count(env->fs, FAKE_STORE_OP_ANY), 1);
    /* memcached evicts the index item; the provider logs alice out: the logout finds nothing */
    fake_store_remove(env->fs, rts_record_key(rts_test_pool,
                                              &APR_ARRAY_IDX(env->cfg->secrets, 0, rts_secret_t),
                                              "rts:b:", "sub:" TEST_ISSUER "\nalice"));
    ck_assert_int_eq(backchannel_logout_alice("j2"), 0);
    /* the next slot: the slide reads the index and ends the session */
    env->now += apr_time_from_sec(90);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", cookie, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_DENY);
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app", cookie, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_DENY);
}
END_TEST

START_TEST(test_flow_callback_path)
{
    ck_assert_str_eq(rts_flow_callback_path(rts_test_pool, env->cfg), "/rtsession/callback");
    env->cfg->redirect_uri = "https://rp.example.test:8443/oidc/cb";
    ck_assert_str_eq(rts_flow_callback_path(rts_test_pool, env->cfg), "/oidc/cb");
    ck_assert_str_eq(rts_flow_redirect_uri(rts_test_pool, env->cfg, request("/", NULL, 1)),
                     "https://rp.example.test:8443/oidc/cb");
}
END_TEST

/* Item 1: a refresh refused with 400 and an empty body ends the session cleanly: a navigation
 * starts a new login that returns to the URL, an XHR gets 401; the cookie is cleared. */
START_TEST(test_flow_refresh_refused_ends_session)
{
    const char *cookie = apr_pstrcat(rts_test_pool, "__Host-rtsession=", logged_in(), NULL);
    rts_outcome_t out;
    const char *cleared;

    env->now += apr_time_from_sec(400);                  /* the access token has expired */
    fake_http_push(env->fh, 400, "", NULL);
    memset(&out, 0, sizeof(out));
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/app/x?y=1", cookie, 1),
                                           &out), APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_REDIRECT);
    ck_assert_int_eq(strncmp(out.location, TEST_ISSUER "/auth?", strlen(TEST_ISSUER) + 6), 0);
    cleared = set_cookie(&out, "__Host-rtsession");
    ck_assert_ptr_nonnull(cleared);
    ck_assert_str_eq(cleared, "");
    /* the same ended session from an XHR: 401, no token call */
    memset(&out, 0, sizeof(out));
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/api", cookie, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.kind, RTS_OUT_DENY);
    ck_assert_int_eq(out.http_status, 401);
    ck_assert_uint_eq(fake_http_pending(env->fh), 0);
}
END_TEST

/* Item 1: while the refresh backs off, an expired session gets 503 with Retry-After equal to
 * the remaining backoff, and no token call. */
START_TEST(test_flow_refresh_backoff_503_retry_after)
{
    const char *cookie = apr_pstrcat(rts_test_pool, "__Host-rtsession=", logged_in(), NULL);
    unsigned calls;
    rts_outcome_t out;

    env->now += apr_time_from_sec(400);
    fake_http_push(env->fh, 429, "", "Retry-After", "9", NULL);
    memset(&out, 0, sizeof(out));
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/api", cookie, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.http_status, 503);
    ck_assert_int_eq(out.retry_after, 9);
    calls = fake_http_count(env->fh);
    env->now += apr_time_from_sec(5);
    memset(&out, 0, sizeof(out));
    ck_assert_int_eq(rts_flow_authenticate(test_env_ctx(env), request("/api", cookie, 0), &out),
                     APR_SUCCESS);
    ck_assert_int_eq(out.http_status, 503);
    ck_assert_int_eq(out.retry_after, 4);
    ck_assert_uint_eq(fake_http_count(env->fh), calls);
}
END_TEST

Suite *rts_suite_flow(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("flow");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_flow_no_session_navigation_redirects);
    tcase_add_test(tc, test_flow_no_session_api_request_gets_401);
    tcase_add_test(tc, test_flow_login_creates_session);
    tcase_add_test(tc, test_flow_session_hot_path_one_get_no_write);
    tcase_add_test(tc, test_flow_claims_memoized_per_id_token);
    tcase_add_test(tc, test_flow_unknown_session_cookie_restarts_login);
    tcase_add_test(tc, test_flow_store_down_is_503);
    tcase_add_test(tc, test_flow_store_gone_restarts_login);
    tcase_add_test(tc, test_flow_session_add_refused_draws_again);
    tcase_add_test(tc, test_flow_refresh_refused_ends_session);
    tcase_add_test(tc, test_flow_refresh_backoff_503_retry_after);
    tcase_add_test(tc, test_flow_provider_down_at_login_is_502);
    tcase_add_test(tc, test_flow_callback_state_checks);
    tcase_add_test(tc, test_flow_callback_replay_refused);
    tcase_add_test(tc, test_flow_callback_access_denied);
    tcase_add_test(tc, test_flow_callback_wrong_iss);
    tcase_add_test(tc, test_flow_callback_wrong_nonce_rejected);
    tcase_add_test(tc, test_flow_callback_token_error);
    tcase_add_test(tc, test_flow_unsafe_return_url_becomes_root);
    tcase_add_test(tc, test_flow_callback_path);
    tcase_add_test(tc, test_flow_anonymous_navigations_write_nothing);
    tcase_add_test(tc, test_flow_concurrent_callbacks_one_session);
    tcase_add_test(tc, test_flow_pending_cookie_tampering_refused);
    tcase_add_test(tc, test_flow_pending_cookie_bounded);
    tcase_add_test(tc, test_flow_pending_login_of_earlier_version_completes);
    tcase_add_test(tc, test_flow_late_callback_after_backchannel_logout_refused);
    tcase_add_test(tc, test_flow_indexes_fractional_auth_time);
    tcase_add_test(tc, test_flow_slide_ends_session_a_logout_missed);
    suite_add_tcase(s, tc);
    return s;
}
