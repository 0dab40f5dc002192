/* SPDX-License-Identifier: Apache-2.0 */
/* A mutex for per-child state that the threads of a child share (the memos); it locks nothing
 * when APR has no threads. */
#ifndef RTS_LOCK_H
#define RTS_LOCK_H

#include <apr_pools.h>

typedef struct rts_lock_t rts_lock_t;

apr_status_t rts_lock_create(apr_pool_t *p, rts_lock_t **plock);
void rts_lock(rts_lock_t *l);
void rts_unlock(rts_lock_t *l);

#endif
