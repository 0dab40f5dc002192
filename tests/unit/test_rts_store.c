/* SPDX-License-Identifier: Apache-2.0 */
/* The store: the in-memory fake's memcached semantics (always), the memcached implementation's
 * configuration checks and dead-server behaviour (always, loopback only), and the memcached
 * implementation against a live server when RTS_TEST_MEMCACHED=host:port is set (make check
 * starts one: unit/with_memcached.sh). In CI (CI=true) its absence is a failure, not a skip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "test_common.h"
#include "rts.h"
#include "rts_store.h"
#include "fakes/fake_store.h"
#include "fakes/fake_mcserver.h"

/* ---------------------------------------------------------------- the fake */

static apr_time_t fake_clock_now;

static fake_store_t *fake_new(void)
{
    fake_store_t *fs = fake_store_create(rts_test_pool);

    fake_clock_now = apr_time_from_sec(1700000000);
    fake_store_use_time(fs, &fake_clock_now);
    return fs;
}

START_TEST(test_store_fake_get_set)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    const char *val = NULL;
    apr_size_t len = 0;
    apr_uint64_t cas = 0;

    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k1", &val, &len, &cas), APR_ENOENT);
    ck_assert_int_eq(s->set(s, NULL, "k1", "a\0b", 3, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k1", &val, &len, &cas), APR_SUCCESS);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(val, "a\0b", 3);
    ck_assert_int_eq(val[3], '\0');
    ck_assert_uint_ne(cas, 0);
    /* pcas and plen may be NULL */
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k1", &val, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, "k1", "xyz", 3, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k1", &val, &len, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "xyz");
}
END_TEST

START_TEST(test_store_fake_add_conflict)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    const char *val;

    ck_assert_int_eq(s->add(s, NULL, "lock", "1", 1, 10), APR_SUCCESS);
    ck_assert_int_eq(s->add(s, NULL, "lock", "2", 1, 10), APR_EEXIST);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "lock", &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "1");
    /* an expired key can be added again */
    fake_clock_now += apr_time_from_sec(10);
    ck_assert_int_eq(s->add(s, NULL, "lock", "3", 1, 10), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "lock", &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "3");
}
END_TEST

START_TEST(test_store_fake_cas)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    apr_uint64_t cas1, cas2, cas3;
    const char *val;

    ck_assert_int_eq(s->set(s, NULL, "s", "v1", 2, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "s", NULL, NULL, &cas1), APR_SUCCESS);
    ck_assert_int_eq(s->cas(s, NULL, "s", "v2", 2, 60, cas1), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "s", &val, NULL, &cas2), APR_SUCCESS);
    ck_assert_str_eq(val, "v2");
    ck_assert_uint_gt(cas2, cas1);
    /* the old unique no longer matches */
    ck_assert_int_eq(s->cas(s, NULL, "s", "v3", 2, 60, cas1), APR_EEXIST);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "s", &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "v2");
    /* a write to another key also moves the shared counter, as in memcached */
    ck_assert_int_eq(s->set(s, NULL, "other", "x", 1, 60), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, "s", "v4", 2, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "s", NULL, NULL, &cas3), APR_SUCCESS);
    ck_assert_uint_gt(cas3, cas2 + 1);
    /* gone: ENOENT, and cas does not create */
    ck_assert_int_eq(s->del(s, NULL, "s"), APR_SUCCESS);
    ck_assert_int_eq(s->cas(s, NULL, "s", "v5", 2, 60, cas3), APR_ENOENT);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "s", NULL, NULL, NULL), APR_ENOENT);
    /* expired counts as gone */
    ck_assert_int_eq(s->set(s, NULL, "e", "v", 1, 5), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "e", NULL, NULL, &cas1), APR_SUCCESS);
    fake_clock_now += apr_time_from_sec(5);
    ck_assert_int_eq(s->cas(s, NULL, "e", "w", 1, 5, cas1), APR_ENOENT);
}
END_TEST

START_TEST(test_store_fake_del_touch)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    apr_uint64_t cas1, cas2;
    apr_time_t expires;

    ck_assert_int_eq(s->del(s, NULL, "nope"), APR_ENOENT);
    ck_assert_int_eq(s->touch(s, NULL, "nope", 10), APR_ENOENT);
    ck_assert_int_eq(s->set(s, NULL, "t", "v", 1, 10), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "t", NULL, NULL, &cas1), APR_SUCCESS);
    fake_clock_now += apr_time_from_sec(9);
    ck_assert_int_eq(s->touch(s, NULL, "t", 10), APR_SUCCESS);
    /* touch keeps the CAS unique (memcached 1.6 does; see the live test) */
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "t", NULL, NULL, &cas2), APR_SUCCESS);
    ck_assert_uint_eq(cas1, cas2);
    ck_assert_int_eq(s->cas(s, NULL, "t", "w", 1, 10, cas1), APR_SUCCESS);
    ck_assert_int_eq(fake_store_peek(fs, rts_test_pool, "t", NULL, NULL, NULL, &expires),
                     APR_SUCCESS);
    ck_assert_int_eq(expires, fake_clock_now + apr_time_from_sec(10));
    fake_clock_now += apr_time_from_sec(9);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "t", NULL, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, NULL, "t"), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, NULL, "t"), APR_ENOENT);
}
END_TEST

START_TEST(test_store_fake_ttl)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);

    ck_assert_int_eq(s->set(s, NULL, "short", "v", 1, 2), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, "forever", "v", 1, 0), APR_SUCCESS);
    ck_assert_uint_eq(fake_store_size(fs), 2);
    fake_clock_now += apr_time_from_sec(2) - 1;
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "short", NULL, NULL, NULL), APR_SUCCESS);
    fake_clock_now += 1;
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "short", NULL, NULL, NULL), APR_ENOENT);
    ck_assert_int_eq(s->touch(s, NULL, "short", 10), APR_ENOENT);
    fake_clock_now += apr_time_from_sec(86400 * 365);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "forever", NULL, NULL, NULL), APR_SUCCESS);
    ck_assert_uint_eq(fake_store_size(fs), 1);
}
END_TEST

static apr_time_t test_clock_fn(void *baton)
{
    return *(apr_time_t *)baton;
}

START_TEST(test_store_fake_clock_fn)
{
    fake_store_t *fs = fake_store_create(rts_test_pool);
    rts_store_t *s = fake_store_store(fs);
    apr_time_t t = apr_time_from_sec(1000);

    fake_store_use_clock(fs, test_clock_fn, &t);
    ck_assert_int_eq(s->set(s, NULL, "k", "v", 1, 3), APR_SUCCESS);
    t += apr_time_from_sec(2);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), APR_SUCCESS);
    t += apr_time_from_sec(1);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), APR_ENOENT);
}
END_TEST

START_TEST(test_store_fake_faults)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    const char *val;

    ck_assert_int_eq(s->set(s, NULL, "k", "v1", 2, 60), APR_SUCCESS);
    fake_store_fail_next(fs, 2, FAKE_STORE_OP_SET, APR_TIMEUP);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, "k", "v2", 2, 60), APR_TIMEUP);
    ck_assert_int_eq(s->add(s, NULL, "k2", "x", 1, 60), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, "k", "v3", 2, 60), APR_TIMEUP);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "v1");            /* failed writes changed nothing */
    ck_assert_int_eq(s->set(s, NULL, "k", "v4", 2, 60), APR_SUCCESS);

    fake_store_fail_next(fs, 1, FAKE_STORE_OP_ANY, RTS_ESTORE);
    ck_assert_int_eq(s->del(s, NULL, "k"), RTS_ESTORE);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "v4");

    fake_store_fail_next(fs, 5, FAKE_STORE_OP_GET, APR_ECONNREFUSED);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, NULL, NULL), APR_ECONNREFUSED);
    fake_store_fail_next(fs, 0, FAKE_STORE_OP_ANY, APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", &val, NULL, NULL), APR_SUCCESS);
}
END_TEST

START_TEST(test_store_fake_counters)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    apr_uint64_t cas;

    ck_assert_int_eq(fake_store_put(fs, "k", "v", 1, 60), APR_SUCCESS);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_ANY), 0);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, &cas), APR_SUCCESS);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_GET), 1);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_ANY), 1);
    s->set(s, NULL, "k", "v", 1, 60);
    s->add(s, NULL, "k", "v", 1, 60);
    s->add(s, NULL, "k", "v", 1, 60);
    s->cas(s, NULL, "k", "v", 1, 60, cas);
    s->del(s, NULL, "k");
    s->touch(s, NULL, "k", 60);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_SET), 1);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_ADD), 2);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_CAS), 1);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_DEL), 1);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_TOUCH), 1);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_ANY), 7);
    fake_store_reset_counts(fs);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_ANY), 0);
}
END_TEST

typedef struct {
    int calls;
    fake_store_op_t seen[8];
} hook_state_t;

/* Stands for another worker rewriting the record between our get and our cas. */
static void concurrent_writer(fake_store_t *fs, fake_store_op_t op, const char *key, void *baton)
{
    hook_state_t *st = baton;
    rts_store_t *s = fake_store_store(fs);

    if (st->calls < 8) {
        st->seen[st->calls] = op;
    }
    st->calls++;
    if (op == FAKE_STORE_OP_CAS) {
        ck_assert_int_eq(s->set(s, NULL, key, "theirs", 6, 60), APR_SUCCESS);
    }
}

START_TEST(test_store_fake_hook_interleave)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    hook_state_t st;
    apr_uint64_t cas;
    const char *val;

    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(fake_store_put(fs, "sess", "base", 4, 60), APR_SUCCESS);
    fake_store_set_hook(fs, concurrent_writer, &st);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "sess", &val, NULL, &cas), APR_SUCCESS);
    ck_assert_str_eq(val, "base");
    ck_assert_int_eq(s->cas(s, NULL, "sess", "mine", 4, 60, cas), APR_EEXIST);
    ck_assert_int_eq(st.calls, 2);
    ck_assert_int_eq(st.seen[0], FAKE_STORE_OP_GET);
    ck_assert_int_eq(st.seen[1], FAKE_STORE_OP_CAS);
    /* the hook's own set is neither counted nor hooked */
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_SET), 0);
    ck_assert_uint_eq(fake_store_count(fs, FAKE_STORE_OP_ANY), 2);
    fake_store_set_hook(fs, NULL, NULL);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "sess", &val, NULL, &cas), APR_SUCCESS);
    ck_assert_str_eq(val, "theirs");
    ck_assert_int_eq(s->cas(s, NULL, "sess", "mine", 4, 60, cas), APR_SUCCESS);
    ck_assert_int_eq(st.calls, 2);
}
END_TEST

START_TEST(test_store_fake_bad_input)
{
    fake_store_t *fs = fake_new();
    rts_store_t *s = fake_store_store(fs);
    char longkey[252];
    char *big = apr_pcalloc(rts_test_pool, RTS_STORE_MAX_VALUE + 1);

    memset(longkey, 'k', 251);
    longkey[251] = '\0';
    ck_assert_int_eq(s->set(s, NULL, longkey, "v", 1, 60), APR_EINVAL);
    longkey[250] = '\0';
    ck_assert_int_eq(s->set(s, NULL, longkey, "v", 1, 60), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, "a b", "v", 1, 60), APR_EINVAL);
    ck_assert_int_eq(s->set(s, NULL, "a\nb", "v", 1, 60), APR_EINVAL);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "", NULL, NULL, NULL), APR_EINVAL);
    ck_assert_int_eq(s->set(s, "bad group", "k", "v", 1, 60), APR_EINVAL);
    ck_assert_int_eq(s->set(s, NULL, "big", big, RTS_STORE_MAX_VALUE + 1, 60), RTS_ETOOLARGE);
    ck_assert_int_eq(s->set(s, NULL, "big", big, RTS_STORE_MAX_VALUE, 60), APR_SUCCESS);
}
END_TEST

/* ------------------------------------- the memcached implementation, no server needed */

START_TEST(test_store_mc_check_config)
{
    const char *err = NULL;

    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --SERVER=127.0.0.1:11212", &err), APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool, "--SERVER=", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool, "--BOGUS-OPTION=1", &err),
                     APR_EINVAL);
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool, "", &err), APR_EINVAL);
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --NOREPLY", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "NOREPLY"));
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool, "--TCP-NODELAY", &err), APR_EINVAL);
    /* replicas are refused (they never hold an add/cas record and desynchronise connections),
     * with either protocol; the binary protocol alone and zero replicas are fine */
    err = NULL;
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --SERVER=127.0.0.1:11212 --BINARY-PROTOCOL "
                     "--NUMBER-OF-REPLICAS=1", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "--NUMBER-OF-REPLICAS"));
    err = NULL;
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --SERVER=127.0.0.1:11212 --NUMBER-OF-REPLICAS=2",
                     &err), APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL --NUMBER-OF-REPLICAS=0", &err),
                     APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL", &err), APR_SUCCESS);
    /* ejection moves keys (a logout during an outage would come back): refused */
    err = NULL;
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --REMOVE-FAILED-SERVERS=1", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "--REMOVE-FAILED-SERVERS"));
    ck_assert_int_eq(rts_store_memcached_check(rts_test_pool,
                     "--SERVER=127.0.0.1:11211 --REMOVE-FAILED-SERVERS=0", &err), APR_SUCCESS);
}
END_TEST

START_TEST(test_store_mc_create_invalid)
{
    rts_store_t *s = (rts_store_t *)1;

    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool, "--SERVER=", 4,
                                                apr_time_from_msec(200), &s), APR_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool, "--SERVER=127.0.0.1:1", 0,
                                                apr_time_from_msec(200), &s), APR_EINVAL);
    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool, "--SERVER=127.0.0.1:1", 1, 0, &s),
                     APR_EINVAL);
    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool,
                     "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL --NUMBER-OF-REPLICAS=1", 4,
                     apr_time_from_msec(200), &s), APR_EINVAL);
    ck_assert_ptr_null(s);
}
END_TEST

/* A loopback TCP port; listening (never accepting, never reading) or closed. */
static int loopback_port(int listening, int *pfd)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &slen), 0);
    if (listening) {
        ck_assert_int_eq(listen(fd, 16), 0);
        *pfd = fd;
    }
    else {
        close(fd);              /* nobody listens there now: connect is refused */
        *pfd = -1;
    }
    return ntohs(sa.sin_port);
}

START_TEST(test_store_mc_refused)
{
    rts_store_t *s;
    int fd, port = loopback_port(0, &fd);
    apr_time_t start;
    apr_status_t rv;

    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool,
                     apr_psprintf(rts_test_pool, "--SERVER=127.0.0.1:%d", port), 2,
                     apr_time_from_msec(300), &s), APR_SUCCESS);
    start = apr_time_now();
    rv = s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL);
    ck_assert_msg(rv == APR_ECONNREFUSED, "get: %d", rv);
    /* refused once: failed fast from then on, nothing sent */
    rv = s->set(s, NULL, "k", "v", 1, 10);
    ck_assert_msg(rv == RTS_ESTOREDOWN, "set: %d", rv);
    rv = s->add(s, NULL, "k", "v", 1, 10);
    ck_assert_msg(rv == RTS_ESTOREDOWN, "add: %d", rv);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_msec(900));
}
END_TEST

START_TEST(test_store_mc_blackhole)
{
    rts_store_t *s;
    int fd, port = loopback_port(1, &fd);
    apr_time_t start, took;
    apr_status_t rv;

    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool,
                     apr_psprintf(rts_test_pool, "--SERVER=127.0.0.1:%d", port), 2,
                     apr_time_from_msec(300), &s), APR_SUCCESS);
    /* The kernel completes the handshake; the "server" never answers. */
    start = apr_time_now();
    rv = s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL);
    took = apr_time_now() - start;
    ck_assert_msg(rv == APR_TIMEUP || rv == APR_ECONNREFUSED || rv == RTS_ESTORE,
                  "get: %d", rv);
    ck_assert_msg(took < apr_time_from_msec(1500), "get took %" APR_TIME_T_FMT " us", took);
    /* Marked failed: the next operation does not wait again. */
    start = apr_time_now();
    rv = s->set(s, NULL, "k", "v", 1, 10);
    took = apr_time_now() - start;
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_msg(took < apr_time_from_msec(1500), "set took %" APR_TIME_T_FMT " us", took);
    close(fd);
}
END_TEST

static rts_store_t *fake_server_store(const fake_mcserver_t *a, const fake_mcserver_t *b,
                                      unsigned conns, int timeout_ms)
{
    rts_store_t *s = NULL;
    const char *cfg = apr_psprintf(rts_test_pool, "--SERVER=127.0.0.1:%d",
                                   fake_mcserver_port(a));

    if (b) {
        cfg = apr_psprintf(rts_test_pool, "%s --SERVER=127.0.0.1:%d", cfg, fake_mcserver_port(b));
    }
    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool, cfg, conns,
                                                apr_time_from_msec(timeout_ms), &s), APR_SUCCESS);
    return s;
}

typedef struct {
    rts_store_t *s;
    int op;
    apr_status_t rv;
    apr_interval_time_t took;
} breaker_thread_t;

static void *APR_THREAD_FUNC breaker_worker(apr_thread_t *t, void *baton)
{
    breaker_thread_t *w = baton;
    apr_time_t start = apr_time_now();
    apr_pool_t *p;

    apr_pool_create_unmanaged(&p);
    switch (w->op % 4) {
    case 0: w->rv = w->s->get(w->s, p, NULL, "k", NULL, NULL, NULL); break;
    case 1: w->rv = w->s->add(w->s, NULL, "k", "v", 1, 10); break;
    case 2: w->rv = w->s->cas(w->s, NULL, "k", "v", 1, 10, 7); break;
    default: w->rv = w->s->touch(w->s, NULL, "k", 10); break;
    }
    w->took = apr_time_now() - start;
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* A server that hangs (SIGSTOP): the first operation waits the timeout; then every operation
 * on its keys fails fast from every thread and pooled connection (the breaker is per process,
 * not per connection), until one probe per second gets an answer. */
START_TEST(test_store_mc_breaker_fails_fast_until_probe)
{
    fake_mcserver_t *srv = fake_mcserver_start(NULL);
    rts_store_t *s = fake_server_store(srv, NULL, 6, 300);
    breaker_thread_t w[6];
    apr_thread_t *th[6];
    apr_status_t rv, trv;
    apr_time_t start;
    int i;

    ck_assert(rts_store_usable(s, "k"));
    fake_mcserver_hang(srv, 1);
    start = apr_time_now();
    rv = s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL);
    ck_assert_msg(rv == APR_TIMEUP, "get: %d", rv);
    ck_assert_int_ge(apr_time_now() - start, apr_time_from_msec(250));
    ck_assert(!rts_store_usable(s, "k"));
    for (i = 0; i < 6; i++) {
        w[i] = (breaker_thread_t){ s, i, APR_SUCCESS, 0 };
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, breaker_worker, &w[i], rts_test_pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 6; i++) {
        apr_thread_join(&trv, th[i]);
        ck_assert_msg(w[i].rv == RTS_ESTOREDOWN, "thread %d: %d", i, w[i].rv);
        ck_assert_msg(w[i].took < apr_time_from_msec(50), "thread %d took %" APR_TIME_T_FMT
                      " us", i, w[i].took);
    }
    /* still hung at the first probe: it waits the probe timeout (200 ms), not 300 ms */
    apr_sleep(apr_time_from_msec(1050));
    start = apr_time_now();
    rv = s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL);
    ck_assert_msg(rv == APR_TIMEUP, "probe: %d", rv);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_msec(280));
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), RTS_ESTOREDOWN);
    /* back: the next probe is answered and closes the breaker */
    fake_mcserver_hang(srv, 0);
    apr_sleep(apr_time_from_msec(1050));
    /* placing a new key makes the due probe itself (else nobody would, once no old key of
     * the server is used any more, and new keys would avoid it for ever) */
    ck_assert(rts_store_usable(s, "k2"));
    rv = s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL);
    ck_assert_msg(rv == APR_ENOENT, "after resume: %d", rv);
    ck_assert_int_eq(s->add(s, NULL, "k", "v", 1, 10), APR_SUCCESS);
    fake_mcserver_stop(srv);
}
END_TEST

/* A server failing for longer than the dead-after grace: reads of its keys say its records
 * are lost (RTS_ESTOREGONE, so their users log in again elsewhere); writes still say down (a
 * logout must not pretend to have deleted anything); the answer comes back once it does. */
START_TEST(test_store_mc_dead_after_grace_reads_gone)
{
    fake_mcserver_t *srv = fake_mcserver_start(NULL);
    rts_store_t *s = fake_server_store(srv, NULL, 2, 200);

    rts_store_memcached_set_dead_after(s, apr_time_from_msec(300));
    fake_mcserver_hang(srv, 1);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), APR_TIMEUP);
    /* within the grace: down (503), not gone */
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), RTS_ESTOREDOWN);
    apr_sleep(apr_time_from_msec(350));
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), RTS_ESTOREGONE);
    ck_assert_int_eq(s->del(s, NULL, "k"), RTS_ESTOREDOWN);
    ck_assert_int_eq(s->set(s, NULL, "k", "v", 1, 10), RTS_ESTOREDOWN);
    /* back: the due probe is answered and the key reads normally again */
    fake_mcserver_hang(srv, 0);
    apr_sleep(apr_time_from_msec(1050));
    ck_assert(rts_store_usable(s, "k2"));
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), APR_ENOENT);
    fake_mcserver_stop(srv);
}
END_TEST

/* With the grace switched off (RTSessionMemcachedDeadAfter never), a failing server stays down. */
START_TEST(test_store_mc_dead_after_never)
{
    fake_mcserver_t *srv = fake_mcserver_start(NULL);
    rts_store_t *s = fake_server_store(srv, NULL, 2, 200);

    rts_store_memcached_set_dead_after(s, 0);
    fake_mcserver_hang(srv, 1);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), APR_TIMEUP);
    apr_sleep(apr_time_from_msec(400));
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), RTS_ESTOREDOWN);
    fake_mcserver_stop(srv);
}
END_TEST

/* Two servers, one hung: only the keys on the hung one fail, one timeout in all, and
 * usable() names exactly those keys (the breaker's server is the one libmemcached uses). */
START_TEST(test_store_mc_breaker_only_that_server)
{
    fake_mcserver_t *hung = fake_mcserver_start(NULL), *ok = fake_mcserver_start(NULL);
    rts_store_t *s = fake_server_store(hung, ok, 2, 300);
    int answered = 0, down = 0, slow = 0, i;
    apr_time_t begun = apr_time_now();

    fake_mcserver_hang(hung, 1);
    for (i = 0; i < 40; i++) {
        const char *k = apr_psprintf(rts_test_pool, "rts:s:key%d", i);
        apr_time_t start = apr_time_now();
        apr_status_t rv = s->get(s, rts_test_pool, NULL, k, NULL, NULL, NULL);

        if (rv == APR_TIMEUP) {
            slow++;
        }
        else if (rv == APR_ENOENT) {
            answered++;
            ck_assert_msg(rts_store_usable(s, k), "%s answered but is not usable", k);
        }
        else {
            ck_assert_msg(rv == RTS_ESTOREDOWN, "%s: %d", k, rv);
            /* failed fast: well under the 300 ms timeout even on a loaded machine */
            ck_assert_msg(apr_time_now() - start < apr_time_from_msec(250), "%s failed slowly", k);
            ck_assert_msg(!rts_store_usable(s, k), "%s failed fast but is usable", k);
            down++;
        }
    }
    /* one timeout opens the breaker; after that only its probes (one per second) may wait */
    ck_assert_int_ge(slow, 1);
    ck_assert_int_le(slow, 1 + (int)apr_time_sec(apr_time_now() - begun));
    ck_assert_int_gt(answered, 5);
    ck_assert_int_gt(down, 5);
    fake_mcserver_stop(hung);
    fake_mcserver_stop(ok);
}
END_TEST

/* Writes whose connection breaks after sending: never reported as a lost race (EEXIST). */
START_TEST(test_store_mc_write_outcome_unknown)
{
    static const char *const closed_twice[] = { "CLOSE", "CLOSE", NULL };
    static const char *const then_exists[] = { "CLOSE", "EXISTS", NULL };
    static const char *const then_stored[] = { "CLOSE", "STORED", NULL };
    static const char *const then_notstored[] = { "CLOSE", "NOT_STORED", NULL };
    static const char *const closed_once[] = { "CLOSE", NULL };
    fake_mcserver_t *srv;
    rts_store_t *s;

    /* cas applied by the first attempt: the retry says EXISTS, which proves nothing */
    srv = fake_mcserver_start(then_exists);
    s = fake_server_store(srv, NULL, 1, 500);
    ck_assert_int_eq(s->cas(s, NULL, "k", "v", 1, 10, 7), RTS_ESTOREUNKNOWN);
    ck_assert_int_eq(fake_mcserver_commands(srv), 2);
    fake_mcserver_stop(srv);
    /* no answer twice */
    srv = fake_mcserver_start(closed_twice);
    s = fake_server_store(srv, NULL, 1, 500);
    ck_assert_int_eq(s->cas(s, NULL, "k", "v", 1, 10, 7), RTS_ESTOREUNKNOWN);
    fake_mcserver_stop(srv);
    /* the retry stored it: the first was not applied (it would have changed the CAS unique) */
    srv = fake_mcserver_start(then_stored);
    s = fake_server_store(srv, NULL, 1, 500);
    ck_assert_int_eq(s->cas(s, NULL, "k", "v", 1, 10, 7), APR_SUCCESS);
    fake_mcserver_stop(srv);
    /* add: the same */
    srv = fake_mcserver_start(then_notstored);
    s = fake_server_store(srv, NULL, 1, 500);
    ck_assert_int_eq(s->add(s, NULL, "k", "v", 1, 10), RTS_ESTOREUNKNOWN);
    fake_mcserver_stop(srv);
    /* set is never sent twice */
    srv = fake_mcserver_start(closed_once);
    s = fake_server_store(srv, NULL, 1, 500);
    ck_assert_int_eq(s->set(s, NULL, "k", "v", 1, 10), RTS_ESTOREUNKNOWN);
    ck_assert_int_eq(fake_mcserver_commands(srv), 1);
    fake_mcserver_stop(srv);
    /* a get is simply retried */
    srv = fake_mcserver_start(closed_once);
    s = fake_server_store(srv, NULL, 1, 500);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, "k", NULL, NULL, NULL), APR_ENOENT);
    ck_assert_int_eq(fake_mcserver_commands(srv), 2);
    ck_assert(rts_store_usable(s, "k"));
    fake_mcserver_stop(srv);
}
END_TEST

/* A timed-out cas may have been applied: unknown, not "exists". */
START_TEST(test_store_mc_cas_timeout_unknown)
{
    fake_mcserver_t *srv = fake_mcserver_start(NULL);
    rts_store_t *s = fake_server_store(srv, NULL, 1, 200);

    fake_mcserver_hang(srv, 1);
    ck_assert_int_eq(s->cas(s, NULL, "k", "v", 1, 10, 7), RTS_ESTOREUNKNOWN);
    fake_mcserver_stop(srv);
}
END_TEST

/* ------------------------------------------ the memcached implementation, live server */

static const char *live_server(void)
{
    return getenv("RTS_TEST_MEMCACHED");
}

/* CI must run the live tests (the fake store's CAS semantics rest on them): CI=true. */
static int in_ci(void)
{
    const char *ci = getenv("CI");

    return ci != NULL && strcmp(ci, "true") == 0;
}

START_TEST(test_store_live_required_in_ci)
{
    ck_abort_msg("CI=true but RTS_TEST_MEMCACHED is not set: the live memcached tests did not "
                 "run (make check sets it via unit/with_memcached.sh)");
}
END_TEST

START_TEST(test_store_live_nocas_required_in_ci)
{
    ck_abort_msg("CI=true but RTS_TEST_MEMCACHED_NOCAS is not set: the CAS-disabled memcached "
                 "test did not run (make check sets it via unit/with_memcached.sh)");
}
END_TEST

/* A memcached started with -C (CAS disabled), e.g. memcached -p 21612 -C. */
static const char *live_nocas_server(void)
{
    return getenv("RTS_TEST_MEMCACHED_NOCAS");
}

/* memcached -C answers CAS unique 0 and lets every cas through: the store must refuse. */
START_TEST(test_store_live_cas_disabled_refused)
{
    rts_store_t *s = NULL;
    const char *k = apr_psprintf(rts_test_pool, "rts:test:%ld:nocas", (long)getpid());
    apr_uint64_t cas = 0;
    const char *val;

    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool,
                     apr_psprintf(rts_test_pool, "--SERVER=%s", live_nocas_server()), 2,
                     apr_time_from_msec(500), &s), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, k, "v1", 2, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, &cas), RTS_ESTOREDOWN);
    /* from then on nothing works, and nothing is sent */
    ck_assert_int_eq(s->cas(s, NULL, k, "v2", 2, 60, cas), RTS_ESTOREDOWN);
    ck_assert_int_eq(s->add(s, NULL, "other", "x", 1, 60), RTS_ESTOREDOWN);
    ck_assert(!rts_store_usable(s, k));
}
END_TEST

static rts_store_t *live_store(void)
{
    rts_store_t *s = NULL;

    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool,
                     apr_psprintf(rts_test_pool, "--SERVER=%s", live_server()), 4,
                     apr_time_from_msec(500), &s), APR_SUCCESS);
    return s;
}

/* Keys unique to this process and test, so runs do not see each other's data. */
static const char *live_key(const char *name)
{
    return apr_psprintf(rts_test_pool, "rts:test:%ld:%" APR_TIME_T_FMT ":%s", (long)getpid(),
                        apr_time_now(), name);
}

START_TEST(test_store_live_get_set_del)
{
    rts_store_t *s = live_store();
    const char *k = live_key("gsd"), *val;
    apr_size_t len;
    apr_uint64_t cas;

    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, &len, &cas), APR_ENOENT);
    ck_assert_int_eq(s->set(s, NULL, k, "a\0b", 3, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, &len, &cas), APR_SUCCESS);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(val, "a\0b", 3);
    ck_assert_int_eq(val[3], '\0');
    ck_assert_uint_ne(cas, 0);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, NULL, k), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, NULL, k), APR_ENOENT);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, &len, &cas), APR_ENOENT);
    /* an empty value is a value */
    ck_assert_int_eq(s->set(s, NULL, k, "", 0, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, &len, NULL), APR_SUCCESS);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(val, "");
}
END_TEST

START_TEST(test_store_live_add_conflict)
{
    rts_store_t *s = live_store();
    const char *k = live_key("add"), *val;

    ck_assert_int_eq(s->add(s, NULL, k, "first", 5, 60), APR_SUCCESS);
    ck_assert_int_eq(s->add(s, NULL, k, "second", 6, 60), APR_EEXIST);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "first");
    ck_assert_int_eq(s->del(s, NULL, k), APR_SUCCESS);
    ck_assert_int_eq(s->add(s, NULL, k, "third", 5, 60), APR_SUCCESS);
}
END_TEST

START_TEST(test_store_live_cas)
{
    rts_store_t *s = live_store();
    const char *k = live_key("cas"), *val;
    apr_uint64_t cas1, cas2;

    ck_assert_int_eq(s->set(s, NULL, k, "v1", 2, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, &cas1), APR_SUCCESS);
    ck_assert_int_eq(s->cas(s, NULL, k, "v2", 2, 60, cas1), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, &cas2), APR_SUCCESS);
    ck_assert_str_eq(val, "v2");
    ck_assert_uint_ne(cas1, cas2);
    /* conflict: somebody wrote since cas1 */
    ck_assert_int_eq(s->cas(s, NULL, k, "v3", 2, 60, cas1), APR_EEXIST);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "v2");
    /* gone */
    ck_assert_int_eq(s->del(s, NULL, k), APR_SUCCESS);
    ck_assert_int_eq(s->cas(s, NULL, k, "v4", 2, 60, cas2), APR_ENOENT);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, NULL), APR_ENOENT);
}
END_TEST

START_TEST(test_store_live_touch_keeps_cas)
{
    rts_store_t *s = live_store();
    const char *k = live_key("touch");
    apr_uint64_t cas1, cas2;

    ck_assert_int_eq(s->touch(s, NULL, k, 60), APR_ENOENT);
    ck_assert_int_eq(s->set(s, NULL, k, "v", 1, 1), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, &cas1), APR_SUCCESS);
    ck_assert_int_eq(s->touch(s, NULL, k, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, &cas2), APR_SUCCESS);
    /* memcached 1.6 does not give touched items a new CAS unique; the fake mirrors this */
    ck_assert_uint_eq(cas1, cas2);
    /* the 1 s expiry was replaced: still there after it */
    apr_sleep(apr_time_from_msec(2100));
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(s->cas(s, NULL, k, "w", 1, 60, cas1), APR_SUCCESS);
    /* and a short TTL does expire */
    ck_assert_int_eq(s->touch(s, NULL, k, 1), APR_SUCCESS);
    apr_sleep(apr_time_from_msec(2100));
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, NULL), APR_ENOENT);
}
END_TEST

START_TEST(test_store_live_group_key)
{
    rts_store_t *s = live_store();
    const char *g = live_key("group"), *k1 = live_key("g1"), *val;
    apr_uint64_t cas;

    ck_assert_int_eq(s->set(s, g, k1, "one", 3, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, g, k1, &val, NULL, &cas), APR_SUCCESS);
    ck_assert_str_eq(val, "one");
    ck_assert_int_eq(s->add(s, g, k1, "x", 1, 60), APR_EEXIST);
    ck_assert_int_eq(s->cas(s, g, k1, "two", 3, 60, cas), APR_SUCCESS);
    ck_assert_int_eq(s->touch(s, g, k1, 60), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, g, k1), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, g, k1, &val, NULL, NULL), APR_ENOENT);
    ck_assert_int_eq(s->set(s, "bad group", k1, "x", 1, 60), APR_EINVAL);
}
END_TEST

START_TEST(test_store_live_large_and_bad)
{
    rts_store_t *s = live_store();
    const char *k = live_key("large"), *val;
    char *big = apr_palloc(rts_test_pool, RTS_STORE_MAX_VALUE + 1);
    char longkey[252];
    apr_size_t len, i;

    for (i = 0; i < RTS_STORE_MAX_VALUE + 1; ++i) {
        big[i] = (char)(i * 7);
    }
    ck_assert_int_eq(s->set(s, NULL, k, big, RTS_STORE_MAX_VALUE, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, &len, NULL), APR_SUCCESS);
    ck_assert_uint_eq(len, RTS_STORE_MAX_VALUE);
    ck_assert_int_eq(memcmp(val, big, len), 0);
    ck_assert_int_eq(s->set(s, NULL, k, big, RTS_STORE_MAX_VALUE + 1, 60), RTS_ETOOLARGE);
    ck_assert_int_eq(s->add(s, NULL, live_key("l2"), big, RTS_STORE_MAX_VALUE + 1, 60),
                     RTS_ETOOLARGE);

    memset(longkey, 'k', 251);
    longkey[251] = '\0';
    ck_assert_int_eq(s->set(s, NULL, longkey, "v", 1, 60), APR_EINVAL);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, longkey, NULL, NULL, NULL), APR_EINVAL);
    longkey[250] = '\0';
    ck_assert_int_eq(s->set(s, NULL, longkey, "v", 1, 60), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, NULL, longkey), APR_SUCCESS);
    ck_assert_int_eq(s->set(s, NULL, "with space", "v", 1, 60), APR_EINVAL);
    ck_assert_int_eq(s->del(s, NULL, "ctl\001"), APR_EINVAL);
    ck_assert_int_eq(s->touch(s, NULL, "", 60), APR_EINVAL);
}
END_TEST

START_TEST(test_store_live_long_ttl)
{
    rts_store_t *s = live_store();
    const char *k = live_key("ttl");

    /* Over 30 days memcached reads an absolute time; the store converts, so it stays. */
    ck_assert_int_eq(s->set(s, NULL, k, "v", 1, 60 * 60 * 24 * 40), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, NULL), APR_SUCCESS);
    ck_assert_int_eq(s->del(s, NULL, k), APR_SUCCESS);
}
END_TEST

/* The binary protocol (allowed; it answers conflicts with other codes than the text protocol):
 * every outcome the store reports must be the same as with the text protocol. */
START_TEST(test_store_live_binary_protocol)
{
    rts_store_t *s = NULL;
    const char *k = live_key("bin"), *val;
    apr_uint64_t cas1, cas2;

    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool,
                     apr_psprintf(rts_test_pool, "--SERVER=%s --BINARY-PROTOCOL", live_server()),
                     2, apr_time_from_msec(500), &s), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, &cas1), APR_ENOENT);
    ck_assert_int_eq(s->touch(s, NULL, k, 60), APR_ENOENT);
    ck_assert_int_eq(s->del(s, NULL, k), APR_ENOENT);
    ck_assert_int_eq(s->cas(s, NULL, k, "v0", 2, 60, 12345), APR_ENOENT);
    ck_assert_int_eq(s->add(s, NULL, k, "v1", 2, 60), APR_SUCCESS);
    ck_assert_int_eq(s->add(s, NULL, k, "xx", 2, 60), APR_EEXIST);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, &cas1), APR_SUCCESS);
    ck_assert_str_eq(val, "v1");
    ck_assert_uint_ne(cas1, 0);
    ck_assert_int_eq(s->touch(s, NULL, k, 60), APR_SUCCESS);
    ck_assert_int_eq(s->cas(s, NULL, k, "v2", 2, 60, cas1), APR_SUCCESS);
    ck_assert_int_eq(s->cas(s, NULL, k, "v3", 2, 60, cas1), APR_EEXIST);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, &cas2), APR_SUCCESS);
    ck_assert_str_eq(val, "v2");
    ck_assert_uint_ne(cas1, cas2);
    ck_assert_int_eq(s->del(s, NULL, k), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, NULL, NULL, NULL), APR_ENOENT);
    ck_assert_int_eq(s->cas(s, NULL, k, "v4", 2, 60, cas2), APR_ENOENT);
    /* and after all those answers the connection is still in step */
    ck_assert_int_eq(s->add(s, NULL, k, "v5", 2, 60), APR_SUCCESS);
    ck_assert_int_eq(s->get(s, rts_test_pool, NULL, k, &val, NULL, NULL), APR_SUCCESS);
    ck_assert_str_eq(val, "v5");
    ck_assert_int_eq(s->del(s, NULL, k), APR_SUCCESS);
}
END_TEST

typedef struct {
    rts_store_t *s;
    int id;
    int failures;
} live_thread_t;

static void *APR_THREAD_FUNC live_worker(apr_thread_t *t, void *baton)
{
    live_thread_t *w = baton;
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < 200; ++i) {
        const char *k = apr_psprintf(p, "rts:test:thr:%ld:%d:%d", (long)getpid(), w->id, i);
        const char *val;
        if (w->s->add(w->s, NULL, k, k, strlen(k), 30) != APR_SUCCESS
            || w->s->get(w->s, p, NULL, k, &val, NULL, NULL) != APR_SUCCESS
            || strcmp(val, k) != 0
            || w->s->del(w->s, NULL, k) != APR_SUCCESS) {
            w->failures++;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(test_store_live_threads)
{
    rts_store_t *s = NULL;
    apr_thread_t *th[6];
    live_thread_t w[6];
    apr_status_t trv;
    int i;

    /* More threads than connections: they wait for the pool, none shares a connection. */
    ck_assert_int_eq(rts_store_memcached_create(rts_test_pool,
                     apr_psprintf(rts_test_pool, "--SERVER=%s", live_server()), 2,
                     apr_time_from_sec(2), &s), APR_SUCCESS);
    for (i = 0; i < 6; ++i) {
        w[i].s = s;
        w[i].id = i;
        w[i].failures = 0;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, live_worker, &w[i], rts_test_pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < 6; ++i) {
        apr_thread_join(&trv, th[i]);
    }
    for (i = 0; i < 6; ++i) {
        ck_assert_int_eq(w[i].failures, 0);
    }
}
END_TEST

Suite *rts_suite_store(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("fake");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_store_fake_get_set);
    tcase_add_test(tc, test_store_fake_add_conflict);
    tcase_add_test(tc, test_store_fake_cas);
    tcase_add_test(tc, test_store_fake_del_touch);
    tcase_add_test(tc, test_store_fake_ttl);
    tcase_add_test(tc, test_store_fake_clock_fn);
    tcase_add_test(tc, test_store_fake_faults);
    tcase_add_test(tc, test_store_fake_counters);
    tcase_add_test(tc, test_store_fake_hook_interleave);
    tcase_add_test(tc, test_store_fake_bad_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("memcached");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_store_mc_check_config);
    tcase_add_test(tc, test_store_mc_create_invalid);
    tcase_add_test(tc, test_store_mc_refused);
    tcase_add_test(tc, test_store_mc_blackhole);
    tcase_add_test(tc, test_store_mc_breaker_fails_fast_until_probe);
    tcase_add_test(tc, test_store_mc_breaker_only_that_server);
    tcase_add_test(tc, test_store_mc_dead_after_grace_reads_gone);
    tcase_add_test(tc, test_store_mc_dead_after_never);
    tcase_add_test(tc, test_store_mc_write_outcome_unknown);
    tcase_add_test(tc, test_store_mc_cas_timeout_unknown);
    suite_add_tcase(s, tc);

    if (live_nocas_server() != NULL && live_nocas_server()[0] != '\0') {
        tc = tcase_create("memcached-live-nocas");
        tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
        tcase_add_test(tc, test_store_live_cas_disabled_refused);
        suite_add_tcase(s, tc);
    }
    else if (in_ci()) {
        tc = tcase_create("memcached-live-nocas");
        tcase_add_test(tc, test_store_live_nocas_required_in_ci);
        suite_add_tcase(s, tc);
    }
    else {
        fprintf(stderr, "store: RTS_TEST_MEMCACHED_NOCAS=host:port (memcached -C) not set, "
                "CAS-disabled test skipped\n");
    }

    if (live_server() == NULL || live_server()[0] == '\0') {
        if (!in_ci()) {
            fprintf(stderr, "store: RTS_TEST_MEMCACHED=host:port not set, "
                    "live memcached tests skipped\n");
            return s;
        }
        tc = tcase_create("memcached-live");
        tcase_add_test(tc, test_store_live_required_in_ci);
        suite_add_tcase(s, tc);
        return s;
    }
    tc = tcase_create("memcached-live");
    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_store_live_get_set_del);
    tcase_add_test(tc, test_store_live_add_conflict);
    tcase_add_test(tc, test_store_live_cas);
    tcase_add_test(tc, test_store_live_touch_keeps_cas);
    tcase_add_test(tc, test_store_live_group_key);
    tcase_add_test(tc, test_store_live_large_and_bad);
    tcase_add_test(tc, test_store_live_long_ttl);
    tcase_add_test(tc, test_store_live_binary_protocol);
    tcase_add_test(tc, test_store_live_threads);
    suite_add_tcase(s, tc);
    return s;
}
