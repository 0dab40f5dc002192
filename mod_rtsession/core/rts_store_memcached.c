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

#include <apr_strings.h>
#include <libmemcached-1.0/memcached.h>
#include <libmemcachedutil-1.0/pool.h>

#include "rts.h"
#include "rts_store.h"

#define RTS_MC_MAX_KEY 250
/* memcached reads an expiry above 30 days as an absolute Unix time. */
#define RTS_MC_RELATIVE_TTL_MAX (60 * 60 * 24 * 30)
/* A failed server is not retried for this many seconds; operations on it fail at once. */
#define RTS_MC_RETRY_TIMEOUT 3
/* One connection failure ejects the server from the hash ring. With 2, every pooled
 * connection (each has its own ring) answered 503 for its first seconds after a death. */
#define RTS_MC_FAILURE_LIMIT 1
/* An ejected server is probed again after this many seconds (a restarted one rejoins). */
#define RTS_MC_DEAD_TIMEOUT 5
/* Attempts of one operation while its server cannot be reached: a broken established
 * connection fails mid-read, the reconnect is refused and ejects the server, the next attempt
 * goes to the server that now owns the key. */
#define RTS_MC_ATTEMPTS 4

typedef enum {
    RTS_MC_OP_GET, RTS_MC_OP_SET, RTS_MC_OP_ADD, RTS_MC_OP_CAS, RTS_MC_OP_DEL, RTS_MC_OP_TOUCH,
    RTS_MC_OP_FETCH
} rts_mc_op_t;

typedef struct {
    memcached_st *master;          /* template the pool clones; never used for I/O */
    memcached_pool_st *mpool;
    apr_interval_time_t timeout;
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

static apr_status_t rts_mc_result(memcached_st *m, memcached_return_t rc, rts_mc_op_t op)
{
    return rts_mc_status(rc, rc == MEMCACHED_ERRNO ? memcached_last_error_errno(m) : 0, op);
}

/* One get on m (not released here). */
static apr_status_t rts_mc_get_on(memcached_st *m, apr_pool_t *p, const char *group,
                                  const char *key, const char **pval, apr_size_t *plen,
                                  apr_uint64_t *pcas)
{
    memcached_result_st res_buf, *res;
    memcached_return_t rc;
    size_t klen = strlen(key);
    int found = 0, err = 0;
    apr_status_t rv;

    /* mget + fetch_result is the only way to see the CAS unique of a single get. */
    rc = memcached_mget_by_key(m, group, strlen(group), &key, &klen, 1);
    if (memcached_failed(rc)) {
        return rts_mc_result(m, rc, RTS_MC_OP_GET);
    }
    /* Caller-owned result: fetch_result frees a library-allocated one when results end. */
    if ((res = memcached_result_create(m, &res_buf)) == NULL) {
        memcached_quit(m); /* drop the unread reply */
        return APR_ENOMEM;
    }
    rv = APR_SUCCESS;
    /* Read to the end so the connection goes back to the pool in sync. */
    while (memcached_fetch_result(m, res, &rc) != NULL) {
        size_t len = memcached_result_length(res);
        if (found++) {
            continue;
        }
        if (len > RTS_STORE_MAX_VALUE) {
            rv = RTS_ETOOLARGE;
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
    if (rc == MEMCACHED_ERRNO) {
        err = memcached_last_error_errno(m);
    }
    memcached_result_free(res);
    if (found) {
        return rv;
    }
    return rts_mc_status(rc, err, RTS_MC_OP_GET);
}

/* One set, add or cas on m (not released here). */
static apr_status_t rts_mc_store_on(memcached_st *m, rts_mc_op_t op, const char *group,
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

/* Validates the keys and takes a memcached_st from the pool (release it when done). */
static apr_status_t rts_mc_begin(rts_mc_t *mc, const char *group_key, const char *key,
                                 const char **pgroup, memcached_st **pm)
{
    apr_status_t rv;

    if ((rv = rts_mc_check_keys(group_key, key, pgroup)) != APR_SUCCESS) {
        return rv;
    }
    return rts_mc_acquire(mc, pm);
}

/* Retry an operation on the same memcached_st while its server cannot be reached
 * (APR_ECONNREFUSED): that memcached_st's ring ejects the server at its failure, so the next
 * attempt goes to the server that now owns the key (another pooled memcached_st would still
 * have its own, unaware ring). A retry is safe for every operation: get, set, delete and touch
 * are idempotent, and a repeated add or cas can only fail (EEXIST, or ENOENT on the new owner). */
#define RTS_MC_WITH_RETRY(rv, call) \
    do { \
        int attempt_; \
        for (attempt_ = 1; ((rv) = (call)) == APR_ECONNREFUSED && attempt_ < RTS_MC_ATTEMPTS; \
             ++attempt_) { \
        } \
    } while (0)

/* For get, delete and touch, whose repetition changes nothing, a failure in the middle of the
 * command (RTS_ESTORE: an established connection to a server that just died) is retried too;
 * add, set and cas are not, since their first attempt may have been applied. */
#define RTS_MC_WITH_RETRY_IDEMPOTENT(rv, call) \
    do { \
        int attempt_; \
        for (attempt_ = 1; (((rv) = (call)) == APR_ECONNREFUSED || (rv) == RTS_ESTORE) \
                           && attempt_ < RTS_MC_ATTEMPTS; ++attempt_) { \
        } \
    } while (0)

static apr_status_t rts_mc_get(rts_store_t *s, apr_pool_t *p, const char *group_key,
                               const char *key, const char **pval, apr_size_t *plen,
                               apr_uint64_t *pcas)
{
    rts_mc_t *mc = s->impl;
    memcached_st *m;
    const char *group;
    apr_status_t rv;

    if ((rv = rts_mc_begin(mc, group_key, key, &group, &m)) != APR_SUCCESS) {
        return rv;
    }
    RTS_MC_WITH_RETRY_IDEMPOTENT(rv, rts_mc_get_on(m, p, group, key, pval, plen, pcas));
    memcached_pool_release(mc->mpool, m);
    return rv;
}

static apr_status_t rts_mc_store(rts_store_t *s, rts_mc_op_t op, const char *group_key,
                                 const char *key, const char *val, apr_size_t len,
                                 apr_uint32_t ttl, apr_uint64_t cas)
{
    rts_mc_t *mc = s->impl;
    memcached_st *m;
    const char *group;
    apr_status_t rv;

    if (val == NULL && len > 0) {
        return APR_EINVAL;
    }
    if (len > RTS_STORE_MAX_VALUE) {
        return RTS_ETOOLARGE;
    }
    if ((rv = rts_mc_begin(mc, group_key, key, &group, &m)) != APR_SUCCESS) {
        return rv;
    }
    RTS_MC_WITH_RETRY(rv, rts_mc_store_on(m, op, group, key, val, len, ttl, cas));
    memcached_pool_release(mc->mpool, m);
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

static apr_status_t rts_mc_del(rts_store_t *s, const char *group_key, const char *key)
{
    rts_mc_t *mc = s->impl;
    memcached_st *m;
    const char *group;
    apr_status_t rv;

    if ((rv = rts_mc_begin(mc, group_key, key, &group, &m)) != APR_SUCCESS) {
        return rv;
    }
    RTS_MC_WITH_RETRY_IDEMPOTENT(rv, rts_mc_result(m, memcached_delete_by_key(m, group,
                                                       strlen(group), key, strlen(key), 0),
                                                   RTS_MC_OP_DEL));
    memcached_pool_release(mc->mpool, m);
    return rv;
}

static apr_status_t rts_mc_touch(rts_store_t *s, const char *group_key, const char *key,
                                 apr_uint32_t ttl)
{
    rts_mc_t *mc = s->impl;
    memcached_st *m;
    const char *group;
    apr_status_t rv;

    if ((rv = rts_mc_begin(mc, group_key, key, &group, &m)) != APR_SUCCESS) {
        return rv;
    }
    RTS_MC_WITH_RETRY_IDEMPOTENT(rv, rts_mc_result(m, memcached_touch_by_key(m, group,
                                                       strlen(group), key, strlen(key),
                                                       rts_mc_expiry(ttl)),
                                                   RTS_MC_OP_TOUCH));
    memcached_pool_release(mc->mpool, m);
    return rv;
}

static apr_status_t rts_mc_cleanup(void *data)
{
    rts_mc_t *mc = data;

    if (mc->mpool != NULL) {
        memcached_pool_destroy(mc->mpool);
        mc->mpool = NULL;
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
    uint64_t replicas;

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

    *pstore = NULL;
    if (max_conns == 0 || timeout <= 0) {
        return APR_EINVAL;
    }
    if ((rv = rts_store_memcached_check(pool, config_string, &err)) != APR_SUCCESS) {
        return rv;
    }
    mc = apr_pcalloc(pool, sizeof(*mc));
    mc->timeout = timeout;
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
        /* A dead server leaves the hash ring, so its keys move to the live servers (those
         * sessions are lost: a new login, not a 503 on every request until it is back). */
        || memcached_failed(rc = rts_mc_default(mc->master, config_string, "--REMOVE-FAILED-SERVERS",
                                                MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1))
        || memcached_failed(rc = memcached_behavior_set(mc->master, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT,
                                                        RTS_MC_DEAD_TIMEOUT))) {
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

    s = apr_pcalloc(pool, sizeof(*s));
    s->name = "memcached";
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
