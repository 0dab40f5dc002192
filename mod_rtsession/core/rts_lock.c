/* SPDX-License-Identifier: Apache-2.0 */
/* Per-child mutex (see rts_lock.h). */
#include <apr_thread_mutex.h>
#include "rts_lock.h"

struct rts_lock_t {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#else
    int unused;
#endif
};

apr_status_t rts_lock_create(apr_pool_t *p, rts_lock_t **plock)
{
    rts_lock_t *l = apr_pcalloc(p, sizeof(*l));

#if APR_HAS_THREADS
    apr_status_t rv = apr_thread_mutex_create(&l->mutex, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
#endif
    *plock = l;
    return APR_SUCCESS;
}

void rts_lock(rts_lock_t *l)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(l->mutex);
#else
    (void)l;
#endif
}

void rts_unlock(rts_lock_t *l)
{
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(l->mutex);
#else
    (void)l;
#endif
}
