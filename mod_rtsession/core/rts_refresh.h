/* SPDX-License-Identifier: Apache-2.0 */
/* Refresh under rotation: one refresh grant per access-token expiry across all processes,
 * threads and hosts that share the store (design: docs/design.md, "Refresh coordination").
 *
 * A request that finds the refresh due writes a refresh intent into the session record by
 * compare-and-swap ("generation g's refresh token is being spent by owner X until T"). Only the
 * writer whose CAS succeeds calls the token endpoint; it writes generation g+1 (again by CAS)
 * before its request goes on. Others go on at once while their access token is valid, and
 * otherwise poll the record until the generation changes. An expired intent (holder died) may be
 * taken over; if the dead holder had already spent the token, the provider's reuse detection
 * ends the family and the session ends cleanly.
 *
 * What each answer of the token endpoint does (docs/design.md, "Refresh outcomes"): a refusal
 * ends the session; any other failure keeps it and records, in the CAS that releases the
 * intent, a backoff every process and host honours (one token call per session per step). */
#ifndef RTS_REFRESH_H
#define RTS_REFRESH_H

#include "rts.h"
#include "rts_result.h"
#include "rts_session.h"

typedef enum {
    RTS_REFRESH_NOT_DUE = 0,   /* nothing to do */
    RTS_REFRESH_DONE,          /* this request refreshed; *ps is the new generation */
    RTS_REFRESH_FOLLOWED,      /* another request refreshed; *ps is the new generation */
    RTS_REFRESH_DEFERRED,      /* not refreshed now (held elsewhere, or a transient failure)
                                * but the current access token is still valid: go on */
    RTS_REFRESH_ENDED,         /* the session is over (refused, gone, unusable tokens) */
    RTS_REFRESH_UNAVAILABLE    /* the access token has expired and no new one could be had;
                                * res->retry_after: seconds until the next attempt */
} rts_refresh_outcome_t;

/* Poll step of a waiting request: short, so waiters wake within milliseconds of the new
 * generation, not after a fixed sleep. */
#define RTS_REFRESH_POLL apr_time_from_msec(5)

/* Timing rules of refresh outcomes (docs/design.md, "Refresh outcomes"). */
#define RTS_REFRESH_BACKOFF_FIRST apr_time_from_sec(1)   /* after a failed token call ... */
#define RTS_REFRESH_BACKOFF_MAX apr_time_from_sec(30)    /* ... doubling up to this */
#define RTS_REFRESH_CLOCK_SLACK apr_time_from_sec(5)     /* clock offset tolerated between hosts */
#define RTS_REFRESH_WRITE_MARGIN apr_time_from_sec(2)    /* intent time kept for writing g+1 */
#define RTS_REFRESH_MIN_CALL apr_time_from_sec(1)        /* shortest token call worth making */
#define RTS_REFRESH_META_WAIT apr_time_from_sec(1)       /* expired token: wait for metadata */
#define RTS_REFRESH_DEFAULT_LIFETIME 300   /* s: access token of unknown lifetime, with an RT */
#define RTS_REFRESH_MIN_LIFETIME 2         /* s: shorter expires_in values are taken as this */
#define RTS_REFRESH_LOST_MAX 3             /* lost answers counted for one RT (saturates) */

/* Non-zero when the access token expires within the refresh window (or has expired); the
 * window is at most half the token's lifetime when that is known. */
int rts_refresh_due(const rts_ctx_t *ctx, const rts_session_t *s, apr_time_t now);

/* The wait before the next token call after `step` failed ones (1 s doubling to 30 s), at
 * least retry_after (the provider's Retry-After), at most 30 s. */
apr_interval_time_t rts_refresh_backoff(int step, apr_interval_time_t retry_after);

/* Makes sure *ps carries a usable access token, refreshing at most once across the cluster.
 * Returns APR_SUCCESS with the outcome in *pout; res describes failures (never a token). */
apr_status_t rts_refresh_ensure(rts_ctx_t *ctx, rts_session_t **ps, rts_refresh_outcome_t *pout,
                                rts_result_t *res);

/* The expiry of an access token: from expires_in when given (at least
 * RTS_REFRESH_MIN_LIFETIME), else from the exp claim when the token is a readable JWT
 * (scheduling only, not trust), else, with a refresh token, now + RTS_REFRESH_DEFAULT_LIFETIME,
 * and without one 0 (unknown: never refreshed, nothing could). */
apr_time_t rts_refresh_at_expiry(apr_pool_t *p, const char *access_token, apr_int64_t expires_in,
                                 int has_refresh_token, apr_time_t now);

#endif
