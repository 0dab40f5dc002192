/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL 3 EVP primitives: SHA-256, HMAC, HKDF, AES-256-GCM sealing, PKCE. */
#include <limits.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include "rts.h"
#include "rts_crypto.h"
#include "rts_util.h"

#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16

apr_status_t rts_sha256(const void *data, apr_size_t len, unsigned char out[RTS_SHA256_LEN])
{
    unsigned int outlen = RTS_SHA256_LEN;

    return EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) == 1 ? APR_SUCCESS : APR_EGENERAL;
}

/* A new HMAC-SHA256 context set up with key; NULL on failure. */
static EVP_MAC_CTX *hmac_ctx_new(const void *key, apr_size_t key_len)
{
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
    OSSL_PARAM params[2];

    if (!(mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) {
        return NULL;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);          /* the context holds its own reference */
    if (ctx && EVP_MAC_init(ctx, key, key_len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* Feeds data to a keyed context and finishes it. */
static apr_status_t hmac_finish(EVP_MAC_CTX *ctx, const void *data, apr_size_t len,
                                unsigned char out[RTS_SHA256_LEN])
{
    size_t outlen = 0;

    return ctx && EVP_MAC_update(ctx, data, len) == 1
           && EVP_MAC_final(ctx, out, &outlen, RTS_SHA256_LEN) == 1 && outlen == RTS_SHA256_LEN
           ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t rts_hmac_sha256(const void *key, apr_size_t key_len, const void *data, apr_size_t len,
                             unsigned char out[RTS_SHA256_LEN])
{
    EVP_MAC_CTX *ctx = hmac_ctx_new(key, key_len);
    apr_status_t rv = hmac_finish(ctx, data, len, out);

    EVP_MAC_CTX_free(ctx);
    return rv;
}

struct rts_hmac_key_t {
    EVP_MAC_CTX *ctx;           /* keyed, never updated: only duplicated */
};

static apr_status_t hmac_key_cleanup(void *data)
{
    rts_hmac_key_t *k = data;

    EVP_MAC_CTX_free(k->ctx);   /* frees the key material cleansed */
    k->ctx = NULL;
    return APR_SUCCESS;
}

apr_status_t rts_hmac_key_create(apr_pool_t *p, const void *key, apr_size_t key_len,
                                 rts_hmac_key_t **pkey)
{
    rts_hmac_key_t *k = apr_pcalloc(p, sizeof(*k));

    if (!(k->ctx = hmac_ctx_new(key, key_len))) {
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, k, hmac_key_cleanup, apr_pool_cleanup_null);
    *pkey = k;
    return APR_SUCCESS;
}

apr_status_t rts_hmac_sha256_keyed(const rts_hmac_key_t *key, const void *data, apr_size_t len,
                                   unsigned char out[RTS_SHA256_LEN])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(key->ctx);
    apr_status_t rv = hmac_finish(ctx, data, len, out);

    EVP_MAC_CTX_free(ctx);
    return rv;
}

apr_status_t rts_hkdf_sha256(const void *ikm, apr_size_t ikm_len, const void *salt, apr_size_t salt_len,
                             const void *info, apr_size_t info_len, unsigned char *out, apr_size_t out_len)
{
    EVP_KDF *kdf;
    EVP_KDF_CTX *ctx = NULL;
    OSSL_PARAM params[5], *prm = params;
    apr_status_t rv = APR_EGENERAL;

    if (!(kdf = EVP_KDF_fetch(NULL, "HKDF", NULL))) {
        return APR_EGENERAL;
    }
    *prm++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *prm++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    /* An absent salt means HashLen zero bytes (RFC 5869 §2.2), which OpenSSL applies itself. */
    if (salt && salt_len) {
        *prm++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    }
    if (info && info_len) {
        *prm++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    }
    *prm = OSSL_PARAM_construct_end();
    if ((ctx = EVP_KDF_CTX_new(kdf)) && EVP_KDF_derive(ctx, out, out_len, params) == 1) {
        rv = APR_SUCCESS;
    }
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rv;
}

apr_status_t rts_seal(apr_pool_t *p, const unsigned char key[RTS_SEAL_KEY_LEN],
                      const void *aad, apr_size_t aad_len,
                      const void *plain, apr_size_t plain_len,
                      unsigned char **out, apr_size_t *out_len)
{
    EVP_CIPHER_CTX *ctx;
    unsigned char *buf, *ct;
    int n, fin;
    apr_status_t rv;

    if (plain_len > INT_MAX - RTS_SEAL_OVERHEAD || aad_len > INT_MAX) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, plain_len + RTS_SEAL_OVERHEAD);
    ct = buf + SEAL_NONCE_LEN;
    /* Random 96-bit nonces: safe for far more seals than one key will see (NIST SP 800-38D). */
    if ((rv = rts_random_bytes(buf, SEAL_NONCE_LEN)) != APR_SUCCESS) {
        return rv;
    }
    if (!(ctx = EVP_CIPHER_CTX_new())) {
        return APR_ENOMEM;
    }
    rv = APR_EGENERAL;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) == 1
        && (aad_len == 0 || EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1)
        && EVP_EncryptUpdate(ctx, ct, &n, plain, (int)plain_len) == 1
        && EVP_EncryptFinal_ex(ctx, ct + n, &fin) == 1
        && (apr_size_t)(n + fin) == plain_len
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, ct + plain_len) == 1) {
        *out = buf;
        *out_len = plain_len + RTS_SEAL_OVERHEAD;
        rv = APR_SUCCESS;
    }
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

typedef struct wipe_t {
    void *buf;
    apr_size_t len;
} wipe_t;

static apr_status_t wipe_cleanup(void *data)
{
    wipe_t *w = data;

    OPENSSL_cleanse(w->buf, w->len);
    return APR_SUCCESS;
}

apr_status_t rts_open(apr_pool_t *p, const unsigned char key[RTS_SEAL_KEY_LEN],
                      const void *aad, apr_size_t aad_len,
                      const void *sealed, apr_size_t sealed_len,
                      unsigned char **out, apr_size_t *out_len)
{
    const unsigned char *in = sealed;
    unsigned char tag[SEAL_TAG_LEN], *buf;
    apr_size_t ct_len;
    EVP_CIPHER_CTX *ctx;
    wipe_t *w;
    int n = 0, fin = 0, ok;

    if (sealed_len < RTS_SEAL_OVERHEAD) {
        return RTS_EBADTOKEN;
    }
    ct_len = sealed_len - RTS_SEAL_OVERHEAD;
    if (ct_len > INT_MAX || aad_len > INT_MAX) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, ct_len + 1);
    w = apr_palloc(p, sizeof(*w));
    w->buf = buf;
    w->len = ct_len + 1;
    /* Registered before decrypting, so even a plaintext from a failed tag check is wiped. */
    apr_pool_cleanup_register(p, w, wipe_cleanup, apr_pool_cleanup_null);
    memcpy(tag, in + sealed_len - SEAL_TAG_LEN, SEAL_TAG_LEN);
    if (!(ctx = EVP_CIPHER_CTX_new())) {
        return APR_ENOMEM;
    }
    ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in) == 1
         && (aad_len == 0 || EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1)
         && EVP_DecryptUpdate(ctx, buf, &n, in + SEAL_NONCE_LEN, (int)ct_len) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) == 1
         && EVP_DecryptFinal_ex(ctx, buf + n, &fin) == 1
         && (apr_size_t)(n + fin) == ct_len;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        OPENSSL_cleanse(buf, ct_len + 1);
        return RTS_EBADTOKEN;
    }
    buf[ct_len] = '\0';
    *out = buf;
    *out_len = ct_len;
    return APR_SUCCESS;
}

const char *rts_pkce_s256(apr_pool_t *p, const char *verifier)
{
    unsigned char md[RTS_SHA256_LEN];

    if (rts_sha256(verifier, strlen(verifier), md) != APR_SUCCESS) {
        return NULL;
    }
    return rts_b64url_encode(p, md, sizeof(md));
}
