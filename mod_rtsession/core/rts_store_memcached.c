/* SPDX-License-Identifier: Apache-2.0 */
/* The session store on memcached, through libmemcached 1.1 (libmemcachedutil's connection pool).
 * One memcached_pool_st per process, shared by its threads; every operation fetches a
 * memcached_st from it (bounded wait) and releases it, so no memcached_st is ever used by two
 * threads at once. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strcasestr */
#endif
#include <errno.h>
#include <string.h>
#include <time.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <libmemcached-1.0/memcached.h>
#include <libmemcachedutil-1.0/pool.h>

#include "rts.h"
#include "rts_lock.h"
#include "rts_log.h"
#include "rts_store.h"
#include "rts_util.h"

#define RTS_MC_MAX_KEY 250
/* memcached reads an expiry above 30 days as an absolute Unix time. */
#define RTS_MC_RELATIVE_TTL_MAX (60 * 60 * 24 * 30)
/* libmemcached's own pause of one connection after a failure. Short: the process-wide breaker
 * below does the failing fast, and a longer per-connection pause would only make its probes
 * fail without trying. */
#define RTS_MC_RETRY_TIMEOUT 1
#define RTS_MC_FAILURE_LIMIT 1
/* An open breaker lets one probe through per this interval; the probe waits at most
 * RTS_MC_PROBE_TIMEOUT_MS (or the configured timeout when shorter). */
#define RTS_MC_PROBE_INTERVAL apr_time_from_sec(1)
#define RTS_MC_PROBE_TIMEOUT_MS 200

typedef enum {
    RTS_MC_OP_GET, RTS_MC_OP_SET, RTS_MC_OP_ADD, RTS_MC_OP_CAS, RTS_MC_OP_DEL, RTS_MC_OP_TOUCH,
    RTS_MC_OP_FETCH
} rts_mc_op_t;

/* What a failed command tells about the server and about the command. */
typedef enum {
    RTS_MC_ANSWERED,   /* the server answered (success, not found, exists, errors it sent) */
    RTS_MC_UNSENT,     /* nothing was sent: connect refused, server paused by libmemcached */
    RTS_MC_BROKEN,     /* the connection broke mid-command (reset, EOF): it may have run */
    RTS_MC_TIMEOUT     /* no answer in time: it may have run */
} rts_mc_kind_t;

/* A process-wide circuit breaker for one server (every pooled connection shares it: each
 * memcached_st of the pool has its own view of failures, so a per-connection pause lets every
 * other connection wait the full timeout again). */
typedef struct {
    volatile apr_uint32_t open;   /* read without the lock on every operation */
    int probing;                  /* one probe at a time (under the lock) */
    apr_time_t retry_at;          /* next probe (under the lock) */
    apr_time_t opened;
    const char *name;             /* host:port */
} rts_mc_breaker_t;

typedef struct {
    memcached_st *master;          /* template the pool clones; never used for I/O */
    memcached_st *ring;            /* a clone, as the pool makes them, only for hashing keys */
    memcached_pool_st *mpool;
    apr_interval_time_t timeout;
    rts_lock_t *lock;              /* the breakers' transitions */
    rts_mc_breaker_t *breakers;    /* one per server, by libmemcached's server index */
    uint32_t nservers;
    volatile apr_uint32_t cas_disabled;
    apr_interval_time_t dead_after;  /* 0: a failing server is never taken as dead */
    const rts_log_t *log;          /* may be NULL */
} rts_mc_t;

/* The only translation from libmemcached's codes. err is the saved errno for MEMCACHED_ERRNO.
 * add and cas give "exists" differently: text protocol NOT_STORED for add, EXISTS for cas, and
 * the binary protocol says KEY_EEXISTS (DATA_EXISTS) for both; cas on a missing key is
 * NOT_FOUND in both. */
static apr_status_t rts_mc_status(memcached_return_t rc, int err, rts_mc_op_t op)
{
    switch (rc) {
    case MEMCACHED_SUCCESS:
    case MEMCACHED_STORED:
    case MEMCACHED_DELETED:
        return APR_SUCCESS;
    case MEMCACHED_NOTFOUND:
    case MEMCACHED_DATA_DOES_NOT_EXIST:
        return op == RTS_MC_OP_ADD ? RTS_ESTORE : APR_ENOENT;
    case MEMCACHED_END:
        return op == RTS_MC_OP_GET ? APR_ENOENT : RTS_ESTORE;
    case MEMCACHED_NOTSTORED:
    case MEMCACHED_DATA_EXISTS:
        return (op == RTS_MC_OP_ADD || op == RTS_MC_OP_CAS) ? APR_EEXIST : RTS_ESTORE;
    case MEMCACHED_TIMEOUT:
        return APR_TIMEUP;
    case MEMCACHED_ERRNO:
        switch (err) {
        case ETIMEDOUT:
        case EAGAIN:
            return APR_TIMEUP;
        case ECONNREFUSED:
        case ECONNRESET:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case ENETDOWN:
        case EADDRNOTAVAIL:
        case EPIPE:
            return APR_ECONNREFUSED;
        default:
            return RTS_ESTORE;
        }
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_HOST_LOOKUP_FAILURE:
    case MEMCACHED_NO_SERVERS:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
        return APR_ECONNREFUSED;
    case MEMCACHED_E2BIG:
        return RTS_ETOOLARGE;
    case MEMCACHED_BAD_KEY_PROVIDED:
    case MEMCACHED_KEY_TOO_BIG:
    case MEMCACHED_INVALID_ARGUMENTS:
        return APR_EINVAL;
    case MEMCACHED_MEMORY_ALLOCATION_FAILURE:
        return APR_ENOMEM;
    default:
        /* Read/write failures mid-command (outcome unknown), server errors, protocol errors. */
        return RTS_ESTORE;
    }
}

/* Whether the command can have reached the server (see rts_mc_kind_t). */
static rts_mc_kind_t rts_mc_kind(memcached_return_t rc, int err)
{
    switch (rc) {
    case MEMCACHED_TIMEOUT:
        return RTS_MC_TIMEOUT;
    case MEMCACHED_HOST_LOOKUP_FAILURE:
    case MEMCACHED_NO_SERVERS:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
    case MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE:
        return RTS_MC_UNSENT;
    case MEMCACHED_ERRNO:
    case MEMCACHED_CONNECTION_FAILURE:
        switch (err) {
        case ETIMEDOUT:
        case EAGAIN:
            return RTS_MC_TIMEOUT;
        case ECONNREFUSED:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case ENETDOWN:
        case EADDRNOTAVAIL:
            return RTS_MC_UNSENT;    /* connect() failed */
        default:
            return RTS_MC_BROKEN;    /* reset, broken pipe, EOF: the command may have run */
        }
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_UNKNOWN_READ_FAILURE:
        return RTS_MC_BROKEN;
    default:
        return RTS_MC_ANSWERED;
    }
}

/* One command's result: the status and what it says about the server. */
typedef struct {
    apr_status_t rv;
    rts_mc_kind_t kind;
} rts_mc_res_t;

static rts_mc_res_t rts_mc_res(memcached_return_t rc, int err, rts_mc_op_t op)
{
    rts_mc_res_t r;

    r.rv = rts_mc_status(rc, err, op);
    r.kind = r.rv == APR_SUCCESS ? RTS_MC_ANSWERED : rts_mc_kind(rc, err);
    return r;
}

static apr_status_t rts_mc_check_key(const char *key)
{
    apr_size_t i;

    if (key == NULL || key[0] == '\0') {
        return APR_EINVAL;
    }
    for (i = 0; key[i] != '\0'; ++i) {
        unsigned char c = (unsigned char)key[i];
        if (i >= RTS_MC_MAX_KEY || c <= 0x20 || c == 0x7f) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* Validates key and group key and picks the group key (NULL: the key itself). */
static apr_status_t rts_mc_check_keys(const char *group_key, const char *key,
                                      const char **pgroup)
{
    apr_status_t rv;

    if ((rv = rts_mc_check_key(key)) != APR_SUCCESS) {
        return rv;
    }
    if (group_key != NULL && (rv = rts_mc_check_key(group_key)) != APR_SUCCESS) {
        return rv;
    }
    *pgroup = group_key != NULL ? group_key : key;
    return APR_SUCCESS;
}

static time_t rts_mc_expiry(apr_uint32_t ttl)
{
    if (ttl > RTS_MC_RELATIVE_TTL_MAX) {
        return time(NULL) + (time_t)ttl;
    }
    return (time_t)ttl;
}

static apr_status_t rts_mc_acquire(rts_mc_t *mc, memcached_st **pm)
{
    struct timespec wait, now;
    apr_int64_t total_ns;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    memcached_st *m;

    /* libmemcachedutil builds the deadline as time(NULL) + tv_sec plus tv_nsec, dropping the
     * sub-second part of "now"; add it back so a sub-second timeout is neither zero nor 1 s. */
    clock_gettime(CLOCK_REALTIME, &now);
    total_ns = (apr_int64_t)mc->timeout * 1000 + now.tv_nsec;
    wait.tv_sec = (time_t)(total_ns / 1000000000);
    wait.tv_nsec = (long)(total_ns % 1000000000);

    m = memcached_pool_fetch(mc->mpool, &wait, &rc);
    if (m == NULL) {
        if (rc == MEMCACHED_TIMEOUT) {
            return APR_TIMEUP;
        }
        return rc == MEMCACHED_SUCCESS ? APR_ENOMEM : rts_mc_status(rc, errno, RTS_MC_OP_FETCH);
    }
    *pm = m;
    return APR_SUCCESS;
}

static rts_mc_res_t rts_mc_result(memcached_st *m, memcached_return_t rc, rts_mc_op_t op)
{
    int err = 0;

    if (rc == MEMCACHED_ERRNO || rc == MEMCACHED_CONNECTION_FAILURE) {
        err = memcached_last_error_errno(m);
    }
    return rts_mc_res(rc, err, op);
}

/* ---- the breaker ---- */

/* Whether an operation may go to b's server now. *pprobe is set when this operation is the
 * one probe of an open breaker. The closed case is one atomic read: no lock, no I/O. */
static apr_status_t rts_mc_breaker_enter(rts_mc_t *mc, rts_mc_breaker_t *b, int *pprobe)
{
    apr_time_t now;
    apr_status_t rv = RTS_ESTOREDOWN;

    *pprobe = 0;
    if (apr_atomic_read32(&mc->cas_disabled)) {
        return RTS_ESTOREDOWN;
    }
    if (b == NULL || !apr_atomic_read32(&b->open)) {
        return APR_SUCCESS;
    }
    now = apr_time_now();
    rts_lock(mc->lock);
    if (!b->open) {
        rv = APR_SUCCESS;
    }
    else if (!b->probing && now >= b->retry_at) {
        b->probing = 1;
        *pprobe = 1;
        rv = APR_SUCCESS;
    }
    rts_unlock(mc->lock);
    return rv;
}

/* Records what an operation learnt about b's server: a timeout or a refused/paused connection
 * opens the breaker; any answer closes it. */
static void rts_mc_breaker_leave(rts_mc_t *mc, rts_mc_breaker_t *b, int probe, rts_mc_kind_t kind)
{
    apr_time_t now;

    if (b == NULL || (kind == RTS_MC_ANSWERED && !probe && !apr_atomic_read32(&b->open))) {
        return;
    }
    now = apr_time_now();
    rts_lock(mc->lock);
    if (kind == RTS_MC_ANSWERED) {
        if (b->open) {
            rts_log_perror(mc->log, RTS_LOG_MARK, RTS_LOG_WARNING, 0,
                           RTS_LOGNO(10601) "memcached server %s answers again after %"
                           APR_TIME_T_FMT " ms: its sessions are served again", b->name,
                           apr_time_as_msec(now - b->opened));
        }
        apr_atomic_set32(&b->open, 0);
        b->probing = 0;
    }
    else if (kind == RTS_MC_TIMEOUT || kind == RTS_MC_UNSENT) {
        if (!b->open) {
            b->opened = now;
            apr_atomic_set32(&b->open, 1);
            rts_log_perror(mc->log, RTS_LOG_MARK, RTS_LOG_ERR, 0,
                           RTS_LOGNO(10600) "memcached server %s %s: its keys are failed fast "
                           "(503) until a probe (one per second per process) gets an answer",
                           b->name, kind == RTS_MC_TIMEOUT ? "did not answer in time"
                                                           : "refused or is paused");
        }
        b->retry_at = now + RTS_MC_PROBE_INTERVAL;
        if (probe) {
            b->probing = 0;
        }
    }
    else if (probe) {
        b->probing = 0;              /* broken twice: undecided, probe again later */
        b->retry_at = now + RTS_MC_PROBE_INTERVAL;
    }
    rts_unlock(mc->lock);
}

/* A probe waits less than a normal operation: it is paid by a request that would otherwise
 * have been answered 503 at once. */
static void rts_mc_probe_timeout(rts_mc_t *mc, memcached_st *m, int probe)
{
    uint64_t ms = (uint64_t)(mc->timeout / 1000);

    if (probe && ms > RTS_MC_PROBE_TIMEOUT_MS) {
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, RTS_MC_PROBE_TIMEOUT_MS);
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, RTS_MC_PROBE_TIMEOUT_MS);
    }
}

static void rts_mc_probe_timeout_restore(rts_mc_t *mc, memcached_st *m, int probe)
{
    if (probe && (uint64_t)(mc->timeout / 1000) > RTS_MC_PROBE_TIMEOUT_MS) {
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                               memcached_behavior_get(mc->master, MEMCACHED_BEHAVIOR_POLL_TIMEOUT));
        memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                               memcached_behavior_get(mc->master,
                                                      MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT));
    }
}

static rts_mc_breaker_t *rts_mc_breaker(rts_mc_t *mc, const char *group)
{
    uint32_t i;

    if (mc->nservers == 0) {
        return NULL;
    }
    /* The server index the ring gives the key. A clone's ring, not the master's: the master's
     * is not rebuilt for the distribution set on it (measured: other servers than the pooled
     * clones used). No server is ever ejected, so every clone's ring stays the same. */
    i = mc->nservers == 1 ? 0 : memcached_generate_hash(mc->ring, group, strlen(group));
    return i < mc->nservers ? &mc->breakers[i] : NULL;
}

/* ---- commands ---- */

/* A CAS unique of 0 means the server runs without CAS (memcached -C): every cas would then
 * succeed and the store's exclusion would be void. The store stops working at once. */
static apr_status_t rts_mc_cas_disabled(rts_mc_t *mc, const rts_mc_breaker_t *b)
{
    if (apr_atomic_cas32(&mc->cas_disabled, 1, 0) == 0) {
        rts_log_perror(mc->log, RTS_LOG_MARK, RTS_LOG_CRIT, 0,
                       RTS_LOGNO(10602) "memcached server %s returned an item with CAS unique 0: "
                       "it runs with CAS disabled (memcached -C), which voids the refresh "
                       "exclusion; the session store refuses to work (503) until httpd is "
                       "restarted against servers without -C", b ? b->name : "?");
    }
    return RTS_ESTOREDOWN;
}

/* One get on m (not released here). */
static rts_mc_res_t rts_mc_get_on(rts_mc_t *mc, const rts_mc_breaker_t *b, memcached_st *m,
                                  apr_pool_t *p, const char *group, const char *key,
                                  const char **pval, apr_size_t *plen, apr_uint64_t *pcas)
{
    memcached_result_st res_buf, *res;
    memcached_return_t rc;
    size_t klen = strlen(key);
    int found = 0, nocas = 0;
    rts_mc_res_t r;

    /* mget + fetch_result is the only way to see the CAS unique of a single get. */
    rc = memcached_mget_by_key(m, group, strlen(group), &key, &klen, 1);
    if (memcached_failed(rc)) {
        return rts_mc_result(m, rc, RTS_MC_OP_GET);
    }
    /* Caller-owned result: fetch_result frees a library-allocated one when results end. */
    if ((res = memcached_result_create(m, &res_buf)) == NULL) {
        memcached_quit(m); /* drop the unread reply */
        r.rv = APR_ENOMEM;
        r.kind = RTS_MC_ANSWERED;
        return r;
    }
    r.rv = APR_SUCCESS;
    r.kind = RTS_MC_ANSWERED;
    /* Read to the end so the connection goes back to the pool in sync. */
    while (memcached_fetch_result(m, res, &rc) != NULL) {
        size_t len = memcached_result_length(res);
        if (found++) {
            continue;
        }
        if (memcached_result_cas(res) == 0) {
            nocas = 1;
            continue;
        }
        if (len > RTS_STORE_MAX_VALUE) {
            r.rv = RTS_ETOOLARGE;
            continue;
        }
        if (pval != NULL) {
            char *copy = apr_palloc(p, len + 1);
            memcpy(copy, memcached_result_value(res), len);
            copy[len] = '\0';
            *pval = copy;
        }
        if (plen != NULL) {
            *plen = len;
        }
        if (pcas != NULL) {
            *pcas = memcached_result_cas(res);
        }
    }
    if (!found) {
        r = rts_mc_result(m, rc, RTS_MC_OP_GET);
    }
    memcached_result_free(res);
    if (nocas) {
        r.rv = rts_mc_cas_disabled(mc, b);
    }
    return r;
}

/* One set, add or cas on m (not released here). */
static rts_mc_res_t rts_mc_store_on(memcached_st *m, rts_mc_op_t op, const char *group,
                                    const char *key, const char *val, apr_size_t len,
                                    apr_uint32_t ttl, apr_uint64_t cas)
{
    memcached_return_t rc;

    switch (op) {
    case RTS_MC_OP_SET:
        rc = memcached_set_by_key(m, group, strlen(group), key, strlen(key), val, len,
                                  rts_mc_expiry(ttl), 0);
        break;
    case RTS_MC_OP_ADD:
        rc = memcached_add_by_key(m, group, strlen(group), key, strlen(key), val, len,
                                  rts_mc_expiry(ttl), 0);
        break;
    default:
        rc = memcached_cas_by_key(m, group, strlen(group), key, strlen(key), val, len,
                                  rts_mc_expiry(ttl), 0, cas);
        break;
    }
    return rts_mc_result(m, rc, op);
}

/* One operation in progress: its server's breaker and its pooled connection. */
typedef struct {
    const char *group;
    rts_mc_breaker_t *b;
    int probe;
    memcached_st *m;
} rts_mc_call_t;

/* Validates the keys, asks the breaker, and takes a memcached_st from the pool. The breaker is
 * asked first: while a server hangs, the pool's connections may all be busy waiting on it. */
static apr_status_t rts_mc_begin(rts_mc_t *mc, const char *group_key, const char *key,
                                 rts_mc_call_t *call)
{
    apr_status_t rv;

    if ((rv = rts_mc_check_keys(group_key, key, &call->group)) != APR_SUCCESS) {
        return rv;
    }
    call->b = rts_mc_breaker(mc, call->group);
    if ((rv = rts_mc_breaker_enter(mc, call->b, &call->probe)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = rts_mc_acquire(mc, &call->m)) != APR_SUCCESS) {
        if (call->probe) {
            rts_mc_breaker_leave(mc, call->b, 1, RTS_MC_BROKEN);   /* not probed: later */
        }
        return rv;
    }
    rts_mc_probe_timeout(mc, call->m, call->probe);
    return APR_SUCCESS;
}

static apr_status_t rts_mc_end(rts_mc_t *mc, rts_mc_call_t *call, rts_mc_res_t r)
{
    rts_mc_probe_timeout_restore(mc, call->m, call->probe);
    if (r.kind != RTS_MC_ANSWERED) {
        /* libmemcached keeps a timed-out connection and its unread reply: the next mget on
         * this memcached_st, for any server, would first wait for that reply (measured: a
         * healthy server's get took the full timeout). Start clean. */
        memcached_quit(call->m);
    }
    memcached_pool_release(mc->mpool, call->m);
    rts_mc_breaker_leave(mc, call->b, call->probe, r.kind);
    return r.rv;
}

/* Retry rules. Every retry stays on the same memcached_st and goes to the same server (no
 * server is ever ejected, so a key never moves).
 * - A connection that broke mid-command (RTS_MC_BROKEN: a pooled connection to a server that
 *   restarted, reset, broken pipe) is retried once on a fresh connection, for get, delete and
 *   touch (repeating them changes nothing), and for add and cas, whose repetition can only
 *   fail: if the first one was applied, the second answers "exists", which is then reported
 *   as RTS_ESTOREUNKNOWN, never as a lost race.
 * - set is never repeated once it may have been sent (it always wins: a late duplicate could
 *   overwrite a newer write).
 * - A timeout is never retried (it would double the wait); nor is a refused connection (the
 *   same server would refuse again).
 * - A write whose outcome stays unknown (timeout, broken twice) is RTS_ESTOREUNKNOWN. */
static apr_status_t rts_mc_write_outcome(rts_mc_op_t op, rts_mc_res_t first, rts_mc_res_t *pr)
{
    if (first.kind == RTS_MC_UNSENT) {
        return first.rv;
    }
    if (first.kind == RTS_MC_TIMEOUT || (first.kind == RTS_MC_BROKEN && op == RTS_MC_OP_SET)) {
        return RTS_ESTOREUNKNOWN;
    }
    if (first.kind == RTS_MC_BROKEN) {
        /* second attempt, in pr */
        if (pr->kind != RTS_MC_ANSWERED || pr->rv == APR_EEXIST) {
            return RTS_ESTOREUNKNOWN;
        }
        return pr->rv;
    }
    return first.rv;
}

/* A read refused by a breaker that has been open for longer than dead_after: the server's
 * records are taken as lost (RTS_ESTOREGONE), so their users log in again on a live server
 * instead of getting 503 from one that may never return. Only reads say so: a write (a logout's
 * delete) stays RTS_ESTOREDOWN and must not pretend to have done anything. */
static apr_status_t rts_mc_down_or_gone(rts_mc_t *mc, rts_mc_breaker_t *b, apr_status_t rv)
{
    apr_time_t opened = 0;

    if (rv != RTS_ESTOREDOWN || b == NULL || mc->dead_after <= 0
        || apr_atomic_read32(&mc->cas_disabled)) {
        return rv;
    }
    rts_lock(mc->lock);
    if (b->open) {
        opened = b->opened;
    }
    rts_unlock(mc->lock);
    return opened != 0 && apr_time_now() - opened >= mc->dead_after ? RTS_ESTOREGONE : rv;
}

static apr_status_t rts_mc_get(rts_store_t *s, apr_pool_t *p, const char *group_key,
                               const char *key, const char **pval, apr_size_t *plen,
                               apr_uint64_t *pcas)
{
    rts_mc_t *mc = s->impl;
    rts_mc_call_t c = {NULL, NULL, 0, NULL};
    rts_mc_res_t r;
    apr_status_t rv;

    if ((rv = rts_mc_begin(mc, group_key, key, &c)) != APR_SUCCESS) {
        return rts_mc_down_or_gone(mc, c.b, rv);
    }
    r = rts_mc_get_on(mc, c.b, c.m, p, c.group, key, pval, plen, pcas);
    if (r.kind == RTS_MC_BROKEN) {
        r = rts_mc_get_on(mc, c.b, c.m, p, c.group, key, pval, plen, pcas);
    }
    return rts_mc_end(mc, &c, r);
}

static apr_status_t rts_mc_store(rts_store_t *s, rts_mc_op_t op, const char *group_key,
                                 const char *key, const char *val, apr_size_t len,
                                 apr_uint32_t ttl, apr_uint64_t cas)
{
    rts_mc_t *mc = s->impl;
    rts_mc_call_t c;
    rts_mc_res_t first, r;
    apr_status_t rv;

    if (val == NULL && len > 0) {
        return APR_EINVAL;
    }
    if (len > RTS_STORE_MAX_VALUE) {
        return RTS_ETOOLARGE;
    }
    if ((rv = rts_mc_begin(mc, group_key, key, &c)) != APR_SUCCESS) {
        return rv;
    }
    first = r = rts_mc_store_on(c.m, op, c.group, key, val, len, ttl, cas);
    if (first.kind == RTS_MC_BROKEN && op != RTS_MC_OP_SET) {
        r = rts_mc_store_on(c.m, op, c.group, key, val, len, ttl, cas);
    }
    rv = rts_mc_write_outcome(op, first, &r);
    rts_mc_end(mc, &c, r);
    return rv;
}

static apr_status_t rts_mc_set(rts_store_t *s, const char *group_key, const char *key,
                               const char *val, apr_size_t len, apr_uint32_t ttl)
{
    return rts_mc_store(s, RTS_MC_OP_SET, group_key, key, val, len, ttl, 0);
}

static apr_status_t rts_mc_add(rts_store_t *s, const char *group_key, const char *key,
                               const char *val, apr_size_t len, apr_uint32_t ttl)
{
    return rts_mc_store(s, RTS_MC_OP_ADD, group_key, key, val, len, ttl, 0);
}

static apr_status_t rts_mc_cas(rts_store_t *s, const char *group_key, const char *key,
                               const char *val, apr_size_t len, apr_uint32_t ttl,
                               apr_uint64_t cas)
{
    return rts_mc_store(s, RTS_MC_OP_CAS, group_key, key, val, len, ttl, cas);
}

/* delete or touch, retried once after a broken connection. */
static apr_status_t rts_mc_keyop(rts_store_t *s, rts_mc_op_t op, const char *group_key,
                                 const char *key, apr_uint32_t ttl)
{
    rts_mc_t *mc = s->impl;
    rts_mc_call_t c;
    rts_mc_res_t r;
    apr_status_t rv;
    int attempt;

    if ((rv = rts_mc_begin(mc, group_key, key, &c)) != APR_SUCCESS) {
        return rv;
    }
    for (attempt = 0; attempt < 2; ++attempt) {
        memcached_return_t rc = op == RTS_MC_OP_DEL
            ? memcached_delete_by_key(c.m, c.group, strlen(c.group), key, strlen(key), 0)
            : memcached_touch_by_key(c.m, c.group, strlen(c.group), key, strlen(key),
                                     rts_mc_expiry(ttl));
        r = rts_mc_result(c.m, rc, op);
        if (r.kind != RTS_MC_BROKEN) {
            break;
        }
    }
    return rts_mc_end(mc, &c, r);
}

static apr_status_t rts_mc_del(rts_store_t *s, const char *group_key, const char *key)
{
    return rts_mc_keyop(s, RTS_MC_OP_DEL, group_key, key, 0);
}

static apr_status_t rts_mc_touch(rts_store_t *s, const char *group_key, const char *key,
                                 apr_uint32_t ttl)
{
    return rts_mc_keyop(s, RTS_MC_OP_TOUCH, group_key, key, ttl);
}

static int rts_mc_usable(rts_store_t *s, const char *group_key)
{
    rts_mc_t *mc = s->impl;
    rts_mc_breaker_t *b;

    if (rts_mc_check_key(group_key) != APR_SUCCESS || apr_atomic_read32(&mc->cas_disabled)) {
        return 0;
    }
    b = rts_mc_breaker(mc, group_key);
    if (b == NULL || !apr_atomic_read32(&b->open)) {
        return 1;
    }
    /* Open: when its probe is due, a get of this (new, absent) key is the probe. Without it a
     * server whose old sessions nobody uses would never be probed, and new keys would avoid
     * it for ever. It costs the caller (a login) at most the probe timeout, once a second. */
    s->get(s, NULL, NULL, group_key, NULL, NULL, NULL);
    return !apr_atomic_read32(&b->open);
}

void rts_store_memcached_set_log(rts_store_t *s, const rts_log_t *log)
{
    ((rts_mc_t *)s->impl)->log = log;
}

void rts_store_memcached_set_dead_after(rts_store_t *s, apr_interval_time_t after)
{
    ((rts_mc_t *)s->impl)->dead_after = after;
}

unsigned rts_store_memcached_server_count(rts_store_t *s)
{
    return ((rts_mc_t *)s->impl)->nservers;
}

const char *rts_store_memcached_server_name(rts_store_t *s, unsigned i)
{
    rts_mc_t *mc = s->impl;

    return i < mc->nservers ? mc->breakers[i].name : NULL;
}

const char *rts_store_memcached_key_on(rts_store_t *s, apr_pool_t *p, unsigned i,
                                       const char *prefix)
{
    rts_mc_t *mc = s->impl;
    int draw;

    for (draw = 0; draw < RTS_STORE_PROBE_DRAWS && i < mc->nservers; draw++) {
        const char *rnd, *key;

        if (rts_random_token(p, 12, &rnd) != APR_SUCCESS) {
            return NULL;
        }
        key = apr_pstrcat(p, prefix, rnd, NULL);
        if (rts_mc_breaker(mc, key) == &mc->breakers[i]) {
            return key;
        }
    }
    return NULL;
}

static apr_status_t rts_mc_cleanup(void *data)
{
    rts_mc_t *mc = data;

    if (mc->mpool != NULL) {
        memcached_pool_destroy(mc->mpool);
        mc->mpool = NULL;
    }
    if (mc->ring != NULL) {
        memcached_free(mc->ring);
        mc->ring = NULL;
    }
    if (mc->master != NULL) {
        memcached_free(mc->master);
        mc->master = NULL;
    }
    return APR_SUCCESS;
}

/* Options that would break the interface's guarantees: with no reply, add and cas cannot
 * report a conflict; UDP gives no reliable reply either. */
static const char *rts_mc_refused_option(const char *config_string)
{
    static const char *const refused[] = { "--NOREPLY", "--USE-UDP", NULL };
    int i;

    for (i = 0; refused[i] != NULL; ++i) {
        if (strcasestr(config_string, refused[i]) != NULL) {
            return refused[i];
        }
    }
    return NULL;
}

apr_status_t rts_store_memcached_check(apr_pool_t *p, const char *config_string, const char **perr)
{
    char buf[512];
    const char *bad;
    memcached_st *m;
    uint32_t nservers;
    uint64_t replicas, eject;

    *perr = NULL;
    if (config_string == NULL || config_string[0] == '\0') {
        *perr = "empty memcached configuration string";
        return APR_EINVAL;
    }
    buf[0] = '\0';
    if (memcached_failed(libmemcached_check_configuration(config_string, strlen(config_string),
                                                          buf, sizeof(buf)))) {
        *perr = apr_psprintf(p, "memcached configuration string does not parse: %s",
                             buf[0] ? buf : "unknown error");
        return APR_EINVAL;
    }
    if ((bad = rts_mc_refused_option(config_string)) != NULL) {
        *perr = apr_psprintf(p, "memcached option %s is not supported: add and cas need replies",
                             bad);
        return APR_EINVAL;
    }
    /* Parsing builds the server list but does not connect. */
    if ((m = memcached(config_string, strlen(config_string))) == NULL) {
        *perr = "memcached configuration string cannot be applied";
        return APR_EINVAL;
    }
    nservers = memcached_server_count(m);
    replicas = memcached_behavior_get(m, MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS);
    eject = memcached_behavior_get(m, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS);
    memcached_free(m);
    if (nservers == 0) {
        *perr = "memcached configuration string names no server (--SERVER=host:port)";
        return APR_EINVAL;
    }
    /* Replicas are refused. libmemcached (1.0.x and 1.1.4 alike) copies only set to them,
     * never add, cas or touch, and the store writes with add and cas: no record would have a
     * copy, a dead server's sessions are lost anyway. Worse, with the binary protocol a delete
     * is repeated on the replica as a quiet delete whose "not found" answer (the replica never
     * has the key) libmemcached does not read: the next command on that connection reads it
     * instead of its own answer and every later answer there is shifted by one (measured with
     * memcached 1.6: 7 and 8 of 12 logins failing with 400 or 503, gets answered with another
     * key's value), which voids the add and CAS guarantees. See docs/deployment.md. */
    if (replicas > 0) {
        *perr = "memcached option --NUMBER-OF-REPLICAS is not supported: libmemcached replicates "
                "only set, never add or cas, so no session would have a replica, and its "
                "replicated delete desynchronises connections (docs/deployment.md)";
        return APR_EINVAL;
    }
    /* Ejection moves a failed server's keys to the others: a session then looks logged out
     * (or is created) there, and when the server returns its old records are found again, a
     * logout or refresh made meanwhile undone. A failed server is failed fast instead. */
    if (eject) {
        *perr = "memcached option --REMOVE-FAILED-SERVERS is not supported: an ejected server's "
                "keys move to other servers and its old records come back with it, undoing "
                "logouts made meanwhile (docs/deployment.md)";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Our defaults, unless the configuration string sets the option itself. */
static memcached_return_t rts_mc_default(memcached_st *m, const char *config_string,
                                         const char *option, memcached_behavior_t flag,
                                         uint64_t value)
{
    if (strcasestr(config_string, option) != NULL) {
        return MEMCACHED_SUCCESS;
    }
    return memcached_behavior_set(m, flag, value);
}

apr_status_t rts_store_memcached_create(apr_pool_t *pool, const char *config_string,
                                        unsigned max_conns, apr_interval_time_t timeout,
                                        struct rts_store_t **pstore)
{
    rts_mc_t *mc;
    rts_store_t *s;
    const char *err;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    apr_status_t rv;
    uint64_t ms;
    uint32_t i;

    *pstore = NULL;
    if (max_conns == 0 || timeout <= 0) {
        return APR_EINVAL;
    }
    if ((rv = rts_store_memcached_check(pool, config_string, &err)) != APR_SUCCESS) {
        return rv;
    }
    mc = apr_pcalloc(pool, sizeof(*mc));
    mc->timeout = timeout;
    mc->dead_after = RTS_STORE_DEAD_AFTER_DEFAULT;
    if ((mc->master = memcached(config_string, strlen(config_string))) == NULL) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(pool, mc, rts_mc_cleanup, apr_pool_cleanup_null);

    ms = (uint64_t)(timeout / 1000);
    if (ms == 0) {
        ms = 1;
    }
    /* Behaviours go on the master before the pool clones it. */
    if (memcached_failed(rc = memcached_behavior_set(mc->master, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1))
        || memcached_failed(rc = memcached_behavior_set(mc->master, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1))
        || memcached_failed(rc = rts_mc_default(mc->master, config_string, "--CONNECT-TIMEOUT",
                                                MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms))
        || memcached_failed(rc = rts_mc_default(mc->master, config_string, "--POLL-TIMEOUT",
                                                MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms))
        || memcached_failed(rc = rts_mc_default(mc->master, config_string, "--SND-TIMEOUT",
                                                MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000))
        || memcached_failed(rc = rts_mc_default(mc->master, config_string, "--RCV-TIMEOUT",
                                                MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000))
        || memcached_failed(rc = rts_mc_default(mc->master, config_string, "--RETRY-TIMEOUT",
                                                MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
                                                RTS_MC_RETRY_TIMEOUT))
        || memcached_failed(rc = rts_mc_default(mc->master, config_string, "--SERVER-FAILURE-LIMIT",
                                                MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT,
                                                RTS_MC_FAILURE_LIMIT))
        /* No server ever leaves the hash ring (rts_store_memcached_check refuses the option):
         * its keys would move to other servers, and come back with their old values when it
         * returns (a logout during the outage undone). A failing server is failed fast by the
         * breaker instead. */
        || memcached_failed(rc = memcached_behavior_set(mc->master,
                                                        MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS,
                                                        0))) {
        return rts_mc_status(rc, 0, RTS_MC_OP_FETCH);
    }
    /* Consistent hashing, so adding or losing a server moves few sessions. KETAMA_WEIGHTED also
     * forces MD5 as key hash: when the string chose a hash, only set the distribution. */
    if (strcasestr(config_string, "--DISTRIBUTION") == NULL) {
        if (strcasestr(config_string, "--HASH=") != NULL) {
            rc = memcached_behavior_set(mc->master, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                        MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED);
        }
        else {
            rc = memcached_behavior_set(mc->master, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
        }
        if (memcached_failed(rc)) {
            return rts_mc_status(rc, 0, RTS_MC_OP_FETCH);
        }
    }
    /* One connection up front; more are cloned on demand up to max_conns. Cloning does not
     * connect: connections open lazily on first use, in the process that uses them. */
    if ((mc->mpool = memcached_pool_create(mc->master, 1, max_conns)) == NULL) {
        return APR_ENOMEM;
    }

    if ((mc->ring = memcached_clone(NULL, mc->master)) == NULL) {
        return APR_ENOMEM;
    }
    if ((rv = rts_lock_create(pool, &mc->lock)) != APR_SUCCESS) {
        return rv;
    }
    mc->nservers = memcached_server_count(mc->master);
    mc->breakers = apr_pcalloc(pool, mc->nservers * sizeof(*mc->breakers) + 1);
    for (i = 0; i < mc->nservers; ++i) {
        const memcached_instance_st *inst = memcached_server_instance_by_position(mc->master, i);
        mc->breakers[i].name = apr_psprintf(pool, "%s:%u", memcached_server_name(inst),
                                            (unsigned)memcached_server_port(inst));
    }

    s = apr_pcalloc(pool, sizeof(*s));
    s->name = "memcached";
    s->usable = rts_mc_usable;
    s->get = rts_mc_get;
    s->set = rts_mc_set;
    s->add = rts_mc_add;
    s->cas = rts_mc_cas;
    s->del = rts_mc_del;
    s->touch = rts_mc_touch;
    s->impl = mc;
    *pstore = s;
    return APR_SUCCESS;
}
