/* Refresh coordination: a CAS-taken intent in the session record, one token call per
 * generation, waiters that poll for the next generation. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_refresh.h"
#include "rts_config.h"
#include "rts_json.h"
#include "rts_jose.h"
#include "rts_log.h"
#include "rts_metrics.h"
#include "rts_oidc.h"
#include "rts_provider.h"
#include "rts_token.h"
#include "rts_util.h"

#define WRITE_ATTEMPTS 8
#define OWNER_BYTES 12

int rts_refresh_due(const rts_ctx_t *ctx, const rts_session_t *s, apr_time_t now)
{
    return s->at_expires != 0 && s->at_expires - ctx->cfg->refresh_window <= now;
}

static int at_valid(const rts_session_t *s, apr_time_t now)
{
    return s->at_expires == 0 || s->at_expires > now;
}

apr_time_t rts_refresh_at_expiry(apr_pool_t *p, const char *access_token, apr_int64_t expires_in,
                                 apr_time_t now)
{
    json_t *claims;
    apr_int64_t exp;

    if (expires_in >= 0) {
        return now + apr_time_from_sec(expires_in);
    }
    if (rts_jwt_peek_claims(p, access_token, 16384, &claims) != APR_SUCCESS
        || rts_json_int(claims, "exp", &exp) != APR_SUCCESS || exp <= 0
        || exp > 253402300799LL) {   /* past year 9999: unknown, not a signed overflow */
        return 0;
    }
    return apr_time_from_sec(exp);
}

/* Re-reads the session; APR_ENOENT when it is gone (ended elsewhere). */
static apr_status_t reload(rts_ctx_t *ctx, rts_session_t **ps)
{
    return rts_session_load(ctx, (*ps)->id, ps);
}

static rts_session_t *session_copy(apr_pool_t *p, const rts_session_t *s)
{
    rts_session_t *c = apr_palloc(p, sizeof(*c));

    memcpy(c, s, sizeof(*c));
    return c;
}

/* Ends the session after the provider refused the refresh token. */
static apr_status_t end_session(rts_ctx_t *ctx, rts_session_t *s, rts_refresh_outcome_t *pout)
{
    apr_status_t rv = rts_session_delete(ctx, s);

    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10052) "could not delete an ended session from the store");
    }
    *pout = RTS_REFRESH_ENDED;
    return APR_SUCCESS;
}

/* Gives up the intent after a failure that leaves the refresh token unspent. */
static void release_intent(rts_ctx_t *ctx, const rts_session_t *mine)
{
    rts_session_t *cur = session_copy(ctx->pool, mine);
    apr_status_t rv;
    int i;

    for (i = 0; i < WRITE_ATTEMPTS; i++) {
        if (reload(ctx, &cur) != APR_SUCCESS || cur->gen != mine->gen
            || !cur->lock_owner || strcmp(cur->lock_owner, mine->lock_owner)) {
            return;
        }
        cur->lock_owner = NULL;
        cur->lock_until = 0;
        rv = rts_session_cas(ctx, cur);
        if (rv != APR_EEXIST && rv != RTS_ESTOREUNKNOWN) {   /* unknown: the re-read tells */
            return;
        }
    }
}

/* A CAS of the intent whose outcome is unknown (sent, no answer): it is ours when the record
 * now carries our owner on the same generation. APR_EEXIST when someone else's version is
 * there (start over), a store failure when it cannot be read. */
static apr_status_t intent_outcome(rts_ctx_t *ctx, const rts_session_t *mine)
{
    rts_session_t *cur = session_copy(ctx->pool, mine);
    apr_status_t rv = reload(ctx, &cur);

    if (rv != APR_SUCCESS) {
        return rv == APR_ENOENT ? APR_ENOENT : RTS_ESTOREUNKNOWN;
    }
    if (cur->gen == mine->gen && cur->lock_owner && !strcmp(cur->lock_owner, mine->lock_owner)) {
        return APR_SUCCESS;
    }
    return APR_EEXIST;
}

/* Writes the new generation: re-reads for the current CAS unique (memcached does not return
 * it) and swaps, unless someone else already moved past our generation. */
static apr_status_t write_generation(rts_ctx_t *ctx, const rts_session_t *mine,
                                     rts_session_t *next, rts_session_t **presult,
                                     rts_refresh_outcome_t *pout)
{
    rts_session_t *cur = session_copy(ctx->pool, mine);
    apr_status_t rv = APR_EGENERAL;
    int i;

    for (i = 0; i < WRITE_ATTEMPTS; i++) {
        rv = reload(ctx, &cur);
        if (rv == APR_ENOENT) {
            *pout = RTS_REFRESH_ENDED;     /* logged out meanwhile: drop the new tokens */
            return APR_SUCCESS;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (cur->gen > mine->gen) {
            *presult = cur;
            *pout = RTS_REFRESH_FOLLOWED;
            return APR_SUCCESS;
        }
        next->cas = cur->cas;
        next->secret = cur->secret;
        next->store_key = cur->store_key;
        rv = rts_session_cas(ctx, next);
        if (rv == APR_SUCCESS) {
            *presult = next;
            *pout = RTS_REFRESH_DONE;
            return APR_SUCCESS;
        }
        if (rv == APR_ENOENT) {
            *pout = RTS_REFRESH_ENDED;
            return APR_SUCCESS;
        }
        if (rv != APR_EEXIST && rv != RTS_ESTOREUNKNOWN) {  /* unknown: the re-read tells */
            return rv;
        }
    }
    return rv;
}

/* This request holds the intent: spend the refresh token once and record the result. */
static apr_status_t spend(rts_ctx_t *ctx, rts_session_t *mine, rts_session_t **ps,
                          rts_refresh_outcome_t *pout, rts_result_t *res)
{
    const rts_provider_meta_t *meta;
    rts_token_set_t *tokens;
    rts_session_t *next;
    json_t *claims;
    apr_time_t started = rts_now(ctx);
    apr_status_t rv;

    rts_metric_inc(ctx, RTS_M_REFRESH_STARTED);
    rv = rts_provider_meta(ctx, &meta, res);
    if (rv == APR_SUCCESS) {
        rv = rts_token_refresh(ctx, meta->token_endpoint, mine->refresh_token, &tokens, res);
    }
    if (rv == RTS_EINVALIDGRANT) {
        /* Another worker may have finished with an expired intent of ours in between: look
         * once more before ending the session. */
        rts_session_t *cur = session_copy(ctx->pool, mine);
        if (reload(ctx, &cur) == APR_SUCCESS && cur->gen > mine->gen) {
            *ps = cur;
            *pout = RTS_REFRESH_FOLLOWED;
            return APR_SUCCESS;
        }
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10053) "session %s ended: the provider refused its refresh token "
                       "(invalid_grant: expired, revoked, or possible refresh-token reuse)",
                       rts_log_fingerprint(ctx->pool, mine->id));
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_INVALID_GRANT);
        rts_metric_inc(ctx, RTS_M_SESSIONS_ENDED_REUSE);
        return end_session(ctx, mine, pout);
    }
    if (rv != APR_SUCCESS) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10054) "refresh failed for session %s, session kept: %s",
                       rts_log_fingerprint(ctx->pool, mine->id),
                       res->description ? res->description : "unknown error");
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_PROVIDER_ERROR);
        release_intent(ctx, mine);
        *pout = at_valid(mine, rts_now(ctx)) ? RTS_REFRESH_DEFERRED : RTS_REFRESH_UNAVAILABLE;
        return APR_SUCCESS;
    }

    next = session_copy(ctx->pool, mine);
    next->gen = mine->gen + 1;
    next->access_token = tokens->access_token;
    next->at_expires = rts_refresh_at_expiry(ctx->pool, tokens->access_token, tokens->expires_in,
                                             started);
    if (tokens->refresh_token) {
        next->refresh_token = tokens->refresh_token;   /* rotated: the old one is spent */
    }
    if (tokens->refresh_expires_in > 0) {
        next->rt_expires = started + apr_time_from_sec(tokens->refresh_expires_in);
    }
    next->lock_owner = NULL;
    next->lock_until = 0;
    if (tokens->id_token) {
        rv = rts_oidc_validate_id_token(ctx, tokens->id_token, NULL, mine->sub,
                                        tokens->access_token, &claims, res);
        if (rv != APR_SUCCESS) {
            /* The old refresh token is spent and the new tokens are not trustworthy. */
            rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                           RTS_LOGNO(10055) "session %s ended: the ID token of a refresh was "
                           "rejected: %s", rts_log_fingerprint(ctx->pool, mine->id),
                           res->description ? res->description : "invalid");
            rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_ID_TOKEN_REJECTED);
            return end_session(ctx, mine, pout);
        }
        next->id_token = tokens->id_token;
    }
    rv = write_generation(ctx, mine, next, ps, pout);
    if (rv != APR_SUCCESS) {
        /* The new refresh token could not be stored: the next refresh will be a reuse and
         * end the session. Nothing better is possible; say so. */
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10056) "refreshed tokens of session %s could not be stored",
                       rts_log_fingerprint(ctx->pool, mine->id));
        *pout = RTS_REFRESH_UNAVAILABLE;
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_STORE_ERROR);
        rts_result_set(res, ctx->pool, rv, 503, "store_unavailable",
                              "the session store failed while saving refreshed tokens");
        return APR_SUCCESS;
    }
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, APR_SUCCESS,
                   RTS_LOGNO(10057) "session %s refreshed to generation %" APR_INT64_T_FMT
                   " in %" APR_TIME_T_FMT " ms", rts_log_fingerprint(ctx->pool, mine->id),
                   next->gen, apr_time_as_msec(rts_now(ctx) - started));
    rts_metric_inc(ctx, RTS_M_REFRESH_SUCCEEDED);
    return APR_SUCCESS;
}

apr_status_t rts_refresh_ensure(rts_ctx_t *ctx, rts_session_t **ps, rts_refresh_outcome_t *pout,
                                rts_result_t *res)
{
    rts_session_t *s = *ps;
    apr_int64_t start_gen = s->gen;
    apr_time_t now = rts_now(ctx);
    /* A waiter waits at most one intent lifetime, then takes over the refresh itself. */
    apr_time_t give_up = now + ctx->cfg->lock_ttl + apr_time_from_sec(1);
    apr_time_t waiting_since = 0;
    apr_status_t rv;

    *pout = RTS_REFRESH_NOT_DUE;
    for (;;) {
        rts_session_t *mine;
        int waited = 0;

        now = rts_now(ctx);
        if (!rts_refresh_due(ctx, s, now)) {
            *ps = s;
            *pout = s->gen > start_gen ? RTS_REFRESH_FOLLOWED : RTS_REFRESH_NOT_DUE;
            return APR_SUCCESS;
        }
        if (!s->refresh_token) {
            *ps = s;
            if (at_valid(s, now)) {
                *pout = RTS_REFRESH_DEFERRED;
                return APR_SUCCESS;
            }
            return end_session(ctx, s, pout);
        }
        if (s->lock_owner && s->lock_until > now) {
            /* Someone is spending this generation's refresh token. */
            if (at_valid(s, now)) {
                *ps = s;
                *pout = RTS_REFRESH_DEFERRED;
                return APR_SUCCESS;
            }
            if (now >= give_up) {
                *ps = s;
                *pout = RTS_REFRESH_UNAVAILABLE;
                rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_WAIT_TIMEOUT);
                rts_result_set(res, ctx->pool, APR_TIMEUP, 503, "refresh_in_progress",
                                      "waited too long for another request's refresh");
                return APR_SUCCESS;
            }
            rts_metric_sleep(ctx, RTS_REFRESH_POLL);
            waited = 1;
        }
        if (!waited) {
            /* Take the intent by compare-and-swap on the version we read. */
            mine = session_copy(ctx->pool, s);
            rv = rts_random_token(ctx->pool, OWNER_BYTES, &mine->lock_owner);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            mine->lock_until = now + ctx->cfg->lock_ttl;
            rv = rts_session_cas(ctx, mine);
            if (rv == RTS_ESTOREUNKNOWN) {
                rv = intent_outcome(ctx, mine);
            }
            if (rv == APR_SUCCESS) {
                if (s->lock_owner) {
                    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                                   RTS_LOGNO(10058) "session %s: took over an expired refresh "
                                   "intent (its holder died or stalled)",
                                   rts_log_fingerprint(ctx->pool, s->id));
                }
                return spend(ctx, mine, ps, pout, res);
            }
            if (rv != APR_EEXIST && rv != APR_ENOENT) {
                *ps = s;
                *pout = at_valid(s, now) ? RTS_REFRESH_DEFERRED : RTS_REFRESH_UNAVAILABLE;
                rts_result_set(res, ctx->pool, rv, 503, "store_unavailable",
                                      "the session store failed while taking the refresh intent");
                return APR_SUCCESS;
            }
        }
        /* Lost the race, or waiting: read the current version. */
        rts_metric_waiting(ctx, &waiting_since);
        rv = reload(ctx, &s);
        if (rv == APR_ENOENT) {
            *pout = RTS_REFRESH_ENDED;
            return APR_SUCCESS;
        }
        if (rv != APR_SUCCESS) {
            *ps = s;
            *pout = at_valid(s, rts_now(ctx)) ? RTS_REFRESH_DEFERRED : RTS_REFRESH_UNAVAILABLE;
            rts_result_set(res, ctx->pool, rv, 503, "store_unavailable",
                                  "the session store failed while waiting for a refresh");
            return APR_SUCCESS;
        }
    }
}
