/* SPDX-License-Identifier: Apache-2.0 */
/* Cookie header parsing: rts_cookie_get and rts_cookie_strip on the module's cookie names.
 * Property: what strip leaves never yields one of the stripped cookies to get. */
#include <string.h>
#include "fuzz_common.h"
#include "rts.h"
#include "rts_cookie.h"

static const char *const names[] = {"__Host-rtsession", "__Host-rtsession_login", "rtsession",
                                    NULL};

int rts_fuzz_cookie(const uint8_t *data, size_t size)
{
    apr_pool_t *p = rts_fuzz_input_pool();
    const char *header = rts_fuzz_cstr(p, data, size);
    const char *val, *rest;
    int i;

    for (i = 0; names[i]; i++) {
        if (rts_cookie_get(p, header, names[i], &val) == APR_SUCCESS) {
            rts_fuzz_assert(val != NULL && !strchr(val, ';'), "a cookie value has no ';'");
        }
    }
    rest = rts_cookie_strip(p, header, names);
    if (rest) {
        for (i = 0; names[i]; i++) {
            rts_fuzz_assert(rts_cookie_get(p, rest, names[i], &val) != APR_SUCCESS,
                            "a stripped cookie is gone");
        }
    }
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(cookie)
