/* SPDX-License-Identifier: Apache-2.0 */
/* The core's clock (rts_clock.h). */
#include <apr_time.h>
#include "rts.h"
#include "rts_clock.h"

apr_time_t rts_now(const rts_ctx_t *ctx)
{
    return (ctx && ctx->clock) ? ctx->clock(ctx->clock_baton) : apr_time_now();
}

void rts_sleep(const rts_ctx_t *ctx, apr_interval_time_t t)
{
    if (ctx && ctx->sleep) {
        ctx->sleep(ctx->sleep_baton, t);
    }
    else {
        apr_sleep(t);
    }
}
