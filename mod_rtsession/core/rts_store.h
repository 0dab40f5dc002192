/* SPDX-License-Identifier: Apache-2.0 */
/* The session store interface: a key/value store with expiry, add and compare-and-swap.
 * memcached implements it (rts_store_memcached.c); the unit tests use an in-memory fake.
 * group_key places several keys on one server (libmemcached's *_by_key); NULL means the key
 * itself. ttl is in seconds (0 = no expiry; callers always pass one).
 * Failures every operation may give: RTS_ESTOREDOWN (the key's server is failed fast after a
 * timeout or refusal, or the store refuses to work; nothing was sent), APR_TIMEUP,
 * APR_ECONNREFUSED, RTS_ESTORE; get also RTS_ESTOREGONE (the key's server has been failed fast
 * for longer than the store's dead-after grace: take the record as lost). A write (set, add, cas) that may have reached the server
 * without an answer (timeout, connection broken mid-command) gives RTS_ESTOREUNKNOWN: it may
 * have been applied, so re-read before deciding; never take it for a lost race (EEXIST). */
#ifndef RTS_STORE_H
#define RTS_STORE_H

#include <apr_pools.h>
#include "rts.h"

#define RTS_STORE_MAX_VALUE (64 * 1024)
/* Draws of a new random key (session id, login state) while its server is failed fast. */
#define RTS_PLACE_DRAWS 16

struct rts_store_t {
    const char *name;
    /* APR_ENOENT when absent. The value is copied into p and NUL-terminated (not counted).
     * *pcas (may be NULL) receives the CAS unique for a later cas(). */
    apr_status_t (*get)(struct rts_store_t *s, apr_pool_t *p, const char *group_key, const char *key,
                        const char **pval, apr_size_t *plen, apr_uint64_t *pcas);
    apr_status_t (*set)(struct rts_store_t *s, const char *group_key, const char *key,
                        const char *val, apr_size_t len, apr_uint32_t ttl);
    /* APR_EEXIST when the key already exists. */
    apr_status_t (*add)(struct rts_store_t *s, const char *group_key, const char *key,
                        const char *val, apr_size_t len, apr_uint32_t ttl);
    /* APR_EEXIST when the item changed since cas was read; APR_ENOENT when it is gone. */
    apr_status_t (*cas)(struct rts_store_t *s, const char *group_key, const char *key,
                        const char *val, apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas);
    /* APR_ENOENT when absent (callers that only want it gone treat that as success). */
    apr_status_t (*del)(struct rts_store_t *s, const char *group_key, const char *key);
    /* Resets the expiry without rewriting the value. APR_ENOENT when absent. */
    apr_status_t (*touch)(struct rts_store_t *s, const char *group_key, const char *key,
                          apr_uint32_t ttl);
    /* Optional (NULL: always usable). Non-zero when an operation on group_key would be
     * attempted now (its server is not failed fast): an in-process check, except that when
     * the server's probe is due, a get of group_key probes it (bounded by a short timeout).
     * Used to place new random keys (never on the hot path). */
    int (*usable)(struct rts_store_t *s, const char *group_key);
    void *impl;
};

/* Whether an operation on group_key would be attempted now (see usable above). */
static inline int rts_store_usable(struct rts_store_t *s, const char *group_key)
{
    return s->usable == NULL || s->usable(s, group_key);
}

/* A memcached store for one process, from a libmemcached configuration string
 * (e.g. "--SERVER=127.0.0.1:11211 --SERVER=127.0.0.1:11212"). The connection pool is shared by
 * the process's threads (max_conns connections); under prefork pass 1. timeout bounds each
 * operation and the wait for a pooled connection. Released at cleanup of pool.
 * Unreachable servers are APR_ECONNREFUSED/APR_TIMEUP/RTS_ESTORE at operation time, not here. */
apr_status_t rts_store_memcached_create(apr_pool_t *pool, const char *config_string,
                                        unsigned max_conns, apr_interval_time_t timeout,
                                        struct rts_store_t **pstore);
/* The default grace after which a server that keeps failing is taken as dead: reads of its
 * keys then give RTS_ESTOREGONE instead of RTS_ESTOREDOWN. */
#define RTS_STORE_DEAD_AFTER_DEFAULT apr_time_from_sec(60)
/* Sets that grace (0: never; its keys answer RTS_ESTOREDOWN until it returns). */
void rts_store_memcached_set_dead_after(struct rts_store_t *s, apr_interval_time_t after);
/* Where the store logs its breaker transitions and refusals (RTS106xx); NULL: nowhere. */
void rts_store_memcached_set_log(struct rts_store_t *s, const struct rts_log_t *log);
/* For per-server checks (rtsessionctl check): the number of servers of a memcached store, the
 * name (host:port) of server i, and a key "<prefix><random>" that the store's distribution
 * places on server i (NULL when RTS_STORE_PROBE_DRAWS random draws found none). */
#define RTS_STORE_PROBE_DRAWS 4096
unsigned rts_store_memcached_server_count(struct rts_store_t *s);
const char *rts_store_memcached_server_name(struct rts_store_t *s, unsigned i);
const char *rts_store_memcached_key_on(struct rts_store_t *s, apr_pool_t *p, unsigned i,
                                       const char *prefix);
/* Checks a configuration string without connecting (for configtest). APR_EINVAL with an
 * explanation in *perr (allocated from p) when it does not parse. */
apr_status_t rts_store_memcached_check(apr_pool_t *p, const char *config_string, const char **perr);

#endif
