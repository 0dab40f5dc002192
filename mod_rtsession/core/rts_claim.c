/* SPDX-License-Identifier: Apache-2.0 */
/* The one rule for claim values that leave the module (see rts_claim.h). */
#include <string.h>
#include <apr_strings.h>
#include "rts_claim.h"
#include "rts_json.h"

/* Length of the control character at s (C0, DEL, or C1 as UTF-8 C2 80..C2 9F), 0 if none. */
static apr_size_t control_len(const unsigned char *s, apr_size_t left)
{
    if (*s < 0x20 || *s == 0x7f) {
        return 1;
    }
    if (*s == 0xc2 && left > 1 && s[1] >= 0x80 && s[1] <= 0x9f) {
        return 2;
    }
    return 0;
}

static int has_control(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (control_len((const unsigned char *)s + i, len - i)) {
            return 1;
        }
    }
    return 0;
}

/* A copy with each control character replaced by one space. */
static const char *neutralise(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i = 0, n;

    while (i < len) {
        if ((n = control_len((const unsigned char *)s + i, len - i)) > 0) {
            *o++ = ' ';
            i += n;
        }
        else {
            *o++ = s[i++];
        }
    }
    *o = '\0';
    return out;
}

/* The raw text of any JSON value (NULL for null, or when over max); *plen its length, which
 * may exceed strlen when a string holds NUL. */
static const char *raw_text(apr_pool_t *p, const json_t *v, apr_size_t max, apr_size_t *plen)
{
    const char *text = NULL;

    if (json_is_string(v)) {
        *plen = json_string_length(v);
        return *plen <= max ? json_string_value(v) : NULL;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        apr_size_t len = 0, n;
        json_array_foreach(v, i, item) {
            const char *t = raw_text(p, item, max, &n);
            if (!t && n > max) {
                *plen = n;
                return NULL;
            }
            if (t) {
                /* items are joined as they are; a NUL inside one stays (len counts it) */
                char *joined = apr_palloc(p, len + (len ? 1 : 0) + n + 1);
                if (len) {
                    memcpy(joined, text, len);
                    joined[len++] = ',';
                }
                memcpy(joined + len, t, n);
                len += n;
                joined[len] = '\0';
                text = joined;
                if (len > max) {
                    *plen = len;
                    return NULL;
                }
            }
        }
        *plen = len;
        return text;
    }
    if (json_is_integer(v)) {          /* iat, exp, auth_time: no serializer per request */
        text = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    }
    else if (json_is_boolean(v)) {
        text = json_is_true(v) ? "true" : "false";
    }
    else if (v && !json_is_null(v)) {
        text = rts_json_dump(p, v, NULL);
    }
    *plen = text ? strlen(text) : 0;
    return text && *plen <= max ? text : NULL;
}

rts_claim_verdict_t rts_claim_value(apr_pool_t *p, const json_t *v, rts_claim_use_t use,
                                    const char **ptext)
{
    const char *text;
    apr_size_t len = 0;

    *ptext = NULL;
    if (!v || json_is_null(v)) {
        return RTS_CLAIM_ABSENT;
    }
    if (use == RTS_CLAIM_AS_USER) {
        if (!json_is_string(v)) {
            return RTS_CLAIM_NOT_STRING;
        }
        text = json_string_value(v);
        len = json_string_length(v);
        if (len == 0) {
            return RTS_CLAIM_EMPTY;
        }
        if (len > RTS_CLAIM_USER_MAX) {
            return RTS_CLAIM_TOO_LONG;
        }
        if (has_control(text, len)) {
            return RTS_CLAIM_CONTROL;
        }
        *ptext = text;
        return RTS_CLAIM_OK;
    }
    text = raw_text(p, v, RTS_CLAIM_TEXT_MAX, &len);
    if (!text) {
        return len > RTS_CLAIM_TEXT_MAX ? RTS_CLAIM_TOO_LONG : RTS_CLAIM_ABSENT;
    }
    if (has_control(text, len)) {
        *ptext = neutralise(p, text, len);
        return RTS_CLAIM_CONTROL;
    }
    *ptext = text;
    return RTS_CLAIM_OK;
}

const char *rts_claim_verdict_text(rts_claim_verdict_t verdict)
{
    switch (verdict) {
    case RTS_CLAIM_OK:         return "is usable";
    case RTS_CLAIM_ABSENT:     return "is absent";
    case RTS_CLAIM_NOT_STRING: return "is not a string";
    case RTS_CLAIM_EMPTY:      return "is empty";
    case RTS_CLAIM_CONTROL:    return "holds a control character (CR, LF, NUL, TAB, DEL or C1)";
    case RTS_CLAIM_TOO_LONG:   return "is too long";
    }
    return "is unusable";
}
