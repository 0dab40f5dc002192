/* SPDX-License-Identifier: Apache-2.0 */
/* A failure, with its cause: what the provider said (OAuth error/description) and what the
 * client should see. Core functions return apr_status_t and fill one of these when useful. */
#ifndef RTS_RESULT_H
#define RTS_RESULT_H

#include <apr_pools.h>
#include <apr_errno.h>

typedef struct rts_result_t {
    apr_status_t status;
    int http_status;            /* what the client should get: 400, 401, 502, 503, ... */
    const char *error;          /* OAuth error code, e.g. "invalid_grant", or a short reason */
    const char *description;    /* human-readable detail, safe to show and log (no tokens) */
    int retry_after;            /* seconds for a Retry-After of a 503, 0: the default */
} rts_result_t;

void rts_result_reset(rts_result_t *res);
/* Sets status, http status and a printf-formatted description (allocated from p); clears
 * retry_after. */
apr_status_t rts_result_set(rts_result_t *res, apr_pool_t *p, apr_status_t status, int http_status,
                            const char *error, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
