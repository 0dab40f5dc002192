/* SPDX-License-Identifier: Apache-2.0 */
/* Shared declarations of the unit test runner: one suite per core area. */
#ifndef RTS_TEST_COMMON_H
#define RTS_TEST_COMMON_H

#include <check.h>
#include <apr_pools.h>

/* A fresh pool per test, created by rts_test_setup and destroyed by rts_test_teardown
 * (use tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown)). */
extern apr_pool_t *rts_test_pool;
void rts_test_setup(void);
void rts_test_teardown(void);

Suite *rts_suite_util(void);
Suite *rts_suite_crypto(void);
Suite *rts_suite_jose(void);
Suite *rts_suite_store(void);
Suite *rts_suite_http(void);
Suite *rts_suite_authreq(void);
Suite *rts_suite_jwt_claims(void);
Suite *rts_suite_idtoken(void);
Suite *rts_suite_token(void);
Suite *rts_suite_session(void);
Suite *rts_suite_refresh(void);
Suite *rts_suite_flow(void);
Suite *rts_suite_metrics(void);
Suite *rts_suite_lifetime(void);
Suite *rts_suite_logout(void);
Suite *rts_suite_provider(void);
Suite *rts_suite_identity(void);
Suite *rts_suite_config(void);

#endif
