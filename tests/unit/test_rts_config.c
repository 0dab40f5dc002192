/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration's one home (core/rts_config.c): defaults, derived values, invariants. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "test_ctx.h"
#include "rts_config.h"
#include "rts_store.h"

/* A configuration as the glue builds it from the required directives only. */
static rts_config_t *required_only(void)
{
    return test_config_required(rts_test_pool);
}

static const char *finish_error(rts_config_t *c)
{
    const char *err = NULL;

    ck_assert_int_eq(rts_config_finish(rts_test_pool, c, &err), RTS_ECONFIG);
    ck_assert_ptr_nonnull(err);
    return err;
}

static void finish_ok(rts_config_t *c)
{
    const char *err = "unset";

    ck_assert_int_eq(rts_config_finish(rts_test_pool, c, &err), APR_SUCCESS);
    ck_assert_ptr_null(err);
}

/* The documented defaults (docs/directives.md), nothing else filled in. */
START_TEST(test_config_defaults)
{
    rts_config_t *c = required_only();

    finish_ok(c);
    ck_assert_str_eq(c->scope, "openid");
    ck_assert_int_eq(c->client_auth, RTS_AUTH_CLIENT_SECRET_BASIC);
    ck_assert_ptr_null(c->ca_file);
    ck_assert_int_eq(c->http_timeout, apr_time_from_sec(10));
    ck_assert_int_eq(c->max_response, 256 * 1024);
    ck_assert_int_eq(c->leeway, apr_time_from_sec(60));
    ck_assert_int_eq(c->iat_max_age, apr_time_from_sec(600));
    ck_assert_int_eq(c->refresh_window, apr_time_from_sec(60));
    ck_assert_int_eq(c->pending_ttl, apr_time_from_sec(600));
    ck_assert_int_eq(c->session_max, apr_time_from_sec(8 * 3600));
    ck_assert_int_eq(c->idle_timeout, apr_time_from_sec(3600));
    ck_assert_int_eq(c->touch_interval, apr_time_from_sec(300));
    ck_assert_int_eq(c->metadata_ttl, apr_time_from_sec(3600));
    ck_assert_int_eq(c->jwks_min_refetch, apr_time_from_sec(10));
    ck_assert_str_eq(c->cookie_name, "rtsession");
    ck_assert_str_eq(c->logout_redirect, "/");
    ck_assert_ptr_null(c->logout_path);
    ck_assert_ptr_null(c->backchannel_path);
    ck_assert_int_eq(c->logout_at_provider, 1);
    ck_assert_int_eq(c->revoke_at_logout, 1);
    ck_assert_int_eq(c->memcached_timeout, apr_time_from_msec(1000));
    ck_assert_int_eq(c->memcached_dead_after, RTS_STORE_DEAD_AFTER_DEFAULT);
    ck_assert_int_eq(c->memcached_dead_after, apr_time_from_sec(60));
    ck_assert_str_eq(c->allowed_algs[0], "RS256");
    ck_assert_str_eq(c->user_claims[0], RTS_CONFIG_USER_CLAIM);
    ck_assert_ptr_null(c->user_claims[1]);
    /* derived from the default HTTP timeout */
    ck_assert_int_eq(c->connect_timeout, apr_time_from_sec(5));
    ck_assert_int_eq(c->intent_ttl, apr_time_from_sec(15));
}
END_TEST

/* The intent outlives the token call by 5 s; connecting takes at most 5 s of it. */
START_TEST(test_config_derived_timeouts)
{
    rts_config_t *c = required_only();

    c->http_timeout = apr_time_from_msec(300);
    finish_ok(c);
    ck_assert_int_eq(c->connect_timeout, apr_time_from_msec(300));
    ck_assert_int_eq(c->intent_ttl, apr_time_from_msec(5300));
    /* run again after a change: the derived values follow */
    c->http_timeout = apr_time_from_sec(60);
    finish_ok(c);
    ck_assert_int_eq(c->connect_timeout, apr_time_from_sec(5));
    ck_assert_int_eq(c->intent_ttl, apr_time_from_sec(65));
}
END_TEST

/* At least two chances to slide before an active session idles out. */
START_TEST(test_config_touch_clamp)
{
    rts_config_t *c = required_only();

    c->idle_timeout = apr_time_from_sec(60);
    c->touch_interval = apr_time_from_sec(300);
    finish_ok(c);
    ck_assert_int_eq(c->touch_interval, apr_time_from_sec(30));

    c = required_only();
    c->idle_timeout = apr_time_from_sec(600);
    c->touch_interval = apr_time_from_sec(120);       /* below half: kept */
    finish_ok(c);
    ck_assert_int_eq(c->touch_interval, apr_time_from_sec(120));

    c = required_only();
    c->idle_timeout = 1;                              /* 1 us: never 0 */
    finish_ok(c);
    ck_assert_int_eq(c->touch_interval, 1);

    c = required_only();
    c->idle_timeout = 0;                              /* off: nothing to clamp against */
    finish_ok(c);
    ck_assert_int_eq(c->touch_interval, apr_time_from_sec(300));
}
END_TEST

START_TEST(test_config_required_directives)
{
    rts_config_t *c = required_only();

    c->client_secret = NULL;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionClientSecret"));
    c = required_only();
    c->issuer = NULL;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionIssuer"));
    c = required_only();
    apr_array_clear(c->secrets);
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionSecret"));
    c = required_only();
    c->secrets = NULL;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionSecret"));
    c = required_only();
    c->cookie_name = "";
    finish_error(c);
}
END_TEST

START_TEST(test_config_bounds)
{
    rts_config_t *c = required_only();

    c->http_timeout = 0;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionHTTPTimeout"));
    c = required_only();
    c->memcached_timeout = 0;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionMemcachedTimeout"));
    c = required_only();
    c->memcached_dead_after = -1;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionMemcachedDeadAfter"));
    c = required_only();
    c->memcached_dead_after = 0;                      /* "never" */
    finish_ok(c);
    c = required_only();
    c->touch_interval = 0;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionTouchInterval"));
    c = required_only();
    c->session_max = 0;
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionMaxLifetime"));
    c = required_only();
    c->max_response = 0;
    finish_error(c);
}
END_TEST

/* Two endpoints on one path: only the first quick_handler would ever answer. */
START_TEST(test_config_paths_differ)
{
    rts_config_t *c = required_only();

    c->logout_path = "/rtsession/callback";
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionLogoutPath"));
    c = required_only();
    c->redirect_uri = "https://rp.example.test/oidc/cb";
    c->backchannel_path = "/oidc/cb";
    ck_assert_ptr_nonnull(strstr(finish_error(c), "RTSessionBackchannelLogoutPath"));
    c = required_only();
    c->logout_path = "/rtsession/out";
    c->backchannel_path = "/rtsession/out";
    finish_error(c);
    c = required_only();
    c->logout_path = "/rtsession/logout";
    c->backchannel_path = "/rtsession/backchannel";
    finish_ok(c);
}
END_TEST

/* The unit tests' environment is built by the same two functions, with a 5 s HTTP timeout. */
START_TEST(test_config_test_env_derived)
{
    test_env_t *env = test_env_create(rts_test_pool);

    ck_assert_int_eq(env->cfg->http_timeout, apr_time_from_sec(5));
    ck_assert_int_eq(env->cfg->intent_ttl, apr_time_from_sec(10));
    ck_assert_int_eq(env->cfg->connect_timeout, apr_time_from_sec(5));
    ck_assert_int_eq(env->cfg->max_response, 256 * 1024);
}
END_TEST

Suite *rts_suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_config_derived_timeouts);
    tcase_add_test(tc, test_config_touch_clamp);
    tcase_add_test(tc, test_config_required_directives);
    tcase_add_test(tc, test_config_bounds);
    tcase_add_test(tc, test_config_paths_differ);
    tcase_add_test(tc, test_config_test_env_derived);
    suite_add_tcase(s, tc);
    return s;
}
