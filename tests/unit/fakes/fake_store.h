/* SPDX-License-Identifier: Apache-2.0 */
/* An in-memory rts_store_t for unit tests, with memcached's semantics:
 * - every successful write (set, add, cas) gives the item a new CAS unique from one counter
 *   shared by all keys (as memcached does); touch and get leave the CAS unique unchanged
 *   (memcached 1.6.18 verified by test_store_live_touch_keeps_cas);
 * - add fails with APR_EEXIST on a live key; cas gives APR_EEXIST on a changed item and
 *   APR_ENOENT on a missing or expired one; del and touch give APR_ENOENT when absent;
 * - ttl is relative seconds, 0 = never; an item is gone once now >= stored + ttl, now read from
 *   the fake's clock (a variable the test advances, or an rts_clock_fn);
 * - keys longer than 250 bytes or with spaces/control characters give APR_EINVAL, values over
 *   RTS_STORE_MAX_VALUE give RTS_ETOOLARGE; group_key is validated and otherwise ignored.
 * Operations run in this order: counted, hook called, injected fault applied, then performed.
 * Operations the hook itself makes through the store are not counted, not hooked and not
 * failed: they stand for another process writing at that moment. */
#ifndef FAKE_STORE_H
#define FAKE_STORE_H

#include <apr_pools.h>
#include "rts.h"
#include "rts_store.h"

typedef enum {
    FAKE_STORE_OP_ANY = -1,         /* fault filter and counter: every kind */
    FAKE_STORE_OP_GET = 0,
    FAKE_STORE_OP_SET,
    FAKE_STORE_OP_ADD,
    FAKE_STORE_OP_CAS,
    FAKE_STORE_OP_DEL,
    FAKE_STORE_OP_TOUCH,
    FAKE_STORE_OP_COUNT
} fake_store_op_t;

typedef struct fake_store_t fake_store_t;

/* Called before each operation (see above). key is the operation's key. */
typedef void fake_store_hook_fn(fake_store_t *fs, fake_store_op_t op, const char *key,
                                void *baton);

/* A new, empty store. Its items live in a subpool of p, destroyed with p. The clock starts as
 * apr_time_now() read at each operation until fake_store_use_time/fake_store_use_clock. */
fake_store_t *fake_store_create(apr_pool_t *p);
/* The rts_store_t to hand to the code under test (owned by the fake). */
rts_store_t *fake_store_store(fake_store_t *fs);

/* Time is *now (microseconds, like apr_time_now()), read at each operation. */
void fake_store_use_time(fake_store_t *fs, const apr_time_t *now);
/* Time is clock(baton), e.g. the same clock as the rts_ctx_t under test. */
void fake_store_use_clock(fake_store_t *fs, rts_clock_fn *clock, void *baton);

/* The next n operations of kind op (FAKE_STORE_OP_ANY: of any kind) fail with status, without
 * touching the data. Replaces an earlier request; n = 0 cancels. */
void fake_store_fail_next(fake_store_t *fs, unsigned n, fake_store_op_t op, apr_status_t status);
/* Operations of kind op so far (FAKE_STORE_OP_ANY: all), failed ones included. */
unsigned fake_store_count(const fake_store_t *fs, fake_store_op_t op);
void fake_store_reset_counts(fake_store_t *fs);

/* fn is called before each operation; NULL removes it. */
void fake_store_set_hook(fake_store_t *fs, fake_store_hook_fn *fn, void *baton);

/* Direct access for arranging and asserting: no counting, no hook, no fault.
 * peek: APR_ENOENT when absent or expired; *pexpires (may be NULL) is 0 for "never".
 * put: like set (new CAS unique). remove: drops the key. */
apr_status_t fake_store_peek(fake_store_t *fs, apr_pool_t *p, const char *key, const char **pval,
                             apr_size_t *plen, apr_uint64_t *pcas, apr_time_t *pexpires);
apr_status_t fake_store_put(fake_store_t *fs, const char *key, const char *val, apr_size_t len,
                            apr_uint32_t ttl);
void fake_store_remove(fake_store_t *fs, const char *key);
/* Live (unexpired) items. */
unsigned fake_store_size(fake_store_t *fs);

#endif
