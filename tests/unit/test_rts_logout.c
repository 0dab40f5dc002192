/* SPDX-License-Identifier: Apache-2.0 */
/* Logout: CSRF rule, local logout, revocation (RFC 7009), RP-initiated logout and its return. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "rts_flow.h"
#include "rts_logout.h"
#include "rts_session.h"
#include "rts_util.h"
#include "rts_log.h"
#include "rts_backchannel.h"
#include "test_keys.h"
#include "rts_record.h"

#define SESSION_COOKIE "__Host-rtsession"
#define LOGOUT_COOKIE "__Host-rtsession_logout"
#define ID_TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"

static test_env_t *env;

static void setup(void)
{
    rts_test_setup();
    env = test_env_create(rts_test_pool);
    env->cfg->logout_path = "/rtsession/logout";
    env->cfg->logout_redirect = "/bye";
    env->cfg->logout_at_provider = 1;
    env->cfg->revoke_at_logout = 1;
}

static void push_discovery(int revocation, int end_session)
{
    fake_http_push(env->fh, 200, apr_pstrcat(rts_test_pool,
                   "{\"issuer\":\"" TEST_ISSUER "\","
                   "\"authorization_endpoint\":\"" TEST_ISSUER "/auth\","
                   "\"token_endpoint\":\"" TEST_ISSUER "/token\",",
                   revocation ? "\"revocation_endpoint\":\"" TEST_ISSUER "/revoke\"," : "",
                   end_session ? "\"end_session_endpoint\":\"" TEST_ISSUER "/end?x=1\"," : "",
                   "\"jwks_uri\":\"" TEST_ISSUER "/jwks\"}", NULL),
                   "Content-Type", "application/json", NULL);
}

static rts_session_t *stored_session(void)
{
    rts_session_t *s = apr_pcalloc(rts_test_pool, sizeof(*s));

    ck_assert_int_eq(rts_session_new_id(rts_test_pool, &s->id), APR_SUCCESS);
    s->gen = 1;
    s->sub = "alice";
    s->id_token = ID_TOKEN;
    s->access_token = "AT-secret";
    s->refresh_token = "RT-secret";
    s->created = env->now;
    ck_assert_int_eq(rts_session_add(test_env_ctx(env), s), APR_SUCCESS);
    return s;
}

static int stored(const rts_session_t *s)
{
    rts_session_t *cur;

    return rts_session_load(test_env_ctx(env), s->id, &cur) == APR_SUCCESS;
}

static rts_req_t *request(const char *method, const char *query, const char *cookie)
{
    rts_req_t *req = apr_pcalloc(rts_test_pool, sizeof(*req));

    req->method = method;
    req->secure = 1;
    req->origin = "https://rp.example.test";
    req->uri = query ? apr_pstrcat(rts_test_pool, "/rtsession/logout?", query, NULL)
                     : "/rtsession/logout";
    req->query = query;
    req->cookie_header = cookie;
    return req;
}

static const char *with_session(const rts_session_t *s)
{
    return apr_pstrcat(rts_test_pool, "a=b; " SESSION_COOKIE "=", s->id, NULL);
}

static rts_outcome_t *logout(rts_req_t *req, const char *fetch_site)
{
    rts_outcome_t *out = apr_pcalloc(rts_test_pool, sizeof(*out));

    ck_assert_int_eq(rts_logout_handle(test_env_ctx(env), req, fetch_site, out), APR_SUCCESS);
    return out;
}

/* The value of a cookie set by an outcome ("" when cleared), NULL when not set. */
static const char *set_cookie(const rts_outcome_t *out, const char *name)
{
    int i;
    apr_size_t n = strlen(name);

    for (i = 0; i < out->set_cookies->nelts; i++) {
        const char *c = APR_ARRAY_IDX(out->set_cookies, i, const char *);
        if (!strncmp(c, name, n) && c[n] == '=') {
            const char *end = strchr(c, ';');
            return apr_pstrmemdup(rts_test_pool, c + n + 1, (apr_size_t)(end - c - n - 1));
        }
    }
    return NULL;
}

static const char *query_param(const char *url, const char *name)
{
    apr_table_t *t;
    const char *q = strchr(url, '?');

    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, q + 1, &t), APR_SUCCESS);
    return apr_table_get(t, name);
}

START_TEST(test_logout_csrf_rule)
{
    ck_assert(rts_logout_allowed("POST", NULL));
    ck_assert(rts_logout_allowed("POST", "same-origin"));
    ck_assert(rts_logout_allowed("POST", "none"));
    ck_assert(!rts_logout_allowed("POST", "cross-site"));
    ck_assert(!rts_logout_allowed("POST", "same-site"));
    ck_assert(rts_logout_allowed("GET", "same-origin"));
    ck_assert(rts_logout_allowed("GET", "none"));
    ck_assert(!rts_logout_allowed("GET", NULL));
    ck_assert(!rts_logout_allowed("GET", "cross-site"));
    ck_assert(!rts_logout_allowed("GET", "same-site"));
    ck_assert(!rts_logout_allowed("PUT", "same-origin"));
    ck_assert(!rts_logout_allowed(NULL, "same-origin"));
}
END_TEST

START_TEST(test_logout_cross_site_refused_session_kept)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out = logout(request("GET", NULL, with_session(s)), "cross-site");

    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out->http_status, 403);
    ck_assert_ptr_null(set_cookie(out, SESSION_COOKIE));
    ck_assert(stored(s));
    out = logout(request("GET", NULL, with_session(s)), NULL);
    ck_assert_int_eq(out->http_status, 403);
    ck_assert(stored(s));
    ck_assert_uint_eq(fake_http_count(env->fh), 0);
}
END_TEST

START_TEST(test_logout_local_only)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out;

    push_discovery(0, 0);
    out = logout(request("POST", NULL, with_session(s)), NULL);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, "/bye");
    ck_assert_str_eq(set_cookie(out, SESSION_COOKIE), "");
    ck_assert(!stored(s));
    ck_assert_uint_eq(fake_http_count(env->fh), 1);   /* discovery only */
}
END_TEST

START_TEST(test_logout_return_param)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out;

    push_discovery(0, 0);
    out = logout(request("GET", "return=%2Fhome%3Fa%3D1", with_session(s)), "same-origin");
    ck_assert_str_eq(out->location, "/home?a=1");
    /* elsewhere is not a same-origin path: the configured target instead */
    out = logout(request("GET", "return=https%3A%2F%2Fevil.test%2F", NULL), "same-origin");
    ck_assert_str_eq(out->location, "/bye");
    out = logout(request("GET", "return=%2F%2Fevil.test", NULL), "same-origin");
    ck_assert_str_eq(out->location, "/bye");
}
END_TEST

START_TEST(test_logout_without_session)
{
    rts_outcome_t *out = logout(request("POST", NULL, "a=b"), "same-origin");

    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, "/bye");
    ck_assert_str_eq(set_cookie(out, SESSION_COOKIE), "");
    ck_assert_uint_eq(fake_http_count(env->fh), 0);
}
END_TEST

START_TEST(test_logout_revokes_refresh_then_access_token)
{
    rts_session_t *s = stored_session();
    const rts_http_request_t *r1, *r2;
    rts_outcome_t *out;

    push_discovery(1, 0);
    fake_http_push(env->fh, 200, "", NULL);
    fake_http_push(env->fh, 200, "", NULL);
    out = logout(request("POST", NULL, with_session(s)), "same-origin");
    ck_assert_str_eq(out->location, "/bye");
    ck_assert(!stored(s));
    ck_assert_uint_eq(fake_http_count(env->fh), 3);
    r1 = fake_http_request(env->fh, 1);
    r2 = fake_http_request(env->fh, 2);
    ck_assert_str_eq(r1->url, TEST_ISSUER "/revoke");
    ck_assert_str_eq(r1->method, "POST");
    ck_assert_ptr_nonnull(strstr(r1->body, "token=RT-secret"));
    ck_assert_ptr_nonnull(strstr(r1->body, "token_type_hint=refresh_token"));
    ck_assert_ptr_nonnull(apr_table_get(r1->headers, "Authorization"));
    ck_assert_ptr_nonnull(strstr(r2->body, "token=AT-secret"));
    ck_assert_ptr_nonnull(strstr(r2->body, "token_type_hint=access_token"));
}
END_TEST

START_TEST(test_logout_revocation_failure_does_not_block)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out;

    env->cfg->client_auth = RTS_AUTH_CLIENT_SECRET_POST;
    push_discovery(1, 0);
    fake_http_push_error(env->fh, APR_TIMEUP);
    fake_http_push(env->fh, 503, "down", NULL);
    out = logout(request("POST", NULL, with_session(s)), NULL);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert(!stored(s));
    ck_assert_ptr_nonnull(strstr(fake_http_request(env->fh, 2)->body, "client_secret="));
}
END_TEST

/* The log lines of one request, "level|message\n" each. */
static char *captured;

static int capture_is_level(void *baton, int level)
{
    (void)baton;
    (void)level;
    return 1;
}

static void capture_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                          const char *msg)
{
    (void)baton;
    (void)file;
    (void)line;
    (void)rv;
    captured = apr_psprintf(rts_test_pool, "%s%d|%s\n", captured ? captured : "", level, msg);
}

static struct rts_log_t capture_log = {capture_is_level, capture_print, NULL};

static rts_outcome_t *logout_logged(rts_req_t *req)
{
    rts_outcome_t *out = apr_pcalloc(rts_test_pool, sizeof(*out));
    rts_ctx_t *ctx = test_env_ctx(env);

    captured = NULL;
    ctx->log = &capture_log;
    ck_assert_int_eq(rts_logout_handle(ctx, req, "same-origin", out), APR_SUCCESS);
    return out;
}

/* Item 10: a provider that refuses the client at the revocation endpoint (401 invalid_client,
 * 403 unauthorized_client, 403 without a body) is named as a client-authentication failure at
 * error level, with the status, the error code and the directives to check; any other refusal
 * keeps the plain warning, which names the error code too. */
START_TEST(test_logout_revocation_client_auth_named)
{
    static const struct {
        int status;
        const char *body;
        const char *error;
        int client_auth;
    } cases[] = {
        {401, "{\"error\":\"invalid_client\"}", "invalid_client", 1},
        {403, "{\"error\":\"unauthorized_client\",\"error_description\":\"no\"}",
         "unauthorized_client", 1},
        {400, "{\"error\":\"invalid_client\"}", "invalid_client", 1},
        {403, "<html>forbidden</html>", "none", 1},
        {400, "{\"error\":\"unsupported_token_type\"}", "unsupported_token_type", 0},
        {503, "", "none", 0},
    };
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rts_session_t *s = stored_session();
        rts_outcome_t *out;
        const char *want;

        if (i == 0) {
            push_discovery(1, 0);
        }
        /* the refresh token, then the access token */
        fake_http_push(env->fh, cases[i].status, cases[i].body, NULL);
        fake_http_push(env->fh, cases[i].status, cases[i].body, NULL);
        out = logout_logged(request("POST", NULL, with_session(s)));
        ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
        ck_assert(!stored(s));
        ck_assert_msg(captured != NULL, "case %u: nothing logged", i);
        want = apr_psprintf(rts_test_pool, "HTTP %d, error %s)", cases[i].status,
                            cases[i].error);
        ck_assert_msg(strstr(captured, want), "case %u: %s", i, captured);
        if (cases[i].client_auth) {
            ck_assert_msg(strstr(captured, apr_psprintf(rts_test_pool, "%d|RTS10519: ",
                                                        RTS_LOG_ERR)), "case %u: %s", i, captured);
            ck_assert_ptr_nonnull(strstr(captured, "refused this client's authentication"));
            ck_assert_ptr_nonnull(strstr(captured, "RTSessionClientSecret"));
            ck_assert_ptr_nonnull(strstr(captured, "RTSessionTokenEndpointAuth"));
            ck_assert_ptr_null(strstr(captured, "RTS10502"));
        }
        else {
            ck_assert_msg(strstr(captured, "RTS10502: "), "case %u: %s", i, captured);
            ck_assert_ptr_null(strstr(captured, "RTS10519"));
        }
        ck_assert_ptr_null(strstr(captured, "RT-secret"));
        ck_assert_ptr_null(strstr(captured, "AT-secret"));
    }
}
END_TEST

START_TEST(test_logout_revocation_off)
{
    rts_session_t *s = stored_session();

    env->cfg->revoke_at_logout = 0;
    push_discovery(1, 0);
    logout(request("POST", NULL, with_session(s)), NULL);
    ck_assert(!stored(s));
    ck_assert_uint_eq(fake_http_count(env->fh), 1);
}
END_TEST

START_TEST(test_logout_rp_initiated_and_return)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out, *back;
    const char *state, *cookie;

    env->cfg->revoke_at_logout = 0;
    push_discovery(0, 1);
    out = logout(request("POST", "return=%2Fafter", with_session(s)), NULL);
    ck_assert(!stored(s));
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_ptr_nonnull(strstr(out->location, TEST_ISSUER "/end?x=1&"));
    ck_assert_str_eq(query_param(out->location, "id_token_hint"), ID_TOKEN);
    ck_assert_str_eq(query_param(out->location, "post_logout_redirect_uri"),
                     "https://rp.example.test/rtsession/logout");
    ck_assert_str_eq(query_param(out->location, "client_id"), TEST_CLIENT_ID);
    state = query_param(out->location, "state");
    ck_assert_ptr_nonnull(state);
    ck_assert_str_eq(set_cookie(out, SESSION_COOKIE), "");
    ck_assert_str_eq(set_cookie(out, LOGOUT_COOKIE), state);

    /* the return from the provider: cross-site, carries the state */
    cookie = apr_pstrcat(rts_test_pool, LOGOUT_COOKIE "=", state, NULL);
    back = logout(request("GET", apr_pstrcat(rts_test_pool, "state=", state, NULL), cookie),
                  "cross-site");
    ck_assert_int_eq(back->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(back->location, "/after");
    ck_assert_str_eq(set_cookie(back, LOGOUT_COOKIE), "");
    /* single use */
    back = logout(request("GET", apr_pstrcat(rts_test_pool, "state=", state, NULL), cookie),
                  "cross-site");
    ck_assert_int_eq(back->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(back->http_status, 400);
}
END_TEST

START_TEST(test_logout_return_state_must_match_cookie)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out, *back;
    const char *state, *other = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    env->cfg->revoke_at_logout = 0;
    push_discovery(0, 1);
    out = logout(request("POST", NULL, with_session(s)), NULL);
    state = query_param(out->location, "state");
    back = logout(request("GET", apr_pstrcat(rts_test_pool, "state=", state, NULL),
                          apr_pstrcat(rts_test_pool, LOGOUT_COOKIE "=", other, NULL)), "none");
    ck_assert_int_eq(back->http_status, 400);
    back = logout(request("GET", apr_pstrcat(rts_test_pool, "state=", state, NULL), NULL), "none");
    ck_assert_int_eq(back->http_status, 400);
}
END_TEST

START_TEST(test_logout_provider_logout_off)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out;

    env->cfg->logout_at_provider = 0;
    env->cfg->revoke_at_logout = 0;
    out = logout(request("POST", NULL, with_session(s)), NULL);
    ck_assert_str_eq(out->location, "/bye");
    ck_assert(!stored(s));
    ck_assert_uint_eq(fake_http_count(env->fh), 0);
}
END_TEST

START_TEST(test_logout_store_down_is_503)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out;

    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_GET, APR_ECONNREFUSED);
    out = logout(request("POST", NULL, with_session(s)), NULL);
    ck_assert_int_eq(out->kind, RTS_OUT_ERROR);
    ck_assert_int_eq(out->http_status, 503);
    ck_assert(stored(s));
}
END_TEST

START_TEST(test_logout_provider_down_still_local)
{
    rts_session_t *s = stored_session();
    rts_outcome_t *out;

    fake_http_push_error(env->fh, APR_ECONNREFUSED);
    out = logout(request("POST", NULL, with_session(s)), NULL);
    ck_assert_int_eq(out->kind, RTS_OUT_REDIRECT);
    ck_assert_str_eq(out->location, "/bye");
    ck_assert(!stored(s));
}
END_TEST

/* ---- back-channel logout ---- */

static test_key_t *op_key;

static void bc_setup(void)
{
    const test_key_t *keys[1];

    setup();
    env->cfg->backchannel_path = "/rtsession/backchannel";
    op_key = test_key_generate(rts_test_pool, "RS256", "k1");
    keys[0] = op_key;
    push_discovery(0, 0);
    fake_http_push(env->fh, 200, test_jwks_json(rts_test_pool, keys, 1), NULL);
}

/* A session whose callback completes now, for a login that began at started (our clock) and
 * an authentication at auth (provider clock): what index_add says. */
static apr_status_t late_session(const char *sub, const char *sid, apr_int64_t auth,
                                 apr_time_t started, rts_session_t **ps)
{
    rts_session_t *s = apr_pcalloc(rts_test_pool, sizeof(*s));

    ck_assert_int_eq(rts_session_new_id(rts_test_pool, &s->id), APR_SUCCESS);
    s->gen = 1;
    s->sub = sub;
    s->sid = sid;
    s->id_token = ID_TOKEN;
    s->access_token = "AT";
    s->created = env->now;
    ck_assert_int_eq(rts_session_add(test_env_ctx(env), s), APR_SUCCESS);
    *ps = s;
    return rts_backchannel_index_add(test_env_ctx(env), s, auth, started);
}

/* A session as a login creates it: authenticated (provider clock) and started 10 s ago. */
static rts_session_t *indexed_session(const char *sub, const char *sid)
{
    rts_session_t *s;

    ck_assert_int_eq(late_session(sub, sid, apr_time_sec(env->now) - 10,
                                  env->now - apr_time_from_sec(10), &s), APR_SUCCESS);
    return s;
}

#define EVENTS "\"events\":{\"" RTS_BACKCHANNEL_EVENT "\":{}}"

/* Logout token claims with a fresh jti each time. */
static const char *claims(const char *extra)
{
    static unsigned jti;

    return apr_psprintf(rts_test_pool, "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID
                        "\",\"iat\":%ld,\"jti\":\"j%u\"%s%s}",
                        (long)apr_time_sec(env->now), ++jti, *extra ? "," : "", extra);
}

/* Logout token claims with this iat, aud (a JSON value) and the rest. */
static const char *claims_at(long iat, const char *aud, const char *rest)
{
    return apr_psprintf(rts_test_pool, "{\"iss\":\"" TEST_ISSUER "\",\"aud\":%s,\"iat\":%ld,%s}",
                        aud, iat, rest);
}

static const char *logout_body(const test_key_t *k, const char *header, const char *payload)
{
    return apr_pstrcat(rts_test_pool, "logout_token=",
                       rts_url_encode(rts_test_pool, test_jws_sign(rts_test_pool, k, header,
                                                                   payload)), NULL);
}

static apr_status_t backchannel(const char *body, int *pended, rts_result_t *res)
{
    rts_result_reset(res);
    return rts_backchannel_handle(test_env_ctx(env), body, strlen(body), pended, res);
}

START_TEST(test_backchannel_by_sid_ends_that_provider_session)
{
    rts_session_t *a1 = indexed_session("alice", "sid-1");
    rts_session_t *a2 = indexed_session("alice", "sid-1");
    rts_session_t *a3 = indexed_session("alice", "sid-2");
    rts_session_t *b = indexed_session("bob", "sid-9");
    rts_result_t res;
    int ended;

    ck_assert_int_eq(backchannel(logout_body(op_key, "{\"alg\":\"RS256\",\"kid\":\"k1\","
                                             "\"typ\":\"logout+jwt\"}",
                                             claims(EVENTS ",\"sub\":\"alice\",\"sid\":\"sid-1\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 2);
    ck_assert(!stored(a1) && !stored(a2));
    ck_assert(stored(a3) && stored(b));
}
END_TEST

START_TEST(test_backchannel_by_sub_ends_every_session_of_the_user)
{
    rts_session_t *a1 = indexed_session("alice", "sid-1");
    rts_session_t *a2 = indexed_session("alice", NULL);
    rts_session_t *b = indexed_session("bob", "sid-9");
    rts_result_t res;
    int ended;

    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sub\":\"alice\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 2);
    ck_assert(!stored(a1) && !stored(a2) && stored(b));
    /* again: nothing left, still a success (the provider may retry) */
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sub\":\"alice\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 0);
}
END_TEST

/* rtsessionctl end-user: every session of the user, even one authenticated "after now" on a
 * provider clock that runs ahead (a sub logout token would spare it), and a tombstone that
 * refuses a login of that user that was completing; another user's session stays. */
START_TEST(test_backchannel_end_user_ends_all_of_one_user)
{
    rts_session_t *a1 = indexed_session("alice", "sid-1");
    rts_session_t *a2, *late, *b = indexed_session("bob", "sid-9");
    int ended;

    ck_assert_int_eq(late_session("alice", NULL, apr_time_sec(env->now) + 120,
                                  env->now - apr_time_from_sec(1), &a2), APR_SUCCESS);
    ck_assert_int_eq(rts_backchannel_end_user(test_env_ctx(env), "alice", &ended), APR_SUCCESS);
    ck_assert_int_eq(ended, 2);
    ck_assert(!stored(a1) && !stored(a2) && stored(b));
    /* a login of alice begun before the command, completing after it, is refused */
    ck_assert_int_eq(late_session("alice", NULL, apr_time_sec(env->now),
                                  env->now - apr_time_from_sec(5), &late),
                     RTS_BACKCHANNEL_LOGGED_OUT);
    ck_assert_int_eq(rts_backchannel_end_user(test_env_ctx(env), "alice", &ended), APR_SUCCESS);
    ck_assert_int_eq(ended, 0);
    ck_assert_int_eq(rts_backchannel_end_user(test_env_ctx(env), "", &ended), APR_EINVAL);
}
END_TEST

START_TEST(test_backchannel_index_keeps_newest)
{
    rts_session_t *first = indexed_session("carol", NULL);
    rts_result_t res;
    int i, ended;

    for (i = 0; i < RTS_BACKCHANNEL_INDEX_MAX; i++) {
        indexed_session("carol", NULL);
    }
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sub\":\"carol\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, RTS_BACKCHANNEL_INDEX_MAX);
    /* the 65th login ended the oldest: no session of carol outlives her logout */
    ck_assert(!stored(first));
}
END_TEST

static void assert_refused(const char *body, const char *why)
{
    rts_result_t res;
    int ended = -1;
    apr_status_t rv = backchannel(body, &ended, &res);

    ck_assert_msg(rv == RTS_EBADTOKEN || rv == RTS_EBADINPUT, "%s: accepted", why);
    ck_assert_int_eq(res.http_status, 400);
    ck_assert_str_eq(res.error, "invalid_request");
    ck_assert_int_eq(ended, 0);
}

START_TEST(test_backchannel_invalid_tokens)
{
    rts_session_t *a = indexed_session("alice", "sid-1");
    test_key_t *other = test_key_generate(rts_test_pool, "RS256", "k1");
    long now = (long)apr_time_sec(env->now);

    ck_assert_ptr_ne(other->pkey, op_key->pkey);
    assert_refused(logout_body(other, NULL, claims(EVENTS ",\"sid\":\"sid-1\"")),
                   "bad signature");
    assert_refused(apr_psprintf(rts_test_pool, "logout_token=%s",
                   rts_url_encode(rts_test_pool, test_jws_sign(rts_test_pool, op_key, NULL,
                   apr_psprintf(rts_test_pool, "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"other\","
                                "\"iat\":%ld,\"sid\":\"sid-1\"," EVENTS "}", now)))),
                   "wrong aud");
    assert_refused(apr_psprintf(rts_test_pool, "logout_token=%s",
                   rts_url_encode(rts_test_pool, test_jws_sign(rts_test_pool, op_key, NULL,
                   apr_psprintf(rts_test_pool, "{\"iss\":\"https://evil.test\",\"aud\":\""
                                TEST_CLIENT_ID "\",\"iat\":%ld,\"sid\":\"sid-1\"," EVENTS "}",
                                now)))),
                   "wrong iss");
    assert_refused(logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"sid-1\",\"nonce\":\"n\"")),
                   "nonce");
    assert_refused(logout_body(op_key, NULL, claims("\"sid\":\"sid-1\"")), "events missing");
    assert_refused(logout_body(op_key, NULL, claims("\"events\":{\"urn:other\":{}},"
                                                     "\"sid\":\"sid-1\"")), "other event");
    assert_refused(logout_body(op_key, NULL, claims(EVENTS)), "neither sid nor sub");
    /* jti is required (Back-Channel Logout 1.0 §2.4): without it a replay is undetectable */
    assert_refused(logout_body(op_key, NULL, apr_psprintf(rts_test_pool,
                   "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"iat\":%ld,"
                   "\"sid\":\"sid-1\"," EVENTS "}", now)), "jti missing");
    assert_refused(logout_body(op_key, NULL, apr_psprintf(rts_test_pool,
                   "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"iat\":%ld,"
                   "\"jti\":7,\"sid\":\"sid-1\"," EVENTS "}", now)), "jti not a string");
    assert_refused(logout_body(op_key, NULL, apr_psprintf(rts_test_pool,
                   "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"iat\":%ld,"
                   "\"jti\":\"\",\"sid\":\"sid-1\"," EVENTS "}", now)), "jti empty");
    assert_refused(logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"\"")), "empty sid");
    assert_refused(logout_body(op_key, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}",
                               claims(EVENTS ",\"sid\":\"sid-1\"")), "typ");
    assert_refused(logout_body(op_key, NULL, apr_psprintf(rts_test_pool,
                   "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\","
                   "\"sid\":\"sid-1\"," EVENTS "}")), "iat missing");
    assert_refused(logout_body(op_key, NULL, apr_psprintf(rts_test_pool,
                   "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"iat\":%ld,"
                   "\"sid\":\"sid-1\"," EVENTS "}", now + 3600)), "iat in the future");
    assert_refused(logout_body(op_key, NULL, apr_psprintf(rts_test_pool,
                   "{\"iss\":\"" TEST_ISSUER "\",\"aud\":\"" TEST_CLIENT_ID "\",\"iat\":%ld,"
                   "\"exp\":%ld,\"sid\":\"sid-1\"," EVENTS "}", now - 600, now - 300)), "expired");
    assert_refused("logout_token=", "empty");
    assert_refused("foo=bar", "no logout_token");
    assert_refused("logout_token=not.a.jwt", "garbage");
    ck_assert(stored(a));
}
END_TEST

START_TEST(test_backchannel_replay_refused)
{
    rts_session_t *a = indexed_session("alice", "sid-1");
    const char *body = logout_body(op_key, NULL, claims(EVENTS ",\"sub\":\"alice\""));
    rts_session_t *b;
    rts_result_t res;
    int ended;

    ck_assert_int_eq(backchannel(body, &ended, &res), APR_SUCCESS);
    ck_assert(!stored(a));
    env->now += apr_time_from_sec(2);
    /* a new login of the user after the logout */
    ck_assert_int_eq(late_session("alice", "sid-2", apr_time_sec(env->now), env->now, &b),
                     APR_SUCCESS);
    ck_assert_int_eq(backchannel(body, &ended, &res), RTS_EBADTOKEN);
    ck_assert_int_eq(res.http_status, 400);
    ck_assert(stored(b));
}
END_TEST

START_TEST(test_backchannel_aud_array)
{
    rts_session_t *a = indexed_session("alice", "sid-1");
    rts_result_t res;
    int ended;

    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims_at(
                     (long)apr_time_sec(env->now), "[\"x\",\"" TEST_CLIENT_ID "\"]",
                     "\"jti\":\"arr\",\"sid\":\"sid-1\"," EVENTS)),
                     &ended, &res), APR_SUCCESS);
    ck_assert(!stored(a));
}
END_TEST

/* The claim rules a logout token shares with ID tokens (rts_jwt_claims.h), where the logout
 * token had rules of its own before: fractional NumericDates floored (were refused), a
 * non-string aud element refused (was ignored), typ compared as a media type (was
 * case-sensitive but for the application/ form), nbf checked (was ignored). */
typedef struct {
    const char *what;
    const char *header;        /* NULL: RS256, kid k1, no typ */
    const char *aud;           /* JSON value; NULL: the client id */
    const char *times;         /* JSON members with %ld for now (up to three) */
    int accepted;
} bc_rule_case_t;

static const bc_rule_case_t bc_rule_cases[] = {
    { "fractional iat", NULL, NULL, "\"iat\":%ld.5", 1 },
    { "fractional exp", NULL, NULL, "\"iat\":%ld,\"exp\":%ld.25", 1 },
    { "typ Logout+JWT", "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"Logout+JWT\"}", NULL,
      "\"iat\":%ld", 1 },
    { "typ jwt", "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"jwt\"}", NULL, "\"iat\":%ld", 1 },
    { "aud array with a number", NULL, "[\"" TEST_CLIENT_ID "\",7]", "\"iat\":%ld", 0 },
    { "nbf in the future", NULL, NULL, "\"iat\":%ld,\"nbf\":%ld0", 0 },
    { "nbf a string", NULL, NULL, "\"iat\":%ld,\"nbf\":\"%ld\"", 0 },
    { "exp a string", NULL, NULL, "\"iat\":%ld,\"exp\":\"%ld\"", 0 },
    { "iat past year 9999", NULL, NULL, "\"iat\":%ld000", 0 },
};

START_TEST(test_backchannel_shared_claim_rules)
{
    const bc_rule_case_t *c = &bc_rule_cases[_i];
    rts_session_t *a = indexed_session("alice", "sid-1");
    long now = (long)apr_time_sec(env->now);
    const char *times = apr_psprintf(rts_test_pool, c->times, now, now, now);
    rts_result_t res;
    int ended = -1;
    apr_status_t rv;

    rv = backchannel(logout_body(op_key, c->header, apr_psprintf(rts_test_pool,
                     "{\"iss\":\"" TEST_ISSUER "\",\"aud\":%s,%s,\"jti\":\"r%d\","
                     "\"sid\":\"sid-1\"," EVENTS "}",
                     c->aud ? c->aud : "\"" TEST_CLIENT_ID "\"", times, _i)), &ended, &res);
    if (c->accepted) {
        ck_assert_msg(rv == APR_SUCCESS, "%s: refused (%s)", c->what,
                      res.description ? res.description : "");
        ck_assert_int_eq(ended, 1);
        ck_assert(!stored(a));
    }
    else {
        ck_assert_msg(rv == RTS_EBADTOKEN, "%s: status %d", c->what, rv);
        ck_assert_int_eq(res.http_status, 400);
        ck_assert(stored(a));
    }
}
END_TEST

START_TEST(test_backchannel_store_down)
{
    rts_result_t res;
    int ended;

    indexed_session("alice", "sid-1");
    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_GET, APR_ECONNREFUSED);
    ck_assert_int_ne(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"sid-1\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(res.http_status, 503);
}
END_TEST

/* The store key of an index item, as the module names it under the first secret. */
static const char *bc_index_key(const char *kind, const char *value)
{
    return rts_record_key(rts_test_pool, &APR_ARRAY_IDX(env->cfg->secrets, 0, rts_secret_t),
                          "rts:b:", apr_pstrcat(rts_test_pool, kind, ":" TEST_ISSUER "\n", value,
                                                NULL));
}

/* Item 7: a store failure half-way answers 503; the provider's retry of the same token (same
 * jti) is processed, not refused as a replay, and ends the sessions the first attempt left. */
START_TEST(test_backchannel_retry_after_store_failure_ends_sessions)
{
    rts_session_t *a1 = indexed_session("alice", "sid-1");
    rts_session_t *a2 = indexed_session("alice", "sid-1");
    const char *body = logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"sid-1\""));
    rts_result_t res;
    int ended;

    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_DEL, APR_TIMEUP);
    ck_assert_int_ne(backchannel(body, &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(res.http_status, 503);
    ck_assert(stored(a1) || stored(a2));
    /* the provider retries the same token */
    ck_assert_int_eq(backchannel(body, &ended, &res), APR_SUCCESS);
    ck_assert(!stored(a1) && !stored(a2));
    /* once done, the jti is remembered: a third delivery is a replay */
    ck_assert_int_eq(backchannel(body, &ended, &res), RTS_EBADTOKEN);
}
END_TEST

/* The hook of the concurrency tests: once, when the operation hooked on (op, key) runs, a
 * login on "another host" indexes a new session of (sub, sid). */
typedef struct {
    fake_store_op_t op;
    const char *key;
    const char *sub, *sid;
    rts_session_t *s;
    int fired;
} racer_t;

static void racer_hook(fake_store_t *fs, fake_store_op_t op, const char *key, void *baton)
{
    racer_t *r = baton;

    (void)fs;
    if (r->fired || strcmp(key, r->key) || (op != r->op && r->op != FAKE_STORE_OP_ANY)
        || op == FAKE_STORE_OP_GET) {
        return;
    }
    r->fired = 1;
    r->s = indexed_session(r->sub, r->sid);
}

/* Item 7: a login that appends to the index between the logout's read and its write is not
 * lost: the logout's swap fails, it reads again and ends that session too. */
START_TEST(test_backchannel_append_during_logout_is_ended)
{
    rts_session_t *a = indexed_session("alice", "sid-1");
    racer_t r = {FAKE_STORE_OP_ANY, NULL, "alice", "sid-1", NULL, 0};
    rts_result_t res;
    int ended;

    r.key = bc_index_key("sid", "sid-1");
    fake_store_set_hook(env->fs, racer_hook, &r);
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"sid-1\"")),
                                 &ended, &res), APR_SUCCESS);
    fake_store_set_hook(env->fs, NULL, NULL);
    ck_assert(r.fired && r.s);
    ck_assert(!stored(a));
    ck_assert_msg(!stored(r.s), "a session indexed during the logout survived it");
    ck_assert_int_eq(ended, 2);
}
END_TEST

/* Item 7: two logins of one user appending at once both stay indexed (compare-and-swap), and
 * one logout ends both. */
START_TEST(test_backchannel_concurrent_appends_keep_both)
{
    racer_t r = {FAKE_STORE_OP_ADD, NULL, "alice", NULL, NULL, 0};
    rts_session_t *a;
    rts_result_t res;
    int ended;

    r.key = bc_index_key("sub", "alice");
    fake_store_set_hook(env->fs, racer_hook, &r);
    a = indexed_session("alice", NULL);   /* its add of the new item races the other login */
    fake_store_set_hook(env->fs, NULL, NULL);
    ck_assert(r.fired);
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sub\":\"alice\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 2);
    ck_assert(!stored(a) && !stored(r.s));
}
END_TEST

/* Item 7: a login begun before a logout of its sid, whose callback completes after it, creates
 * no session; a login in another provider session, or begun after the logout, does. */
START_TEST(test_backchannel_late_callback_of_logged_out_sid_refused)
{
    rts_session_t *late, *other;
    rts_result_t res;
    int ended;

    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"sid-1\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 0);
    env->now += apr_time_from_sec(5);
    ck_assert_int_eq(late_session("alice", "sid-1", apr_time_sec(env->now) - 30,
                                  env->now - apr_time_from_sec(30), &late),
                     RTS_BACKCHANNEL_LOGGED_OUT);
    ck_assert_int_eq(late_session("alice", "sid-2", apr_time_sec(env->now),
                                  env->now, &other), APR_SUCCESS);
    /* a login begun after the logout, in a provider session that kept its sid, goes on (no
     * login refused for good) */
    ck_assert_int_eq(late_session("alice", "sid-1", apr_time_sec(env->now), env->now, &other),
                     APR_SUCCESS);
}
END_TEST

/* Item 7: a sub logout refuses a late callback of a login begun before it, spares a login
 * begun and authenticated after it, also when the logout is delivered again. */
START_TEST(test_backchannel_sub_logout_late_and_later_logins)
{
    rts_session_t *before = indexed_session("alice", NULL), *late, *later;
    const char *body = logout_body(op_key, NULL, claims(EVENTS ",\"sub\":\"alice\""));
    apr_int64_t logout_iat = apr_time_sec(env->now);
    rts_result_t res;
    int ended;

    ck_assert_int_eq(backchannel(body, &ended, &res), APR_SUCCESS);
    ck_assert(!stored(before));
    env->now += apr_time_from_sec(5);
    /* authenticated before the logout, callback after it */
    ck_assert_int_eq(late_session("alice", NULL, logout_iat - 20,
                                  env->now - apr_time_from_sec(60), &late),
                     RTS_BACKCHANNEL_LOGGED_OUT);
    /* a new login after the logout */
    ck_assert_int_eq(late_session("alice", NULL, logout_iat + 5, env->now - apr_time_from_sec(1),
                                  &later), APR_SUCCESS);
    /* the provider retries (a duplicate delivery, a new jti): the later login stays */
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims_at(
                     (long)logout_iat, "\"" TEST_CLIENT_ID "\"",
                     "\"jti\":\"dup\"," EVENTS ",\"sub\":\"alice\"")),
                     &ended, &res), APR_SUCCESS);
    ck_assert(stored(later));
    /* and its slides keep it */
    ck_assert_int_eq(rts_backchannel_session_check(test_env_ctx(env), later), APR_SUCCESS);
}

/* Item 7: a sub logout delivered late (its iat before a new login's authentication, processed
 * after it) spares that login, and the session's later slides do not end it either. */
START_TEST(test_backchannel_delayed_sub_logout_spares_later_login)
{
    rts_session_t *old = indexed_session("alice", NULL), *fresh;
    apr_int64_t iat = apr_time_sec(env->now);
    rts_result_t res;
    int ended;

    env->now += apr_time_from_sec(3);
    ck_assert_int_eq(late_session("alice", NULL, iat + 2, env->now, &fresh), APR_SUCCESS);
    env->now += apr_time_from_sec(3);
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims_at((long)iat,
                     "\"" TEST_CLIENT_ID "\"", "\"jti\":\"late\"," EVENTS ",\"sub\":\"alice\"")),
                     &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 1);
    ck_assert(!stored(old) && stored(fresh));
    env->now += apr_time_from_sec(60);
    ck_assert_int_eq(rts_backchannel_session_check(test_env_ctx(env), fresh), APR_SUCCESS);
    ck_assert(stored(fresh));
}
END_TEST
END_TEST

/* Item 7: memcached evicted an index item (LRU: it is rarely read). The session's next slide or
 * refresh puts it back, so a later logout ends it. */
START_TEST(test_backchannel_evicted_index_restored_at_check)
{
    rts_session_t *a = indexed_session("alice", "sid-1");
    rts_result_t res;
    int ended;

    fake_store_remove(env->fs, bc_index_key("sid", "sid-1"));
    fake_store_remove(env->fs, bc_index_key("sub", "alice"));
    ck_assert_int_eq(rts_backchannel_session_check(test_env_ctx(env), a), APR_SUCCESS);
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"sid-1\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 1);
    ck_assert(!stored(a));
}
END_TEST

/* Item 7: a logout that found no index (evicted) leaves its tombstone; the session it missed
 * ends at its next slide or refresh. A session of a login after a sub logout goes on. */
START_TEST(test_backchannel_missed_session_ended_at_check)
{
    rts_session_t *a = indexed_session("alice", "sid-1"), *b = indexed_session("bob", NULL);
    rts_session_t *later;
    rts_result_t res;
    int ended;

    fake_store_remove(env->fs, bc_index_key("sid", "sid-1"));
    fake_store_remove(env->fs, bc_index_key("sub", "bob"));
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sid\":\"sid-1\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(backchannel(logout_body(op_key, NULL, claims(EVENTS ",\"sub\":\"bob\"")),
                                 &ended, &res), APR_SUCCESS);
    ck_assert_int_eq(ended, 0);
    ck_assert(stored(a) && stored(b));
    ck_assert_int_eq(rts_backchannel_session_check(test_env_ctx(env), a),
                     RTS_BACKCHANNEL_LOGGED_OUT);
    ck_assert_int_eq(rts_backchannel_session_check(test_env_ctx(env), b),
                     RTS_BACKCHANNEL_LOGGED_OUT);
    env->now += apr_time_from_sec(5);
    ck_assert_int_eq(late_session("bob", NULL, apr_time_sec(env->now), env->now, &later),
                     APR_SUCCESS);
    ck_assert_int_eq(rts_backchannel_session_check(test_env_ctx(env), later), APR_SUCCESS);
}
END_TEST

/* Item 7: an index item failing to be written fails the login closed (the caller deletes the
 * session); no session lives unindexed. */
START_TEST(test_backchannel_index_store_failure_reported)
{
    rts_session_t *s;

    fake_store_fail_next(env->fs, 1, FAKE_STORE_OP_GET, APR_TIMEUP);
    ck_assert_int_eq(late_session("alice", "sid-1", apr_time_sec(env->now), env->now, &s),
                     APR_TIMEUP);
}
END_TEST

START_TEST(test_backchannel_index_only_when_configured)
{
    rts_session_t *s = stored_session();

    /* the plain setup has no back-channel path: the login writes the session only */
    ck_assert_uint_eq(fake_store_size(env->fs), 1);
    ck_assert(stored(s));
}
END_TEST

Suite *rts_suite_logout(void)
{
    Suite *s = suite_create("logout");
    TCase *tc = tcase_create("logout");

    tcase_add_checked_fixture(tc, setup, rts_test_teardown);
    tcase_add_test(tc, test_logout_csrf_rule);
    tcase_add_test(tc, test_logout_cross_site_refused_session_kept);
    tcase_add_test(tc, test_logout_local_only);
    tcase_add_test(tc, test_logout_return_param);
    tcase_add_test(tc, test_logout_without_session);
    tcase_add_test(tc, test_logout_revokes_refresh_then_access_token);
    tcase_add_test(tc, test_logout_revocation_failure_does_not_block);
    tcase_add_test(tc, test_logout_revocation_off);
    tcase_add_test(tc, test_logout_revocation_client_auth_named);
    tcase_add_test(tc, test_logout_rp_initiated_and_return);
    tcase_add_test(tc, test_logout_return_state_must_match_cookie);
    tcase_add_test(tc, test_logout_provider_logout_off);
    tcase_add_test(tc, test_logout_store_down_is_503);
    tcase_add_test(tc, test_logout_provider_down_still_local);
    tcase_add_test(tc, test_backchannel_index_only_when_configured);
    suite_add_tcase(s, tc);
    tc = tcase_create("backchannel");
    tcase_add_checked_fixture(tc, bc_setup, rts_test_teardown);
    tcase_add_test(tc, test_backchannel_by_sid_ends_that_provider_session);
    tcase_add_test(tc, test_backchannel_by_sub_ends_every_session_of_the_user);
    tcase_add_test(tc, test_backchannel_index_keeps_newest);
    tcase_add_test(tc, test_backchannel_invalid_tokens);
    tcase_add_test(tc, test_backchannel_aud_array);
    tcase_add_loop_test(tc, test_backchannel_shared_claim_rules, 0,
                        (int)(sizeof(bc_rule_cases) / sizeof(bc_rule_cases[0])));
    tcase_add_test(tc, test_backchannel_replay_refused);
    tcase_add_test(tc, test_backchannel_store_down);
    tcase_add_test(tc, test_backchannel_retry_after_store_failure_ends_sessions);
    tcase_add_test(tc, test_backchannel_append_during_logout_is_ended);
    tcase_add_test(tc, test_backchannel_concurrent_appends_keep_both);
    tcase_add_test(tc, test_backchannel_late_callback_of_logged_out_sid_refused);
    tcase_add_test(tc, test_backchannel_sub_logout_late_and_later_logins);
    tcase_add_test(tc, test_backchannel_evicted_index_restored_at_check);
    tcase_add_test(tc, test_backchannel_missed_session_ended_at_check);
    tcase_add_test(tc, test_backchannel_index_store_failure_reported);
    tcase_add_test(tc, test_backchannel_delayed_sub_logout_spares_later_login);
    tcase_add_test(tc, test_backchannel_end_user_ends_all_of_one_user);
    suite_add_tcase(s, tc);
    return s;
}
