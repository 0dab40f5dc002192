/* PLACEHOLDER: unit tests for rts_authreq are being written. */
#include "test_common.h"

Suite *rts_suite_authreq(void)
{
    return suite_create("authreq");
}
