/* SPDX-License-Identifier: Apache-2.0 */
/* JWT claim rules shared by every JWT the module reads: ID tokens (rts_idtoken.c), logout tokens
 * (rts_backchannel.c) and the expiry of JWT access tokens (rts_refresh_at_expiry). One rule per
 * claim, whatever the token; the choices and their reasons are in docs/security.md, "JWT claim
 * rules". Each check returns APR_SUCCESS or RTS_EBADTOKEN with *pwhy naming the rule that
 * failed (never a claim value): the caller puts it under its own error and status. */
#ifndef RTS_JWT_CLAIMS_H
#define RTS_JWT_CLAIMS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

/* The latest NumericDate accepted: 9999-12-31T23:59:59Z. Bounding before scaling to apr_time_t
 * (microseconds) keeps every later sum free of signed overflow. */
#define RTS_JWT_TIME_MAX 253402300799LL

/* The NumericDate claim `name` of claims in whole seconds. RFC 7519 §2 allows non-integer
 * values: they are floored (an exp then ends up to 1 s early, never late). APR_ENOENT when
 * absent; APR_EINVAL when not a JSON number (a string "1700000000" too), negative, NaN or after
 * RTS_JWT_TIME_MAX. */
apr_status_t rts_jwt_numeric_date(const json_t *claims, const char *name, apr_int64_t *psec);

/* aud (RFC 7519 §4.1.3): a string, or a non-empty array of strings only; it must contain
 * client_id (byte-wise). A non-string element makes the token invalid even when another element
 * matches. *pcount (may be NULL): the number of audiences, for the caller's azp rule. */
apr_status_t rts_jwt_check_aud(const json_t *claims, const char *client_id, apr_size_t *pcount,
                               const char **pwhy);

/* When a token is valid, our clock. */
typedef struct rts_jwt_times_t {
    apr_time_t now;
    apr_interval_time_t leeway;      /* widens every comparison, both ways; < 0 counts as 0 */
    apr_interval_time_t iat_max_age; /* iat older than now - this - leeway refused; 0: no limit */
    int exp_optional;                /* exp may be absent (logout tokens); required otherwise */
} rts_jwt_times_t;

/* exp (now < exp + leeway; required unless exp_optional), iat (required; iat <= now + leeway;
 * not older than iat_max_age), nbf (when present, nbf <= now + leeway) and auth_time (when
 * present, a NumericDate), each read with rts_jwt_numeric_date. */
apr_status_t rts_jwt_check_times(const json_t *claims, const rts_jwt_times_t *t,
                                 const char **pwhy);

/* The JWS typ header (RFC 7515 §4.1.9, RFC 8725 §3.11): absent, or a media type compared
 * case-insensitively with or without its "application/" prefix, that is either "jwt" (an
 * untyped JWT) or explicit_type (e.g. "logout+jwt"; NULL: none, as for ID tokens). Any other
 * type, notably "at+jwt" (RFC 9068) or another kind's explicit type, is refused: a JWT of
 * another kind signed by the same provider must not pass for this one. p: for *pwhy. */
apr_status_t rts_jwt_check_typ(apr_pool_t *p, const char *typ, const char *explicit_type,
                               const char **pwhy);

#endif
