/* SPDX-License-Identifier: Apache-2.0 */
/* Test environment for the core's unit tests. */
#include <string.h>
#include <apr_strings.h>
#include <check.h>
#include "test_ctx.h"
#include "rts_record.h"
#include "rts_claims_memo.h"
#include "rts_crypto.h"
#include "rts_provider.h"

static const char *const test_algs[] = { "RS256", "ES256", "PS256", "EdDSA", NULL };

static apr_time_t env_clock(void *baton)
{
    return ((test_env_t *)baton)->now;
}

static void env_sleep(void *baton, apr_interval_time_t t)
{
    test_env_t *env = baton;

    env->now += t;
    env->sleeps++;
    if (env->on_sleep) {
        env->on_sleep(env, env->on_sleep_baton);
    }
}

rts_config_t *test_config_required(apr_pool_t *p)
{
    rts_config_t *c = apr_palloc(p, sizeof(*c));
    rts_secret_t *sec;
    static const char secret[] = "0123456789abcdef0123456789abcdef";

    rts_config_defaults(c);
    c->metadata_url = TEST_ISSUER "/.well-known/openid-configuration";
    c->issuer = TEST_ISSUER;
    c->client_id = TEST_CLIENT_ID;
    c->client_secret = "s3cret";
    c->redirect_uri = "/rtsession/callback";
    c->secrets = apr_array_make(p, 1, sizeof(rts_secret_t));
    sec = apr_array_push(c->secrets);
    ck_assert_int_eq(rts_secret_derive(p, secret, c->issuer, c->client_id, sec), APR_SUCCESS);
    return c;
}

test_env_t *test_env_create(apr_pool_t *p)
{
    test_env_t *env = apr_pcalloc(p, sizeof(*env));
    rts_config_t *c = test_config_required(p);
    const char *err;

    env->pool = p;
    env->now = TEST_T0;
    env->fs = fake_store_create(p);
    fake_store_use_clock(env->fs, env_clock, env);
    env->fh = fake_http_create(p);
    fake_http_use_clock(env->fh, &env->now);
    rts_provider_create(p, &env->provider);

    /* the module's defaults and derived values, then what the tests need otherwise: a
     * shorter HTTP timeout, the algorithms of test_keys.c, no idle timeout (tests of the idle
     * slide set it) */
    c->scope = "openid email";
    c->http_timeout = apr_time_from_sec(5);
    c->idle_timeout = 0;
    c->allowed_algs = test_algs;
    ck_assert_int_eq(rts_config_finish(p, c, &err), APR_SUCCESS);
    env->cfg = c;
    ck_assert_int_eq(rts_claims_memo_create(p, &env->claims_memo), APR_SUCCESS);
    return env;
}

rts_ctx_t *test_env_ctx(test_env_t *env)
{
    rts_ctx_t *ctx = apr_pcalloc(env->pool, sizeof(*ctx));

    ctx->pool = env->pool;
    ctx->log = NULL;
    ctx->clock = env_clock;
    ctx->clock_baton = env;
    ctx->store = fake_store_store(env->fs);
    ctx->http = fake_http_client(env->fh);
    ctx->cfg = env->cfg;
    ctx->provider = env->provider;
    ctx->claims_memo = env->claims_memo;
    ctx->sleep = env_sleep;
    ctx->sleep_baton = env;
    return ctx;
}

void test_env_push_discovery(test_env_t *env)
{
    fake_http_push(env->fh, 200,
                   "{\"issuer\":\"" TEST_ISSUER "\","
                   "\"authorization_endpoint\":\"" TEST_ISSUER "/auth\","
                   "\"token_endpoint\":\"" TEST_ISSUER "/token\","
                   "\"jwks_uri\":\"" TEST_ISSUER "/jwks\","
                   "\"userinfo_endpoint\":\"" TEST_ISSUER "/me\"}",
                   "Content-Type", "application/json", NULL);
}

rts_session_t *test_env_session(test_env_t *env, apr_interval_time_t at_in)
{
    rts_ctx_t *ctx = test_env_ctx(env);
    rts_session_t *s = apr_pcalloc(env->pool, sizeof(*s));
    rts_session_t *loaded;

    ck_assert_int_eq(rts_session_new_id(env->pool, &s->id), APR_SUCCESS);
    s->gen = 1;
    s->sub = "alice";
    s->access_token = "AT1";
    s->refresh_token = "RT1";
    s->at_expires = env->now + at_in;
    s->created = env->now;
    ck_assert_int_eq(rts_session_add(ctx, s), APR_SUCCESS);
    ck_assert_int_eq(rts_session_load(ctx, s->id, &loaded), APR_SUCCESS);
    return loaded;
}

const char *test_outcome_cookie(apr_pool_t *p, const rts_outcome_t *out, const char *name)
{
    apr_size_t n = strlen(name);
    int i;

    for (i = 0; i < out->set_cookies->nelts; i++) {
        const char *c = APR_ARRAY_IDX(out->set_cookies, i, const char *);
        if (!strncmp(c, name, n) && c[n] == '=') {
            const char *end = strchr(c, ';');
            return apr_pstrmemdup(p, c + n + 1, (apr_size_t)(end - c - n - 1));
        }
    }
    return NULL;
}

rts_req_t *test_env_request(test_env_t *env, const char *uri, const char *cookie,
                            int navigation)
{
    rts_req_t *req = apr_pcalloc(env->pool, sizeof(*req));
    const char *q = strchr(uri, '?');

    req->method = "GET";
    req->secure = 1;
    req->origin = "https://rp.example.test";
    req->uri = uri;
    req->query = q ? q + 1 : NULL;
    req->cookie_header = cookie;
    req->navigation = navigation;
    return req;
}

void test_env_next_gen_at_third_sleep(test_env_t *env, void *baton)
{
    rts_session_t *cur;
    rts_ctx_t *ctx;

    if (env->sleeps != 3) {
        return;
    }
    ctx = test_env_ctx(env);
    ck_assert_int_eq(rts_session_load(ctx, ((rts_session_t *)baton)->id, &cur), APR_SUCCESS);
    cur->gen++;
    cur->access_token = "AT2";
    cur->refresh_token = "RT2";
    cur->at_expires = env->now + apr_time_from_sec(300);
    cur->intent_owner = NULL;
    cur->intent_until = 0;
    ck_assert_int_eq(rts_session_cas(ctx, cur), APR_SUCCESS);
}
