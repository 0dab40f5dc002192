/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for rts_token: the exact token requests (grant parameters, client authentication)
 * and every outcome of the token response contract in rts_token.h.
 * The HTTP client is the shared fake (fakes/fake_http.h): canned answers, captured requests. */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "test_common.h"
#include "fakes/fake_http.h"
#include "rts.h"
#include "rts_config.h"
#include "rts_http.h"
#include "rts_log.h"
#include "rts_result.h"
#include "rts_util.h"
#include "rts_token.h"

/* Special characters in both, so that the form-encoding before base64 matters (a ':' in the
 * client id would otherwise split the pair in the wrong place). */
#define TOK_CLIENT_ID      "my:client/1"
#define TOK_CLIENT_SECRET  "p@ss w%rd+&=:\xc3\xa9"
/* base64("my%3Aclient%2F1:p%40ss%20w%25rd%2B%26%3D%3A%C3%A9"), computed independently */
#define TOK_BASIC          "Basic bXklM0FjbGllbnQlMkYxOnAlNDBzcyUyMHclMjVyZCUyQiUyNiUzRCUzQSVDMyVBOQ=="
#define TOK_ENDPOINT       "https://op.example/token"
#define TOK_CODE           "SplxlOBeZQQYbYS6WxSbIA"
#define TOK_VERIFIER       "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define TOK_REDIRECT       "https://rp.example/cb?x=1&y=2"
#define TOK_REFRESH        "tGzv3JOkF0XG5Qx2TlKWIA"
#define TOK_OK_BODY        "{\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",\"token_type\":\"Bearer\"," \
                           "\"expires_in\":3600,\"refresh_token\":\"8xLOxBtZp8\"," \
                           "\"id_token\":\"a.b.c\",\"scope\":\"openid email\"}"

typedef struct tok_env_t {
    rts_ctx_t ctx;
    rts_config_t cfg;
    rts_log_t log;
    fake_http_t *fh;
    apr_array_header_t *lines;    /* every log message, whatever the level */
} tok_env_t;

static int tok_log_is_level(void *baton, int level)
{
    return 1;
}

static void tok_log_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                          const char *msg)
{
    tok_env_t *env = baton;

    APR_ARRAY_PUSH(env->lines, const char *) = apr_pstrdup(env->lines->pool, msg);
}

static tok_env_t *tok_env(rts_client_auth_t auth)
{
    apr_pool_t *p = rts_test_pool;
    tok_env_t *env = apr_pcalloc(p, sizeof(*env));

    env->lines = apr_array_make(p, 8, sizeof(const char *));
    env->log.is_level = tok_log_is_level;
    env->log.print = tok_log_print;
    env->log.baton = env;
    env->cfg.client_id = TOK_CLIENT_ID;
    env->cfg.client_secret = TOK_CLIENT_SECRET;
    env->cfg.client_auth = auth;
    env->cfg.http_timeout = apr_time_from_sec(7);
    env->cfg.connect_timeout = apr_time_from_sec(3);
    env->cfg.max_response = 12345;
    env->fh = fake_http_create(p);
    env->ctx.pool = p;
    env->ctx.log = &env->log;
    env->ctx.http = fake_http_client(env->fh);
    env->ctx.cfg = &env->cfg;
    return env;
}

/* The request every grant shares: POST, headers, bounds from the configuration. */
static apr_table_t *tok_check_request(tok_env_t *env)
{
    const rts_http_request_t *req = fake_http_last(env->fh);
    apr_table_t *form = NULL;

    ck_assert_uint_eq(fake_http_count(env->fh), 1);
    ck_assert_uint_eq(fake_http_pending(env->fh), 0);
    ck_assert_ptr_nonnull(req);
    ck_assert_str_eq(req->method, "POST");
    ck_assert_str_eq(req->url, TOK_ENDPOINT);
    ck_assert_ptr_nonnull(req->headers);
    ck_assert_str_eq(apr_table_get(req->headers, "Content-Type"),
                     "application/x-www-form-urlencoded");
    ck_assert_str_eq(apr_table_get(req->headers, "Accept"), "application/json");
    ck_assert(req->timeout == apr_time_from_sec(7));
    ck_assert(req->connect_timeout == apr_time_from_sec(3));
    ck_assert_uint_eq(req->max_response, 12345);
    ck_assert_ptr_nonnull(req->body);
    ck_assert_uint_eq(req->body_len, strlen(req->body));
    ck_assert_int_eq(rts_form_parse(rts_test_pool, req->body, &form), APR_SUCCESS);
    return form;
}

/* No log line may carry a token, code, verifier or secret, at any level. */
static void tok_check_log_clean(tok_env_t *env)
{
    static const char *const secrets[] = {
        TOK_CLIENT_SECRET, "p%40ss", "cCBzcyB3JXJk", TOK_CODE, TOK_VERIFIER, TOK_REFRESH,
        "2YotnFZFEjr1zCsicMWpAA", "8xLOxBtZp8", "a.b.c", "bXklM0Fj", NULL
    };
    int i, j;

    ck_assert_int_gt(env->lines->nelts, 0);
    for (i = 0; i < env->lines->nelts; ++i) {
        const char *line = APR_ARRAY_IDX(env->lines, i, const char *);
        ck_assert_msg(strncmp(line, "RTS104", 6) == 0, "untagged log line: %s", line);
        for (j = 0; secrets[j]; ++j) {
            ck_assert_msg(strstr(line, secrets[j]) == NULL, "secret logged: %s", line);
        }
    }
}

START_TEST(test_token_exchange_basic)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_result_t res;
    apr_table_t *form;

    fake_http_push(env->fh, 200, TOK_OK_BODY, "Content-Type", "application/json", NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_exchange_code(&env->ctx, TOK_ENDPOINT, TOK_CODE, TOK_VERIFIER,
                                             TOK_REDIRECT, &t, &res), APR_SUCCESS);
    form = tok_check_request(env);
    ck_assert_str_eq(apr_table_get(fake_http_last(env->fh)->headers, "Authorization"), TOK_BASIC);
    ck_assert_str_eq(apr_table_get(form, "grant_type"), "authorization_code");
    ck_assert_str_eq(apr_table_get(form, "code"), TOK_CODE);
    ck_assert_str_eq(apr_table_get(form, "redirect_uri"), TOK_REDIRECT);
    ck_assert_str_eq(apr_table_get(form, "code_verifier"), TOK_VERIFIER);
    ck_assert_ptr_null(apr_table_get(form, "client_secret"));
    ck_assert_ptr_null(apr_table_get(form, "client_id"));
    ck_assert_int_eq(apr_table_elts(form)->nelts, 4);
    ck_assert_ptr_null(strstr(fake_http_last(env->fh)->body, "p%40ss"));
    /* the redirect_uri's '&' and '=' are escaped, not taken as separators */
    ck_assert_ptr_nonnull(strstr(fake_http_last(env->fh)->body, "https%3A%2F%2Frp.example%2Fcb%3Fx%3D1%26y%3D2"));
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->access_token, "2YotnFZFEjr1zCsicMWpAA");
    ck_assert_str_eq(t->id_token, "a.b.c");
    tok_check_log_clean(env);
}
END_TEST

START_TEST(test_token_exchange_post)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_POST);
    rts_token_set_t *t = NULL;
    rts_result_t res;
    apr_table_t *form;

    fake_http_push(env->fh, 200, TOK_OK_BODY, "Content-Type", "application/json", NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_exchange_code(&env->ctx, TOK_ENDPOINT, TOK_CODE, TOK_VERIFIER,
                                             TOK_REDIRECT, &t, &res), APR_SUCCESS);
    form = tok_check_request(env);
    ck_assert_ptr_null(apr_table_get(fake_http_last(env->fh)->headers, "Authorization"));
    ck_assert_str_eq(apr_table_get(form, "grant_type"), "authorization_code");
    ck_assert_str_eq(apr_table_get(form, "code"), TOK_CODE);
    ck_assert_str_eq(apr_table_get(form, "redirect_uri"), TOK_REDIRECT);
    ck_assert_str_eq(apr_table_get(form, "code_verifier"), TOK_VERIFIER);
    ck_assert_str_eq(apr_table_get(form, "client_id"), TOK_CLIENT_ID);
    ck_assert_str_eq(apr_table_get(form, "client_secret"), TOK_CLIENT_SECRET);
    ck_assert_int_eq(apr_table_elts(form)->nelts, 6);
    ck_assert_ptr_nonnull(t);
    tok_check_log_clean(env);
}
END_TEST

START_TEST(test_token_refresh_basic)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_result_t res;
    apr_table_t *form;

    fake_http_push(env->fh, 200, TOK_OK_BODY, "Content-Type", "application/json", NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, NULL, &res),
                     APR_SUCCESS);
    form = tok_check_request(env);
    ck_assert_str_eq(apr_table_get(fake_http_last(env->fh)->headers, "Authorization"), TOK_BASIC);
    ck_assert_str_eq(apr_table_get(form, "grant_type"), "refresh_token");
    ck_assert_str_eq(apr_table_get(form, "refresh_token"), TOK_REFRESH);
    ck_assert_ptr_null(apr_table_get(form, "client_secret"));
    ck_assert_ptr_null(apr_table_get(form, "code"));
    ck_assert_int_eq(apr_table_elts(form)->nelts, 2);
    ck_assert_str_eq(t->refresh_token, "8xLOxBtZp8");
    tok_check_log_clean(env);
}
END_TEST

START_TEST(test_token_refresh_post)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_POST);
    rts_token_set_t *t = NULL;
    rts_result_t res;
    apr_table_t *form;

    fake_http_push(env->fh, 200, TOK_OK_BODY, "Content-Type", "application/json", NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, NULL, &res),
                     APR_SUCCESS);
    form = tok_check_request(env);
    ck_assert_ptr_null(apr_table_get(fake_http_last(env->fh)->headers, "Authorization"));
    ck_assert_str_eq(apr_table_get(form, "grant_type"), "refresh_token");
    ck_assert_str_eq(apr_table_get(form, "refresh_token"), TOK_REFRESH);
    ck_assert_str_eq(apr_table_get(form, "client_id"), TOK_CLIENT_ID);
    ck_assert_str_eq(apr_table_get(form, "client_secret"), TOK_CLIENT_SECRET);
    ck_assert_int_eq(apr_table_elts(form)->nelts, 4);
    tok_check_log_clean(env);
}
END_TEST

/* An OAuth error through the whole call: status, result, and a log line without secrets. */
START_TEST(test_token_refresh_invalid_grant)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_result_t res;

    fake_http_push(env->fh, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"grant revoked\"}",
                   "Content-Type", "application/json", NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, NULL, &res),
                     RTS_EINVALIDGRANT);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(res.status, RTS_EINVALIDGRANT);
    ck_assert_str_eq(res.error, "invalid_grant");
    ck_assert_str_eq(res.description, "grant revoked");
    tok_check_log_clean(env);
}
END_TEST

static const struct {
    apr_status_t perform_rv;
    apr_status_t expect_rv;
} tok_transport_cases[] = {
    { APR_TIMEUP, APR_TIMEUP },
    { APR_ECONNREFUSED, APR_ECONNREFUSED },
    { RTS_EUPSTREAM, RTS_EUPSTREAM },
    { RTS_ETOOLARGE, RTS_EUPSTREAM },
    { APR_EGENERAL, RTS_EUPSTREAM },
};

START_TEST(test_token_transport_failure)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = (rts_token_set_t *)1;
    rts_result_t res;

    fake_http_push_error(env->fh, tok_transport_cases[_i].perform_rv);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_exchange_code(&env->ctx, TOK_ENDPOINT, TOK_CODE, TOK_VERIFIER,
                                             TOK_REDIRECT, &t, &res),
                     tok_transport_cases[_i].expect_rv);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(res.status, tok_transport_cases[_i].expect_rv);
    ck_assert_int_eq(res.http_status, 502);
    ck_assert_uint_eq(fake_http_count(env->fh), 1);
    tok_check_log_clean(env);
}
END_TEST

/* A response over the configured bound never reaches the parser. */
START_TEST(test_token_response_too_large)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_result_t res;
    char *big = apr_palloc(rts_test_pool, 12346 + 1);

    memset(big, ' ', 12346);
    memcpy(big, TOK_OK_BODY, strlen(TOK_OK_BODY));
    big[12346] = '\0';
    fake_http_push(env->fh, 200, big, NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, NULL, &res),
                     RTS_EUPSTREAM);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(res.http_status, 502);
    ck_assert_ptr_nonnull(strstr(res.description, "transport"));
    /* one byte less is within the bound */
    big[12345] = '\0';
    fake_http_push(env->fh, 200, big, NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, NULL, &res),
                     APR_SUCCESS);
    ck_assert_str_eq(t->access_token, "2YotnFZFEjr1zCsicMWpAA");
}
END_TEST

START_TEST(test_token_not_configured)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_result_t res;

    env->cfg.client_secret = NULL;
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, NULL, &res),
                     RTS_ECONFIG);
    env->cfg.client_secret = TOK_CLIENT_SECRET;
    env->cfg.client_id = NULL;
    ck_assert_int_eq(rts_token_exchange_code(&env->ctx, TOK_ENDPOINT, TOK_CODE, TOK_VERIFIER,
                                             TOK_REDIRECT, &t, &res), RTS_ECONFIG);
    env->cfg.client_id = TOK_CLIENT_ID;
    ck_assert_int_eq(rts_token_refresh(&env->ctx, NULL, TOK_REFRESH, 0, &t, NULL, &res), RTS_ECONFIG);
    ck_assert_int_eq(rts_token_exchange_code(&env->ctx, TOK_ENDPOINT, TOK_CODE, NULL,
                                             TOK_REDIRECT, &t, &res), APR_EINVAL);
    ck_assert_int_eq(rts_token_refresh(&env->ctx, TOK_ENDPOINT, "", 0, &t, NULL, &res), APR_EINVAL);
    ck_assert_uint_eq(fake_http_count(env->fh), 0);
    ck_assert_ptr_null(t);
}
END_TEST

/* ---- rts_token_parse_response: one row per outcome of the contract ---- */

typedef struct {
    int status;
    const char *body;
    apr_status_t rv;
    const char *error;      /* expected res.error for OAuth errors */
    const char *detail;     /* a substring of res.description */
} tok_parse_case_t;

#define OKT "\"access_token\":\"at\",\"token_type\":\"Bearer\""

static const tok_parse_case_t tok_parse_cases[] = {
    /* success, member by member */
    { 200, "{" OKT "}", APR_SUCCESS, NULL, NULL },
    { 200, "{\"access_token\":\"at\",\"token_type\":\"bEaReR\"}", APR_SUCCESS, NULL, NULL },
    { 200, "{" OKT ",\"expires_in\":0}", APR_SUCCESS, NULL, NULL },
    { 200, "{" OKT ",\"expires_in\":3600.0}", APR_SUCCESS, NULL, NULL },
    { 200, "{" OKT ",\"unknown\":{\"x\":[1]},\"error\":\"ignored\"}", APR_SUCCESS, NULL, NULL },
    /* statuses */
    { 201, "{" OKT "}", RTS_EUPSTREAM, NULL, "HTTP status 201" },
    { 302, "", RTS_EUPSTREAM, NULL, "HTTP status 302" },
    { 403, "{\"error\":\"access_denied\"}", RTS_EUPSTREAM, NULL, "HTTP status 403" },
    { 500, "{\"error\":\"server_error\"}", RTS_EUPSTREAM, NULL, "HTTP status 500" },
    { 503, "", RTS_EUPSTREAM, NULL, "HTTP status 503" },
    /* bodies */
    { 200, "", RTS_EUPSTREAM, NULL, "empty" },
    { 200, "<html>", RTS_EUPSTREAM, NULL, "not a JSON object" },
    { 200, "[" "{" OKT "}" "]", RTS_EUPSTREAM, NULL, "not a JSON object" },
    { 200, "{" OKT ",\"access_token\":\"at2\"}", RTS_EUPSTREAM, NULL, "not a JSON object" },
    { 200, "{" OKT "} x", RTS_EUPSTREAM, NULL, "not a JSON object" },
    /* access_token */
    { 200, "{\"token_type\":\"Bearer\"}", RTS_EUPSTREAM, NULL, "access_token missing" },
    { 200, "{\"access_token\":42,\"token_type\":\"Bearer\"}", RTS_EUPSTREAM, NULL, "access_token" },
    { 200, "{\"access_token\":null,\"token_type\":\"Bearer\"}", RTS_EUPSTREAM, NULL, "access_token" },
    { 200, "{\"access_token\":\"\",\"token_type\":\"Bearer\"}", RTS_EUPSTREAM, NULL, "access_token" },
    { 200, "{\"access_token\":\"a\\r\\nX: y\",\"token_type\":\"Bearer\"}", RTS_EUPSTREAM, NULL,
      "access_token" },
    { 200, "{\"access_token\":\"a\\u00e9\",\"token_type\":\"Bearer\"}", RTS_EUPSTREAM, NULL,
      "access_token" },
    /* token_type */
    { 200, "{\"access_token\":\"at\"}", RTS_EUPSTREAM, NULL, "token_type missing" },
    { 200, "{\"access_token\":\"at\",\"token_type\":\"mac\"}", RTS_EUPSTREAM, NULL, "not Bearer" },
    { 200, "{\"access_token\":\"at\",\"token_type\":\"DPoP\"}", RTS_EUPSTREAM, NULL, "not Bearer" },
    { 200, "{\"access_token\":\"at\",\"token_type\":\"Bearer \"}", RTS_EUPSTREAM, NULL, "not Bearer" },
    { 200, "{\"access_token\":\"at\",\"token_type\":[\"Bearer\"]}", RTS_EUPSTREAM, NULL, "token_type" },
    /* optional strings */
    { 200, "{" OKT ",\"refresh_token\":7}", RTS_EUPSTREAM, NULL, "refresh_token" },
    { 200, "{" OKT ",\"refresh_token\":\"\"}", RTS_EUPSTREAM, NULL, "refresh_token" },
    { 200, "{" OKT ",\"refresh_token\":\"r\\n\"}", RTS_EUPSTREAM, NULL, "refresh_token" },
    { 200, "{" OKT ",\"id_token\":{\"a\":1}}", RTS_EUPSTREAM, NULL, "id_token" },
    { 200, "{" OKT ",\"id_token\":null}", RTS_EUPSTREAM, NULL, "id_token" },
    { 200, "{" OKT ",\"id_token\":true}", RTS_EUPSTREAM, NULL, "id_token" },
    { 200, "{" OKT ",\"scope\":[\"openid\"]}", RTS_EUPSTREAM, NULL, "scope" },
    /* expires_in: a non-negative JSON integer, nothing else */
    { 200, "{" OKT ",\"expires_in\":-1}", RTS_EUPSTREAM, NULL, "expires_in" },
    { 200, "{" OKT ",\"expires_in\":\"3600\"}", RTS_EUPSTREAM, NULL, "expires_in" },
    { 200, "{" OKT ",\"expires_in\":3600.5}", RTS_EUPSTREAM, NULL, "expires_in" },
    { 200, "{" OKT ",\"expires_in\":1e300}", RTS_EUPSTREAM, NULL, "expires_in" },
    { 200, "{" OKT ",\"expires_in\":9223372036854775807}", RTS_EUPSTREAM, NULL, "expires_in" },
    { 200, "{" OKT ",\"expires_in\":null}", RTS_EUPSTREAM, NULL, "expires_in" },
    { 200, "{" OKT ",\"refresh_expires_in\":-5}", RTS_EUPSTREAM, NULL, "refresh_expires_in" },
    { 200, "{" OKT ",\"refresh_expires_in\":\"60\"}", RTS_EUPSTREAM, NULL, "refresh_expires_in" },
    /* OAuth errors (RFC 6749 §5.2) */
    { 400, "{\"error\":\"invalid_grant\"}", RTS_EINVALIDGRANT, "invalid_grant", NULL },
    { 401, "{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}", RTS_EOAUTH,
      "invalid_client", "bad secret" },
    { 400, "{\"error\":\"invalid_request\",\"error_uri\":\"https://x\"}", RTS_EOAUTH,
      "invalid_request", NULL },
    { 400, "{\"error\":\"unsupported_grant_type\",\"error_description\":42}", RTS_EOAUTH,
      "unsupported_grant_type", NULL },
    { 400, "{\"error\":\"x !#[]^~\"}", RTS_EOAUTH, "x !#[]^~", NULL },
    { 400, "{\"error\":\"bad\\\"quote\"}", RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "{\"error\":\"bad\\\\backslash\"}", RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "{\"error\":\"bad\\u00e9\"}", RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "{\"error\":\"bad\\nline\"}", RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "{\"error\":\"\"}", RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "{\"error\":[\"invalid_grant\"]}", RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "{\"error_description\":\"no code\"}", RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "{\"error\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
      RTS_EUPSTREAM, NULL, "valid error code" },
    { 400, "Bad Request", RTS_EUPSTREAM, NULL, "not a JSON object" },
    { 401, "", RTS_EUPSTREAM, NULL, "empty" },
};

START_TEST(test_token_parse_outcomes)
{
    const tok_parse_case_t *c = &tok_parse_cases[_i];
    rts_http_response_t resp;
    rts_token_set_t *t = (rts_token_set_t *)1;
    rts_result_t res;
    apr_status_t rv;

    memset(&resp, 0, sizeof(resp));
    resp.status = c->status;
    resp.headers = apr_table_make(rts_test_pool, 1);
    resp.body = c->body;
    resp.body_len = strlen(c->body);
    rts_result_reset(&res);
    rv = rts_token_parse_response(rts_test_pool, &resp, &t, &res);
    ck_assert_msg(rv == c->rv, "case %d (%s): rv %d, expected %d (%s)", _i, c->body,
                  rv, c->rv, res.description ? res.description : "-");
    if (c->rv == APR_SUCCESS) {
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t->access_token, "at");
        ck_assert_str_eq(t->token_type, "Bearer");
        return;
    }
    ck_assert_ptr_null(t);
    ck_assert_int_eq(res.status, c->rv);
    ck_assert_int_eq(res.http_status, c->rv == RTS_EINVALIDGRANT ? 401 : 502);
    if (c->error) {
        ck_assert_str_eq(res.error, c->error);
    }
    else {
        ck_assert_str_eq(res.error, "upstream_error");
    }
    if (c->detail) {
        ck_assert_ptr_nonnull(res.description);
        ck_assert_msg(strstr(res.description, c->detail) != NULL, "case %d: '%s' lacks '%s'",
                      _i, res.description, c->detail);
    }
}
END_TEST

static rts_token_set_t *tok_parse_ok(const char *body)
{
    rts_http_response_t resp;
    rts_token_set_t *t = NULL;
    rts_result_t res;

    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    resp.body = body;
    resp.body_len = strlen(body);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_parse_response(rts_test_pool, &resp, &t, &res), APR_SUCCESS);
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(test_token_parse_full)
{
    rts_token_set_t *t = tok_parse_ok(
        "{\"access_token\":\"at-1\",\"token_type\":\"bearer\",\"expires_in\":3600,"
        "\"refresh_token\":\"rt-1\",\"refresh_expires_in\":86400,\"id_token\":\"h.p.s\","
        "\"scope\":\"openid profile\"}");

    ck_assert_str_eq(t->access_token, "at-1");
    ck_assert_str_eq(t->token_type, "Bearer");
    ck_assert_str_eq(t->refresh_token, "rt-1");
    ck_assert_str_eq(t->id_token, "h.p.s");
    ck_assert_str_eq(t->scope, "openid profile");
    ck_assert(t->expires_in == 3600);
    ck_assert(t->refresh_expires_in == 86400);
}
END_TEST

START_TEST(test_token_parse_minimal)
{
    rts_token_set_t *t = tok_parse_ok("{\"access_token\":\"at\",\"token_type\":\"BEARER\"}");

    ck_assert_str_eq(t->token_type, "Bearer");
    ck_assert_ptr_null(t->refresh_token);
    ck_assert_ptr_null(t->id_token);
    ck_assert_ptr_null(t->scope);
    ck_assert(t->expires_in == -1);
    ck_assert(t->refresh_expires_in == -1);
    t = tok_parse_ok("{\"access_token\":\"at\",\"token_type\":\"Bearer\",\"expires_in\":7200.0}");
    ck_assert(t->expires_in == 7200);
}
END_TEST

START_TEST(test_token_parse_error_description)
{
    rts_http_response_t resp;
    rts_token_set_t *t = NULL;
    rts_result_t res;
    char body[1024];
    apr_size_t i;

    memset(&resp, 0, sizeof(resp));
    resp.status = 400;
    /* control characters, a non-ASCII character and an escape-like sequence become '?' */
    resp.body = "{\"error\":\"invalid_grant\",\"error_description\":\"a\\nb\\u001b[31mc\\u00e9d\"}";
    resp.body_len = strlen(resp.body);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_parse_response(rts_test_pool, &resp, &t, &res), RTS_EINVALIDGRANT);
    ck_assert_str_eq(res.description, "a?b?[31mc??d");
    ck_assert_str_eq(res.error, "invalid_grant");

    /* a long description is truncated */
    strcpy(body, "{\"error\":\"access_denied\",\"error_description\":\"");
    for (i = strlen(body); i < 700; ++i) {
        body[i] = 'x';
    }
    strcpy(body + i, "\"}");
    resp.body = body;
    resp.body_len = strlen(body);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_parse_response(rts_test_pool, &resp, &t, &res), RTS_EOAUTH);
    ck_assert_str_eq(res.error, "access_denied");
    ck_assert_uint_eq(strlen(res.description), 203);
    ck_assert_str_eq(res.description + 200, "...");

    /* no description: empty */
    resp.body = "{\"error\":\"invalid_scope\"}";
    resp.body_len = strlen(resp.body);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_parse_response(rts_test_pool, &resp, &t, &res), RTS_EOAUTH);
    ck_assert_str_eq(res.description, "");
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_token_parse_null_response)
{
    rts_token_set_t *t = NULL;
    rts_result_t res;

    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_parse_response(rts_test_pool, NULL, &t, &res), RTS_EUPSTREAM);
    ck_assert_int_eq(res.http_status, 502);
}
END_TEST

START_TEST(test_token_parse_embedded_nul)
{
    static const char body[] = "{\"access_token\":\"at\",\"token_type\":\"Bearer\"}\0garbage";
    rts_http_response_t resp;
    rts_token_set_t *t = NULL;
    rts_result_t res;

    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    resp.body = body;
    resp.body_len = sizeof(body) - 1;
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_parse_response(rts_test_pool, &resp, &t, &res), RTS_EUPSTREAM);
    ck_assert_ptr_null(t);
}
END_TEST

/* ---- what an answer means for the grant (rts_token_classify through rts_token_refresh) ---- */

typedef struct {
    apr_status_t transport;   /* APR_SUCCESS: the answer below */
    int status;
    const char *body;
    rts_token_kind_t kind;
    const char *error;        /* expected answer.error, NULL for none */
} tok_kind_case_t;

static const tok_kind_case_t tok_kind_cases[] = {
    {APR_SUCCESS, 200, TOK_OK_BODY, RTS_TOKEN_OK, NULL},
    /* refused: this refresh token will never work */
    {APR_SUCCESS, 400, "{\"error\":\"invalid_grant\"}", RTS_TOKEN_REFUSED, "invalid_grant"},
    {APR_SUCCESS, 400, "{\"error\":\"invalid_request\"}", RTS_TOKEN_REFUSED, "invalid_request"},
    {APR_SUCCESS, 400, "", RTS_TOKEN_REFUSED, NULL},
    {APR_SUCCESS, 400, "<html>bad</html>", RTS_TOKEN_REFUSED, NULL},
    {APR_SUCCESS, 400, "{\"error\":\"bad\\u0001code\"}", RTS_TOKEN_REFUSED, NULL},
    {APR_SUCCESS, 403, "<html>Forbidden</html>", RTS_TOKEN_REFUSED, NULL},
    {APR_SUCCESS, 403, "{\"error\":\"access_denied\"}", RTS_TOKEN_REFUSED, "access_denied"},
    /* the client's own authentication: configuration */
    {APR_SUCCESS, 401, "", RTS_TOKEN_CLIENT_AUTH, NULL},
    {APR_SUCCESS, 401, "{\"error\":\"invalid_grant\"}", RTS_TOKEN_CLIENT_AUTH, "invalid_grant"},
    {APR_SUCCESS, 400, "{\"error\":\"invalid_client\"}", RTS_TOKEN_CLIENT_AUTH, "invalid_client"},
    {APR_SUCCESS, 403, "{\"error\":\"unauthorized_client\"}", RTS_TOKEN_CLIENT_AUTH,
     "unauthorized_client"},
    {APR_SUCCESS, 500, "{\"error\":\"invalid_client\"}", RTS_TOKEN_CLIENT_AUTH, "invalid_client"},
    /* never sent: safe to retry */
    {APR_ECONNREFUSED, 0, NULL, RTS_TOKEN_NOT_SENT, NULL},
    /* sent, outcome unknown */
    {APR_TIMEUP, 0, NULL, RTS_TOKEN_UNKNOWN, NULL},
    {RTS_EUPSTREAM, 0, NULL, RTS_TOKEN_UNKNOWN, NULL},
    {RTS_ETOOLARGE, 0, NULL, RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 500, "oops", RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 502, "<html>Bad Gateway</html>", RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 503, "{\"error\":\"invalid_grant\"}", RTS_TOKEN_UNKNOWN, "invalid_grant"},
    {APR_SUCCESS, 429, "", RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 404, "", RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 201, TOK_OK_BODY, RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 200, "{\"access_token\":\"x\"}", RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 200, "not json", RTS_TOKEN_UNKNOWN, NULL},
    {APR_SUCCESS, 400, "{\"error\":\"temporarily_unavailable\"}", RTS_TOKEN_UNKNOWN,
     "temporarily_unavailable"},
};

START_TEST(test_token_answer_kinds)
{
    const tok_kind_case_t *c = &tok_kind_cases[_i];
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_token_answer_t ans;
    rts_result_t res;
    apr_status_t rv;

    if (c->transport != APR_SUCCESS) {
        fake_http_push_error(env->fh, c->transport);
    }
    else {
        fake_http_push(env->fh, c->status, c->body, NULL);
    }
    rts_result_reset(&res);
    rv = rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, &ans, &res);
    ck_assert_msg(ans.kind == c->kind, "case %d: kind %d, expected %d", _i, ans.kind, c->kind);
    ck_assert_int_eq(ans.http_status, c->transport == APR_SUCCESS ? c->status : 0);
    if (c->error) {
        ck_assert_str_eq(ans.error, c->error);
    }
    else {
        ck_assert_ptr_null(ans.error);
    }
    ck_assert_int_eq(rv == APR_SUCCESS, c->kind == RTS_TOKEN_OK);
    ck_assert_int_eq(rv == RTS_ECONFIG, c->kind == RTS_TOKEN_CLIENT_AUTH);
    ck_assert_int_eq(t != NULL, c->kind == RTS_TOKEN_OK);
    /* a token request is never re-sent by the HTTP client */
    ck_assert_int_eq(fake_http_last(env->fh)->once, 1);
    ck_assert_uint_eq(fake_http_count(env->fh), 1);
}
END_TEST

/* The client's credentials refused at login: RTS_ECONFIG and an error-level line naming the
 * status, the error code and the directives to check. */
START_TEST(test_token_client_auth_named_at_login)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_result_t res;
    const char *line;

    fake_http_push(env->fh, 403, "{\"error\":\"unauthorized_client\"}", NULL);
    rts_result_reset(&res);
    ck_assert_int_eq(rts_token_exchange_code(&env->ctx, TOK_ENDPOINT, TOK_CODE, TOK_VERIFIER,
                                             TOK_REDIRECT, &t, &res), RTS_ECONFIG);
    ck_assert_str_eq(res.error, "client_auth_failed");
    ck_assert_int_ge(env->lines->nelts, 1);
    line = APR_ARRAY_IDX(env->lines, env->lines->nelts - 1, const char *);
    ck_assert_ptr_nonnull(strstr(line, "RTS10406"));
    ck_assert_ptr_nonnull(strstr(line, "HTTP 403"));
    ck_assert_ptr_nonnull(strstr(line, "error=unauthorized_client"));
    ck_assert_ptr_nonnull(strstr(line, "RTSessionClientID"));
    ck_assert_ptr_nonnull(strstr(line, "RTSessionClientSecret"));
    ck_assert_ptr_nonnull(strstr(line, "RTSessionTokenEndpointAuth"));
    ck_assert_ptr_null(strstr(line, TOK_CLIENT_SECRET));
    ck_assert_ptr_null(strstr(line, TOK_CODE));
}
END_TEST

/* The caller's bound on the call (the intent's remaining time) shortens the timeout, never
 * lengthens it; Retry-After is read as seconds or as an HTTP-date. */
START_TEST(test_token_timeout_and_retry_after)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_token_answer_t ans;
    rts_result_t res;

    env->cfg.http_timeout = apr_time_from_sec(10);
    fake_http_push(env->fh, 429, "", "Retry-After", "12", NULL);
    rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, apr_time_from_sec(3), &t, &ans, &res);
    ck_assert_int_eq(fake_http_last(env->fh)->timeout, apr_time_from_sec(3));
    ck_assert_int_le(fake_http_last(env->fh)->connect_timeout, apr_time_from_sec(3));
    ck_assert_int_eq(ans.retry_after, apr_time_from_sec(12));
    fake_http_push(env->fh, 503, "", "Retry-After", "Fri, 31 Dec 2100 23:59:59 GMT", NULL);
    rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, apr_time_from_sec(30), &t, &ans,
                      &res);
    ck_assert_int_eq(fake_http_last(env->fh)->timeout, apr_time_from_sec(10));
    ck_assert_int_eq(ans.retry_after, apr_time_from_sec(24 * 3600));   /* bounded */
    fake_http_push(env->fh, 503, "", "Retry-After", "soon", NULL);
    rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, &ans, &res);
    ck_assert_int_eq(ans.retry_after, 0);
}
END_TEST

/* A 200 refused for another member keeps a well-formed new refresh token; a malformed one
 * is not kept. */
START_TEST(test_token_salvage_refresh_token)
{
    tok_env_t *env = tok_env(RTS_AUTH_CLIENT_SECRET_BASIC);
    rts_token_set_t *t = NULL;
    rts_token_answer_t ans;
    rts_result_t res;

    fake_http_push(env->fh, 200, "{\"access_token\":\"A\",\"token_type\":\"mac\","
                   "\"refresh_token\":\"RT2\"}", NULL);
    rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, &ans, &res);
    ck_assert_int_eq(ans.kind, RTS_TOKEN_UNKNOWN);
    ck_assert_str_eq(ans.refresh_token, "RT2");
    ck_assert_ptr_null(t);
    fake_http_push(env->fh, 200, "{\"access_token\":\"A\",\"token_type\":\"Bearer\","
                   "\"refresh_token\":\"R\\nT\"}", NULL);
    rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, &ans, &res);
    ck_assert_int_eq(ans.kind, RTS_TOKEN_UNKNOWN);
    ck_assert_ptr_null(ans.refresh_token);
    fake_http_push(env->fh, 500, "{\"refresh_token\":\"RT2\"}", NULL);
    rts_token_refresh(&env->ctx, TOK_ENDPOINT, TOK_REFRESH, 0, &t, &ans, &res);
    ck_assert_ptr_null(ans.refresh_token);             /* only from a 200 */
}
END_TEST

Suite *rts_suite_token(void)
{
    Suite *s = suite_create("token");
    TCase *tc;

    tc = tcase_create("request");
    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_token_exchange_basic);
    tcase_add_test(tc, test_token_exchange_post);
    tcase_add_test(tc, test_token_refresh_basic);
    tcase_add_test(tc, test_token_refresh_post);
    tcase_add_test(tc, test_token_refresh_invalid_grant);
    tcase_add_loop_test(tc, test_token_transport_failure, 0,
                        (int)(sizeof(tok_transport_cases) / sizeof(tok_transport_cases[0])));
    tcase_add_test(tc, test_token_response_too_large);
    tcase_add_test(tc, test_token_not_configured);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_loop_test(tc, test_token_parse_outcomes, 0,
                        (int)(sizeof(tok_parse_cases) / sizeof(tok_parse_cases[0])));
    tcase_add_test(tc, test_token_parse_full);
    tcase_add_test(tc, test_token_parse_minimal);
    tcase_add_test(tc, test_token_parse_error_description);
    tcase_add_test(tc, test_token_parse_null_response);
    tcase_add_test(tc, test_token_parse_embedded_nul);
    tcase_add_loop_test(tc, test_token_answer_kinds, 0,
                        (int)(sizeof(tok_kind_cases) / sizeof(tok_kind_cases[0])));
    tcase_add_test(tc, test_token_client_auth_named_at_login);
    tcase_add_test(tc, test_token_timeout_and_retry_after);
    tcase_add_test(tc, test_token_salvage_refresh_token);
    suite_add_tcase(s, tc);
    return s;
}
