/* PLACEHOLDER: unit tests for rts_jose are being written. */
#include "test_common.h"

Suite *rts_suite_jose(void)
{
    return suite_create("jose");
}
