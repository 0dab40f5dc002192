/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS (RFC 7515) parsing and verification, and JWK Sets (RFC 7517) as EVP_PKEYs.
 * The algorithm is checked against the caller's allow-list and against the key's type; the
 * token alone never chooses it. Only keys from the JWKS passed in are used: the header
 * parameters jku, jwk, x5u, x5c are never trusted. */
#ifndef RTS_JOSE_H
#define RTS_JOSE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "rts_result.h"

#define RTS_JWKS_MAX_KEYS 64

typedef struct rts_jwk_t {
    const char *kid;          /* NULL when absent */
    const char *kty;          /* "RSA", "EC" or "OKP" (symmetric "oct" keys are never loaded) */
    const char *alg;          /* NULL when absent; when present the token's alg must equal it */
    const char *use;          /* NULL when absent; keys with use other than "sig" are skipped */
    const char *crv;          /* EC: P-256/P-384/P-521; OKP: Ed25519/Ed448; else NULL */
    EVP_PKEY *pkey;           /* freed at cleanup of the pool the set was parsed in */
} rts_jwk_t;

typedef struct rts_jwks_t {
    apr_array_header_t *keys; /* of rts_jwk_t * */
} rts_jwks_t;

typedef struct rts_jws_t {
    const char *alg;
    const char *kid;          /* NULL when absent */
    const char *typ;          /* NULL when absent */
    json_t *header;           /* owned by the pool */
    json_t *claims;           /* the payload, which must be a JSON object; owned by the pool */
    const char *signing_input;/* "b64(header).b64(payload)" */
    apr_size_t signing_input_len;
    unsigned char *sig;
    apr_size_t sig_len;
} rts_jws_t;

/* Parses a JWK Set of at most max_len bytes. Keys that cannot be used for signature
 * verification (unknown kty, use other than sig, key_ops without verify, oct, an alg or curve
 * we do not implement, X25519/X448) are skipped; malformed keys of a known type, EC points not
 * on their curve and RSA keys under 2048 bits are APR_EINVAL; a text over max_len or more than
 * RTS_JWKS_MAX_KEYS keys is RTS_ETOOLARGE. res gets error "invalid_jwks" and HTTP 502. */
apr_status_t rts_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len, apr_size_t max_len,
                            rts_jwks_t **pjwks, rts_result_t *res);

/* Parses a compact JWS of at most max_len bytes. JWE (5 parts), unsecured JWS with an empty
 * signature, a non-object header or payload, a missing alg and any "crit" parameter (we
 * understand no extensions, RFC 7515 §4.1.11) are RTS_EBADTOKEN. */
apr_status_t rts_jws_parse(apr_pool_t *p, const char *compact, apr_size_t max_len,
                           rts_jws_t **pjws, rts_result_t *res);

/* Verifies the signature with a key of jwks. The token's alg must be in allowed_algs (a
 * NULL-terminated list; a NULL list allows every alg rts_jose_alg_supported accepts; "none"
 * and HS* are refused whatever the list says) and must suit the key (kty, curve, the JWK's alg
 * if any). With a kid, only keys with that kid are tried; without one, every suitable key is
 * tried. RTS_ENOKEY when no key has the kid or none suits the alg (the caller may refetch the
 * JWKS), RTS_EBADTOKEN when the alg is refused or no tried key verifies the signature. */
apr_status_t rts_jws_verify(apr_pool_t *p, const rts_jws_t *jws, const rts_jwks_t *jwks,
                            const char *const *allowed_algs, rts_result_t *res);

/* Non-zero when alg names an asymmetric signature algorithm this module implements:
 * RS256/384/512, PS256/384/512, ES256/384/512, EdDSA. */
int rts_jose_alg_supported(const char *alg);

/* The left half of the hash of value with the hash of alg (for at_hash/c_hash, OIDC Core
 * §3.1.3.6), base64url-encoded. NULL if alg is unsupported (EdDSA with Ed25519 uses SHA-512). */
const char *rts_jose_half_hash(apr_pool_t *p, const char *alg, const char *crv, const char *value);

/* The payload of a compact JWT as a JSON object, WITHOUT verifying anything: only for tokens
 * verified earlier (a stored ID token) or read for scheduling, never for trust (an access
 * token's exp). APR_ENOENT when the text is not three dot-separated parts, RTS_EBADTOKEN when
 * the payload does not decode, else what rts_json_parse_object returns (max_len bounds it). */
apr_status_t rts_jwt_peek_claims(apr_pool_t *p, const char *compact, apr_size_t max_len,
                                 json_t **pclaims);

#endif
