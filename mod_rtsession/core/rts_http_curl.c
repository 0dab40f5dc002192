/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP client on libcurl. Easy handles are kept on a free list per process and reused, so
 * their connection caches give keep-alive to the provider; a handle is used by one thread at a
 * time. Nothing here logs: request bodies and Authorization headers carry secrets. */
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_thread_mutex.h>
#include <curl/curl.h>

#include "rts.h"
#include "rts_http.h"

/* Bounds on what a provider may send back in headers. */
#define RTS_CURL_MAX_HEADERS     100
#define RTS_CURL_MAX_HEADER_LINE 8192
#define RTS_CURL_MAX_HEADER_SIZE (64 * 1024)

typedef struct {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    apr_array_header_t *idle;      /* CURL * kept for reuse */
    const char *ca_file;
} rts_curl_t;

/* State of one transfer, seen by the callbacks. */
typedef struct {
    apr_pool_t *p;
    char *body;
    apr_size_t len, cap, max;
    apr_table_t *headers;
    int nheaders;
    apr_size_t header_bytes;
    int too_large;                 /* a callback aborted because of a size bound */
} rts_curl_xfer_t;

/* The only translation from libcurl's codes. sent: bytes of the request left this process
 * (CURLINFO_REQUEST_SIZE); a failure before that is "never sent" whatever its code. */
static apr_status_t rts_curl_status(CURLcode cc, const rts_curl_xfer_t *x, curl_off_t sent)
{
    if (cc != CURLE_OK && cc != CURLE_OUT_OF_MEMORY && cc != CURLE_URL_MALFORMAT
        && cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_BAD_FUNCTION_ARGUMENT && sent <= 0) {
        return APR_ECONNREFUSED;
    }
    switch (cc) {
    case CURLE_OK:
        return APR_SUCCESS;
    case CURLE_OPERATION_TIMEDOUT:
        return APR_TIMEUP;
    case CURLE_COULDNT_CONNECT:
        return APR_ECONNREFUSED;
    case CURLE_WRITE_ERROR:
        return x->too_large ? RTS_ETOOLARGE : RTS_EUPSTREAM;
    case CURLE_FILESIZE_EXCEEDED:
        return RTS_ETOOLARGE;
    case CURLE_OUT_OF_MEMORY:
        return APR_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return APR_EINVAL;          /* the caller's URL or options, not the provider */
    default:
        /* TLS failures, resolution failures, broken or garbled responses. */
        return RTS_EUPSTREAM;
    }
}

static size_t rts_curl_on_body(char *data, size_t size, size_t nmemb, void *baton)
{
    rts_curl_xfer_t *x = baton;
    apr_size_t n = size * nmemb;

    if (n > x->max - x->len) {
        x->too_large = 1;
        return 0;                   /* aborts with CURLE_WRITE_ERROR */
    }
    if (x->len + n + 1 > x->cap) {
        apr_size_t cap = x->cap ? x->cap : 1024;
        char *nbuf;
        while (cap < x->len + n + 1) {
            cap *= 2;
        }
        if (cap > x->max + 1) {
            cap = x->max + 1;
        }
        nbuf = apr_palloc(x->p, cap);
        if (x->len > 0) {
            memcpy(nbuf, x->body, x->len);
        }
        x->body = nbuf;
        x->cap = cap;
    }
    memcpy(x->body + x->len, data, n);
    x->len += n;
    return n;
}

static size_t rts_curl_on_header(char *data, size_t size, size_t nmemb, void *baton)
{
    rts_curl_xfer_t *x = baton;
    apr_size_t n = size * nmemb, end = n, i;
    const char *colon;
    char *name, *value;

    x->header_bytes += n;
    if (n > RTS_CURL_MAX_HEADER_LINE || x->header_bytes > RTS_CURL_MAX_HEADER_SIZE) {
        x->too_large = 1;
        return 0;
    }
    while (end > 0 && (data[end - 1] == '\r' || data[end - 1] == '\n')) {
        --end;
    }
    if (end >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new status line (e.g. after 100 Continue): only the final response's headers. */
        apr_table_clear(x->headers);
        x->nheaders = 0;
        return n;
    }
    if (end == 0 || data[0] == ' ' || data[0] == '\t') {
        return n;                   /* end of headers, or obsolete line folding: ignored */
    }
    colon = memchr(data, ':', end);
    if (colon == NULL || colon == data) {
        return n;
    }
    if (++x->nheaders > RTS_CURL_MAX_HEADERS) {
        x->too_large = 1;
        return 0;
    }
    name = apr_pstrmemdup(x->p, data, (apr_size_t)(colon - data));
    i = (apr_size_t)(colon - data) + 1;
    while (i < end && (data[i] == ' ' || data[i] == '\t')) {
        ++i;
    }
    while (end > i && (data[end - 1] == ' ' || data[end - 1] == '\t')) {
        --end;
    }
    value = apr_pstrmemdup(x->p, data + i, end - i);
    apr_table_addn(x->headers, name, value);
    return n;
}

typedef struct {
    apr_pool_t *p;
    struct curl_slist *list;
    int bad;
} rts_curl_hdrs_t;

static int rts_curl_add_header(void *baton, const char *key, const char *value)
{
    rts_curl_hdrs_t *h = baton;
    struct curl_slist *nl;
    const char *line;

    /* No header injection through CR/LF, and no empty names. */
    if (key[0] == '\0' || strpbrk(key, "\r\n: ") != NULL || strpbrk(value, "\r\n") != NULL) {
        h->bad = 1;
        return 0;
    }
    /* "Name;" is curl's way of sending a header with an empty value. */
    line = value[0] ? apr_pstrcat(h->p, key, ": ", value, NULL) : apr_pstrcat(h->p, key, ";", NULL);
    if ((nl = curl_slist_append(h->list, line)) == NULL) {
        h->bad = 1;
        return 0;
    }
    h->list = nl;
    return 1;
}

static CURL *rts_curl_acquire(rts_curl_t *c)
{
    CURL *h = NULL;

    apr_thread_mutex_lock(c->lock);
    if (c->idle->nelts > 0) {
        h = *(CURL **)apr_array_pop(c->idle);
    }
    apr_thread_mutex_unlock(c->lock);
    if (h == NULL) {
        h = curl_easy_init();
    }
    else {
        /* Options go, the connection cache stays. */
        curl_easy_reset(h);
    }
    return h;
}

static void rts_curl_release(rts_curl_t *c, CURL *h)
{
    apr_thread_mutex_lock(c->lock);
    APR_ARRAY_PUSH(c->idle, CURL *) = h;
    apr_thread_mutex_unlock(c->lock);
}

static long rts_curl_ms(apr_interval_time_t t)
{
    apr_interval_time_t ms = apr_time_as_msec(t);
    return ms < 1 ? 1 : (long)ms;
}

static apr_status_t rts_curl_perform(rts_http_t *http, apr_pool_t *p,
                                     const rts_http_request_t *req, rts_http_response_t **presp)
{
    rts_curl_t *c = http->impl;
    rts_curl_xfer_t x;
    rts_curl_hdrs_t hdrs;
    rts_http_response_t *resp;
    CURL *h;
    CURLcode cc = CURLE_OK;
    long status = 0;
    long sent = 0;
    int is_post;

    *presp = NULL;
    if (req == NULL || req->url == NULL || req->method == NULL || req->timeout <= 0
        || req->connect_timeout <= 0 || (req->body == NULL && req->body_len > 0)) {
        return APR_EINVAL;
    }
    if (strcmp(req->method, "POST") == 0) {
        is_post = 1;
    }
    else if (strcmp(req->method, "GET") == 0) {
        is_post = 0;
    }
    else {
        return APR_ENOTIMPL;
    }

    memset(&x, 0, sizeof(x));
    x.p = p;
    x.max = req->max_response;
    x.headers = apr_table_make(p, 16);

    memset(&hdrs, 0, sizeof(hdrs));
    hdrs.p = p;
    if (req->headers != NULL) {
        apr_table_do(rts_curl_add_header, &hdrs, req->headers, NULL);
    }
    /* No "Expect: 100-continue" round trip before a POST body. */
    if (!hdrs.bad && is_post) {
        struct curl_slist *nl = curl_slist_append(hdrs.list, "Expect:");
        if (nl == NULL) {
            hdrs.bad = 1;
        }
        else {
            hdrs.list = nl;
        }
    }
    if (hdrs.bad) {
        curl_slist_free_all(hdrs.list);
        return APR_EINVAL;
    }

    if ((h = rts_curl_acquire(c)) == NULL) {
        curl_slist_free_all(hdrs.list);
        return APR_ENOMEM;
    }

#define RTS_CURL_SET(opt, val) \
    do { if (cc == CURLE_OK) { cc = curl_easy_setopt(h, opt, val); } } while (0)
    RTS_CURL_SET(CURLOPT_URL, req->url);
    RTS_CURL_SET(CURLOPT_PROTOCOLS_STR, "https,http");
    RTS_CURL_SET(CURLOPT_NOSIGNAL, 1L);
    RTS_CURL_SET(CURLOPT_FOLLOWLOCATION, 0L);
    RTS_CURL_SET(CURLOPT_SSL_VERIFYPEER, 1L);
    RTS_CURL_SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file != NULL) {
        RTS_CURL_SET(CURLOPT_CAINFO, c->ca_file);
    }
    RTS_CURL_SET(CURLOPT_TIMEOUT_MS, rts_curl_ms(req->timeout));
    RTS_CURL_SET(CURLOPT_CONNECTTIMEOUT_MS, rts_curl_ms(req->connect_timeout));
    /* Refuses early when Content-Length already says too much. */
    RTS_CURL_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response);
    RTS_CURL_SET(CURLOPT_USERAGENT, "mod_rtsession");
    RTS_CURL_SET(CURLOPT_WRITEFUNCTION, rts_curl_on_body);
    RTS_CURL_SET(CURLOPT_WRITEDATA, &x);
    RTS_CURL_SET(CURLOPT_HEADERFUNCTION, rts_curl_on_header);
    RTS_CURL_SET(CURLOPT_HEADERDATA, &x);
    if (hdrs.list != NULL) {
        RTS_CURL_SET(CURLOPT_HTTPHEADER, hdrs.list);
    }
    if (req->once) {
        /* libcurl re-sends a request on a fresh connection by itself when a reused connection
         * dies before the first answer byte (Curl_retry_request). For a request that spends a
         * refresh token or a code, that re-presents it milliseconds later: a reuse to the
         * provider. A connection that was never used before cannot be "reused and dead", and
         * one that is never kept cannot be found dead by the next such request. */
        RTS_CURL_SET(CURLOPT_FRESH_CONNECT, 1L);
        RTS_CURL_SET(CURLOPT_FORBID_REUSE, 1L);
    }
    if (is_post) {
        RTS_CURL_SET(CURLOPT_POST, 1L);
        RTS_CURL_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        RTS_CURL_SET(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
    }
    else {
        RTS_CURL_SET(CURLOPT_HTTPGET, 1L);
    }
#undef RTS_CURL_SET

    if (cc == CURLE_OK) {
        cc = curl_easy_perform(h);
    }
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
    else if (curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK) {
        sent = 1;                   /* unknown: assume sent, the safe side */
    }
    /* The handle must not keep pointers into this request's memory. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
    rts_curl_release(c, h);
    curl_slist_free_all(hdrs.list);

    if (cc != CURLE_OK) {
        return rts_curl_status(cc, &x, (curl_off_t)sent);
    }
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = (int)status;
    resp->headers = x.headers;
    if (x.body == NULL) {
        x.body = apr_pcalloc(p, 1);
    }
    x.body[x.len] = '\0';
    resp->body = x.body;
    resp->body_len = x.len;
    *presp = resp;
    return APR_SUCCESS;
}

static apr_status_t rts_curl_cleanup(void *data)
{
    rts_curl_t *c = data;
    int i;

    for (i = 0; i < c->idle->nelts; ++i) {
        curl_easy_cleanup(APR_ARRAY_IDX(c->idle, i, CURL *));
    }
    c->idle->nelts = 0;
    return APR_SUCCESS;
}

apr_status_t rts_http_curl_create(apr_pool_t *pool, const char *ca_file, struct rts_http_t **phttp)
{
    rts_curl_t *c;
    rts_http_t *http;
    apr_status_t rv;

    *phttp = NULL;
    c = apr_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    c->ca_file = ca_file != NULL ? apr_pstrdup(pool, ca_file) : NULL;
    c->idle = apr_array_make(pool, 8, sizeof(CURL *));
    if ((rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, pool)) != APR_SUCCESS) {
        return rv;
    }
    /* Registered after the mutex, so it runs before the mutex is destroyed. */
    apr_pool_cleanup_register(pool, c, rts_curl_cleanup, apr_pool_cleanup_null);

    http = apr_pcalloc(pool, sizeof(*http));
    http->perform = rts_curl_perform;
    http->impl = c;
    *phttp = http;
    return APR_SUCCESS;
}

apr_status_t rts_http_curl_global_init(void)
{
    static int done;

    /* Called before threads exist (post_config), so a plain flag is enough. */
    if (done) {
        return APR_SUCCESS;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return RTS_ECONFIG;
    }
    done = 1;
    return APR_SUCCESS;
}
