/* SPDX-License-Identifier: Apache-2.0 */
/* In-memory rts_store_t with memcached's semantics, a controllable clock, fault injection,
 * op counters and a pre-operation hook. See fake_store.h. */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "fake_store.h"

typedef struct {
    char *val;
    apr_size_t len;
    apr_uint64_t cas;
    apr_time_t expires;             /* 0: never */
} fake_item_t;

struct fake_store_t {
    rts_store_t store;
    apr_pool_t *pool;
    apr_hash_t *items;              /* key -> fake_item_t */
    apr_uint64_t next_cas;
    const apr_time_t *now_var;
    rts_clock_fn *clock;
    void *clock_baton;
    unsigned fail_n;
    fake_store_op_t fail_op;
    apr_status_t fail_status;
    unsigned counts[FAKE_STORE_OP_COUNT];
    fake_store_hook_fn *hook;
    void *hook_baton;
    int in_hook;
};

static apr_time_t fake_now(const fake_store_t *fs)
{
    if (fs->now_var != NULL) {
        return *fs->now_var;
    }
    if (fs->clock != NULL) {
        return fs->clock(fs->clock_baton);
    }
    return apr_time_now();
}

static apr_status_t fake_check_key(const char *key)
{
    apr_size_t i;

    if (key == NULL || key[0] == '\0') {
        return APR_EINVAL;
    }
    for (i = 0; key[i] != '\0'; ++i) {
        unsigned char c = (unsigned char)key[i];
        if (i >= 250 || c <= 0x20 || c == 0x7f) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

/* The live item under key, dropping it when expired (memcached expires lazily too). */
static fake_item_t *fake_lookup(fake_store_t *fs, const char *key)
{
    fake_item_t *it = apr_hash_get(fs->items, key, APR_HASH_KEY_STRING);

    if (it != NULL && it->expires != 0 && fake_now(fs) >= it->expires) {
        apr_hash_set(fs->items, key, APR_HASH_KEY_STRING, NULL);
        it = NULL;
    }
    return it;
}

static void fake_write(fake_store_t *fs, const char *key, const char *val, apr_size_t len,
                       apr_uint32_t ttl)
{
    fake_item_t *it = apr_hash_get(fs->items, key, APR_HASH_KEY_STRING);

    if (it == NULL) {
        it = apr_pcalloc(fs->pool, sizeof(*it));
        apr_hash_set(fs->items, apr_pstrdup(fs->pool, key), APR_HASH_KEY_STRING, it);
    }
    it->val = apr_palloc(fs->pool, len + 1);
    if (len > 0) {
        memcpy(it->val, val, len);
    }
    it->val[len] = '\0';
    it->len = len;
    it->cas = ++fs->next_cas;
    it->expires = ttl ? fake_now(fs) + apr_time_from_sec(ttl) : 0;
}

/* Counting, hook and fault injection; APR_SUCCESS means "go on with the operation". */
static apr_status_t fake_enter(fake_store_t *fs, fake_store_op_t op, const char *group_key,
                               const char *key)
{
    apr_status_t rv;

    if (!fs->in_hook) {
        fs->counts[op]++;
        if (fs->hook != NULL) {
            fs->in_hook = 1;
            fs->hook(fs, op, key, fs->hook_baton);
            fs->in_hook = 0;
        }
        if (fs->fail_n > 0 && (fs->fail_op == FAKE_STORE_OP_ANY || fs->fail_op == op)) {
            fs->fail_n--;
            return fs->fail_status;
        }
    }
    if ((rv = fake_check_key(key)) != APR_SUCCESS) {
        return rv;
    }
    if (group_key != NULL && (rv = fake_check_key(group_key)) != APR_SUCCESS) {
        return rv;
    }
    return APR_SUCCESS;
}

static apr_status_t fake_get(rts_store_t *s, apr_pool_t *p, const char *group_key, const char *key,
                             const char **pval, apr_size_t *plen, apr_uint64_t *pcas)
{
    fake_store_t *fs = s->impl;
    apr_status_t rv;

    if ((rv = fake_enter(fs, FAKE_STORE_OP_GET, group_key, key)) != APR_SUCCESS) {
        return rv;
    }
    return fake_store_peek(fs, p, key, pval, plen, pcas, NULL);
}

static apr_status_t fake_check_value(const char *val, apr_size_t len)
{
    if (val == NULL && len > 0) {
        return APR_EINVAL;
    }
    return len > RTS_STORE_MAX_VALUE ? RTS_ETOOLARGE : APR_SUCCESS;
}

static apr_status_t fake_set(rts_store_t *s, const char *group_key, const char *key,
                             const char *val, apr_size_t len, apr_uint32_t ttl)
{
    fake_store_t *fs = s->impl;
    apr_status_t rv;

    if ((rv = fake_enter(fs, FAKE_STORE_OP_SET, group_key, key)) != APR_SUCCESS
        || (rv = fake_check_value(val, len)) != APR_SUCCESS) {
        return rv;
    }
    fake_write(fs, key, val, len, ttl);
    return APR_SUCCESS;
}

static apr_status_t fake_add(rts_store_t *s, const char *group_key, const char *key,
                             const char *val, apr_size_t len, apr_uint32_t ttl)
{
    fake_store_t *fs = s->impl;
    apr_status_t rv;

    if ((rv = fake_enter(fs, FAKE_STORE_OP_ADD, group_key, key)) != APR_SUCCESS
        || (rv = fake_check_value(val, len)) != APR_SUCCESS) {
        return rv;
    }
    if (fake_lookup(fs, key) != NULL) {
        return APR_EEXIST;
    }
    fake_write(fs, key, val, len, ttl);
    return APR_SUCCESS;
}

static apr_status_t fake_cas(rts_store_t *s, const char *group_key, const char *key,
                             const char *val, apr_size_t len, apr_uint32_t ttl, apr_uint64_t cas)
{
    fake_store_t *fs = s->impl;
    fake_item_t *it;
    apr_status_t rv;

    if ((rv = fake_enter(fs, FAKE_STORE_OP_CAS, group_key, key)) != APR_SUCCESS
        || (rv = fake_check_value(val, len)) != APR_SUCCESS) {
        return rv;
    }
    if ((it = fake_lookup(fs, key)) == NULL) {
        return APR_ENOENT;
    }
    if (it->cas != cas) {
        return APR_EEXIST;
    }
    fake_write(fs, key, val, len, ttl);
    return APR_SUCCESS;
}

static apr_status_t fake_del(rts_store_t *s, const char *group_key, const char *key)
{
    fake_store_t *fs = s->impl;
    apr_status_t rv;

    if ((rv = fake_enter(fs, FAKE_STORE_OP_DEL, group_key, key)) != APR_SUCCESS) {
        return rv;
    }
    if (fake_lookup(fs, key) == NULL) {
        return APR_ENOENT;
    }
    apr_hash_set(fs->items, key, APR_HASH_KEY_STRING, NULL);
    return APR_SUCCESS;
}

static apr_status_t fake_touch(rts_store_t *s, const char *group_key, const char *key,
                               apr_uint32_t ttl)
{
    fake_store_t *fs = s->impl;
    fake_item_t *it;
    apr_status_t rv;

    if ((rv = fake_enter(fs, FAKE_STORE_OP_TOUCH, group_key, key)) != APR_SUCCESS) {
        return rv;
    }
    if ((it = fake_lookup(fs, key)) == NULL) {
        return APR_ENOENT;
    }
    /* Only the expiry changes: memcached keeps the CAS unique on touch. */
    it->expires = ttl ? fake_now(fs) + apr_time_from_sec(ttl) : 0;
    return APR_SUCCESS;
}

fake_store_t *fake_store_create(apr_pool_t *p)
{
    fake_store_t *fs;
    apr_pool_t *sub;

    apr_pool_create(&sub, p);
    fs = apr_pcalloc(sub, sizeof(*fs));
    fs->pool = sub;
    fs->items = apr_hash_make(sub);
    fs->fail_op = FAKE_STORE_OP_ANY;
    fs->store.name = "fake";
    fs->store.get = fake_get;
    fs->store.set = fake_set;
    fs->store.add = fake_add;
    fs->store.cas = fake_cas;
    fs->store.del = fake_del;
    fs->store.touch = fake_touch;
    fs->store.impl = fs;
    return fs;
}

rts_store_t *fake_store_store(fake_store_t *fs)
{
    return &fs->store;
}

void fake_store_use_time(fake_store_t *fs, const apr_time_t *now)
{
    fs->now_var = now;
    fs->clock = NULL;
}

void fake_store_use_clock(fake_store_t *fs, rts_clock_fn *clock, void *baton)
{
    fs->now_var = NULL;
    fs->clock = clock;
    fs->clock_baton = baton;
}

void fake_store_fail_next(fake_store_t *fs, unsigned n, fake_store_op_t op, apr_status_t status)
{
    fs->fail_n = n;
    fs->fail_op = op;
    fs->fail_status = status;
}

unsigned fake_store_count(const fake_store_t *fs, fake_store_op_t op)
{
    unsigned total = 0;
    int i;

    if (op != FAKE_STORE_OP_ANY) {
        return (op >= 0 && op < FAKE_STORE_OP_COUNT) ? fs->counts[op] : 0;
    }
    for (i = 0; i < FAKE_STORE_OP_COUNT; ++i) {
        total += fs->counts[i];
    }
    return total;
}

void fake_store_reset_counts(fake_store_t *fs)
{
    memset(fs->counts, 0, sizeof(fs->counts));
}

void fake_store_set_hook(fake_store_t *fs, fake_store_hook_fn *fn, void *baton)
{
    fs->hook = fn;
    fs->hook_baton = baton;
}

apr_status_t fake_store_peek(fake_store_t *fs, apr_pool_t *p, const char *key, const char **pval,
                             apr_size_t *plen, apr_uint64_t *pcas, apr_time_t *pexpires)
{
    fake_item_t *it = fake_lookup(fs, key);

    if (it == NULL) {
        return APR_ENOENT;
    }
    if (pval != NULL) {
        *pval = apr_pstrmemdup(p, it->val, it->len);
    }
    if (plen != NULL) {
        *plen = it->len;
    }
    if (pcas != NULL) {
        *pcas = it->cas;
    }
    if (pexpires != NULL) {
        *pexpires = it->expires;
    }
    return APR_SUCCESS;
}

apr_status_t fake_store_put(fake_store_t *fs, const char *key, const char *val, apr_size_t len,
                            apr_uint32_t ttl)
{
    apr_status_t rv;

    if ((rv = fake_check_key(key)) != APR_SUCCESS || (rv = fake_check_value(val, len)) != APR_SUCCESS) {
        return rv;
    }
    fake_write(fs, key, val, len, ttl);
    return APR_SUCCESS;
}

void fake_store_remove(fake_store_t *fs, const char *key)
{
    apr_hash_set(fs->items, key, APR_HASH_KEY_STRING, NULL);
}

unsigned fake_store_size(fake_store_t *fs)
{
    apr_hash_index_t *hi;
    unsigned n = 0;
    apr_time_t now = fake_now(fs);

    for (hi = apr_hash_first(NULL, fs->items); hi != NULL; hi = apr_hash_next(hi)) {
        fake_item_t *it = apr_hash_this_val(hi);
        if (it->expires == 0 || now < it->expires) {
            ++n;
        }
    }
    return n;
}
