/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS parsing and verification; JWK Sets as EVP_PKEYs (OpenSSL 3 provider APIs only). */
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_json.h"
#include "rts_jose.h"
#include "rts_util.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384    /* bounds the cost of one verification */

/* What each supported alg needs: key family, digest, and for ECDSA the curve and the size of
 * one of R and S (RFC 7518 §3.4). */
typedef struct alg_info_t {
    const char *name;
    char family;              /* 'R' RSASSA-PKCS1-v1_5, 'P' RSASSA-PSS, 'E' ECDSA, 'D' EdDSA */
    const char *md;           /* OpenSSL digest name; NULL for EdDSA (no pre-hash) */
    const char *crv;          /* ECDSA: the JWK curve the alg requires */
    apr_size_t ec_len;
} alg_info_t;

static const alg_info_t alg_infos[] = {
    { "RS256", 'R', "SHA256", NULL, 0 },
    { "RS384", 'R', "SHA384", NULL, 0 },
    { "RS512", 'R', "SHA512", NULL, 0 },
    { "PS256", 'P', "SHA256", NULL, 0 },
    { "PS384", 'P', "SHA384", NULL, 0 },
    { "PS512", 'P', "SHA512", NULL, 0 },
    { "ES256", 'E', "SHA256", "P-256", 32 },
    { "ES384", 'E', "SHA384", "P-384", 48 },
    { "ES512", 'E', "SHA512", "P-521", 66 },
    { "EdDSA", 'D', NULL, NULL, 0 },
};

static const alg_info_t *alg_find(const char *alg)
{
    apr_size_t i;

    for (i = 0; alg && i < sizeof(alg_infos) / sizeof(alg_infos[0]); i++) {
        if (!strcmp(alg_infos[i].name, alg)) {
            return &alg_infos[i];
        }
    }
    return NULL;
}

int rts_jose_alg_supported(const char *alg)
{
    return alg_find(alg) != NULL;
}

/* EC curves: JWK name, OpenSSL group name, coordinate length. */
typedef struct ec_curve_t {
    const char *crv;
    const char *group;
    apr_size_t len;
} ec_curve_t;

static const ec_curve_t ec_curves[] = {
    { "P-256", "prime256v1", 32 },
    { "P-384", "secp384r1", 48 },
    { "P-521", "secp521r1", 66 },
};

/* ---------------------------------------------------------------------------------------- */
/* JWK Sets                                                                                   */

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free((EVP_PKEY *)data);
    return APR_SUCCESS;
}

/* A base64url member of a JWK: APR_ENOENT when absent or not a string, APR_EINVAL when badly
 * encoded. */
static apr_status_t jwk_b64(apr_pool_t *p, const json_t *k, const char *name,
                            unsigned char **pbuf, apr_size_t *plen)
{
    const char *s = rts_json_str(k, name);

    if (!s) {
        return APR_ENOENT;
    }
    return rts_b64url_decode(p, s, strlen(s), pbuf, plen);
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if ((params = OSSL_PARAM_BLD_to_param(bld))
        && (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL))
        && EVP_PKEY_fromdata_init(ctx) == 1
        && EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static const char *jwk_load_rsa(apr_pool_t *p, const json_t *k, EVP_PKEY **ppkey)
{
    unsigned char *nb, *eb;
    apr_size_t nlen, elen;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    const char *why = NULL;
    int bits;

    if (jwk_b64(p, k, "n", &nb, &nlen) != APR_SUCCESS
        || jwk_b64(p, k, "e", &eb, &elen) != APR_SUCCESS || elen == 0 || elen > 8) {
        return "RSA key without valid n and e";
    }
    if (!(n = BN_bin2bn(nb, (int)nlen, NULL)) || !(e = BN_bin2bn(eb, (int)elen, NULL))) {
        why = "out of memory";
    }
    else if ((bits = BN_num_bits(n)) < RSA_MIN_BITS) {
        why = "RSA key smaller than 2048 bits";
    }
    else if (bits > RSA_MAX_BITS) {
        why = "RSA key larger than 16384 bits";
    }
    else if (!BN_is_odd(e) || BN_is_one(e)) {
        why = "RSA key with an invalid exponent";
    }
    else if (!(bld = OSSL_PARAM_BLD_new())
             || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
             || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1
             || !(*ppkey = pkey_fromdata("RSA", bld))) {
        why = "RSA key not accepted by OpenSSL";
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return why;
}

static const char *jwk_load_ec(apr_pool_t *p, const json_t *k, const ec_curve_t *curve,
                               EVP_PKEY **ppkey)
{
    unsigned char *x, *y, *pt;
    apr_size_t xlen, ylen;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pkey = NULL;
    int ok;

    /* RFC 7518 §6.2.1.2: coordinates have the full length of the field, no more, no less. */
    if (jwk_b64(p, k, "x", &x, &xlen) != APR_SUCCESS
        || jwk_b64(p, k, "y", &y, &ylen) != APR_SUCCESS
        || xlen != curve->len || ylen != curve->len) {
        return "EC key without valid x and y";
    }
    pt = apr_palloc(p, 1 + 2 * curve->len);
    pt[0] = POINT_CONVERSION_UNCOMPRESSED;
    memcpy(pt + 1, x, curve->len);
    memcpy(pt + 1 + curve->len, y, curve->len);
    if (!(bld = OSSL_PARAM_BLD_new())) {
        return "out of memory";
    }
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                            1 + 2 * curve->len) == 1) {
        pkey = pkey_fromdata("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    if (!pkey) {
        return "EC key not accepted (point not on the curve?)";
    }
    /* Import may already refuse an off-curve point; check explicitly rather than rely on it
     * (invalid-curve attacks). */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    ok = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return "EC public key fails validation";
    }
    *ppkey = pkey;
    return NULL;
}

static const char *jwk_load_okp(apr_pool_t *p, const json_t *k, const char *crv, EVP_PKEY **ppkey)
{
    unsigned char *x;
    apr_size_t xlen, want = !strcmp(crv, "Ed25519") ? 32 : 57;

    if (jwk_b64(p, k, "x", &x, &xlen) != APR_SUCCESS || xlen != want) {
        return "OKP key without a valid x";
    }
    *ppkey = EVP_PKEY_new_raw_public_key_ex(NULL, !strcmp(crv, "Ed25519") ? "ED25519" : "ED448",
                                           NULL, x, xlen);
    return *ppkey ? NULL : "OKP key not accepted by OpenSSL";
}

/* Non-zero when a JWK declares it may not verify signatures (use, key_ops). */
static int jwk_not_for_verify(const json_t *k, const char *use)
{
    json_t *ops = json_object_get((json_t *)k, "key_ops"), *op;
    size_t i;

    if (use && strcmp(use, "sig")) {
        return 1;
    }
    if (json_is_array(ops)) {
        json_array_foreach(ops, i, op) {
            if (json_is_string(op) && !strcmp(json_string_value(op), "verify")) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* Does a member, when present, have the wrong type? */
static int json_member_not_string(const json_t *k, const char *name)
{
    json_t *v = json_object_get((json_t *)k, name);

    return v && !json_is_string(v);
}

apr_status_t rts_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len, apr_size_t max_len,
                            rts_jwks_t **pjwks, rts_result_t *res)
{
    json_t *root, *keys, *k;
    rts_jwks_t *jwks;
    rts_jwk_t *jwk;
    const ec_curve_t *curve;
    const char *why;
    apr_status_t rv;
    size_t i, j;

    *pjwks = NULL;
    rv = rts_json_parse_object(p, json, len, max_len, &root);
    if (rv == RTS_ETOOLARGE) {
        return rts_result_set(res, p, rv, 502, "invalid_jwks", "JWKS larger than %" APR_SIZE_T_FMT
                              " bytes", max_len);
    }
    if (rv != APR_SUCCESS) {
        return rts_result_set(res, p, APR_EINVAL, 502, "invalid_jwks", "JWKS is not a JSON object");
    }
    keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        return rts_result_set(res, p, APR_EINVAL, 502, "invalid_jwks", "JWKS has no \"keys\" array");
    }
    if (json_array_size(keys) > RTS_JWKS_MAX_KEYS) {
        return rts_result_set(res, p, RTS_ETOOLARGE, 502, "invalid_jwks",
                              "JWKS has more than %d keys", RTS_JWKS_MAX_KEYS);
    }
    jwks = apr_pcalloc(p, sizeof(*jwks));
    jwks->keys = apr_array_make(p, (int)json_array_size(keys) + 1, sizeof(rts_jwk_t *));
    json_array_foreach(keys, i, k) {
        if (!json_is_object(k)) {
            return rts_result_set(res, p, APR_EINVAL, 502, "invalid_jwks",
                                  "JWKS key %" APR_SIZE_T_FMT " is not an object", i);
        }
        if (!rts_json_str(k, "kty") || json_member_not_string(k, "kid")
            || json_member_not_string(k, "alg") || json_member_not_string(k, "use")
            || json_member_not_string(k, "crv")) {
            return rts_result_set(res, p, APR_EINVAL, 502, "invalid_jwks",
                                  "JWKS key %" APR_SIZE_T_FMT ": kty missing, or kty/kid/alg/use/crv"
                                  " not a string", i);
        }
        jwk = apr_pcalloc(p, sizeof(*jwk));
        jwk->kty = rts_json_str(k, "kty");
        jwk->kid = rts_json_str(k, "kid");
        jwk->alg = rts_json_str(k, "alg");
        jwk->use = rts_json_str(k, "use");
        jwk->crv = rts_json_str(k, "crv");
        /* Skip what cannot verify our signatures: encryption keys, symmetric keys, unknown
         * types, curves and algorithms (RFC 7517 §5: ignore keys you do not understand). */
        if (jwk_not_for_verify(k, jwk->use) || (jwk->alg && !alg_find(jwk->alg))) {
            continue;
        }
        why = NULL;
        if (!strcmp(jwk->kty, "RSA")) {
            jwk->crv = NULL;
            why = jwk_load_rsa(p, k, &jwk->pkey);
        }
        else if (!strcmp(jwk->kty, "EC")) {
            for (curve = NULL, j = 0; jwk->crv && j < sizeof(ec_curves) / sizeof(ec_curves[0]); j++) {
                if (!strcmp(ec_curves[j].crv, jwk->crv)) {
                    curve = &ec_curves[j];
                }
            }
            if (!curve) {
                continue;
            }
            why = jwk_load_ec(p, k, curve, &jwk->pkey);
        }
        else if (!strcmp(jwk->kty, "OKP")) {
            /* X25519/X448 are key agreement keys. */
            if (!jwk->crv || (strcmp(jwk->crv, "Ed25519") && strcmp(jwk->crv, "Ed448"))) {
                continue;
            }
            why = jwk_load_okp(p, k, jwk->crv, &jwk->pkey);
        }
        else {
            continue;
        }
        if (why) {
            ERR_clear_error();
            return rts_result_set(res, p, APR_EINVAL, 502, "invalid_jwks",
                                  "JWKS key %" APR_SIZE_T_FMT ": %s", i, why);
        }
        apr_pool_cleanup_register(p, jwk->pkey, pkey_cleanup, apr_pool_cleanup_null);
        APR_ARRAY_PUSH(jwks->keys, rts_jwk_t *) = jwk;
    }
    *pjwks = jwks;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------------------- */
/* Compact JWS                                                                                */

#define BADTOKEN(...) rts_result_set(res, p, RTS_EBADTOKEN, 401, "invalid_token", __VA_ARGS__)

apr_status_t rts_jws_parse(apr_pool_t *p, const char *compact, apr_size_t max_len,
                           rts_jws_t **pjws, rts_result_t *res)
{
    const char *dot1, *dot2, *s;
    unsigned char *hdr, *payload;
    apr_size_t len, hdr_len, payload_len;
    json_t *header, *claims;
    rts_jws_t *jws;
    int dots = 0;

    *pjws = NULL;
    if (!compact) {
        return BADTOKEN("no token");
    }
    len = strnlen(compact, max_len + 1);
    if (len > max_len) {
        return rts_result_set(res, p, RTS_ETOOLARGE, 401, "invalid_token",
                              "token longer than %" APR_SIZE_T_FMT " bytes", max_len);
    }
    for (s = compact; *s; s++) {
        dots += (*s == '.');
    }
    if (dots == 4) {
        return BADTOKEN("token is a JWE (5 parts); only signed tokens are accepted");
    }
    if (dots != 2) {
        return BADTOKEN("token is not a compact JWS (3 parts)");
    }
    dot1 = strchr(compact, '.');
    dot2 = strchr(dot1 + 1, '.');
    jws = apr_pcalloc(p, sizeof(*jws));
    if (rts_b64url_decode(p, compact, (apr_size_t)(dot1 - compact), &hdr, &hdr_len) != APR_SUCCESS) {
        return BADTOKEN("JWS header is not base64url");
    }
    if (rts_json_parse_object(p, (const char *)hdr, hdr_len, max_len, &header) != APR_SUCCESS) {
        return BADTOKEN("JWS header is not a JSON object");
    }
    if (json_object_get(header, "crit")) {
        return BADTOKEN("JWS header has \"crit\": no extensions are understood");
    }
    jws->alg = rts_json_str(header, "alg");
    if (!jws->alg || !*jws->alg) {
        return BADTOKEN("JWS header has no alg");
    }
    if (json_member_not_string(header, "kid") || json_member_not_string(header, "typ")) {
        return BADTOKEN("JWS header kid or typ is not a string");
    }
    jws->kid = rts_json_str(header, "kid");
    jws->typ = rts_json_str(header, "typ");
    if (rts_b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), &payload, &payload_len)
        != APR_SUCCESS) {
        return BADTOKEN("JWS payload is not base64url");
    }
    if (rts_json_parse_object(p, (const char *)payload, payload_len, max_len, &claims)
        != APR_SUCCESS) {
        return BADTOKEN("JWS payload is not a JSON object");
    }
    if (!dot2[1]) {
        return BADTOKEN("JWS has an empty signature (unsecured JWS)");
    }
    if (rts_b64url_decode(p, dot2 + 1, len - (apr_size_t)(dot2 + 1 - compact), &jws->sig,
                          &jws->sig_len) != APR_SUCCESS) {
        return BADTOKEN("JWS signature is not base64url");
    }
    jws->header = header;
    jws->claims = claims;
    jws->signing_input_len = (apr_size_t)(dot2 - compact);
    jws->signing_input = apr_pstrmemdup(p, compact, jws->signing_input_len);
    *pjws = jws;
    return APR_SUCCESS;
}

/* Does the JWK suit the alg (RFC 7518 §3: key type, curve; the JWK's own alg if any)? */
static int jwk_suits(const rts_jwk_t *k, const alg_info_t *ai)
{
    if (k->alg && strcmp(k->alg, ai->name)) {
        return 0;
    }
    switch (ai->family) {
    case 'R':
    case 'P':
        return !strcmp(k->kty, "RSA");
    case 'E':
        return !strcmp(k->kty, "EC") && k->crv && !strcmp(k->crv, ai->crv);
    case 'D':
        return !strcmp(k->kty, "OKP");
    default:
        return 0;
    }
}

/* JWS ECDSA signatures are R || S, each exactly the curve's size; EVP wants DER. */
static int ecdsa_raw_to_der(const unsigned char *sig, apr_size_t sig_len, apr_size_t n,
                            unsigned char **pder, int *pder_len)
{
    ECDSA_SIG *es;
    BIGNUM *r, *s;

    if (sig_len != 2 * n) {
        return 0;
    }
    if (!(es = ECDSA_SIG_new())) {
        return 0;
    }
    r = BN_bin2bn(sig, (int)n, NULL);
    s = BN_bin2bn(sig + n, (int)n, NULL);
    if (!r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return 0;
    }
    *pder = NULL;
    *pder_len = i2d_ECDSA_SIG(es, pder);
    ECDSA_SIG_free(es);
    return *pder_len > 0;
}

/* 1 when the signature verifies, 0 otherwise (including any OpenSSL failure). */
static int verify_one(EVP_PKEY *pkey, const alg_info_t *ai, const rts_jws_t *jws)
{
    EVP_MD_CTX *mctx;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *der = NULL;
    const unsigned char *sig = jws->sig;
    size_t sig_len = jws->sig_len;
    int der_len, ok = 0;

    if (ai->family == 'E') {
        if (!ecdsa_raw_to_der(jws->sig, jws->sig_len, ai->ec_len, &der, &der_len)) {
            return 0;
        }
        sig = der;
        sig_len = (size_t)der_len;
    }
    else if ((ai->family == 'R' || ai->family == 'P')
             && sig_len != (size_t)EVP_PKEY_get_size(pkey)) {
        return 0;
    }
    if ((mctx = EVP_MD_CTX_new())
        && EVP_DigestVerifyInit_ex(mctx, &pctx, ai->md, NULL, NULL, pkey, NULL) == 1
        && (ai->family != 'P'
            || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1
                && EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, ai->md, NULL) == 1))) {
        ok = EVP_DigestVerify(mctx, sig, sig_len, (const unsigned char *)jws->signing_input,
                              jws->signing_input_len) == 1;
    }
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    /* A failed verification leaves entries in OpenSSL's thread error queue; drop them. */
    ERR_clear_error();
    return ok;
}

apr_status_t rts_jws_verify(apr_pool_t *p, const rts_jws_t *jws, const rts_jwks_t *jwks,
                            const char *const *allowed_algs, rts_result_t *res)
{
    const alg_info_t *ai;
    const char *const *a;
    const rts_jwk_t *k;
    int i, kid_matches = 0, tried = 0;

    if (!jws->alg || !strcmp(jws->alg, "none") || !strncmp(jws->alg, "HS", 2)) {
        return BADTOKEN("algorithm none or HMAC is never accepted");
    }
    if (!(ai = alg_find(jws->alg))) {
        return BADTOKEN("unsupported algorithm");
    }
    if (allowed_algs) {
        for (a = allowed_algs; *a && strcmp(*a, jws->alg); a++) {
        }
        if (!*a) {
            return BADTOKEN("algorithm %s is not allowed", ai->name);
        }
    }
    for (i = 0; jwks && i < jwks->keys->nelts; i++) {
        k = APR_ARRAY_IDX(jwks->keys, i, const rts_jwk_t *);
        if (jws->kid && (!k->kid || strcmp(k->kid, jws->kid))) {
            continue;
        }
        kid_matches++;
        if (!jwk_suits(k, ai)) {
            continue;
        }
        tried++;
        if (verify_one(k->pkey, ai, jws)) {
            return APR_SUCCESS;
        }
    }
    if (jws->kid && !kid_matches) {
        return rts_result_set(res, p, RTS_ENOKEY, 401, "invalid_token",
                              "no key in the JWKS has the token's kid");
    }
    if (!tried) {
        return rts_result_set(res, p, RTS_ENOKEY, 401, "invalid_token",
                              "no key in the JWKS suits algorithm %s", ai->name);
    }
    return BADTOKEN("signature does not verify (%s)", ai->name);
}

const char *rts_jose_half_hash(apr_pool_t *p, const char *alg, const char *crv, const char *value)
{
    const alg_info_t *ai = alg_find(alg);
    unsigned char md[114];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx;
    int ok;

    if (!ai || !value) {
        return NULL;
    }
    if (ai->family == 'D') {
        if (crv && !strcmp(crv, "Ed25519")) {
            ok = EVP_Digest(value, strlen(value), md, &md_len, EVP_sha512(), NULL) == 1;
        }
        else if (crv && !strcmp(crv, "Ed448")) {
            /* Ed448 hashes with SHAKE256, 114 bytes of output. */
            ok = (ctx = EVP_MD_CTX_new()) != NULL
                 && EVP_DigestInit_ex(ctx, EVP_shake256(), NULL) == 1
                 && EVP_DigestUpdate(ctx, value, strlen(value)) == 1
                 && EVP_DigestFinalXOF(ctx, md, sizeof(md)) == 1;
            EVP_MD_CTX_free(ctx);
            md_len = sizeof(md);
        }
        else {
            return NULL;
        }
    }
    else {
        ok = EVP_Digest(value, strlen(value), md, &md_len, EVP_get_digestbyname(ai->md), NULL) == 1;
    }
    return ok ? rts_b64url_encode(p, md, md_len / 2) : NULL;
}

apr_status_t rts_jwt_peek_claims(apr_pool_t *p, const char *compact, apr_size_t max_len,
                                 json_t **pclaims)
{
    const char *dot1, *dot2;
    unsigned char *payload;
    apr_size_t len;

    *pclaims = NULL;
    if (!compact || !(dot1 = strchr(compact, '.')) || !(dot2 = strchr(dot1 + 1, '.'))) {
        return APR_ENOENT;
    }
    if (rts_b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), &payload, &len)
        != APR_SUCCESS) {
        return RTS_EBADTOKEN;
    }
    return rts_json_parse_object(p, (const char *)payload, len, max_len, pclaims);
}
