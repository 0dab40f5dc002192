/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery document parsing. Property: an accepted document names exactly our issuer. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "rts.h"
#include "rts_provider.h"
#include "rts_result.h"

#define RTS_FUZZ_ISSUER "https://op.example"

int rts_fuzz_provider_meta(const uint8_t *data, size_t size)
{
    apr_pool_t *p = rts_fuzz_input_pool();
    char *copy = malloc(size + 1);
    rts_provider_meta_t *meta;
    rts_result_t res;

    rts_fuzz_assert(copy != NULL, "malloc");
    memcpy(copy, data, size);
    copy[size] = '\0';
    memset(&res, 0, sizeof(res));
    if (rts_provider_parse_meta(p, copy, size, RTS_FUZZ_ISSUER, 0, &meta, &res) == APR_SUCCESS) {
        rts_fuzz_assert(!strcmp(meta->issuer, RTS_FUZZ_ISSUER), "issuer is ours");
        rts_fuzz_assert(!strncmp(meta->token_endpoint, "https://", 8), "https token endpoint");
    }
    free(copy);
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(provider_meta)
