/* PLACEHOLDER: unit tests for rts_http are being written. */
#include "test_common.h"

Suite *rts_suite_http(void)
{
    return suite_create("http");
}
