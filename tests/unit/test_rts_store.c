/* PLACEHOLDER: unit tests for rts_store are being written. */
#include "test_common.h"

Suite *rts_suite_store(void)
{
    return suite_create("store");
}
