/* SPDX-License-Identifier: Apache-2.0 */
/* The libcurl client against a small HTTP/1.1 server on loopback, run in a thread of the test
 * (plain POSIX sockets), plus the fake client's own behaviour. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include "test_common.h"
#include "rts.h"
#include "rts_http.h"
#include "fakes/fake_http.h"

typedef enum {
    SRV_OK,             /* 200, two headers, "hello world", keep-alive */
    SRV_500,            /* 500 with a body */
    SRV_SLOW,           /* reads the request, never answers in time */
    SRV_BIG_CLOSE,      /* 200, 100000 bytes, no Content-Length, close-delimited */
    SRV_BIG_LENGTH,     /* 200, Content-Length: 100000 */
    SRV_REDIRECT,       /* 302 to elsewhere */
    SRV_DROP_LATER      /* the first request: as SRV_OK (kept alive); every later one is read
                         * and its connection closed without an answer (the answer lost) */
} srv_mode_t;

typedef struct {
    int lfd;
    int port;
    srv_mode_t mode;
    pthread_t thread;
    pthread_mutex_t lock;
    volatile int stop;
    int connections;
    int requests;
    char last[16384];           /* the last request, head and body */
    size_t last_len;
} srv_t;

static int srv_wait(srv_t *srv, int fd)
{
    struct pollfd pfd;

    pfd.fd = fd;
    pfd.events = POLLIN;
    while (!srv->stop) {
        int n = poll(&pfd, 1, 50);
        if (n > 0) {
            return 1;
        }
        if (n < 0 && errno != EINTR) {
            return 0;
        }
    }
    return 0;
}

static void srv_send(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

/* Reads one request into buf; its total length, or 0 when the peer closed or we stop. */
static size_t srv_read_request(srv_t *srv, int fd, char *buf, size_t cap)
{
    size_t len = 0, need = 0;
    char *end;

    for (;;) {
        ssize_t n;
        if (need == 0 && (end = memmem(buf, len, "\r\n\r\n", 4)) != NULL) {
            const char *cl;
            size_t head = (size_t)(end - buf) + 4;
            buf[len] = '\0';
            cl = strcasestr(buf, "\r\nContent-Length:");
            need = head + (cl != NULL && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0);
        }
        if (need > 0 && len >= need) {
            return need;
        }
        if (len + 1 >= cap || !srv_wait(srv, fd)) {
            return 0;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) {
            return 0;
        }
        len += (size_t)n;
        if ((unsigned char)buf[0] == 0x16) {
            /* A TLS ClientHello: answer in plain text, as a misconfigured server would. */
            const char *resp = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
            srv_send(fd, resp, strlen(resp));
            return 0;
        }
    }
}

static void *srv_main(void *baton)
{
    srv_t *srv = baton;
    static char buf[32768];
    char *big = malloc(100000);

    memset(big, 'x', 100000);
    while (srv_wait(srv, srv->lfd)) {
        int fd = accept(srv->lfd, NULL, NULL);
        size_t len;
        if (fd < 0) {
            continue;
        }
        pthread_mutex_lock(&srv->lock);
        srv->connections++;
        pthread_mutex_unlock(&srv->lock);
        while ((len = srv_read_request(srv, fd, buf, sizeof(buf))) > 0) {
            const char *resp;
            int close_after = 0;
            pthread_mutex_lock(&srv->lock);
            srv->requests++;
            srv->last_len = len < sizeof(srv->last) - 1 ? len : sizeof(srv->last) - 1;
            memcpy(srv->last, buf, srv->last_len);
            srv->last[srv->last_len] = '\0';
            pthread_mutex_unlock(&srv->lock);
            switch (srv->mode) {
            case SRV_OK:
                resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Test:  spaced value  \r\n"
                       "Content-Length: 11\r\n\r\nhello world";
                srv_send(fd, resp, strlen(resp));
                break;
            case SRV_500:
                resp = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops";
                srv_send(fd, resp, strlen(resp));
                break;
            case SRV_REDIRECT:
                resp = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                       "Content-Length: 5\r\n\r\nmoved";
                srv_send(fd, resp, strlen(resp));
                break;
            case SRV_DROP_LATER:
                if (srv->requests > 1) {
                    close_after = 1;
                    break;
                }
                resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                srv_send(fd, resp, strlen(resp));
                break;
            case SRV_SLOW:
                srv_wait(srv, fd);      /* until the client gives up or the test ends */
                close_after = 1;
                break;
            case SRV_BIG_CLOSE:
                resp = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
                srv_send(fd, resp, strlen(resp));
                srv_send(fd, big, 100000);
                close_after = 1;
                break;
            case SRV_BIG_LENGTH:
                resp = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
                srv_send(fd, resp, strlen(resp));
                srv_send(fd, big, 100000);
                break;
            }
            if (close_after) {
                break;
            }
        }
        close(fd);
    }
    free(big);
    return NULL;
}

static srv_t *srv_start(srv_mode_t mode)
{
    srv_t *srv = apr_pcalloc(rts_test_pool, sizeof(*srv));
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int one = 1;

    srv->mode = mode;
    pthread_mutex_init(&srv->lock, NULL);
    srv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(srv->lfd, 0);
    setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(srv->lfd, (struct sockaddr *)&sa, &slen), 0);
    ck_assert_int_eq(listen(srv->lfd, 8), 0);
    srv->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&srv->thread, NULL, srv_main, srv), 0);
    return srv;
}

static void srv_stop(srv_t *srv)
{
    srv->stop = 1;
    pthread_join(srv->thread, NULL);
    close(srv->lfd);
    pthread_mutex_destroy(&srv->lock);
}

static rts_http_t *client(void)
{
    rts_http_t *http = NULL;

    ck_assert_int_eq(rts_http_curl_create(rts_test_pool, NULL, &http), APR_SUCCESS);
    return http;
}

static rts_http_request_t *get_req(srv_t *srv, const char *path)
{
    rts_http_request_t *req = apr_pcalloc(rts_test_pool, sizeof(*req));

    req->method = "GET";
    req->url = apr_psprintf(rts_test_pool, "http://127.0.0.1:%d%s", srv ? srv->port : 1, path);
    req->timeout = apr_time_from_sec(5);
    req->connect_timeout = apr_time_from_sec(2);
    req->max_response = 65536;
    return req;
}

START_TEST(test_http_curl_get_200)
{
    srv_t *srv = srv_start(SRV_OK);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    apr_status_t rv;

    rv = http->perform(http, rts_test_pool, get_req(srv, "/hello"), &resp);
    srv_stop(srv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(resp);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_uint_eq(resp->body_len, 11);
    ck_assert_str_eq(resp->body, "hello world");
    ck_assert_str_eq(apr_table_get(resp->headers, "Content-Type"), "text/plain");
    ck_assert_str_eq(apr_table_get(resp->headers, "x-test"), "spaced value");
    ck_assert_ptr_null(apr_table_get(resp->headers, "HTTP/1.1 200 OK"));
    ck_assert_ptr_nonnull(strstr(srv->last, "GET /hello HTTP/1.1\r\n"));
}
END_TEST

START_TEST(test_http_curl_500_is_response)
{
    srv_t *srv = srv_start(SRV_500);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    apr_status_t rv;

    rv = http->perform(http, rts_test_pool, get_req(srv, "/"), &resp);
    srv_stop(srv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(resp->status, 500);
    ck_assert_str_eq(resp->body, "oops");
}
END_TEST

START_TEST(test_http_curl_timeout)
{
    srv_t *srv = srv_start(SRV_SLOW);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    rts_http_request_t *req = get_req(srv, "/slow");
    apr_time_t start, took;
    apr_status_t rv;

    req->timeout = apr_time_from_msec(300);
    start = apr_time_now();
    rv = http->perform(http, rts_test_pool, req, &resp);
    took = apr_time_now() - start;
    srv_stop(srv);
    ck_assert_int_eq(rv, APR_TIMEUP);
    ck_assert_ptr_null(resp);
    ck_assert_msg(took >= apr_time_from_msec(250) && took < apr_time_from_msec(1500),
                  "took %" APR_TIME_T_FMT " us", took);
}
END_TEST

START_TEST(test_http_curl_refused)
{
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    rts_http_request_t *req;
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    apr_time_t start;

    /* A port that was just free: nobody listens there. */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    close(fd);
    req = get_req(NULL, "/");
    req->url = apr_psprintf(rts_test_pool, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
    start = apr_time_now();
    ck_assert_int_eq(http->perform(http, rts_test_pool, req, &resp), APR_ECONNREFUSED);
    ck_assert_ptr_null(resp);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_sec(1));
}
END_TEST

START_TEST(test_http_curl_too_large)
{
    srv_t *srv = srv_start(SRV_BIG_CLOSE);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    rts_http_request_t *req = get_req(srv, "/big");
    apr_status_t rv;

    req->max_response = 4096;
    rv = http->perform(http, rts_test_pool, req, &resp);
    srv_stop(srv);
    ck_assert_int_eq(rv, RTS_ETOOLARGE);
    ck_assert_ptr_null(resp);
}
END_TEST

START_TEST(test_http_curl_too_large_length)
{
    srv_t *srv = srv_start(SRV_BIG_LENGTH);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    rts_http_request_t *req = get_req(srv, "/big");
    apr_status_t rv;

    req->max_response = 4096;
    rv = http->perform(http, rts_test_pool, req, &resp);
    ck_assert_int_eq(rv, RTS_ETOOLARGE);
    /* the same size passes when allowed */
    req->max_response = 100000;
    rv = http->perform(http, rts_test_pool, req, &resp);
    srv_stop(srv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_uint_eq(resp->body_len, 100000);
    ck_assert_int_eq(resp->body[100000], '\0');
}
END_TEST

START_TEST(test_http_curl_no_redirect)
{
    srv_t *srv = srv_start(SRV_REDIRECT);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    apr_status_t rv;

    rv = http->perform(http, rts_test_pool, get_req(srv, "/r"), &resp);
    srv_stop(srv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(resp->status, 302);
    ck_assert_str_eq(apr_table_get(resp->headers, "Location"), "http://127.0.0.1:1/elsewhere");
    ck_assert_str_eq(resp->body, "moved");
    ck_assert_int_eq(srv->requests, 1);
}
END_TEST

START_TEST(test_http_curl_post)
{
    srv_t *srv = srv_start(SRV_OK);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    rts_http_request_t *req = get_req(srv, "/token");
    const char *body = "grant_type=refresh_token&refresh_token=abc";
    apr_status_t rv;

    req->method = "POST";
    req->body = body;
    req->body_len = strlen(body);
    req->headers = apr_table_make(rts_test_pool, 2);
    apr_table_set(req->headers, "Content-Type", "application/x-www-form-urlencoded");
    apr_table_set(req->headers, "X-Custom", "custom-value");
    rv = http->perform(http, rts_test_pool, req, &resp);
    srv_stop(srv);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_ptr_nonnull(strstr(srv->last, "POST /token HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(srv->last, "\r\nX-Custom: custom-value\r\n"));
    ck_assert_ptr_nonnull(strstr(srv->last,
                                 "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    ck_assert_ptr_nonnull(strcasestr(srv->last, "\r\nContent-Length: 42\r\n"));
    ck_assert_ptr_null(strcasestr(srv->last, "Expect:"));
    ck_assert_str_eq(srv->last + srv->last_len - strlen(body), body);
}
END_TEST

START_TEST(test_http_curl_keepalive_reuse)
{
    srv_t *srv = srv_start(SRV_OK);
    rts_http_t *http = client();
    rts_http_response_t *r1 = NULL, *r2 = NULL;
    apr_status_t rv1, rv2;

    rv1 = http->perform(http, rts_test_pool, get_req(srv, "/one"), &r1);
    rv2 = http->perform(http, rts_test_pool, get_req(srv, "/two"), &r2);
    srv_stop(srv);
    ck_assert_int_eq(rv1, APR_SUCCESS);
    ck_assert_int_eq(rv2, APR_SUCCESS);
    ck_assert_str_eq(r2->body, "hello world");
    ck_assert_int_eq(srv->requests, 2);
    ck_assert_int_eq(srv->connections, 1);
    ck_assert_ptr_nonnull(strstr(srv->last, "GET /two "));
}
END_TEST

static rts_http_request_t *token_post(srv_t *srv)
{
    rts_http_request_t *req = get_req(srv, "/token");

    req->method = "POST";
    req->body = "grant_type=refresh_token&refresh_token=RT1";
    req->body_len = strlen(req->body);
    req->once = 1;
    return req;
}

/* The answer to a token request is lost (the connection closes after the request arrived):
 * the client must not send it again by itself, and must report "sent, outcome unknown". */
START_TEST(test_http_curl_once_never_resent)
{
    srv_t *srv = srv_start(SRV_DROP_LATER);
    rts_http_t *http = client();
    rts_http_response_t *r1 = NULL, *r2 = NULL;
    apr_status_t rv1, rv2;

    rv1 = http->perform(http, rts_test_pool, token_post(srv), &r1);
    rv2 = http->perform(http, rts_test_pool, token_post(srv), &r2);
    srv_stop(srv);
    ck_assert_int_eq(rv1, APR_SUCCESS);
    ck_assert_int_eq(r1->status, 200);
    ck_assert_int_eq(srv->requests, 2);             /* before: 3, the lost one re-sent */
    ck_assert_int_eq(srv->connections, 2);          /* one connection per token request */
    ck_assert_ptr_null(r2);
    ck_assert_int_ne(rv2, APR_SUCCESS);
    ck_assert_int_ne(rv2, APR_ECONNREFUSED);        /* it was sent: not "never sent" */
}
END_TEST

START_TEST(test_http_curl_bad_request)
{
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    rts_http_request_t *req = get_req(NULL, "/");

    req->timeout = 0;
    ck_assert_int_eq(http->perform(http, rts_test_pool, req, &resp), APR_EINVAL);
    req = get_req(NULL, "/");
    req->headers = apr_table_make(rts_test_pool, 1);
    apr_table_set(req->headers, "X-Evil", "a\r\nInjected: yes");
    ck_assert_int_eq(http->perform(http, rts_test_pool, req, &resp), APR_EINVAL);
    req = get_req(NULL, "/");
    req->url = "ftp://127.0.0.1/";
    ck_assert_int_eq(http->perform(http, rts_test_pool, req, &resp), APR_EINVAL);
    ck_assert_ptr_null(resp);
}
END_TEST

START_TEST(test_http_curl_tls_to_plain)
{
    srv_t *srv = srv_start(SRV_OK);
    rts_http_t *http = client();
    rts_http_response_t *resp = NULL;
    rts_http_request_t *req = get_req(srv, "/");
    apr_status_t rv;

    /* A TLS handshake against a plain HTTP server fails before the request leaves: "never
     * sent", safe to retry. */
    req->url = apr_psprintf(rts_test_pool, "https://127.0.0.1:%d/", srv->port);
    rv = http->perform(http, rts_test_pool, req, &resp);
    srv_stop(srv);
    ck_assert_int_eq(rv, APR_ECONNREFUSED);
    ck_assert_ptr_null(resp);
}
END_TEST

START_TEST(test_http_curl_global_init)
{
    ck_assert_int_eq(rts_http_curl_global_init(), APR_SUCCESS);
    ck_assert_int_eq(rts_http_curl_global_init(), APR_SUCCESS);
}
END_TEST

/* ---------------------------------------------------------------- the fake */

START_TEST(test_http_fake_queue_and_capture)
{
    fake_http_t *fh = fake_http_create(rts_test_pool);
    rts_http_t *http = fake_http_client(fh);
    rts_http_response_t *resp = NULL;
    rts_http_request_t req;
    apr_pool_t *reqpool;
    const rts_http_request_t *seen;
    char body[] = "code=abc";

    fake_http_push(fh, 200, "{\"ok\":true}", "Content-Type", "application/json", NULL);
    fake_http_push_error(fh, APR_TIMEUP);
    fake_http_push(fh, 400, "{\"error\":\"invalid_grant\"}", NULL);
    ck_assert_uint_eq(fake_http_pending(fh), 3);

    apr_pool_create(&reqpool, rts_test_pool);
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = apr_pstrdup(reqpool, "https://op.example/token");
    req.headers = apr_table_make(reqpool, 1);
    apr_table_set(req.headers, "Authorization", "Basic Y2xpZW50OnNlY3JldA==");
    req.body = body;
    req.body_len = strlen(body);
    req.timeout = req.connect_timeout = apr_time_from_sec(1);
    req.max_response = 1024;

    ck_assert_int_eq(http->perform(http, rts_test_pool, &req, &resp), APR_SUCCESS);
    ck_assert_int_eq(resp->status, 200);
    ck_assert_str_eq(resp->body, "{\"ok\":true}");
    ck_assert_str_eq(apr_table_get(resp->headers, "content-type"), "application/json");
    ck_assert_int_eq(http->perform(http, rts_test_pool, &req, &resp), APR_TIMEUP);
    ck_assert_ptr_null(resp);
    ck_assert_int_eq(http->perform(http, rts_test_pool, &req, &resp), APR_SUCCESS);
    ck_assert_int_eq(resp->status, 400);
    ck_assert_int_eq(http->perform(http, rts_test_pool, &req, &resp), APR_EGENERAL);
    ck_assert_uint_eq(fake_http_unexpected(fh), 1);
    ck_assert_uint_eq(fake_http_count(fh), 4);
    ck_assert_uint_eq(fake_http_pending(fh), 0);

    /* captured copies outlive the caller's memory */
    body[0] = 'X';
    apr_pool_destroy(reqpool);
    seen = fake_http_request(fh, 0);
    ck_assert_ptr_nonnull(seen);
    ck_assert_str_eq(seen->method, "POST");
    ck_assert_str_eq(seen->url, "https://op.example/token");
    ck_assert_str_eq(apr_table_get(seen->headers, "Authorization"), "Basic Y2xpZW50OnNlY3JldA==");
    ck_assert_uint_eq(seen->body_len, 8);
    ck_assert_str_eq(seen->body, "code=abc");
    ck_assert_ptr_eq(fake_http_last(fh), fake_http_request(fh, 3));
    ck_assert_ptr_null(fake_http_request(fh, 4));
}
END_TEST

static void count_hook(fake_http_t *fh, const rts_http_request_t *req, void *baton)
{
    (*(int *)baton)++;
}

START_TEST(test_http_fake_limit_and_hook)
{
    fake_http_t *fh = fake_http_create(rts_test_pool);
    rts_http_t *http = fake_http_client(fh);
    rts_http_response_t *resp = NULL;
    rts_http_request_t req;
    int calls = 0;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "https://op.example/jwks";
    req.timeout = req.connect_timeout = apr_time_from_sec(1);
    req.max_response = 4;
    fake_http_set_hook(fh, count_hook, &calls);
    fake_http_push(fh, 200, "12345", NULL);
    ck_assert_int_eq(http->perform(http, rts_test_pool, &req, &resp), RTS_ETOOLARGE);
    ck_assert_int_eq(calls, 1);
    ck_assert_ptr_nonnull(fake_http_last(fh)->headers);
    ck_assert_ptr_null(fake_http_last(fh)->body);
}
END_TEST

Suite *rts_suite_http(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("curl");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_http_curl_get_200);
    tcase_add_test(tc, test_http_curl_500_is_response);
    tcase_add_test(tc, test_http_curl_timeout);
    tcase_add_test(tc, test_http_curl_refused);
    tcase_add_test(tc, test_http_curl_too_large);
    tcase_add_test(tc, test_http_curl_too_large_length);
    tcase_add_test(tc, test_http_curl_no_redirect);
    tcase_add_test(tc, test_http_curl_post);
    tcase_add_test(tc, test_http_curl_keepalive_reuse);
    tcase_add_test(tc, test_http_curl_once_never_resent);
    tcase_add_test(tc, test_http_curl_bad_request);
    tcase_add_test(tc, test_http_curl_tls_to_plain);
    tcase_add_test(tc, test_http_curl_global_init);
    suite_add_tcase(s, tc);

    tc = tcase_create("fake");
    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_http_fake_queue_and_capture);
    tcase_add_test(tc, test_http_fake_limit_and_hook);
    suite_add_tcase(s, tc);
    return s;
}
