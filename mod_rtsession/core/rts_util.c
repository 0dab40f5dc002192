/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers: base64url, randomness, constant-time comparison, URL/form encoding. */
#include <stdarg.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_util.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *rts_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    char *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *o++ = b64url_alphabet[((data[i + 1] & 0x0f) << 2) | (data[i + 2] >> 6)];
        *o++ = b64url_alphabet[data[i + 2] & 0x3f];
    }
    if (len - i == 1) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[(data[i] & 0x03) << 4];
    }
    else if (len - i == 2) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *o++ = b64url_alphabet[(data[i + 1] & 0x0f) << 2];
    }
    *o = '\0';
    return out;
}

apr_status_t rts_random_bytes(unsigned char *buf, apr_size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? APR_SUCCESS : APR_EGENERAL;
}

/* Maps an alphabet character to its 6-bit value, -1 for anything else (including '='). */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

apr_status_t rts_b64url_decode(apr_pool_t *p, const char *in, apr_size_t in_len,
                               unsigned char **out, apr_size_t *out_len)
{
    unsigned char *buf, *o;
    apr_size_t i, rem = in_len % 4;
    apr_uint32_t acc = 0;
    int v, n = 0;

    /* One leftover character carries only 6 bits: never a whole byte. */
    if (rem == 1) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, in_len / 4 * 3 + 3);
    o = buf;
    for (i = 0; i < in_len; i++) {
        if ((v = b64url_value((unsigned char)in[i])) < 0) {
            return APR_EINVAL;
        }
        acc = (acc << 6) | (apr_uint32_t)v;
        if (++n == 4) {
            *o++ = (unsigned char)(acc >> 16);
            *o++ = (unsigned char)(acc >> 8);
            *o++ = (unsigned char)acc;
            acc = 0;
            n = 0;
        }
    }
    /* Non-canonical encodings (unused low bits set) would let one value have several
     * spellings; refuse them so that comparisons on the encoded form stay meaningful. */
    if (n == 2) {
        if (acc & 0x0f) {
            return APR_EINVAL;
        }
        *o++ = (unsigned char)(acc >> 4);
    }
    else if (n == 3) {
        if (acc & 0x03) {
            return APR_EINVAL;
        }
        *o++ = (unsigned char)(acc >> 10);
        *o++ = (unsigned char)(acc >> 2);
    }
    *o = '\0';
    *out = buf;
    *out_len = (apr_size_t)(o - buf);
    return APR_SUCCESS;
}

apr_status_t rts_random_token(apr_pool_t *p, apr_size_t nbytes, const char **ptoken)
{
    unsigned char *buf = apr_palloc(p, nbytes ? nbytes : 1);
    apr_status_t rv;

    if ((rv = rts_random_bytes(buf, nbytes)) != APR_SUCCESS) {
        return rv;
    }
    *ptoken = rts_b64url_encode(p, buf, nbytes);
    /* Only the encoded form is kept; do not leave the raw bytes lying in the pool. */
    OPENSSL_cleanse(buf, nbytes);
    return APR_SUCCESS;
}

int rts_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen)
{
    if (alen != blen || !a || !b) {
        return 0;
    }
    return alen == 0 || CRYPTO_memcmp(a, b, alen) == 0;
}

int rts_ct_streq(const char *a, const char *b)
{
    if (!a || !b) {
        return 0;
    }
    return rts_ct_equal(a, strlen(a), b, strlen(b));
}

static int url_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~';
}

const char *rts_url_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *c;
    char *out, *o;

    out = apr_palloc(p, strlen(s) * 3 + 1);
    o = out;
    for (c = (const unsigned char *)s; *c; c++) {
        if (url_unreserved(*c)) {
            *o++ = (char)*c;
        }
        else {
            *o++ = '%';
            *o++ = hex[*c >> 4];
            *o++ = hex[*c & 0x0f];
        }
    }
    *o = '\0';
    return out;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

apr_status_t rts_url_decode(apr_pool_t *p, const char *s, apr_size_t len, int form, char **out)
{
    char *buf = apr_palloc(p, len + 1), *o = buf;
    apr_size_t i;
    int hi, lo;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            if (len - i < 3) {
                return APR_EINVAL;
            }
            if ((hi = hex_value((unsigned char)s[i + 1])) < 0
                || (lo = hex_value((unsigned char)s[i + 2])) < 0) {
                return APR_EINVAL;
            }
            c = (unsigned char)((hi << 4) | lo);
            i += 2;
        }
        else if (c == '+' && form) {
            c = ' ';
        }
        /* A NUL, encoded or raw, would silently truncate the value for every C consumer. */
        if (c == '\0') {
            return APR_EINVAL;
        }
        *o++ = (char)c;
    }
    *o = '\0';
    *out = buf;
    return APR_SUCCESS;
}

apr_status_t rts_form_parse(apr_pool_t *p, const char *s, apr_table_t **ptable)
{
    apr_table_t *t = apr_table_make(p, 8);
    const char *seg = s, *end, *eq;
    char *key, *val;
    apr_status_t rv;

    while (seg && *seg) {
        end = strchr(seg, '&');
        if (!end) {
            end = seg + strlen(seg);
        }
        if (end > seg) {
            eq = memchr(seg, '=', (apr_size_t)(end - seg));
            if (!eq) {
                eq = end;
            }
            if (eq == seg) {
                return APR_EINVAL;          /* "=value": no name */
            }
            if ((rv = rts_url_decode(p, seg, (apr_size_t)(eq - seg), 1, &key)) != APR_SUCCESS) {
                return rv;
            }
            val = "";
            if (eq < end && (rv = rts_url_decode(p, eq + 1, (apr_size_t)(end - eq - 1), 1, &val))
                            != APR_SUCCESS) {
                return rv;
            }
            if (apr_table_get(t, key)) {
                return APR_EINVAL;
            }
            apr_table_setn(t, key, val);
        }
        seg = *end ? end + 1 : NULL;
    }
    *ptable = t;
    return APR_SUCCESS;
}

const char *rts_form_build(apr_pool_t *p, ...)
{
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    const char *key, *val;
    va_list ap;

    va_start(ap, p);
    while ((key = va_arg(ap, const char *)) != NULL) {
        val = va_arg(ap, const char *);
        if (!val) {
            continue;                       /* an optional parameter left out */
        }
        APR_ARRAY_PUSH(parts, const char *) = apr_pstrcat(p, rts_url_encode(p, key), "=",
                                                          rts_url_encode(p, val), NULL);
    }
    va_end(ap);
    return apr_array_pstrcat(p, parts, '&');
}
