/* SPDX-License-Identifier: Apache-2.0 */
/* Token endpoint response parsing. The first byte picks the HTTP status, the rest is the body. */
#include <string.h>
#include "fuzz_common.h"
#include "rts.h"
#include "rts_token.h"
#include "rts_result.h"

static const int statuses[] = {200, 400, 401, 500, 201, 302};

int rts_fuzz_token_response(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    rts_http_response_t resp;
    rts_token_set_t *tokens;
    rts_result_t res;
    apr_status_t rv;

    if (size < 1) {
        return 0;
    }
    p = rts_fuzz_input_pool();
    resp.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    resp.headers = apr_table_make(p, 1);
    apr_table_set(resp.headers, "Content-Type", "application/json");
    resp.body = rts_fuzz_cstr(p, data + 1, size - 1);
    resp.body_len = size - 1;
    memset(&res, 0, sizeof(res));
    rv = rts_token_parse_response(p, &resp, &tokens, &res);
    if (rv == APR_SUCCESS) {
        const char *c;

        rts_fuzz_assert(resp.status == 200, "only 200 succeeds");
        rts_fuzz_assert(tokens->access_token && *tokens->access_token, "access_token present");
        for (c = tokens->access_token; *c; c++) {
            rts_fuzz_assert(*c >= 0x20 && *c <= 0x7e, "access_token is VSCHAR (header-safe)");
        }
    }
    else {
        rts_fuzz_assert(res.http_status >= 400, "a failure carries an error status");
    }
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(token_response)
