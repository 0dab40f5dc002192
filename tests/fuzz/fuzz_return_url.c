/* SPDX-License-Identifier: Apache-2.0 */
/* The return-URL check (open redirects). Property: whatever it accepts is a path on this
 * origin, also after percent-decoding, for browsers that treat '\' as '/'. */
#include <string.h>
#include "fuzz_common.h"
#include "rts.h"
#include "rts_authreq.h"
#include "rts_util.h"

static int origin_relative(const char *u)
{
    return u[0] == '/' && u[1] != '/' && u[1] != '\\' && !strchr(u, '\\')
           && !strpbrk(u, "\t\r\n ");
}

int rts_fuzz_return_url(const uint8_t *data, size_t size)
{
    apr_pool_t *p = rts_fuzz_input_pool();
    const char *url = rts_fuzz_cstr(p, data, size);
    char *decoded;

    if (strlen(url) == size && rts_return_url_ok(url)) {
        rts_fuzz_assert(origin_relative(url), "an accepted return URL is origin-relative");
        if (rts_url_decode(p, url, size, 0, &decoded) == APR_SUCCESS) {
            rts_fuzz_assert(decoded[0] == '/' && decoded[1] != '/' && decoded[1] != '\\',
                            "an accepted return URL is origin-relative once decoded");
        }
    }
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(return_url)
