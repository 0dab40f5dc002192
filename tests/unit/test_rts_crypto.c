/* PLACEHOLDER: unit tests for rts_crypto are being written. */
#include "test_common.h"

Suite *rts_suite_crypto(void)
{
    return suite_create("crypto");
}
