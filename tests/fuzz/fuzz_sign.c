/* SPDX-License-Identifier: Apache-2.0 */
/* ES256 signer for the fuzz targets (fuzz_sign.h). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include "fuzz_common.h"
#include "fuzz_sign.h"
#include "rts.h"
#include "rts_result.h"
#include "rts_util.h"

static EVP_PKEY *key;
static rts_jwks_t *jwks;
static const char *jwk_json;

static const char *bn_b64(apr_pool_t *p, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char buf[32];

    rts_fuzz_assert(EVP_PKEY_get_bn_param(key, param, &bn) == 1
                    && BN_bn2binpad(bn, buf, sizeof(buf)) == sizeof(buf), "EC point");
    BN_free(bn);
    return rts_b64url_encode(p, buf, sizeof(buf));
}

static void setup(void)
{
    apr_pool_t *p = rts_fuzz_pool();
    const char *text;
    rts_result_t res;

    rts_fuzz_static_begin();
    key = EVP_EC_gen("P-256");
    rts_fuzz_assert(key != NULL, "EC key");
    jwk_json = apr_psprintf(p, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\","
                            "\"alg\":\"ES256\",\"use\":\"sig\",\"x\":\"%s\",\"y\":\"%s\"}",
                            RTS_FUZZ_SIGN_KID, bn_b64(p, OSSL_PKEY_PARAM_EC_PUB_X),
                            bn_b64(p, OSSL_PKEY_PARAM_EC_PUB_Y));
    text = apr_pstrcat(p, "{\"keys\":[", jwk_json, "]}", NULL);
    memset(&res, 0, sizeof(res));
    rts_fuzz_assert(rts_jwks_parse(p, text, strlen(text), 64 * 1024, &jwks, &res) == APR_SUCCESS,
                    "signer JWKS");
    rts_fuzz_static_end();
}

const rts_jwks_t *rts_fuzz_sign_jwks(void)
{
    if (!key) {
        setup();
    }
    return jwks;
}

const char *rts_fuzz_sign_jwk_json(void)
{
    if (!key) {
        setup();
    }
    return jwk_json;
}

const char *rts_fuzz_sign(apr_pool_t *p, const char *text, apr_size_t len)
{
    const char *nl = memchr(text, '\n', len), *header = "{\"alg\":\"ES256\",\"kid\":\"fz\"}";
    apr_size_t header_len = strlen(header);
    const char *input;
    unsigned char der[80], raw[64];
    const unsigned char *q = der;
    size_t der_len = sizeof(der);
    const BIGNUM *r, *s;
    ECDSA_SIG *sig;
    EVP_MD_CTX *md;

    if (!key) {
        setup();
    }
    if (nl) {
        header = text;
        header_len = (apr_size_t)(nl - text);
        len -= header_len + 1;
        text = nl + 1;
    }
    input = apr_pstrcat(p, rts_b64url_encode(p, (const unsigned char *)header, header_len), ".",
                        rts_b64url_encode(p, (const unsigned char *)text, len), NULL);
    md = EVP_MD_CTX_new();
    rts_fuzz_assert(md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1
                    && EVP_DigestSign(md, der, &der_len, (const unsigned char *)input,
                                      strlen(input)) == 1, "sign");
    EVP_MD_CTX_free(md);
    sig = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
    rts_fuzz_assert(sig != NULL, "DER signature");
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(sig);
    return apr_pstrcat(p, input, ".", rts_b64url_encode(p, raw, sizeof(raw)), NULL);
}
