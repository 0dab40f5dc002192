/* PLACEHOLDER: unit tests for rts_refresh are being written. */
#include "test_common.h"

Suite *rts_suite_refresh(void)
{
    return suite_create("refresh");
}
