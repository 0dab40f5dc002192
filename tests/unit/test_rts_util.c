/* PLACEHOLDER: unit tests for rts_util are being written. */
#include "test_common.h"

Suite *rts_suite_util(void)
{
    return suite_create("util");
}
