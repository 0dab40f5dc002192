/* SPDX-License-Identifier: Apache-2.0 */
/* Canned-response rts_http_t with request capture. See fake_http.h. */
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>

#include "fake_http.h"

typedef struct {
    apr_status_t rv;                /* not APR_SUCCESS: a transport failure */
    int status;
    apr_table_t *headers;
    const char *body;
    apr_size_t body_len;
    apr_interval_time_t delay;
} fake_answer_t;

struct fake_http_t {
    rts_http_t http;
    apr_pool_t *pool;
    apr_array_header_t *answers;    /* fake_answer_t */
    int next;                       /* index of the next answer */
    apr_array_header_t *requests;   /* rts_http_request_t * */
    unsigned unexpected;
    fake_http_hook_fn *hook;
    void *hook_baton;
    apr_time_t *now;                /* moved by delayed answers, NULL: delays ignored */
};

static apr_status_t fake_perform(rts_http_t *http, apr_pool_t *p, const rts_http_request_t *req,
                                 rts_http_response_t **presp)
{
    fake_http_t *fh = http->impl;
    rts_http_request_t *copy;
    const fake_answer_t *a;
    rts_http_response_t *resp;

    *presp = NULL;
    copy = apr_pcalloc(fh->pool, sizeof(*copy));
    *copy = *req;
    copy->method = req->method ? apr_pstrdup(fh->pool, req->method) : NULL;
    copy->url = req->url ? apr_pstrdup(fh->pool, req->url) : NULL;
    copy->headers = apr_table_make(fh->pool, 4);
    if (req->headers != NULL) {
        const apr_array_header_t *arr = apr_table_elts(req->headers);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        int i;
        for (i = 0; i < arr->nelts; ++i) {
            apr_table_add(copy->headers, e[i].key, e[i].val);
        }
    }
    copy->body = req->body ? apr_pstrmemdup(fh->pool, req->body, req->body_len) : NULL;
    APR_ARRAY_PUSH(fh->requests, rts_http_request_t *) = copy;

    if (fh->hook != NULL) {
        fh->hook(fh, copy, fh->hook_baton);
    }
    if (fh->next >= fh->answers->nelts) {
        fh->unexpected++;
        return APR_EGENERAL;
    }
    a = &APR_ARRAY_IDX(fh->answers, fh->next, fake_answer_t);
    fh->next++;
    if (a->delay > 0 && fh->now != NULL) {
        if (a->delay >= req->timeout) {
            *fh->now += req->timeout;
            return APR_TIMEUP;
        }
        *fh->now += a->delay;
    }
    if (a->rv != APR_SUCCESS) {
        return a->rv;
    }
    if (a->body_len > req->max_response) {
        return RTS_ETOOLARGE;
    }
    resp = apr_pcalloc(p, sizeof(*resp));
    resp->status = a->status;
    resp->headers = apr_table_copy(p, a->headers);
    resp->body = apr_pstrmemdup(p, a->body ? a->body : "", a->body_len);
    resp->body_len = a->body_len;
    *presp = resp;
    return APR_SUCCESS;
}

fake_http_t *fake_http_create(apr_pool_t *p)
{
    fake_http_t *fh;
    apr_pool_t *sub;

    apr_pool_create(&sub, p);
    fh = apr_pcalloc(sub, sizeof(*fh));
    fh->pool = sub;
    fh->answers = apr_array_make(sub, 4, sizeof(fake_answer_t));
    fh->requests = apr_array_make(sub, 4, sizeof(rts_http_request_t *));
    fh->http.perform = fake_perform;
    fh->http.impl = fh;
    return fh;
}

rts_http_t *fake_http_client(fake_http_t *fh)
{
    return &fh->http;
}

void fake_http_push_table(fake_http_t *fh, int status, apr_table_t *headers, const char *body,
                          apr_size_t body_len)
{
    fake_answer_t *a = apr_array_push(fh->answers);

    memset(a, 0, sizeof(*a));
    a->rv = APR_SUCCESS;
    a->status = status;
    a->headers = apr_table_make(fh->pool, 4);
    if (headers != NULL) {
        const apr_array_header_t *arr = apr_table_elts(headers);
        const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
        int i;
        for (i = 0; i < arr->nelts; ++i) {
            apr_table_add(a->headers, e[i].key, e[i].val);
        }
    }
    a->body = body ? apr_pstrmemdup(fh->pool, body, body_len) : NULL;
    a->body_len = body ? body_len : 0;
}

void fake_http_push(fake_http_t *fh, int status, const char *body, ...)
{
    apr_table_t *headers = apr_table_make(fh->pool, 4);
    const char *name;
    va_list ap;

    va_start(ap, body);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        apr_table_add(headers, name, value);
    }
    va_end(ap);
    fake_http_push_table(fh, status, headers, body, body ? strlen(body) : 0);
}

void fake_http_push_error(fake_http_t *fh, apr_status_t rv)
{
    fake_answer_t *a = apr_array_push(fh->answers);

    memset(a, 0, sizeof(*a));
    a->rv = rv;
}

unsigned fake_http_count(const fake_http_t *fh)
{
    return (unsigned)fh->requests->nelts;
}

const rts_http_request_t *fake_http_request(const fake_http_t *fh, unsigned i)
{
    if (i >= (unsigned)fh->requests->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(fh->requests, i, rts_http_request_t *);
}

const rts_http_request_t *fake_http_last(const fake_http_t *fh)
{
    if (fh->requests->nelts == 0) {
        return NULL;
    }
    return APR_ARRAY_IDX(fh->requests, fh->requests->nelts - 1, rts_http_request_t *);
}

unsigned fake_http_pending(const fake_http_t *fh)
{
    return (unsigned)(fh->answers->nelts - fh->next);
}

unsigned fake_http_unexpected(const fake_http_t *fh)
{
    return fh->unexpected;
}

void fake_http_set_hook(fake_http_t *fh, fake_http_hook_fn *fn, void *baton)
{
    fh->hook = fn;
    fh->hook_baton = baton;
}

void fake_http_use_clock(fake_http_t *fh, apr_time_t *now)
{
    fh->now = now;
}

void fake_http_delay_last(fake_http_t *fh, apr_interval_time_t delay)
{
    if (fh->answers->nelts > 0) {
        APR_ARRAY_IDX(fh->answers, fh->answers->nelts - 1, fake_answer_t).delay = delay;
    }
}
