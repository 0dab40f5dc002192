/* A core context for unit tests: fake store, fake HTTP, a clock the test moves, a sleep that
 * moves it, and a config with one module secret. */
#ifndef RTS_TEST_CTX_H
#define RTS_TEST_CTX_H

#include "rts.h"
#include "rts_config.h"
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
    /* called from the sleep of a waiting request, to let "another process" act */
    void (*on_sleep)(struct test_env_t *env, void *baton);
    void *on_sleep_baton;
    unsigned sleeps;
} test_env_t;

/* A test environment in p (store, HTTP, provider shared by every context made from it). */
test_env_t *test_env_create(apr_pool_t *p);
/* A request context on the environment (one per simulated request/process). */
rts_ctx_t *test_env_ctx(test_env_t *env);
/* Queues the discovery document of TEST_ISSUER. */
void test_env_push_discovery(test_env_t *env);

#endif
