/* SPDX-License-Identifier: Apache-2.0 */
/* Refresh coordination: a CAS-taken intent in the session record, one token call per
 * generation, waiters that poll for the next generation. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_refresh.h"
#include "rts_session_codec.h"
#include "rts_config.h"
#include "rts_json.h"
#include "rts_jwt_claims.h"
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
    apr_interval_time_t window = ctx->cfg->refresh_window;

    if (s->at_expires == 0) {
        return 0;
    }
    /* A token living less than twice the window is refreshed at half its life, not at every
     * request: the window never exceeds half the lifetime. */
    if (s->at_issued > 0 && s->at_expires > s->at_issued
        && (s->at_expires - s->at_issued) / 2 < window) {
        window = (s->at_expires - s->at_issued) / 2;
    }
    return s->at_expires - window <= now;
}

static int at_valid(const rts_session_t *s, apr_time_t now)
{
    return s->at_expires == 0 || s->at_expires > now;
}

/* The intent of another request still holds: judged with RTS_REFRESH_CLOCK_SLACK in its favour,
 * so a host whose clock runs up to the slack ahead never takes over while the holder works. */
static int intent_held(const rts_session_t *s, apr_time_t now)
{
    return s->intent_owner && now < s->intent_until + RTS_REFRESH_CLOCK_SLACK;
}

apr_interval_time_t rts_refresh_backoff(int step, apr_interval_time_t retry_after)
{
    apr_interval_time_t d = RTS_REFRESH_BACKOFF_FIRST;
    int i;

    for (i = 1; i < step && d < RTS_REFRESH_BACKOFF_MAX; i++) {
        d *= 2;
    }
    if (retry_after > d) {
        d = retry_after;
    }
    return d > RTS_REFRESH_BACKOFF_MAX ? RTS_REFRESH_BACKOFF_MAX : d;
}

apr_time_t rts_refresh_at_expiry(apr_pool_t *p, const char *access_token, apr_int64_t expires_in,
                                 int has_refresh_token, apr_time_t now)
{
    json_t *claims;
    apr_int64_t exp;

    if (expires_in >= 0) {
        /* below the floor, a provider would have us refresh at every request */
        return now + apr_time_from_sec(expires_in < RTS_REFRESH_MIN_LIFETIME
                                       ? RTS_REFRESH_MIN_LIFETIME : expires_in);
    }
    if (rts_jwt_peek_claims(p, access_token, 16384, &claims) != APR_SUCCESS
        || rts_jwt_numeric_date(claims, "exp", &exp) != APR_SUCCESS
        || exp == 0) {   /* at_expires 0 says "unknown" */
        /* Unknown lifetime: with a refresh token, assume a default one so the token is renewed
         * before a typical expiry; without, nothing could renew it anyway. */
        return has_refresh_token ? now + apr_time_from_sec(RTS_REFRESH_DEFAULT_LIFETIME) : 0;
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

/* Ends the session (refused refresh token, unusable tokens, nothing left to try). */
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

/* Whole seconds until t (at least 1): a Retry-After. */
static int secs_until(apr_time_t t, apr_time_t now)
{
    apr_interval_time_t d = t - now;

    return d <= 0 ? 1 : (int)((d + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
}

/* No token call now: go on with a valid access token, else 503 with Retry-After. */
static apr_status_t not_now(rts_ctx_t *ctx, rts_session_t *s, apr_time_t retry_at,
                            rts_session_t **ps, rts_refresh_outcome_t *pout, rts_result_t *res)
{
    apr_time_t now = rts_now(ctx);

    *ps = s;
    if (at_valid(s, now)) {
        *pout = RTS_REFRESH_DEFERRED;
        return APR_SUCCESS;
    }
    *pout = RTS_REFRESH_UNAVAILABLE;
    rts_result_set(res, ctx->pool, APR_EAGAIN, 503, "refresh_unavailable",
                   "the session's tokens could not be renewed; next attempt in %d s",
                   secs_until(retry_at, now));
    if (res) {
        res->retry_after = secs_until(retry_at, now);
    }
    return APR_SUCCESS;
}

/* Gives up the intent, leaving the refresh token in place, and in the same compare-and-swap
 * records the backoff every process and host honours: after a failed call (backoff != 0) no
 * token call for this session before *pretry_at. rt_lost: the new count of lost answers. */
static void release_intent(rts_ctx_t *ctx, const rts_session_t *mine, int backoff,
                           apr_interval_time_t retry_after, int rt_lost, apr_time_t *pretry_at)
{
    rts_session_t *cur = session_copy(ctx->pool, mine);
    int step = mine->retry_step < RTS_SESSION_CODEC_MAX_STEP ? mine->retry_step + 1
                                                               : mine->retry_step;
    apr_time_t retry_at = backoff ? rts_now(ctx) + rts_refresh_backoff(step, retry_after) : 0;
    apr_status_t rv;
    int i;

    *pretry_at = retry_at;
    for (i = 0; i < WRITE_ATTEMPTS; i++) {
        if (reload(ctx, &cur) != APR_SUCCESS || cur->gen != mine->gen
            || !cur->intent_owner || strcmp(cur->intent_owner, mine->intent_owner)) {
            return;
        }
        cur->intent_owner = NULL;
        cur->intent_until = 0;
        cur->rt_lost = rt_lost;
        if (backoff) {
            cur->retry_step = step;
            cur->retry_at = retry_at;
        }
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
    if (cur->gen == mine->gen && cur->intent_owner
        && !strcmp(cur->intent_owner, mine->intent_owner)) {
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

/* After g+1 is stored (with the previous ID token, so nobody reads claims that were not
 * checked): validates the refresh's new ID token, whose key may need a JWKS fetch, outside the
 * intent. Valid: it replaces the old one in g+1. Invalid: the session ends. */
static apr_status_t adopt_id_token(rts_ctx_t *ctx, const rts_session_t *mine,
                                   const rts_token_set_t *tokens, rts_session_t **ps,
                                   rts_refresh_outcome_t *pout, rts_result_t *res)
{
    rts_session_t *cur = *ps;
    json_t *claims;
    apr_status_t rv;
    int i;

    rv = rts_oidc_validate_id_token(ctx, tokens->id_token, NULL, mine->sub,
                                    tokens->access_token, &claims, res);
    if (rv != APR_SUCCESS) {
        /* The old refresh token is spent and the new tokens are not trustworthy. */
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10055) "session %s ended: the ID token of a refresh was "
                       "rejected: %s", rts_log_fingerprint(ctx->pool, mine->id),
                       res->description ? res->description : "invalid");
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_ID_TOKEN_REJECTED);
        return end_session(ctx, *ps, pout);
    }
    for (i = 0; i < WRITE_ATTEMPTS; i++) {
        if (reload(ctx, &cur) != APR_SUCCESS || cur->gen != mine->gen + 1) {
            return APR_SUCCESS;            /* ended or refreshed again meanwhile */
        }
        cur->id_token = tokens->id_token;
        rv = rts_session_cas(ctx, cur);
        if (rv == APR_SUCCESS) {
            *ps = cur;
            return APR_SUCCESS;
        }
        if (rv != APR_EEXIST && rv != RTS_ESTOREUNKNOWN) {  /* unknown: the re-read tells */
            break;
        }
    }
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                   RTS_LOGNO(10067) "session %s: the validated ID token of its refresh could "
                   "not be stored; the previous one stays", rts_log_fingerprint(ctx->pool,
                                                                               mine->id));
    return APR_SUCCESS;
}

/* The provider answered 200 and rotated: store generation g+1 at once, before any other I/O. */
static apr_status_t store_success(rts_ctx_t *ctx, rts_session_t *mine, rts_token_set_t *tokens,
                                  apr_time_t started, rts_session_t **ps,
                                  rts_refresh_outcome_t *pout, rts_result_t *res)
{
    rts_session_t *next = session_copy(ctx->pool, mine);
    apr_status_t rv;

    next->gen = mine->gen + 1;
    next->access_token = tokens->access_token;
    if (tokens->refresh_token) {
        next->refresh_token = tokens->refresh_token;   /* rotated: the old one is spent */
    }
    next->at_issued = started;
    next->at_expires = rts_refresh_at_expiry(ctx->pool, tokens->access_token, tokens->expires_in,
                                             next->refresh_token != NULL, started);
    if (tokens->refresh_expires_in > 0) {
        next->rt_expires = started + apr_time_from_sec(tokens->refresh_expires_in);
    }
    next->intent_owner = NULL;
    next->intent_until = 0;
    next->retry_at = 0;
    next->retry_step = 0;
    next->rt_lost = 0;
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
    if (*pout != RTS_REFRESH_DONE) {
        return APR_SUCCESS;
    }
    if (tokens->id_token) {
        rv = adopt_id_token(ctx, mine, tokens, ps, pout, res);
        if (rv != APR_SUCCESS || *pout != RTS_REFRESH_DONE) {
            return rv;
        }
    }
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_INFO, APR_SUCCESS,
                   RTS_LOGNO(10057) "session %s refreshed to generation %" APR_INT64_T_FMT
                   " in %" APR_TIME_T_FMT " ms", rts_log_fingerprint(ctx->pool, mine->id),
                   next->gen, apr_time_as_msec(rts_now(ctx) - started));
    rts_metric_inc(ctx, RTS_M_REFRESH_SUCCEEDED);
    return APR_SUCCESS;
}

/* A 200 refused for its other members but with a well-formed refresh_token: the old token is
 * spent, the new one is all that can still renew the session. Keep it in g+1 (the access token
 * stays the old one) and back off as after any failure. */
static apr_status_t store_salvaged(rts_ctx_t *ctx, rts_session_t *mine,
                                   const rts_token_answer_t *ans, rts_session_t **ps,
                                   rts_refresh_outcome_t *pout, rts_result_t *res)
{
    rts_session_t *next = session_copy(ctx->pool, mine);
    apr_status_t rv;

    next->gen = mine->gen + 1;
    next->refresh_token = ans->refresh_token;
    next->intent_owner = NULL;
    next->intent_until = 0;
    next->rt_lost = 0;                     /* a new token, never presented */
    next->retry_step = mine->retry_step < RTS_SESSION_CODEC_MAX_STEP ? mine->retry_step + 1
                                                                     : mine->retry_step;
    next->retry_at = rts_now(ctx) + rts_refresh_backoff(next->retry_step, ans->retry_after);
    rv = write_generation(ctx, mine, next, ps, pout);
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                   RTS_LOGNO(10060) "session %s: the provider's refresh answer (HTTP 200) was "
                   "unusable (%s) but carried a well-formed new refresh token: %s",
                   rts_log_fingerprint(ctx->pool, mine->id),
                   res && res->description ? res->description : "-",
                   rv == APR_SUCCESS ? "kept in the next generation; access token not renewed"
                                     : "it could not be stored");
    rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_UNKNOWN);
    if (rv != APR_SUCCESS) {
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_STORE_ERROR);
        *ps = mine;
        *pout = RTS_REFRESH_UNAVAILABLE;
        rts_result_set(res, ctx->pool, rv, 503, "store_unavailable",
                       "the session store failed while saving a refresh token");
        return APR_SUCCESS;
    }
    if (*pout != RTS_REFRESH_DONE) {
        return APR_SUCCESS;                /* ended or moved on meanwhile */
    }
    return not_now(ctx, *ps, next->retry_at, ps, pout, res);
}

/* The provider refused the refresh token: it will never work. End the session, counting the
 * ending for what it is. */
static apr_status_t refused(rts_ctx_t *ctx, rts_session_t *mine, const rts_token_answer_t *ans,
                            rts_session_t **ps, rts_refresh_outcome_t *pout)
{
    rts_session_t *cur = session_copy(ctx->pool, mine);
    const char *fp = rts_log_fingerprint(ctx->pool, mine->id);
    const char *error = ans->error ? ans->error : "none";

    /* Another worker may have finished with an expired intent of ours in between: look once
     * more before ending the session. */
    if (reload(ctx, &cur) == APR_SUCCESS && cur->gen > mine->gen) {
        *ps = cur;
        *pout = RTS_REFRESH_FOLLOWED;
        return APR_SUCCESS;
    }
    if (mine->rt_lost > 0) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10062) "session %s ended: its refresh token was refused "
                       "(HTTP %d, error=%s) on the one further attempt after an earlier answer "
                       "was lost in flight: the provider had most likely rotated it already "
                       "(not counted as reuse)", fp, ans->http_status, error);
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_REFUSED);
        rts_metric_inc(ctx, RTS_M_SESSIONS_ENDED_LOST_REFRESH);
    }
    else if (ans->error && !strcmp(ans->error, "invalid_grant") && mine->gen > 1) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10053) "session %s ended: the provider refused its rotated "
                       "refresh token (HTTP %d, invalid_grant): revoked, expired, or reuse "
                       "detected (possible theft)", fp, ans->http_status);
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_INVALID_GRANT);
        rts_metric_inc(ctx, RTS_M_SESSIONS_ENDED_REUSE);
    }
    else {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10059) "session %s ended: the provider refused its refresh "
                       "token (HTTP %d, error=%s)", fp, ans->http_status, error);
        rts_metric_inc(ctx, ans->error && !strcmp(ans->error, "invalid_grant")
                            ? RTS_M_REFRESH_FAILED_INVALID_GRANT : RTS_M_REFRESH_FAILED_REFUSED);
        rts_metric_inc(ctx, RTS_M_SESSIONS_ENDED_REFUSED);
    }
    return end_session(ctx, mine, pout);
}

static const char *kind_name(const rts_token_answer_t *ans)
{
    switch (ans->kind) {
    case RTS_TOKEN_CLIENT_AUTH:
        return "client authentication refused, see RTS10406";
    case RTS_TOKEN_NOT_SENT:
        return "never sent";
    default:
        return "sent, outcome unknown";
    }
}

/* This request holds the intent: spend the refresh token once and record the result. The
 * provider metadata was fetched before the intent was taken: the token call is the only
 * network call made while it is held, bounded by what is left of it. */
static apr_status_t spend(rts_ctx_t *ctx, rts_session_t *mine, const rts_provider_meta_t *meta,
                          rts_session_t **ps, rts_refresh_outcome_t *pout, rts_result_t *res)
{
    const char *fp = rts_log_fingerprint(ctx->pool, mine->id);
    rts_token_set_t *tokens = NULL;
    rts_token_answer_t ans;
    apr_time_t started = rts_now(ctx), retry_at;
    apr_interval_time_t left = mine->intent_until - started - RTS_REFRESH_WRITE_MARGIN;
    int lost;

    if (left < RTS_REFRESH_MIN_CALL) {
        /* Too little of the intent left to call and still write g+1 before it expires. */
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                       RTS_LOGNO(10066) "session %s: refresh not attempted, only %"
                       APR_TIME_T_FMT " ms of the refresh intent left", fp,
                       apr_time_as_msec(mine->intent_until - started));
        release_intent(ctx, mine, 0, 0, mine->rt_lost, &retry_at);
        return not_now(ctx, mine, started + RTS_REFRESH_BACKOFF_FIRST, ps, pout, res);
    }
    rts_metric_inc(ctx, RTS_M_REFRESH_STARTED);
    rts_token_refresh(ctx, meta->token_endpoint, mine->refresh_token, left, &tokens, &ans, res);
    switch (ans.kind) {
    case RTS_TOKEN_OK:
        return store_success(ctx, mine, tokens, started, ps, pout, res);
    case RTS_TOKEN_REFUSED:
        return refused(ctx, mine, &ans, ps, pout);
    case RTS_TOKEN_UNKNOWN:
        if (ans.refresh_token) {
            return store_salvaged(ctx, mine, &ans, ps, pout, res);
        }
        lost = mine->rt_lost < RTS_REFRESH_LOST_MAX ? mine->rt_lost + 1 : mine->rt_lost;
        rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_UNKNOWN);
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, res ? res->status : 0,
                       RTS_LOGNO(10063) "session %s: the refresh request reached the provider "
                       "but no usable answer came back (HTTP %d, error=%s: %s); its refresh "
                       "token may be spent: presented again after the backoff, and a refusal "
                       "then ends the session without counting it as reuse", fp,
                       ans.http_status, ans.error ? ans.error : "none",
                       res && res->description ? res->description : "-");
        break;
    default:                               /* never sent, client authentication */
        lost = mine->rt_lost;              /* the token was not looked at */
        rts_metric_inc(ctx, ans.kind == RTS_TOKEN_CLIENT_AUTH ? RTS_M_REFRESH_FAILED_CLIENT_AUTH
                                                               : RTS_M_REFRESH_FAILED_PROVIDER_ERROR);
        break;
    }
    release_intent(ctx, mine, 1, ans.retry_after, lost, &retry_at);
    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, res ? res->status : 0,
                   RTS_LOGNO(10054) "refresh of session %s failed (%s; HTTP %d, error=%s), "
                   "session kept; no token call for it before %d s", fp, kind_name(&ans),
                   ans.http_status, ans.error ? ans.error : "none",
                   secs_until(retry_at, rts_now(ctx)));
    mine->intent_owner = NULL;
    mine->rt_lost = lost;
    return not_now(ctx, mine, retry_at, ps, pout, res);
}

apr_status_t rts_refresh_ensure(rts_ctx_t *ctx, rts_session_t **ps, rts_refresh_outcome_t *pout,
                                rts_result_t *res)
{
    rts_session_t *s = *ps;
    apr_int64_t start_gen = s->gen;
    apr_time_t now = rts_now(ctx);
    /* A waiter waits at most one intent lifetime (and the clock slack), then gives up. */
    apr_time_t give_up = now + ctx->cfg->intent_ttl + RTS_REFRESH_CLOCK_SLACK
                         + apr_time_from_sec(1);
    apr_time_t meta_give_up = now + RTS_REFRESH_META_WAIT;
    apr_time_t waiting_since = 0;
    const rts_provider_meta_t *meta = NULL;
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
        if (intent_held(s, now)) {
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
        else if (s->retry_at > now) {
            /* A token call failed lately, here or on another host: one call per step. */
            rts_metric_inc(ctx, RTS_M_REFRESH_BACKOFF);
            return not_now(ctx, s, s->retry_at, ps, pout, res);
        }
        if (!waited && !meta) {
            /* Everything but the token call happens before the intent is taken. */
            rv = rts_provider_meta(ctx, &meta, res);
            if (rv == APR_SUCCESS) {
                continue;                  /* the fetch took time: look at the clock again */
            }
            meta = NULL;
            if (at_valid(s, now) || rts_now(ctx) >= meta_give_up) {
                rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                               RTS_LOGNO(10065) "session %s: refresh not attempted, the "
                               "provider metadata is unavailable: %s",
                               rts_log_fingerprint(ctx->pool, s->id),
                               res && res->description ? res->description : "-");
                rts_metric_inc(ctx, RTS_M_REFRESH_FAILED_PROVIDER_ERROR);
                return not_now(ctx, s, rts_now(ctx) + RTS_REFRESH_BACKOFF_FIRST, ps, pout,
                               res);
            }
            /* Expired token: the provider cache fails fast while another request of this
             * process fetches the metadata (or after a failed fetch); and another host may be
             * refreshing. Wait a little, as for an intent, then look again. */
            rts_metric_sleep(ctx, RTS_REFRESH_POLL);
            waited = 1;
        }
        if (!waited) {
            /* Take the intent by compare-and-swap on the version we read. */
            mine = session_copy(ctx->pool, s);
            rv = rts_random_token(ctx->pool, OWNER_BYTES, &mine->intent_owner);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            mine->intent_until = now + ctx->cfg->intent_ttl;
            if (s->intent_owner && s->rt_lost < RTS_REFRESH_LOST_MAX) {
                /* The holder died or stalled, perhaps after sending: its presentation counts
                 * as one whose answer was lost. */
                mine->rt_lost = s->rt_lost + 1;
            }
            rv = rts_session_cas(ctx, mine);
            if (rv == RTS_ESTOREUNKNOWN) {
                rv = intent_outcome(ctx, mine);
            }
            if (rv == APR_SUCCESS) {
                if (s->intent_owner) {
                    rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                                   RTS_LOGNO(10058) "session %s: took over an expired refresh "
                                   "intent (its holder died or stalled)",
                                   rts_log_fingerprint(ctx->pool, s->id));
                }
                return spend(ctx, mine, meta, ps, pout, res);
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
