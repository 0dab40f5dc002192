/* PLACEHOLDER: unit tests for rts_session are being written. */
#include "test_common.h"

Suite *rts_suite_session(void)
{
    return suite_create("session");
}
