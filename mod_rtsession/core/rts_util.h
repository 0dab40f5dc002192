/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers: base64url, randomness, constant-time comparison, URL/form encoding. */
#ifndef RTS_UTIL_H
#define RTS_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>

/* base64url without padding (RFC 7515 §2). */
const char *rts_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);
/* Strict decode: rejects padding, characters outside the base64url alphabet and non-canonical
 * trailing bits. Returns APR_EINVAL on bad input. The output is NUL-terminated (not counted). */
apr_status_t rts_b64url_decode(apr_pool_t *p, const char *in, apr_size_t in_len,
                               unsigned char **out, apr_size_t *out_len);

/* Fills buf from the OpenSSL CSPRNG (RAND_bytes). */
apr_status_t rts_random_bytes(unsigned char *buf, apr_size_t len);
/* A base64url string of nbytes random bytes (e.g. 32 bytes -> 43 characters). */
apr_status_t rts_random_token(apr_pool_t *p, apr_size_t nbytes, const char **ptoken);

/* Constant-time equality of two byte strings (lengths may differ; that leaks only the length). */
int rts_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen);
int rts_ct_streq(const char *a, const char *b);

/* RFC 3986 percent-encoding of everything but unreserved characters (for query and form values). */
const char *rts_url_encode(apr_pool_t *p, const char *s);
/* Percent-decoding; '+' becomes a space when form is non-zero. APR_EINVAL on a bad escape or
 * an encoded NUL. */
apr_status_t rts_url_decode(apr_pool_t *p, const char *s, apr_size_t len, int form, char **out);
/* Parses "a=1&b=2" (query string or x-www-form-urlencoded body) into a table. A repeated
 * parameter is an error (APR_EINVAL), as OAuth requires (RFC 6749 §3.1), and so are a bad
 * escape, an encoded NUL and an empty name. "a" alone gives a = ""; empty segments ("&&")
 * are ignored. */
apr_status_t rts_form_parse(apr_pool_t *p, const char *s, apr_table_t **ptable);
/* Builds "k1=v1&k2=v2" (both percent-encoded) from alternating key/value strings ending with a
 * NULL key. A pair whose value is NULL is left out, which suits optional parameters. */
const char *rts_form_build(apr_pool_t *p, ...);

#endif
