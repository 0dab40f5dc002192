/* SPDX-License-Identifier: Apache-2.0 */
/* Pool and helpers for the fuzz targets (fuzz_common.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "fuzz_common.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RTS_FUZZ_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RTS_FUZZ_LSAN 1
#endif
#ifdef RTS_FUZZ_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static apr_pool_t *root;

apr_pool_t *rts_fuzz_pool(void)
{
    if (!root) {
        if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS) {
            abort();
        }
    }
    return root;
}

apr_pool_t *rts_fuzz_input_pool(void)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, rts_fuzz_pool()) != APR_SUCCESS) {
        abort();
    }
    return p;
}

char *rts_fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *s = apr_palloc(p, size + 1);

    if (size) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

void rts_fuzz_static_begin(void)
{
#ifdef RTS_FUZZ_LSAN
    __lsan_disable();
#endif
}

void rts_fuzz_static_end(void)
{
#ifdef RTS_FUZZ_LSAN
    __lsan_enable();
#endif
}

void rts_fuzz_assert(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz property violated: %s\n", what);
        abort();
    }
}
