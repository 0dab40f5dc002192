/* SPDX-License-Identifier: Apache-2.0 */
/* Session lifetime checks and the idle-timeout slide by memcached touch. */
#include <string.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_config.h"
#include "rts_lifetime.h"
#include "rts_lock.h"
#include "rts_log.h"
#include "rts_store.h"

#define MEMO_SLOTS 4096
#define MAX_RELATIVE_TTL (30 * 24 * 3600)   /* memcached reads larger values as absolute */

typedef struct {
    apr_uint64_t key_hash;
    apr_time_t anchor;               /* slots count from the record's last write */
    apr_int64_t slot;
} memo_entry_t;

struct rts_touch_memo_t {
    rts_lock_t *lock;
    memo_entry_t entries[MEMO_SLOTS];
};

apr_status_t rts_touch_memo_create(apr_pool_t *p, rts_touch_memo_t **pmemo)
{
    rts_touch_memo_t *m = apr_pcalloc(p, sizeof(*m));
    apr_status_t rv = rts_lock_create(p, &m->lock);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pmemo = m;
    return APR_SUCCESS;
}

/* FNV-1a: the store key is already an HMAC, any spread will do. 0 is reserved for "empty". */
static apr_uint64_t key_hash(const char *key)
{
    apr_uint64_t h = 1469598103934665603ULL;

    for (; *key; key++) {
        h ^= (unsigned char)*key;
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

/* Records (key, anchor, slot); returns non-zero when it was recorded already (nothing to do). */
static int memo_seen(rts_touch_memo_t *m, const char *key, apr_time_t anchor,
                     apr_int64_t slot)
{
    apr_uint64_t h = key_hash(key);
    memo_entry_t *e = &m->entries[h % MEMO_SLOTS];
    int seen;

    rts_lock(m->lock);
    seen = e->key_hash == h && e->anchor == anchor && e->slot >= slot;
    if (!seen) {
        e->key_hash = h;
        e->anchor = anchor;
        e->slot = slot;
    }
    rts_unlock(m->lock);
    return seen;
}

rts_lifetime_verdict_t rts_lifetime_check(const rts_ctx_t *ctx, const rts_session_t *s,
                                          apr_time_t now)
{
    if (s->created + ctx->cfg->session_max <= now) {
        return RTS_LIFETIME_MAX;
    }
    if (s->rt_expires && s->rt_expires <= now) {
        return RTS_LIFETIME_RT_EXPIRED;
    }
    return RTS_LIFETIME_OK;
}

apr_uint32_t rts_lifetime_ttl(const rts_ctx_t *ctx, const rts_session_t *s, apr_time_t now)
{
    apr_time_t end = s->created + ctx->cfg->session_max;
    apr_int64_t secs;

    if (ctx->cfg->idle_timeout > 0 && now + ctx->cfg->idle_timeout < end) {
        end = now + ctx->cfg->idle_timeout;
    }
    if (s->rt_expires && s->rt_expires < end) {
        end = s->rt_expires;
    }
    /* rounded up: the item never dies before the deadline the checks enforce */
    secs = (apr_int64_t)((end - now + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC);
    if (secs < 1) {
        secs = 1;
    }
    if (secs > MAX_RELATIVE_TTL) {
        secs = MAX_RELATIVE_TTL;
    }
    return (apr_uint32_t)secs;
}

apr_status_t rts_lifetime_slide(rts_ctx_t *ctx, const rts_session_t *s, int *ptouched)
{
    const rts_config_t *cfg = ctx->cfg;
    apr_time_t now = rts_now(ctx);
    apr_time_t anchor = s->seen ? s->seen : s->created;
    apr_int64_t slot;
    apr_status_t rv;

    *ptouched = 0;
    if (cfg->idle_timeout <= 0 || cfg->touch_interval <= 0 || now <= anchor) {
        return APR_SUCCESS;
    }
    slot = (apr_int64_t)((now - anchor) / cfg->touch_interval);
    if (slot < 1
        || (ctx->touch_memo && memo_seen(ctx->touch_memo, s->store_key, anchor, slot))) {
        return APR_SUCCESS;
    }
    rv = ctx->store->touch(ctx->store, NULL, s->store_key, rts_lifetime_ttl(ctx, s, now));
    *ptouched = 1;
    if (rv != APR_SUCCESS && rv != APR_ENOENT) {
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_WARNING, rv,
                       RTS_LOGNO(10500) "sliding the idle timeout of session %s failed; it may "
                       "end early", rts_log_fingerprint(ctx->pool, s->id));
    }
    return rv;
}
