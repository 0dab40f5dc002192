/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for rts_jose: JWKS parsing, compact JWS parsing and verification, with published
 * vectors (RFC 7520 §4.1-4.3, RFC 7515 A.3, RFC 8037 A.4) and tokens from test_keys. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include "test_common.h"
#include "test_keys.h"
#include "rts.h"
#include "rts_jose.h"
#include "rts_json.h"
#include "rts_util.h"

#define MAXLEN 65536
#define PAYLOAD "{\"iss\":\"https://op.example\",\"sub\":\"alice\",\"aud\":\"rp\"}"

/* ---- helpers ---------------------------------------------------------------------------- */

static apr_status_t jwks_from(const char *json, rts_jwks_t **pjwks, rts_result_t *res)
{
    rts_result_reset(res);
    return rts_jwks_parse(rts_test_pool, json, strlen(json), MAXLEN, pjwks, res);
}

static rts_jwks_t *jwks_of(const test_key_t *const *keys, int n)
{
    rts_jwks_t *jwks = NULL;
    rts_result_t res;

    ck_assert_int_eq(jwks_from(test_jwks_json(rts_test_pool, keys, n), &jwks, &res), APR_SUCCESS);
    ck_assert_int_eq(jwks->keys->nelts, n);
    return jwks;
}

static apr_status_t parse(const char *compact, rts_jws_t **pjws, rts_result_t *res)
{
    rts_result_reset(res);
    return rts_jws_parse(rts_test_pool, compact, MAXLEN, pjws, res);
}

/* Parses and verifies; the parse must succeed. */
static apr_status_t parse_verify(const char *compact, const rts_jwks_t *jwks,
                                 const char *const *allowed, rts_result_t *res)
{
    rts_jws_t *jws = NULL;

    ck_assert_ptr_nonnull(compact);
    ck_assert_int_eq(parse(compact, &jws, res), APR_SUCCESS);
    rts_result_reset(res);
    return rts_jws_verify(rts_test_pool, jws, jwks, allowed, res);
}

/* A verifiable JWS from parts, for published vectors whose payload is not JSON (the parser
 * rightly refuses those, but their signatures are still worth checking). */
static rts_jws_t *jws_from_parts(const char *alg, const char *kid, const char *h64,
                                 const char *p64, const char *s64)
{
    rts_jws_t *jws = apr_pcalloc(rts_test_pool, sizeof(*jws));

    jws->alg = alg;
    jws->kid = kid;
    jws->signing_input = apr_pstrcat(rts_test_pool, h64, ".", p64, NULL);
    jws->signing_input_len = strlen(jws->signing_input);
    ck_assert_int_eq(rts_b64url_decode(rts_test_pool, s64, strlen(s64), &jws->sig, &jws->sig_len),
                     APR_SUCCESS);
    return jws;
}

static const char *b64(const char *s)
{
    return rts_b64url_encode(rts_test_pool, (const unsigned char *)s, strlen(s));
}

/* ---- published vectors ------------------------------------------------------------------- */

#define RFC7520_KID "bilbo.baggins@hobbiton.example"
#define RFC7520_RSA_N \
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJ" \
    "MRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6c" \
    "S6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYw" \
    "dq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw"
#define RFC7520_EC_X \
    "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt"
#define RFC7520_EC_Y \
    "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"
#define RFC7520_PAYLOAD \
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0" \
    "aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91" \
    "IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
#define RFC7520_RS256_H "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
#define RFC7520_RS256_S \
    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7P" \
    "NDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9e" \
    "Ro4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4" \
    "uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg"
#define RFC7520_PS384_H "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
#define RFC7520_PS384_S \
    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dD" \
    "DItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ij" \
    "Q7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAj" \
    "VKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw"
#define RFC7520_ES512_H "eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
#define RFC7520_ES512_S \
    "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1eJAQy3mtPB" \
    "u_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2"

static rts_jwks_t *rfc7520_jwks(void)
{
    rts_jwks_t *jwks = NULL;
    rts_result_t res;

    ck_assert_int_eq(jwks_from("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"" RFC7520_KID "\",\"use\":\"sig\","
                               "\"n\":\"" RFC7520_RSA_N "\",\"e\":\"AQAB\"},"
                               "{\"kty\":\"EC\",\"kid\":\"" RFC7520_KID "\",\"use\":\"sig\","
                               "\"crv\":\"P-521\",\"x\":\"" RFC7520_EC_X "\",\"y\":\"" RFC7520_EC_Y "\"}]}",
                               &jwks, &res), APR_SUCCESS);
    ck_assert_int_eq(jwks->keys->nelts, 2);
    return jwks;
}

START_TEST(test_jose_rfc7520_rs256)
{
    rts_jwks_t *jwks = rfc7520_jwks();
    rts_jws_t *jws = jws_from_parts("RS256", RFC7520_KID, RFC7520_RS256_H, RFC7520_PAYLOAD,
                                    RFC7520_RS256_S);
    rts_result_t res;

    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), APR_SUCCESS);
    /* the same signature is no PKCS#1 signature of another input */
    jws->signing_input_len--;
    rts_result_reset(&res);
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), RTS_EBADTOKEN);
    /* as a whole the token is refused by the parser: its payload is text, not a JSON object */
    ck_assert_int_eq(parse(RFC7520_RS256_H "." RFC7520_PAYLOAD "." RFC7520_RS256_S, &jws, &res),
                     RTS_EBADTOKEN);
    ck_assert_ptr_nonnull(strstr(res.description, "payload"));
}
END_TEST

START_TEST(test_jose_rfc7520_ps384)
{
    rts_jwks_t *jwks = rfc7520_jwks();
    rts_jws_t *jws = jws_from_parts("PS384", RFC7520_KID, RFC7520_PS384_H, RFC7520_PAYLOAD,
                                    RFC7520_PS384_S);
    rts_result_t res;

    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), APR_SUCCESS);
    /* a PSS signature is not a PKCS#1 v1.5 one, nor a PSS signature with another hash */
    jws->alg = "RS384";
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), RTS_EBADTOKEN);
    jws->alg = "PS256";
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_jose_rfc7520_es512)
{
    rts_jwks_t *jwks = rfc7520_jwks();
    rts_jws_t *jws = jws_from_parts("ES512", RFC7520_KID, RFC7520_ES512_H, RFC7520_PAYLOAD,
                                    RFC7520_ES512_S);
    rts_result_t res;

    ck_assert_uint_eq(jws->sig_len, 132);
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), APR_SUCCESS);
    /* R||S of the wrong length is invalid, even if the prefix is right */
    jws->sig_len = 131;
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), RTS_EBADTOKEN);
    jws->sig_len = 133;             /* a trailing byte (the decoder's NUL) after R||S */
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), RTS_EBADTOKEN);
    jws->sig_len = 132;
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), APR_SUCCESS);
    jws->sig[131] ^= 1;
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_jose_rfc7515_es256)
{
    /* RFC 7515 Appendix A.3: a JWT-shaped payload, so the whole path runs. */
    static const char token[] =
        "eyJhbGciOiJFUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    rts_jwks_t *jwks = NULL;
    rts_jws_t *jws = NULL;
    rts_result_t res;
    apr_int64_t exp = 0;

    ck_assert_int_eq(jwks_from("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                               "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                               "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}", &jwks, &res),
                     APR_SUCCESS);
    ck_assert_int_eq(parse(token, &jws, &res), APR_SUCCESS);
    ck_assert_str_eq(jws->alg, "ES256");
    ck_assert_ptr_null(jws->kid);
    ck_assert_str_eq(rts_json_str(jws->claims, "iss"), "joe");
    ck_assert_int_eq(rts_json_int(jws->claims, "exp", &exp), APR_SUCCESS);
    ck_assert_int_eq(exp, 1300819380);
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), APR_SUCCESS);
}
END_TEST

START_TEST(test_jose_rfc8037_ed25519)
{
    rts_jwks_t *jwks = NULL;
    rts_jws_t *jws;
    rts_result_t res;

    ck_assert_int_eq(jwks_from("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                               "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}", &jwks, &res),
                     APR_SUCCESS);
    jws = jws_from_parts("EdDSA", NULL, "eyJhbGciOiJFZERTQSJ9", "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
                         "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), APR_SUCCESS);
    jws->sig[0] ^= 1;
    ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), RTS_EBADTOKEN);
}
END_TEST

/* ---- JWKS -------------------------------------------------------------------------------- */

START_TEST(test_jose_jwks_good)
{
    static const char *const algs[] = { "RS256", "ES256", "ES384", "ES512", "EdDSA" };
    test_key_t *keys[5];
    rts_jwks_t *jwks;
    rts_jwk_t *k;
    int i;

    for (i = 0; i < 5; i++) {
        keys[i] = test_key_generate(rts_test_pool, algs[i], apr_psprintf(rts_test_pool, "k%d", i));
        ck_assert_ptr_nonnull(keys[i]);
    }
    jwks = jwks_of((const test_key_t *const *)keys, 5);
    for (i = 0; i < 5; i++) {
        k = APR_ARRAY_IDX(jwks->keys, i, rts_jwk_t *);
        ck_assert_str_eq(k->kid, keys[i]->kid);
        ck_assert_str_eq(k->alg, algs[i]);
        ck_assert_str_eq(k->use, "sig");
        ck_assert_ptr_nonnull(k->pkey);
        ck_assert_int_eq(EVP_PKEY_eq(k->pkey, keys[i]->pkey), 1);
    }
    ck_assert_str_eq(APR_ARRAY_IDX(jwks->keys, 0, rts_jwk_t *)->kty, "RSA");
    ck_assert_str_eq(APR_ARRAY_IDX(jwks->keys, 3, rts_jwk_t *)->crv, "P-521");
    ck_assert_str_eq(APR_ARRAY_IDX(jwks->keys, 4, rts_jwk_t *)->kty, "OKP");
}
END_TEST

START_TEST(test_jose_jwks_skipped)
{
    test_key_t *ec = test_key_generate(rts_test_pool, "ES256", "ec");
    const char *ecjwk = test_jwk_json(rts_test_pool, ec);
    rts_jwks_t *jwks = NULL;
    rts_result_t res;
    const char *json;

    json = apr_pstrcat(rts_test_pool, "{\"keys\":[",
                       "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},",
                       "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},",
                       "{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\",\"n\":\"AQAB\",\"e\":\"AQAB\"},",
                       "{\"kty\":\"RSA\",\"key_ops\":[\"encrypt\"],\"n\":\"AQAB\",\"e\":\"AQAB\"},",
                       "{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\"},",
                       "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AAAA\",\"y\":\"AAAA\"},",
                       "{\"kty\":\"PQC\",\"foo\":1},",
                       ecjwk, "],\"extra\":true}", NULL);
    ck_assert_int_eq(jwks_from(json, &jwks, &res), APR_SUCCESS);
    ck_assert_int_eq(jwks->keys->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(jwks->keys, 0, rts_jwk_t *)->kid, "ec");
    ck_assert_int_eq(jwks_from("{\"keys\":[]}", &jwks, &res), APR_SUCCESS);
    ck_assert_int_eq(jwks->keys->nelts, 0);
}
END_TEST

START_TEST(test_jose_jwks_bad)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"keys\":{}}",
        "{\"nokeys\":[]}",
        "{\"keys\":[1]}",
        "{\"keys\":[{\"n\":\"AQAB\"}]}",                                  /* no kty */
        "{\"keys\":[{\"kty\":7}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":1,\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",                   /* no n */
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQ+B\",\"e\":\"AQAB\"}]}",    /* bad base64url */
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}",
        "{\"keys\":[],\"keys\":[]}",                                      /* duplicate member */
    };
    rts_jwks_t *jwks;
    rts_result_t res;
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        jwks = (rts_jwks_t *)1;
        ck_assert_msg(jwks_from(bad[i], &jwks, &res) == APR_EINVAL, "accepted: %s", bad[i]);
        ck_assert_ptr_null(jwks);
        ck_assert_ptr_nonnull(res.description);
    }
}
END_TEST

START_TEST(test_jose_jwks_limits)
{
    test_key_t *ec = test_key_generate(rts_test_pool, "EdDSA", NULL);
    const test_key_t *many[RTS_JWKS_MAX_KEYS + 1];
    const char *json;
    rts_jwks_t *jwks;
    rts_result_t res;
    int i;

    for (i = 0; i <= RTS_JWKS_MAX_KEYS; i++) {
        many[i] = ec;
    }
    json = test_jwks_json(rts_test_pool, many, RTS_JWKS_MAX_KEYS);
    ck_assert_int_eq(jwks_from(json, &jwks, &res), APR_SUCCESS);
    ck_assert_int_eq(jwks->keys->nelts, RTS_JWKS_MAX_KEYS);
    json = test_jwks_json(rts_test_pool, many, RTS_JWKS_MAX_KEYS + 1);
    ck_assert_int_eq(jwks_from(json, &jwks, &res), RTS_ETOOLARGE);
    json = test_jwks_json(rts_test_pool, many, 1);
    ck_assert_int_eq(rts_jwks_parse(rts_test_pool, json, strlen(json), strlen(json) - 1, &jwks, &res),
                     RTS_ETOOLARGE);
    ck_assert_int_eq(rts_jwks_parse(rts_test_pool, json, strlen(json), strlen(json), &jwks, &res),
                     APR_SUCCESS);
}
END_TEST

START_TEST(test_jose_jwks_small_rsa)
{
    test_key_t small = { NULL, "RS256", "small", NULL };
    rts_jwks_t *jwks = NULL;
    rts_result_t res;

    small.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ck_assert_ptr_nonnull(small.pkey);
    ck_assert_int_eq(jwks_from(apr_pstrcat(rts_test_pool, "{\"keys\":[",
                                           test_jwk_json(rts_test_pool, &small), "]}", NULL),
                               &jwks, &res), APR_EINVAL);
    EVP_PKEY_free(small.pkey);
    ck_assert_msg(strstr(res.description, "2048") != NULL, "%s", res.description);
}
END_TEST

START_TEST(test_jose_jwks_ec_off_curve)
{
    test_key_t *ec = test_key_generate(rts_test_pool, "ES256", "ec");
    json_t *jwk, *root;
    const char *y;
    unsigned char *yb;
    apr_size_t ylen;
    rts_jwks_t *jwks;
    rts_result_t res;
    const char *json = test_jwk_json(rts_test_pool, ec);

    ck_assert_int_eq(rts_json_parse_object(rts_test_pool, json, strlen(json), MAXLEN, &jwk),
                     APR_SUCCESS);
    y = rts_json_str(jwk, "y");
    ck_assert_int_eq(rts_b64url_decode(rts_test_pool, y, strlen(y), &yb, &ylen), APR_SUCCESS);
    yb[ylen - 1] ^= 1;              /* (x, y') is not on P-256 */
    json_object_set_new(jwk, "y", json_string(rts_b64url_encode(rts_test_pool, yb, ylen)));
    root = rts_json_pool_own(rts_test_pool, json_pack("{s:[O]}", "keys", jwk));
    ck_assert_int_eq(jwks_from(rts_json_dump(rts_test_pool, root, NULL), &jwks, &res), APR_EINVAL);
    /* and the unmodified key is fine */
    yb[ylen - 1] ^= 1;
    json_object_set_new(jwk, "y", json_string(rts_b64url_encode(rts_test_pool, yb, ylen)));
    ck_assert_int_eq(jwks_from(rts_json_dump(rts_test_pool, root, NULL), &jwks, &res), APR_SUCCESS);
    ck_assert_int_eq(jwks->keys->nelts, 1);
}
END_TEST

/* ---- generated tokens -------------------------------------------------------------------- */

START_TEST(test_jose_every_alg)
{
    static const char *const algs[] = { "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                        "ES256", "ES384", "ES512", "EdDSA" };
    const char *allowed[2] = { NULL, NULL };
    const test_key_t *key;
    rts_jwks_t *jwks;
    rts_jws_t *jws;
    rts_result_t res;
    const char *tok;
    apr_size_t i;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        key = test_key_generate(rts_test_pool, algs[i], "kid-1");
        ck_assert_ptr_nonnull(key);
        ck_assert(rts_jose_alg_supported(algs[i]));
        jwks = jwks_of(&key, 1);
        tok = test_jws_sign(rts_test_pool, key, NULL, PAYLOAD);
        ck_assert_ptr_nonnull(tok);
        ck_assert_int_eq(parse(tok, &jws, &res), APR_SUCCESS);
        ck_assert_str_eq(jws->alg, algs[i]);
        ck_assert_str_eq(jws->kid, "kid-1");
        ck_assert_str_eq(jws->typ, "JWT");
        ck_assert_str_eq(rts_json_str(jws->claims, "sub"), "alice");
        ck_assert_str_eq(rts_json_str(jws->header, "alg"), algs[i]);
        ck_assert_uint_eq(jws->signing_input_len, (apr_size_t)(strrchr(tok, '.') - tok));
        allowed[0] = algs[i];
        ck_assert_msg(rts_jws_verify(rts_test_pool, jws, jwks, allowed, &res) == APR_SUCCESS,
                      "%s: %s", algs[i], res.description);
        ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, NULL, &res), APR_SUCCESS);
        /* not on the allow-list */
        allowed[0] = strcmp(algs[i], "RS256") ? "RS256" : "ES256";
        ck_assert_int_eq(rts_jws_verify(rts_test_pool, jws, jwks, allowed, &res), RTS_EBADTOKEN);
    }
    ck_assert(!rts_jose_alg_supported("none"));
    ck_assert(!rts_jose_alg_supported("HS256"));
    ck_assert(!rts_jose_alg_supported("ES256K"));
    ck_assert(!rts_jose_alg_supported("rs256"));
}
END_TEST

START_TEST(test_jose_bad_signature)
{
    test_key_t *good = test_key_generate(rts_test_pool, "RS256", "k");
    test_key_t *evil = test_key_generate(rts_test_pool, "RS256", "k");  /* same kid, other key */
    test_key_t *ec = test_key_generate(rts_test_pool, "ES256", "e");
    const test_key_t *set[2] = { good, ec };
    rts_jwks_t *jwks = jwks_of(set, 2);
    rts_result_t res;
    const char *tok, *dot;
    char *swapped;

    ck_assert_int_eq(EVP_PKEY_eq(good->pkey, evil->pkey), 0);
    tok = test_jws_sign(rts_test_pool, evil, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_EBADTOKEN);
    ck_assert_str_eq(res.error, "invalid_token");
    /* a good signature moved onto another payload */
    tok = test_jws_sign(rts_test_pool, good, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), APR_SUCCESS);
    dot = strchr(tok, '.');
    swapped = apr_pstrcat(rts_test_pool, apr_pstrndup(rts_test_pool, tok, (apr_size_t)(dot - tok)),
                          ".", b64("{\"sub\":\"mallory\"}"), strrchr(tok, '.'), NULL);
    ck_assert_int_eq(parse_verify(swapped, jwks, NULL, &res), RTS_EBADTOKEN);
    /* ES256: a bad signature, and a DER signature where raw R||S is required */
    tok = test_jws_sign(rts_test_pool, ec, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), APR_SUCCESS);
    swapped = apr_pstrdup(rts_test_pool, tok);
    swapped[strlen(swapped) - 3] = swapped[strlen(swapped) - 3] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(parse_verify(swapped, jwks, NULL, &res), RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_jose_alg_none_and_hs256)
{
    test_key_t *key = test_key_generate(rts_test_pool, "RS256", "k");
    rts_jwks_t *jwks = jwks_of((const test_key_t *const *)&key, 1);
    const char *jwk = test_jwk_json(rts_test_pool, key);
    static const char *const lax[] = { "none", "HS256", "RS256", NULL };
    rts_jws_t *jws;
    rts_result_t res;
    const char *tok;

    /* unsecured JWS: refused by the parser (empty signature) ... */
    tok = test_jws_none(rts_test_pool, NULL, PAYLOAD);
    ck_assert_int_eq(parse(tok, &jws, &res), RTS_EBADTOKEN);
    /* ... and by the verifier when a signature is tacked on, whatever the allow-list says */
    tok = apr_pstrcat(rts_test_pool, test_jws_none(rts_test_pool, "{\"alg\":\"none\",\"kid\":\"k\"}",
                                                   PAYLOAD), "AAAA", NULL);
    ck_assert_int_eq(parse_verify(tok, jwks, lax, &res), RTS_EBADTOKEN);
    /* HS256 keyed with the public key (the classic confusion attack) */
    tok = test_jws_hs256(rts_test_pool, jwk, strlen(jwk), "{\"alg\":\"HS256\",\"kid\":\"k\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, lax, &res), RTS_EBADTOKEN);
    tok = test_jws_hs256(rts_test_pool, "secret", 6, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, lax, &res), RTS_EBADTOKEN);
    ck_assert_ptr_nonnull(strstr(res.description, "HMAC"));
    tok = test_jws_hs256(rts_test_pool, "secret", 6, "{\"alg\":\"HS512\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, lax, &res), RTS_EBADTOKEN);
}
END_TEST

START_TEST(test_jose_alg_key_mismatch)
{
    test_key_t *rsa = test_key_generate(rts_test_pool, "RS256", "k");
    test_key_t *p384 = test_key_generate(rts_test_pool, "ES384", "k");
    const test_key_t *ec_only[1] = { p384 };
    rts_jwks_t *jwks = jwks_of(ec_only, 1);
    rts_jwks_t *noalg = NULL;
    json_t *root;
    rts_result_t res;
    const char *json, *tok;

    /* an RS256 token against an EC key with its kid */
    tok = test_jws_sign(rts_test_pool, rsa, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_ENOKEY);
    /* ES256 claimed, signed with the P-384 key: the curve does not suit ES256, with or without
     * an alg in the JWK */
    tok = test_jws_sign_as(rts_test_pool, p384, "ES384", "{\"alg\":\"ES256\",\"kid\":\"k\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_ENOKEY);
    json = test_jwks_json(rts_test_pool, ec_only, 1);
    ck_assert_int_eq(rts_json_parse_object(rts_test_pool, json, strlen(json), MAXLEN, &root),
                     APR_SUCCESS);
    json_object_del(json_array_get(json_object_get(root, "keys"), 0), "alg");
    ck_assert_int_eq(jwks_from(rts_json_dump(rts_test_pool, root, NULL), &noalg, &res), APR_SUCCESS);
    ck_assert_ptr_null(APR_ARRAY_IDX(noalg->keys, 0, rts_jwk_t *)->alg);
    ck_assert_int_eq(parse_verify(tok, noalg, NULL, &res), RTS_ENOKEY);
    /* while the honest ES384 token verifies with both */
    tok = test_jws_sign(rts_test_pool, p384, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), APR_SUCCESS);
    ck_assert_int_eq(parse_verify(tok, noalg, NULL, &res), APR_SUCCESS);
    /* the JWK's own alg binds: an RSA key published for PS256 does not verify RS256 */
    json = apr_psprintf(rts_test_pool, "{\"keys\":[%s]}", test_jwk_json(rts_test_pool, rsa));
    ck_assert_int_eq(rts_json_parse_object(rts_test_pool, json, strlen(json), MAXLEN, &root),
                     APR_SUCCESS);
    json_object_set_new(json_array_get(json_object_get(root, "keys"), 0), "alg", json_string("PS256"));
    ck_assert_int_eq(jwks_from(rts_json_dump(rts_test_pool, root, NULL), &jwks, &res), APR_SUCCESS);
    tok = test_jws_sign(rts_test_pool, rsa, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_ENOKEY);
    tok = test_jws_sign_as(rts_test_pool, rsa, "PS256", NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), APR_SUCCESS);
    /* PSS with a salt other than the hash length is not PS256 (RFC 7518 §3.5) */
    tok = test_jws_sign_pss_salt(rts_test_pool, rsa, "PS256", 20, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_EBADTOKEN);
    tok = test_jws_sign_pss_salt(rts_test_pool, rsa, "PS256", 32, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), APR_SUCCESS);
}
END_TEST

START_TEST(test_jose_kid_selection)
{
    test_key_t *k1 = test_key_generate(rts_test_pool, "RS256", "k1");
    test_key_t *k2 = test_key_generate(rts_test_pool, "RS256", "k2");
    test_key_t *k3 = test_key_generate(rts_test_pool, "RS256", "k3");
    test_key_t *stray = test_key_generate(rts_test_pool, "RS256", "k9");
    const test_key_t *set[3] = { k1, k2, k3 };
    rts_jwks_t *jwks = jwks_of(set, 3);
    rts_result_t res;
    const char *tok;

    ck_assert_int_eq(EVP_PKEY_eq(k1->pkey, k3->pkey), 0);
    tok = test_jws_sign(rts_test_pool, k2, NULL, PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), APR_SUCCESS);
    /* unknown kid: RTS_ENOKEY, so the caller may refetch the JWKS */
    tok = test_jws_sign(rts_test_pool, k2, "{\"alg\":\"RS256\",\"kid\":\"nope\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_ENOKEY);
    ck_assert_int_eq(res.status, RTS_ENOKEY);
    ck_assert_ptr_nonnull(strstr(res.description, "kid"));
    /* the kid selects the key: k3's signature under k1's kid fails */
    tok = test_jws_sign(rts_test_pool, k3, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_EBADTOKEN);
    /* no kid: every suitable key is tried */
    tok = test_jws_sign(rts_test_pool, k3, "{\"alg\":\"RS256\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), APR_SUCCESS);
    tok = test_jws_sign(rts_test_pool, stray, "{\"alg\":\"RS256\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks, NULL, &res), RTS_EBADTOKEN);
    /* no keys at all */
    tok = test_jws_sign(rts_test_pool, k1, "{\"alg\":\"RS256\"}", PAYLOAD);
    ck_assert_int_eq(parse_verify(tok, jwks_of(set, 0), NULL, &res), RTS_ENOKEY);
}
END_TEST

START_TEST(test_jose_parse_rejects)
{
    test_key_t *key = test_key_generate(rts_test_pool, "ES256", "k");
    const char *tok = test_jws_sign(rts_test_pool, key, NULL, PAYLOAD);
    const char *h = b64("{\"alg\":\"ES256\"}"), *pl = b64(PAYLOAD);
    const char *sig = strrchr(tok, '.') + 1;
    rts_jws_t *jws;
    rts_result_t res;
    const char *bad[20];
    int i, n = 0;

    ck_assert_int_eq(parse(tok, &jws, &res), APR_SUCCESS);
    bad[n++] = "";
    bad[n++] = "abc";
    bad[n++] = apr_pstrcat(rts_test_pool, h, ".", pl, NULL);                         /* 2 parts */
    bad[n++] = apr_pstrcat(rts_test_pool, tok, ".", NULL);                          /* extra dot */
    bad[n++] = apr_pstrcat(rts_test_pool, tok, ".", sig, NULL);                     /* 4 parts */
    bad[n++] = apr_pstrcat(rts_test_pool, ".", pl, ".", sig, NULL);                 /* no header */
    bad[n++] = apr_pstrcat(rts_test_pool, h, "..", sig, NULL);                      /* no payload */
    bad[n++] = apr_pstrcat(rts_test_pool, h, ".", pl, ".", NULL);                   /* no signature */
    bad[n++] = apr_pstrndup(rts_test_pool, tok, strlen(tok) - 1);                   /* truncated */
    bad[n++] = apr_pstrcat(rts_test_pool, h, "=.", pl, ".", sig, NULL);             /* padding */
    bad[n++] = apr_pstrcat(rts_test_pool, h, ".", pl, ".", sig, "=", NULL);
    bad[n++] = apr_pstrcat(rts_test_pool, b64("{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}"),
                           ".", pl, ".", sig, NULL);
    bad[n++] = apr_pstrcat(rts_test_pool, b64("{\"alg\":\"ES256\",\"crit\":[]}"), ".", pl, ".", sig, NULL);
    bad[n++] = apr_pstrcat(rts_test_pool, b64("{\"alg\":\"ES256\",\"alg\":\"none\"}"), ".", pl, ".",
                           sig, NULL);                                              /* duplicate */
    bad[n++] = apr_pstrcat(rts_test_pool, b64("{\"typ\":\"JWT\"}"), ".", pl, ".", sig, NULL);
    bad[n++] = apr_pstrcat(rts_test_pool, b64("{\"alg\":7}"), ".", pl, ".", sig, NULL);
    bad[n++] = apr_pstrcat(rts_test_pool, b64("{\"alg\":\"ES256\",\"kid\":[1]}"), ".", pl, ".", sig, NULL);
    bad[n++] = apr_pstrcat(rts_test_pool, b64("[\"ES256\"]"), ".", pl, ".", sig, NULL);
    bad[n++] = apr_pstrcat(rts_test_pool, h, ".", b64("[1,2]"), ".", sig, NULL);    /* not object */
    bad[n++] = apr_pstrcat(rts_test_pool, h, ".", b64("\"sub\""), ".", sig, NULL);
    for (i = 0; i < n; i++) {
        jws = (rts_jws_t *)1;
        ck_assert_msg(parse(bad[i], &jws, &res) == RTS_EBADTOKEN, "case %d accepted", i);
        ck_assert_ptr_null(jws);
        ck_assert_str_eq(res.error, "invalid_token");
        ck_assert_int_eq(res.http_status, 401);
    }
}
END_TEST

START_TEST(test_jose_parse_jwe_and_size)
{
    test_key_t *key = test_key_generate(rts_test_pool, "EdDSA", "k");
    const char *tok = test_jws_sign(rts_test_pool, key, NULL, PAYLOAD);
    rts_jws_t *jws;
    rts_result_t res;

    /* RFC 7516 §3.1 compact JWE: five parts */
    ck_assert_int_eq(parse("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZc"
                           ".48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8"
                           "iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ", &jws, &res), RTS_EBADTOKEN);
    ck_assert_ptr_nonnull(strstr(res.description, "JWE"));
    ck_assert_int_eq(rts_jws_parse(rts_test_pool, tok, strlen(tok) - 1, &jws, &res), RTS_ETOOLARGE);
    ck_assert_ptr_null(jws);
    ck_assert_int_eq(rts_jws_parse(rts_test_pool, tok, strlen(tok), &jws, &res), APR_SUCCESS);
    ck_assert_ptr_null(rts_jws_parse(rts_test_pool, NULL, MAXLEN, &jws, &res) == RTS_EBADTOKEN
                       ? NULL : "x");
}
END_TEST

START_TEST(test_jose_half_hash)
{
    /* Independently computed (Python hashlib) for this access token value. */
    static const char at[] = "jHkWEdUXMU1BwAsC4vtUsZwnNQcsLnSPHpRzGpwTfDg";

    ck_assert_str_eq(rts_jose_half_hash(rts_test_pool, "RS256", NULL, at), "nm9Zq6iFi0sK-PTpC3P21g");
    ck_assert_str_eq(rts_jose_half_hash(rts_test_pool, "ES256", "P-256", at), "nm9Zq6iFi0sK-PTpC3P21g");
    ck_assert_str_eq(rts_jose_half_hash(rts_test_pool, "PS384", NULL, at),
                     "aUlaxhUiVdfYUdc8QCWcza0dDgVQ-Qv9");
    ck_assert_str_eq(rts_jose_half_hash(rts_test_pool, "ES512", "P-521", at),
                     "gxbNmYyL3u-B4imSF5tKS-OEeGZOIcSLxJ5cXGq8uw0");
    ck_assert_str_eq(rts_jose_half_hash(rts_test_pool, "EdDSA", "Ed25519", at),
                     "gxbNmYyL3u-B4imSF5tKS-OEeGZOIcSLxJ5cXGq8uw0");
    ck_assert_str_eq(rts_jose_half_hash(rts_test_pool, "EdDSA", "Ed448", at),
                     "9fSkH2csYGVsNlczdpEc6JYLacVaNSOXzeWkut03JnnfW_jMYEIfss_X9Hc9NassaS0uhXsq00hl");
    ck_assert_ptr_null(rts_jose_half_hash(rts_test_pool, "EdDSA", NULL, at));
    ck_assert_ptr_null(rts_jose_half_hash(rts_test_pool, "HS256", NULL, at));
    ck_assert_ptr_null(rts_jose_half_hash(rts_test_pool, "none", NULL, at));
}
END_TEST

Suite *rts_suite_jose(void)
{
    Suite *s = suite_create("jose");
    TCase *tc = tcase_create("jose");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_jose_rfc7520_rs256);
    tcase_add_test(tc, test_jose_rfc7520_ps384);
    tcase_add_test(tc, test_jose_rfc7520_es512);
    tcase_add_test(tc, test_jose_rfc7515_es256);
    tcase_add_test(tc, test_jose_rfc8037_ed25519);
    tcase_add_test(tc, test_jose_jwks_good);
    tcase_add_test(tc, test_jose_jwks_skipped);
    tcase_add_test(tc, test_jose_jwks_bad);
    tcase_add_test(tc, test_jose_jwks_limits);
    tcase_add_test(tc, test_jose_jwks_small_rsa);
    tcase_add_test(tc, test_jose_jwks_ec_off_curve);
    tcase_add_test(tc, test_jose_every_alg);
    tcase_add_test(tc, test_jose_bad_signature);
    tcase_add_test(tc, test_jose_alg_none_and_hs256);
    tcase_add_test(tc, test_jose_alg_key_mismatch);
    tcase_add_test(tc, test_jose_kid_selection);
    tcase_add_test(tc, test_jose_parse_rejects);
    tcase_add_test(tc, test_jose_parse_jwe_and_size);
    tcase_add_test(tc, test_jose_half_hash);
    suite_add_tcase(s, tc);
    return s;
}
