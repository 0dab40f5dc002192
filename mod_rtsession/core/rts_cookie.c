/* SPDX-License-Identifier: Apache-2.0 */
/* Cookie parsing and building. */
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_cookie.h"

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/* Walks "name=value; name=value" pairs, calling fn for each. Stops when fn returns non-zero. */
typedef int cookie_visit_fn(void *baton, const char *name, apr_size_t nlen,
                            const char *value, apr_size_t vlen, const char *start, const char *end);

static void cookie_walk(const char *header, cookie_visit_fn *fn, void *baton)
{
    const char *s = header;

    while (*s) {
        const char *start, *eq, *end, *vstart, *vend;

        s = skip_ws(s);
        start = s;
        end = strchr(s, ';');
        if (!end) {
            end = s + strlen(s);
        }
        eq = memchr(s, '=', (apr_size_t)(end - s));
        if (eq) {
            const char *nend = eq;
            while (nend > start && (nend[-1] == ' ' || nend[-1] == '\t')) {
                nend--;
            }
            vstart = skip_ws(eq + 1);
            vend = end;
            while (vend > vstart && (vend[-1] == ' ' || vend[-1] == '\t')) {
                vend--;
            }
            if (vend - vstart >= 2 && *vstart == '"' && vend[-1] == '"') {
                vstart++;
                vend--;
            }
            if (fn(baton, start, (apr_size_t)(nend - start), vstart, (apr_size_t)(vend - vstart),
                   start, end)) {
                return;
            }
        }
        s = *end ? end + 1 : end;
    }
}

typedef struct {
    const char *name;
    apr_size_t nlen;
    const char *value;
    apr_size_t vlen;
    int count;
} cookie_find_t;

static int find_visit(void *baton, const char *name, apr_size_t nlen, const char *value,
                      apr_size_t vlen, const char *start, const char *end)
{
    cookie_find_t *f = baton;

    if (nlen == f->nlen && !memcmp(name, f->name, nlen)) {
        f->count++;
        f->value = value;
        f->vlen = vlen;
    }
    return 0;
}

apr_status_t rts_cookie_get(apr_pool_t *p, const char *header, const char *name, const char **pval)
{
    cookie_find_t f;

    *pval = NULL;
    if (!header) {
        return APR_ENOENT;
    }
    if (strlen(header) > RTS_COOKIE_MAX_HEADER) {
        return APR_EINVAL;
    }
    memset(&f, 0, sizeof(f));
    f.name = name;
    f.nlen = strlen(name);
    cookie_walk(header, find_visit, &f);
    if (f.count == 0) {
        return APR_ENOENT;
    }
    if (f.count > 1) {
        return APR_EINVAL;
    }
    *pval = apr_pstrmemdup(p, f.value, f.vlen);
    return APR_SUCCESS;
}

typedef struct {
    apr_pool_t *p;
    const char *const *names;
    char *out;
} cookie_strip_t;

static int strip_visit(void *baton, const char *name, apr_size_t nlen, const char *value,
                       apr_size_t vlen, const char *start, const char *end)
{
    cookie_strip_t *st = baton;
    const char *const *n;
    const char *pair;

    for (n = st->names; *n; n++) {
        if (strlen(*n) == nlen && !memcmp(*n, name, nlen)) {
            return 0;
        }
    }
    pair = apr_pstrmemdup(st->p, start, (apr_size_t)(end - start));
    st->out = st->out ? apr_pstrcat(st->p, st->out, "; ", pair, NULL) : (char *)pair;
    return 0;
}

const char *rts_cookie_strip(apr_pool_t *p, const char *header, const char *const *names)
{
    cookie_strip_t st;

    if (!header) {
        return NULL;
    }
    st.p = p;
    st.names = names;
    st.out = NULL;
    cookie_walk(header, strip_visit, &st);
    return st.out;
}

const char *rts_cookie_name(apr_pool_t *p, const char *base, rts_cookie_kind_t kind, int secure)
{
    static const char *const suffix[RTS_COOKIE_KINDS] = {"", "_login", "_logout"};

    return apr_pstrcat(p, secure ? "__Host-" : "", base,
                       (unsigned)kind < RTS_COOKIE_KINDS ? suffix[kind] : "", NULL);
}

const char *rts_cookie_build(apr_pool_t *p, const char *name, const char *value, int secure,
                             apr_int64_t max_age)
{
    const char *age = "";

    if (max_age == 0) {
        age = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
    }
    else if (max_age > 0) {
        age = apr_psprintf(p, "; Max-Age=%" APR_INT64_T_FMT, max_age);
    }
    return apr_psprintf(p, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s",
                        name, value, secure ? "; Secure" : "", age);
}
