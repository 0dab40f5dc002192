/* SPDX-License-Identifier: Apache-2.0 */
/* Test-side JOSE signer: generates keys, publishes them as JWK/JWKS and signs compact JWS, so
 * every suite can build ID tokens the core must accept or refuse. Never linked into the module. */
#ifndef RTS_TEST_KEYS_H
#define RTS_TEST_KEYS_H

#include <apr_pools.h>
#include <openssl/evp.h>

typedef struct test_key_t {
    EVP_PKEY *pkey;           /* private key; freed at cleanup of the pool it was made in */
    const char *alg;          /* RS256.., PS256.., ES256/384/512, EdDSA */
    const char *kid;          /* NULL: the JWK and the default header carry no kid */
    const char *crv;          /* P-256/P-384/P-521, Ed25519; NULL for RSA */
} test_key_t;

/* A key for alg (RS*, PS*: 2048-bit RSA; ES256/384/512: the matching curve; EdDSA: Ed25519).
 * RSA keys come from a small process-wide cache so the suite stays fast: within one pool the
 * first RTS_TEST_RSA_CACHE RSA keys are distinct, later ones repeat. NULL for unknown alg. */
#define RTS_TEST_RSA_CACHE 4
test_key_t *test_key_generate(apr_pool_t *p, const char *alg, const char *kid);

/* The public JWK as JSON, with kty, kid (if any), alg, use=sig and the public parameters. */
const char *test_jwk_json(apr_pool_t *p, const test_key_t *k);
/* {"keys":[...]} of the n keys' public JWKs. */
const char *test_jwks_json(apr_pool_t *p, const test_key_t *const *keys, int n);

/* A compact JWS of payload_json signed with k under k->alg. header_json NULL means
 * {"alg":k->alg,"kid":k->kid,"typ":"JWT"} (kid left out when NULL); otherwise it is used
 * verbatim, so tests can lie in it. ES* signatures are raw R||S as JWS requires. */
const char *test_jws_sign(apr_pool_t *p, const test_key_t *k, const char *header_json,
                          const char *payload_json);
/* Same, but signs with the algorithm sign_alg whatever k->alg says (key must fit it). */
const char *test_jws_sign_as(apr_pool_t *p, const test_key_t *k, const char *sign_alg,
                             const char *header_json, const char *payload_json);
/* A PS* token whose PSS salt is salt_len bytes instead of the hash length JWA requires. */
const char *test_jws_sign_pss_salt(apr_pool_t *p, const test_key_t *k, const char *sign_alg,
                                   int salt_len, const char *header_json, const char *payload_json);
/* An HS256 token with the given secret; header_json NULL means {"alg":"HS256","typ":"JWT"}. */
const char *test_jws_hs256(apr_pool_t *p, const void *secret, apr_size_t secret_len,
                           const char *header_json, const char *payload_json);
/* An unsecured token "h.p." (empty signature); header_json NULL means {"alg":"none"}. */
const char *test_jws_none(apr_pool_t *p, const char *header_json, const char *payload_json);

#endif
