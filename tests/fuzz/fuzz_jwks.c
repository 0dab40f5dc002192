/* SPDX-License-Identifier: Apache-2.0 */
/* JWK Set parsing (rts_jwks_parse) on an exact-size heap copy: no terminator to lean on. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "rts.h"
#include "rts_jose.h"
#include "rts_result.h"

int rts_fuzz_jwks(const uint8_t *data, size_t size)
{
    apr_pool_t *p = rts_fuzz_input_pool();
    char *copy = malloc(size ? size : 1);
    rts_result_t res;
    rts_jwks_t *jwks;

    rts_fuzz_assert(copy != NULL, "malloc");
    memcpy(copy, data, size);
    memset(&res, 0, sizeof(res));
    rts_jwks_parse(p, copy, size, 64 * 1024, &jwks, &res);
    free(copy);
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(jwks)
