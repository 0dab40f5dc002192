/* SPDX-License-Identifier: Apache-2.0 */
/* Test-side JOSE signer (see test_keys.h). */
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <apr_strings.h>
#include <jansson.h>
#include "rts.h"
#include "rts_crypto.h"
#include "rts_json.h"
#include "rts_util.h"
#include "test_keys.h"

/* RSA generation takes tens of milliseconds; a few keys serve every test. */
static EVP_PKEY *rsa_cache[RTS_TEST_RSA_CACHE];

static void rsa_cache_free(void)
{
    int i;

    for (i = 0; i < RTS_TEST_RSA_CACHE; i++) {
        EVP_PKEY_free(rsa_cache[i]);
        rsa_cache[i] = NULL;
    }
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free((EVP_PKEY *)data);
    return APR_SUCCESS;
}

static EVP_PKEY *rsa_key(apr_pool_t *p)
{
    static int atexit_done;
    void *data = NULL;
    apr_size_t idx;

    /* A per-pool counter: distinct keys within one test, shared across tests. */
    apr_pool_userdata_get(&data, "test_keys.rsa_next", p);
    idx = (apr_size_t)(data ? *(int *)data : 0);
    if (!data) {
        data = apr_pcalloc(p, sizeof(int));
        apr_pool_userdata_setn(data, "test_keys.rsa_next", NULL, p);
    }
    *(int *)data = (int)((idx + 1) % RTS_TEST_RSA_CACHE);
    if (!rsa_cache[idx]) {
        rsa_cache[idx] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        if (!atexit_done) {
            atexit(rsa_cache_free);
            atexit_done = 1;
        }
    }
    if (!rsa_cache[idx] || EVP_PKEY_up_ref(rsa_cache[idx]) != 1) {
        return NULL;
    }
    return rsa_cache[idx];
}

test_key_t *test_key_generate(apr_pool_t *p, const char *alg, const char *kid)
{
    test_key_t *k = apr_pcalloc(p, sizeof(*k));

    k->alg = apr_pstrdup(p, alg);
    k->kid = kid ? apr_pstrdup(p, kid) : NULL;
    if (!strncmp(alg, "RS", 2) || !strncmp(alg, "PS", 2)) {
        k->pkey = rsa_key(p);
    }
    else if (!strcmp(alg, "ES256")) {
        k->crv = "P-256";
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    }
    else if (!strcmp(alg, "ES384")) {
        k->crv = "P-384";
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    }
    else if (!strcmp(alg, "ES512")) {
        k->crv = "P-521";
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    }
    else if (!strcmp(alg, "EdDSA")) {
        k->crv = "Ed25519";
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
    if (!k->pkey) {
        return NULL;
    }
    apr_pool_cleanup_register(p, k->pkey, pkey_cleanup, apr_pool_cleanup_null);
    return k;
}

static apr_size_t ec_size(const char *crv)
{
    return !strcmp(crv, "P-256") ? 32 : !strcmp(crv, "P-384") ? 48 : 66;
}

static const char *bn_param_b64(apr_pool_t *p, EVP_PKEY *pkey, const char *name, apr_size_t pad)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    apr_size_t len;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        return NULL;
    }
    len = pad ? pad : (apr_size_t)BN_num_bytes(bn);
    buf = apr_palloc(p, len + 1);
    BN_bn2binpad(bn, buf, (int)len);
    BN_free(bn);
    return rts_b64url_encode(p, buf, len);
}

static json_t *jwk_object(apr_pool_t *p, const test_key_t *k)
{
    json_t *o = json_object();
    unsigned char raw[64];
    size_t raw_len = sizeof(raw);

    if (k->kid) {
        json_object_set_new(o, "kid", json_string(k->kid));
    }
    json_object_set_new(o, "alg", json_string(k->alg));
    json_object_set_new(o, "use", json_string("sig"));
    if (!k->crv) {
        json_object_set_new(o, "kty", json_string("RSA"));
        json_object_set_new(o, "n", json_string(bn_param_b64(p, k->pkey, OSSL_PKEY_PARAM_RSA_N, 0)));
        json_object_set_new(o, "e", json_string(bn_param_b64(p, k->pkey, OSSL_PKEY_PARAM_RSA_E, 0)));
    }
    else if (!strncmp(k->crv, "P-", 2)) {
        json_object_set_new(o, "kty", json_string("EC"));
        json_object_set_new(o, "crv", json_string(k->crv));
        json_object_set_new(o, "x", json_string(bn_param_b64(p, k->pkey, OSSL_PKEY_PARAM_EC_PUB_X,
                                                             ec_size(k->crv))));
        json_object_set_new(o, "y", json_string(bn_param_b64(p, k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y,
                                                             ec_size(k->crv))));
    }
    else {
        EVP_PKEY_get_raw_public_key(k->pkey, raw, &raw_len);
        json_object_set_new(o, "kty", json_string("OKP"));
        json_object_set_new(o, "crv", json_string(k->crv));
        json_object_set_new(o, "x", json_string(rts_b64url_encode(p, raw, raw_len)));
    }
    return o;
}

const char *test_jwk_json(apr_pool_t *p, const test_key_t *k)
{
    return rts_json_dump(p, rts_json_pool_own(p, jwk_object(p, k)), NULL);
}

const char *test_jwks_json(apr_pool_t *p, const test_key_t *const *keys, int n)
{
    json_t *arr = json_array(), *root = rts_json_pool_own(p, json_object());
    int i;

    for (i = 0; i < n; i++) {
        json_array_append_new(arr, jwk_object(p, keys[i]));
    }
    json_object_set_new(root, "keys", arr);
    return rts_json_dump(p, root, NULL);
}

static const char *signing_input(apr_pool_t *p, const char *header_json, const char *payload_json)
{
    return apr_pstrcat(p, rts_b64url_encode(p, (const unsigned char *)header_json,
                                            strlen(header_json)),
                       ".", rts_b64url_encode(p, (const unsigned char *)payload_json,
                                              strlen(payload_json)), NULL);
}

static const char *default_header(apr_pool_t *p, const char *alg, const char *kid)
{
    json_t *h = rts_json_pool_own(p, json_object());

    json_object_set_new(h, "alg", json_string(alg));
    if (kid) {
        json_object_set_new(h, "kid", json_string(kid));
    }
    json_object_set_new(h, "typ", json_string("JWT"));
    return rts_json_dump(p, h, NULL);
}

/* DER ECDSA signature -> JWS R||S, each padded to the curve size. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t der_len, apr_size_t n, unsigned char *out)
{
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)der_len);
    int ok;

    if (!es) {
        return 0;
    }
    ok = BN_bn2binpad(ECDSA_SIG_get0_r(es), out, (int)n) == (int)n
         && BN_bn2binpad(ECDSA_SIG_get0_s(es), out + n, (int)n) == (int)n;
    ECDSA_SIG_free(es);
    return ok;
}

static const char *jws_sign(apr_pool_t *p, const test_key_t *k, const char *sign_alg,
                            int pss_saltlen, const char *header_json, const char *payload_json)
{
    const char *input, *md = NULL;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig, *raw;
    size_t sig_len = 0;
    apr_size_t n = 0;
    int ok;

    if (!header_json) {
        header_json = default_header(p, sign_alg, k->kid);
    }
    input = signing_input(p, header_json, payload_json);
    if (strcmp(sign_alg, "EdDSA")) {
        md = !strcmp(sign_alg + 2, "256") ? "SHA256" : !strcmp(sign_alg + 2, "384") ? "SHA384"
             : "SHA512";
    }
    ok = mctx && EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, k->pkey, NULL) == 1;
    if (ok && sign_alg[0] == 'P') {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_saltlen) == 1
             && EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL) == 1;
    }
    ok = ok && EVP_DigestSign(mctx, NULL, &sig_len, (const unsigned char *)input, strlen(input)) == 1;
    sig = ok ? apr_palloc(p, sig_len) : NULL;
    ok = ok && EVP_DigestSign(mctx, sig, &sig_len, (const unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(mctx);
    if (!ok) {
        return NULL;
    }
    if (sign_alg[0] == 'E' && strcmp(sign_alg, "EdDSA")) {
        n = !strcmp(sign_alg, "ES256") ? 32 : !strcmp(sign_alg, "ES384") ? 48 : 66;
        raw = apr_palloc(p, 2 * n);
        if (!ecdsa_der_to_raw(sig, sig_len, n, raw)) {
            return NULL;
        }
        sig = raw;
        sig_len = 2 * n;
    }
    return apr_pstrcat(p, input, ".", rts_b64url_encode(p, sig, sig_len), NULL);
}

const char *test_jws_sign_as(apr_pool_t *p, const test_key_t *k, const char *sign_alg,
                             const char *header_json, const char *payload_json)
{
    return jws_sign(p, k, sign_alg, RSA_PSS_SALTLEN_DIGEST, header_json, payload_json);
}

const char *test_jws_sign_pss_salt(apr_pool_t *p, const test_key_t *k, const char *sign_alg,
                                   int salt_len, const char *header_json, const char *payload_json)
{
    return jws_sign(p, k, sign_alg, salt_len, header_json, payload_json);
}

const char *test_jws_sign(apr_pool_t *p, const test_key_t *k, const char *header_json,
                          const char *payload_json)
{
    return test_jws_sign_as(p, k, k->alg, header_json, payload_json);
}

const char *test_jws_hs256(apr_pool_t *p, const void *secret, apr_size_t secret_len,
                           const char *header_json, const char *payload_json)
{
    unsigned char mac[RTS_SHA256_LEN];
    const char *input;

    input = signing_input(p, header_json ? header_json : "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                          payload_json);
    if (rts_hmac_sha256(secret, secret_len, input, strlen(input), mac) != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrcat(p, input, ".", rts_b64url_encode(p, mac, sizeof(mac)), NULL);
}

const char *test_jws_none(apr_pool_t *p, const char *header_json, const char *payload_json)
{
    return apr_pstrcat(p, signing_input(p, header_json ? header_json : "{\"alg\":\"none\"}",
                                        payload_json), ".", NULL);
}
