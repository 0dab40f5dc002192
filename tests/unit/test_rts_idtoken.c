/* PLACEHOLDER: unit tests for rts_idtoken are being written. */
#include "test_common.h"

Suite *rts_suite_idtoken(void)
{
    return suite_create("idtoken");
}
