/* SPDX-License-Identifier: Apache-2.0 */
/* An rts_http_t for unit tests: answers from a queue of canned responses or transport errors,
 * in order, and records every request (copied, so it outlives the caller's pool).
 * Like the curl client, a canned body larger than the request's max_response gives
 * RTS_ETOOLARGE. With the queue empty, perform returns APR_EGENERAL and counts it in
 * fake_http_unexpected(). */
#ifndef FAKE_HTTP_H
#define FAKE_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "rts.h"
#include "rts_http.h"

typedef struct fake_http_t fake_http_t;

/* Called at the start of each perform, before the answer is taken from the queue (e.g. to
 * let "another worker" write the store while this request is in flight). */
typedef void fake_http_hook_fn(fake_http_t *fh, const rts_http_request_t *req, void *baton);

/* Allocations (queue, captured requests) live in a subpool of p. */
fake_http_t *fake_http_create(apr_pool_t *p);
/* The rts_http_t to hand to the code under test (owned by the fake). */
rts_http_t *fake_http_client(fake_http_t *fh);

/* Queues a response. Headers: NULL-terminated name, value pairs, e.g.
 * fake_http_push(fh, 200, "{\"a\":1}", "Content-Type", "application/json", NULL). */
void fake_http_push(fake_http_t *fh, int status, const char *body, ...);
/* Same, with a body of explicit length and a headers table (copied; may be NULL). */
void fake_http_push_table(fake_http_t *fh, int status, apr_table_t *headers, const char *body,
                          apr_size_t body_len);
/* Queues a transport failure: perform returns rv (APR_TIMEUP, APR_ECONNREFUSED, ...). */
void fake_http_push_error(fake_http_t *fh, apr_status_t rv);

/* Requests performed so far (including failed ones and unexpected ones). */
unsigned fake_http_count(const fake_http_t *fh);
/* The i-th request (0-based), NULL when out of range. headers is never NULL in the copy. */
const rts_http_request_t *fake_http_request(const fake_http_t *fh, unsigned i);
/* The most recent request, NULL when none. */
const rts_http_request_t *fake_http_last(const fake_http_t *fh);
/* Answers still queued. */
unsigned fake_http_pending(const fake_http_t *fh);
/* Requests that found the queue empty. */
unsigned fake_http_unexpected(const fake_http_t *fh);

void fake_http_set_hook(fake_http_t *fh, fake_http_hook_fn *fn, void *baton);

/* A slow provider. The clock the fake moves (the test's "now"): an answer with a delay
 * advances *now by it, or, when the delay reaches the request's timeout, by the timeout, and
 * then fails with APR_TIMEUP as a client that sent the request and gave up waiting would. */
void fake_http_use_clock(fake_http_t *fh, apr_time_t *now);
/* Gives the most recently queued answer (response or transport failure) a delay. */
void fake_http_delay_last(fake_http_t *fh, apr_interval_time_t delay);

#endif
