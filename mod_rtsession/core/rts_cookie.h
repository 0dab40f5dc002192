/* SPDX-License-Identifier: Apache-2.0 */
/* Cookie header parsing and Set-Cookie building for the module's own cookies. */
#ifndef RTS_COOKIE_H
#define RTS_COOKIE_H

#include <apr_pools.h>

#define RTS_COOKIE_MAX_HEADER 8192

/* The value of cookie `name` in a Cookie request header (RFC 6265 §5.4 syntax: "a=1; b=2").
 * APR_ENOENT when absent; APR_EINVAL when the header is oversized or the cookie appears twice
 * (a second cookie of the same name can be planted by a sibling domain: refuse to choose). */
apr_status_t rts_cookie_get(apr_pool_t *p, const char *header, const char *name, const char **pval);
/* The Cookie header without the named cookies (NULL when nothing is left). */
const char *rts_cookie_strip(apr_pool_t *p, const char *header, const char *const *names);
/* The module's cookies. They share one base name (RTSessionCookieName), each with its suffix:
 * the session (the base name alone), a login in progress (its state and sealed PKCE verifier,
 * nonce and return URL) and an RP-initiated logout in progress (its state). */
#define RTS_COOKIE_DEFAULT_NAME "rtsession"
typedef enum {
    RTS_COOKIE_SESSION,     /* "" */
    RTS_COOKIE_LOGIN,       /* "_login" */
    RTS_COOKIE_LOGOUT       /* "_logout" */
} rts_cookie_kind_t;
#define RTS_COOKIE_KINDS 3

/* The name of the module's cookie of this kind as sent: base name + suffix, with the "__Host-"
 * prefix on https (which requires Secure, Path=/ and no Domain, as rts_cookie_build sets). */
const char *rts_cookie_name(apr_pool_t *p, const char *base, rts_cookie_kind_t kind, int secure);
/* A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, Secure when secure; max_age < 0 for a
 * session cookie, 0 to delete. */
const char *rts_cookie_build(apr_pool_t *p, const char *name, const char *value, int secure,
                             apr_int64_t max_age);

#endif
