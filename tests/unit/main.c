/* SPDX-License-Identifier: Apache-2.0 */
/* The single unit test runner: every core suite, Check's normal summary line at the end. */
#include <stdlib.h>
#include <apr_general.h>
#include <curl/curl.h>
#include "test_common.h"

apr_pool_t *rts_test_pool;

void rts_test_setup(void)
{
    apr_pool_create(&rts_test_pool, NULL);
}

void rts_test_teardown(void)
{
    apr_pool_destroy(rts_test_pool);
    rts_test_pool = NULL;
}

int main(void)
{
    SRunner *sr;
    int failed;

    apr_app_initialize(NULL, NULL, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    sr = srunner_create(rts_suite_util());
    srunner_add_suite(sr, rts_suite_crypto());
    srunner_add_suite(sr, rts_suite_jose());
    srunner_add_suite(sr, rts_suite_store());
    srunner_add_suite(sr, rts_suite_http());
    srunner_add_suite(sr, rts_suite_authreq());
    srunner_add_suite(sr, rts_suite_jwt_claims());
    srunner_add_suite(sr, rts_suite_idtoken());
    srunner_add_suite(sr, rts_suite_token());
    srunner_add_suite(sr, rts_suite_session());
    srunner_add_suite(sr, rts_suite_refresh());
    srunner_add_suite(sr, rts_suite_flow());
    srunner_add_suite(sr, rts_suite_metrics());
    srunner_add_suite(sr, rts_suite_lifetime());
    srunner_add_suite(sr, rts_suite_logout());
    srunner_add_suite(sr, rts_suite_provider());
    srunner_add_suite(sr, rts_suite_identity());
    srunner_add_suite(sr, rts_suite_config());

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    curl_global_cleanup();
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
