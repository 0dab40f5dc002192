/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the fuzz targets: one libFuzzer entry point per target, a pool per input, and
 * APR set up once. Built two ways (see README.md): with clang -fsanitize=fuzzer (make fuzz) and
 * with replay_main.c, a plain main that feeds corpus files (make check, any compiler). */
#ifndef RTS_FUZZ_COMMON_H
#define RTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each fuzz_<name>.c defines rts_fuzz_<name>() and ends with RTS_FUZZ_TARGET(name): the
 * libFuzzer entry point, except in the replay binary (RTS_FUZZ_REPLAY), which links every
 * target and dispatches by name. */
#ifdef RTS_FUZZ_REPLAY
#define RTS_FUZZ_TARGET(name)
#else
#define RTS_FUZZ_TARGET(name) \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) \
    { \
        return rts_fuzz_##name(data, size); \
    }
#endif

int rts_fuzz_jws(const uint8_t *data, size_t size);
int rts_fuzz_jwks(const uint8_t *data, size_t size);
int rts_fuzz_token_response(const uint8_t *data, size_t size);
int rts_fuzz_session(const uint8_t *data, size_t size);
int rts_fuzz_cookie(const uint8_t *data, size_t size);
int rts_fuzz_return_url(const uint8_t *data, size_t size);
int rts_fuzz_form(const uint8_t *data, size_t size);
int rts_fuzz_provider_meta(const uint8_t *data, size_t size);
int rts_fuzz_logout(const uint8_t *data, size_t size);

/* The process-wide parent pool (APR initialised on first use). */
apr_pool_t *rts_fuzz_pool(void);
/* A child pool of it for one input. */
apr_pool_t *rts_fuzz_input_pool(void);
/* A NUL-terminated copy of the input, from p. */
char *rts_fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size);
/* Around set-up that lives as long as the process (a JWKS, keys): APR's pools may be
 * mmap()ed, which LeakSanitizer does not scan, so it would report them at exit. */
void rts_fuzz_static_begin(void);
void rts_fuzz_static_end(void);
/* Aborts (a finding) when cond is false: for properties the targets check beyond crashes. */
void rts_fuzz_assert(int cond, const char *what);

#endif
