/* PLACEHOLDER: unit tests for rts_token are being written. */
#include "test_common.h"

Suite *rts_suite_token(void)
{
    return suite_create("token");
}
