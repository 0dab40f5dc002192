/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP client interface the core uses to talk to the provider; libcurl implements it
 * (rts_http_curl.c), the unit tests use a fake. Every call is bounded in time and size. */
#ifndef RTS_HTTP_H
#define RTS_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct rts_http_request_t {
    const char *method;                 /* "GET" or "POST" */
    const char *url;                    /* https:// (http:// only to loopback, the impl's choice) */
    apr_table_t *headers;               /* extra request headers, may be NULL */
    const char *body;                   /* POST body, may be NULL */
    apr_size_t body_len;
    apr_interval_time_t timeout;        /* whole transfer; must be > 0 */
    apr_interval_time_t connect_timeout;/* connection set-up; must be > 0 */
    apr_size_t max_response;            /* larger bodies fail with RTS_ETOOLARGE */
    int once;                           /* never sent twice: a request that spends something
                                         * (a code, a refresh token). It gets a connection of
                                         * its own, not reused before or after, so the client
                                         * has no dead keep-alive connection to retry it on */
} rts_http_request_t;

typedef struct rts_http_response_t {
    int status;                         /* HTTP status code */
    apr_table_t *headers;               /* response headers, names as received */
    const char *body;                   /* NUL-terminated (terminator not counted) */
    apr_size_t body_len;
} rts_http_response_t;

struct rts_http_t {
    /* Performs one request, never following redirects, always verifying TLS.
     * APR_ECONNREFUSED: the request never left (connection refused or timed out, name
     * resolution or TLS handshake failed): safe to send again.
     * Otherwise, after (part of) the request was sent: APR_TIMEUP on timeout, RTS_EUPSTREAM on
     * a transport failure (reset, closed before an answer, garbled answer), RTS_ETOOLARGE when
     * the response exceeds max_response: the server may have acted on the request.
     * A non-2xx status is not an error here: the response is returned and the caller decides. */
    apr_status_t (*perform)(struct rts_http_t *http, apr_pool_t *p,
                            const rts_http_request_t *req, rts_http_response_t **presp);
    void *impl;
};

/* A libcurl client for one process: easy handles are kept and reused (keep-alive to the
 * provider) and are safe to use from several threads at once. ca_file may be NULL (system
 * trust store). Resources are released at cleanup of pool. curl_global_init must have run. */
apr_status_t rts_http_curl_create(apr_pool_t *pool, const char *ca_file, struct rts_http_t **phttp);
/* curl_global_init, once per process, before threads exist. */
apr_status_t rts_http_curl_global_init(void);

#endif
