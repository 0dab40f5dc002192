/* SPDX-License-Identifier: Apache-2.0 */
/* A core context for unit tests: fake store, fake HTTP, a clock the test moves, a sleep that
 * moves it, and a config with one module secret. */
#ifndef RTS_TEST_CTX_H
#define RTS_TEST_CTX_H

#include "rts.h"
#include "rts_config.h"
#include "rts_flow.h"
#include "rts_session.h"
#include "fakes/fake_store.h"
#include "fakes/fake_http.h"

#define TEST_ISSUER "https://op.example.test"
#define TEST_CLIENT_ID "client-1"
#define TEST_T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)

typedef struct test_env_t {
    apr_pool_t *pool;
    apr_time_t now;
    fake_store_t *fs;
    fake_http_t *fh;
    rts_config_t *cfg;
    rts_provider_t *provider;
    rts_claims_memo_t *claims_memo;  /* shared, as a child shares it among its requests */
    /* called from the sleep of a waiting request, to let "another process" act */
    void (*on_sleep)(struct test_env_t *env, void *baton);
    void *on_sleep_baton;
    unsigned sleeps;
} test_env_t;

/* A configuration with the module's defaults (rts_config_defaults), the required settings of
 * TEST_ISSUER / TEST_CLIENT_ID and one module secret; not finished (rts_config_finish). */
rts_config_t *test_config_required(apr_pool_t *p);
/* A test environment in p (store, HTTP, provider shared by every context made from it). */
test_env_t *test_env_create(apr_pool_t *p);
/* A request context on the environment (one per simulated request/process). */
rts_ctx_t *test_env_ctx(test_env_t *env);
/* Queues the discovery document of TEST_ISSUER. */
void test_env_push_discovery(test_env_t *env);
/* A session of "alice" (tokens AT1/RT1, generation 1) added to the store, whose access token
 * expires at_in from now (may be negative), as a request loads it (with its CAS unique). */
rts_session_t *test_env_session(test_env_t *env, apr_interval_time_t at_in);
/* The value of a cookie set by an outcome ("" when cleared), NULL when not set. */
const char *test_outcome_cookie(apr_pool_t *p, const rts_outcome_t *out, const char *name);
/* A GET of uri on https://rp.example.test with this Cookie header (or NULL). */
rts_req_t *test_env_request(test_env_t *env, const char *uri, const char *cookie,
                            int navigation);
/* An on_sleep hook: at the third sleep of a waiter, "another process" that held the intent
 * publishes the next generation (AT2/RT2, valid 300 s) of the session passed as baton. */
void test_env_next_gen_at_third_sleep(test_env_t *env, void *baton);

#endif
