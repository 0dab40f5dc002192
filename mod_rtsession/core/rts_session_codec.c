/* SPDX-License-Identifier: Apache-2.0 */
/* Binary session record plaintext (layout in rts_session_codec.h). */
#include <string.h>
#include "rts.h"
#include "rts_session_codec.h"

#define ABSENT 0xFFFFu
#define N_TIMES 5
#define N_TAIL (8 + 8 + 1 + 1)        /* format 3: at_issued, retry_at, retry_step, rt_lost */
#define MAX_LOST 3
#define N_STRS 6
#define MAX_MS 253402300799000LL     /* 9999-12-31: no overflow when scaled to apr_time_t */

typedef struct reader_t {
    const unsigned char *p, *end;
} reader_t;

static void put_u64(unsigned char **w, apr_uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        *(*w)++ = (unsigned char)(v >> (i * 8));
    }
}

static int get_u64(reader_t *r, apr_uint64_t *v)
{
    int i;

    if (r->end - r->p < 8) {
        return 0;
    }
    *v = 0;
    for (i = 0; i < 8; i++) {
        *v = (*v << 8) | *r->p++;
    }
    return 1;
}

static apr_uint64_t time_ms(apr_time_t t)
{
    return t > 0 ? (apr_uint64_t)(t / 1000) : 0;
}

static int get_time(reader_t *r, apr_time_t *t)
{
    apr_uint64_t ms;

    if (!get_u64(r, &ms) || ms > (apr_uint64_t)MAX_MS) {
        return 0;
    }
    *t = (apr_time_t)ms * 1000;
    return 1;
}

static int get_str(reader_t *r, const char **s)
{
    apr_size_t len;

    if (r->end - r->p < 2) {
        return 0;
    }
    len = ((apr_size_t)r->p[0] << 8) | r->p[1];
    r->p += 2;
    if (len == ABSENT) {
        *s = NULL;
        return 1;
    }
    /* the bytes and their NUL, and no NUL inside: a C string of exactly len bytes */
    if ((apr_size_t)(r->end - r->p) < len + 1 || r->p[len] != '\0' || memchr(r->p, 0, len)) {
        return 0;
    }
    *s = (const char *)r->p;
    r->p += len + 1;
    return 1;
}

apr_status_t rts_session_encode(apr_pool_t *p, const rts_session_t *s, const unsigned char **out,
                                apr_size_t *out_len)
{
    const char *strs[N_STRS];
    apr_uint64_t times[N_TIMES];
    apr_size_t lens[N_STRS], total = 1 + 8 + 8 * N_TIMES + N_TAIL;
    unsigned char *buf, *w;
    int i;

    strs[0] = s->sub;
    strs[1] = s->id_token;
    strs[2] = s->access_token;
    strs[3] = s->refresh_token;
    strs[4] = s->sid;
    strs[5] = s->intent_owner;
    times[0] = time_ms(s->at_expires);
    times[1] = time_ms(s->rt_expires);
    times[2] = time_ms(s->created);
    times[3] = time_ms(s->seen);
    times[4] = time_ms(s->intent_until);
    if (s->gen < 0 || s->retry_step < 0 || s->retry_step > RTS_SESSION_CODEC_MAX_STEP
        || s->rt_lost < 0 || s->rt_lost > MAX_LOST) {
        return APR_EINVAL;
    }
    for (i = 0; i < N_STRS; i++) {
        lens[i] = strs[i] ? strlen(strs[i]) : 0;
        if (lens[i] > RTS_SESSION_CODEC_MAX_STR) {
            return APR_EINVAL;
        }
        total += 2 + (strs[i] ? lens[i] + 1 : 0);
    }
    w = buf = apr_palloc(p, total);
    *w++ = RTS_SESSION_CODEC_FORMAT;
    put_u64(&w, (apr_uint64_t)s->gen);
    for (i = 0; i < N_TIMES; i++) {
        put_u64(&w, times[i]);
    }
    for (i = 0; i < N_STRS; i++) {
        apr_size_t n = strs[i] ? lens[i] : ABSENT;

        *w++ = (unsigned char)(n >> 8);
        *w++ = (unsigned char)n;
        if (strs[i]) {
            memcpy(w, strs[i], lens[i] + 1);
            w += lens[i] + 1;
        }
    }
    put_u64(&w, time_ms(s->at_issued));
    put_u64(&w, time_ms(s->retry_at));
    *w++ = (unsigned char)s->retry_step;
    *w++ = (unsigned char)s->rt_lost;
    *out = buf;
    *out_len = total;
    return APR_SUCCESS;
}

apr_status_t rts_session_decode(const unsigned char *buf, apr_size_t len, rts_session_t *s)
{
    reader_t r = { buf, buf + len };
    apr_uint64_t gen;
    int format;

    if (len < 1) {
        return RTS_EBADTOKEN;
    }
    format = *r.p++;
    if ((format != RTS_SESSION_CODEC_FORMAT && format != RTS_SESSION_CODEC_FORMAT_OLD)
        || !get_u64(&r, &gen) || gen > (apr_uint64_t)APR_INT64_MAX
        || !get_time(&r, &s->at_expires) || !get_time(&r, &s->rt_expires)
        || !get_time(&r, &s->created) || !get_time(&r, &s->seen)
        || !get_time(&r, &s->intent_until)
        || !get_str(&r, &s->sub) || !get_str(&r, &s->id_token)
        || !get_str(&r, &s->access_token) || !get_str(&r, &s->refresh_token)
        || !get_str(&r, &s->sid) || !get_str(&r, &s->intent_owner)) {
        return RTS_EBADTOKEN;
    }
    s->at_issued = s->retry_at = 0;
    s->retry_step = s->rt_lost = 0;
    if (format == RTS_SESSION_CODEC_FORMAT) {
        if (!get_time(&r, &s->at_issued) || !get_time(&r, &s->retry_at) || r.end - r.p < 2
            || r.p[0] > RTS_SESSION_CODEC_MAX_STEP || r.p[1] > MAX_LOST) {
            return RTS_EBADTOKEN;
        }
        s->retry_step = r.p[0];
        s->rt_lost = r.p[1];
        r.p += 2;
    }
    if (r.p != r.end || !s->sub || !s->access_token) {
        return RTS_EBADTOKEN;
    }
    s->gen = (apr_int64_t)gen;
    return APR_SUCCESS;
}
