/* SPDX-License-Identifier: Apache-2.0 */
/* ID token validation (OIDC Core §3.1.3.7, §3.1.3.6 at_hash; RFC 8725). */
#ifndef RTS_IDTOKEN_H
#define RTS_IDTOKEN_H

#include "rts.h"
#include "rts_result.h"
#include "rts_jose.h"

typedef struct rts_idtoken_expect_t {
    const char *issuer;              /* iss must equal it exactly */
    const char *client_id;           /* aud must contain it; azp, when present, must equal it;
                                      * several audiences require azp */
    const char *nonce;               /* at login: must equal the nonce claim; NULL on refresh
                                      * (then a nonce claim, if present, is not checked) */
    const char *sub;                 /* on refresh: sub must equal it; NULL at login */
    const char *access_token;        /* when set and at_hash is present, at_hash must match */
    apr_time_t now;
    apr_interval_time_t leeway;      /* applied to exp, iat, nbf */
    apr_interval_time_t iat_max_age; /* iat older than now - this is refused; 0 = no limit */
    const char *const *allowed_algs;
} rts_idtoken_expect_t;

/* Parses, verifies the signature against jwks and checks every claim rule. Requires iss, sub
 * (a non-empty string of at most 255 printable ASCII characters, OIDC Core §2), aud, exp, iat;
 * exp must be in the future, iat not in the future (both within leeway); nbf, when present,
 * passed. typ, when present, must be JWT or application/jwt. The decisions are listed at the
 * top of rts_idtoken.c.
 * Returns APR_SUCCESS with *pjws (its claims are the validated claims), RTS_ENOKEY when no key
 * matches (the caller refetches the JWKS once and retries) or RTS_EBADTOKEN with res saying
 * which rule failed (never the token itself; http_status 401, error "invalid_id_token").
 * APR_EINVAL when expect lacks issuer, client_id or allowed_algs. */
apr_status_t rts_idtoken_validate(apr_pool_t *p, const char *id_token, apr_size_t max_len,
                                  const rts_jwks_t *jwks, const rts_idtoken_expect_t *expect,
                                  rts_jws_t **pjws, rts_result_t *res);

#endif
