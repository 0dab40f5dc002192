/* SPDX-License-Identifier: Apache-2.0 */
/* The core's clock: the context's (a controllable one in the tests) or APR's. */
#ifndef RTS_CLOCK_H
#define RTS_CLOCK_H

#include "rts.h"

/* Now, in microseconds since the epoch: ctx->clock when set, else apr_time_now(). */
apr_time_t rts_now(const rts_ctx_t *ctx);
/* Sleeps t: ctx->sleep when set (the tests advance their clock), else apr_sleep(). */
void rts_sleep(const rts_ctx_t *ctx, apr_interval_time_t t);

#endif
