/* SPDX-License-Identifier: Apache-2.0 */
/* Session lifetime: the absolute maximum, the refresh token's own expiry, and the idle timeout
 * (design: docs/design.md, "Session lifetime").
 *
 * The idle timeout is the memcached item's own expiry: every write of a session record sets the
 * item to expire idle_timeout later (capped by the absolute end), and an active session slides
 * it with a touch, which rewrites no value and keeps the CAS unique. Touches happen on a grid of
 * touch_interval slots anchored at the record's last write ("seen"): a request in slot k >= 1
 * touches unless this process already touched that session in slot k (a small per-process
 * memo), so a session costs at most one touch per interval per process, never one per request. */
#ifndef RTS_LIFETIME_H
#define RTS_LIFETIME_H

#include "rts.h"
#include "rts_session.h"

typedef enum {
    RTS_LIFETIME_OK = 0,
    RTS_LIFETIME_MAX,          /* the absolute maximum lifetime is over */
    RTS_LIFETIME_RT_EXPIRED    /* the refresh token's own expiry has passed */
} rts_lifetime_verdict_t;

/* A per-process memo of the last touch slot per session (thread-safe; fixed size); the type is
 * declared in rts.h so that rts_ctx_t can carry one. */
apr_status_t rts_touch_memo_create(apr_pool_t *p, rts_touch_memo_t **pmemo);

/* Whether the session may go on at now (the idle timeout is memcached's: a loaded record has not
 * idled out). */
rts_lifetime_verdict_t rts_lifetime_check(const rts_ctx_t *ctx, const rts_session_t *s,
                                          apr_time_t now);

/* The item expiry in seconds for a session written or touched at now: the earliest of now +
 * idle timeout, the absolute end and the refresh token's expiry; at least 1. */
apr_uint32_t rts_lifetime_ttl(const rts_ctx_t *ctx, const rts_session_t *s, apr_time_t now);

/* Slides the idle timeout when due (see above). APR_SUCCESS when nothing was due or the touch
 * worked; APR_ENOENT when the item vanished meanwhile; a store error otherwise (callers go on:
 * a failed touch only shortens the session). *ptouched is set to 1 when a touch was sent. */
apr_status_t rts_lifetime_slide(rts_ctx_t *ctx, const rts_session_t *s, int *ptouched);

#endif
