/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL 3 EVP primitives the module needs: hashes, HMAC, HKDF, AES-256-GCM sealing. */
#ifndef RTS_CRYPTO_H
#define RTS_CRYPTO_H

#include <apr_pools.h>

#define RTS_SHA256_LEN 32
#define RTS_SEAL_KEY_LEN 32
#define RTS_SEAL_OVERHEAD (12 + 16)   /* nonce + GCM tag */

apr_status_t rts_sha256(const void *data, apr_size_t len, unsigned char out[RTS_SHA256_LEN]);
apr_status_t rts_hmac_sha256(const void *key, apr_size_t key_len, const void *data, apr_size_t len,
                             unsigned char out[RTS_SHA256_LEN]);
/* An HMAC-SHA256 key set up once (OpenSSL's keyed EVP_MAC_CTX, duplicated per use): per-request
 * HMACs under the module's record keys skip the algorithm fetch and the key schedule. Freed with
 * p. Safe to use from several threads at once: each use works on its own duplicate. */
typedef struct rts_hmac_key_t rts_hmac_key_t;
apr_status_t rts_hmac_key_create(apr_pool_t *p, const void *key, apr_size_t key_len,
                                 rts_hmac_key_t **pkey);
apr_status_t rts_hmac_sha256_keyed(const rts_hmac_key_t *key, const void *data, apr_size_t len,
                                   unsigned char out[RTS_SHA256_LEN]);
/* HKDF-SHA256 (RFC 5869) extract+expand. */
apr_status_t rts_hkdf_sha256(const void *ikm, apr_size_t ikm_len, const void *salt, apr_size_t salt_len,
                             const void *info, apr_size_t info_len, unsigned char *out, apr_size_t out_len);
/* AES-256-GCM: out = nonce(12) || ciphertext || tag(16), with a random nonce; aad authenticated. */
apr_status_t rts_seal(apr_pool_t *p, const unsigned char key[RTS_SEAL_KEY_LEN],
                      const void *aad, apr_size_t aad_len,
                      const void *plain, apr_size_t plain_len,
                      unsigned char **out, apr_size_t *out_len);
/* Opens what rts_seal produced; RTS_EBADTOKEN when the tag does not verify. The plaintext is
 * NUL-terminated (not counted) and wiped at pool cleanup. */
apr_status_t rts_open(apr_pool_t *p, const unsigned char key[RTS_SEAL_KEY_LEN],
                      const void *aad, apr_size_t aad_len,
                      const void *sealed, apr_size_t sealed_len,
                      unsigned char **out, apr_size_t *out_len);
/* The PKCE S256 challenge of a verifier (RFC 7636 §4.2): base64url(SHA256(ascii(verifier))). */
const char *rts_pkce_s256(apr_pool_t *p, const char *verifier);

#endif
