/* PLACEHOLDER: unit tests for rts_flow are being written. */
#include "test_common.h"

Suite *rts_suite_flow(void)
{
    return suite_create("flow");
}
