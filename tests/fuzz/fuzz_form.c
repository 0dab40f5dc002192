/* SPDX-License-Identifier: Apache-2.0 */
/* application/x-www-form-urlencoded and query parsing (callback parameters). */
#include <string.h>
#include "fuzz_common.h"
#include "rts.h"
#include "rts_util.h"

int rts_fuzz_form(const uint8_t *data, size_t size)
{
    apr_pool_t *p = rts_fuzz_input_pool();
    const char *s = rts_fuzz_cstr(p, data, size);
    apr_table_t *t;
    char *out;

    rts_form_parse(p, s, &t);
    if (rts_url_decode(p, s, strlen(s), 1, &out) == APR_SUCCESS) {
        rts_fuzz_assert(strlen(out) <= strlen(s), "decoding never grows");
        rts_fuzz_assert(rts_url_decode(p, rts_url_encode(p, out), strlen(rts_url_encode(p, out)),
                                       0, &out) == APR_SUCCESS, "encode then decode round-trips");
    }
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(form)
