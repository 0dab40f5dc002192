/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for rts_crypto: known-answer vectors (RFC 4231, RFC 5869, RFC 7636) and sealing. */
#include <stdio.h>
#include <string.h>
#include "test_common.h"
#include "rts.h"
#include "rts_crypto.h"
#include "rts_util.h"

static void hex_decode(const char *hex, unsigned char *out, apr_size_t *len)
{
    apr_size_t i, n = strlen(hex) / 2;
    unsigned int b;

    for (i = 0; i < n; i++) {
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
        out[i] = (unsigned char)b;
    }
    *len = n;
}

static void assert_hex(const unsigned char *got, apr_size_t len, const char *hex)
{
    unsigned char want[128];
    apr_size_t want_len;

    hex_decode(hex, want, &want_len);
    ck_assert_uint_eq(len, want_len);
    ck_assert_mem_eq(got, want, len);
}

START_TEST(test_crypto_sha256)
{
    unsigned char md[RTS_SHA256_LEN];

    ck_assert_int_eq(rts_sha256("abc", 3, md), APR_SUCCESS);
    assert_hex(md, sizeof(md), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_crypto_hmac_rfc4231)
{
    unsigned char key[131], md[RTS_SHA256_LEN];

    /* Test case 1 */
    memset(key, 0x0b, 20);
    ck_assert_int_eq(rts_hmac_sha256(key, 20, "Hi There", 8, md), APR_SUCCESS);
    assert_hex(md, sizeof(md), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Test case 2 */
    ck_assert_int_eq(rts_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, md), APR_SUCCESS);
    assert_hex(md, sizeof(md), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 6: key longer than the block size */
    memset(key, 0xaa, sizeof(key));
    ck_assert_int_eq(rts_hmac_sha256(key, sizeof(key),
                                     "Test Using Larger Than Block-Size Key - Hash Key First", 54, md),
                     APR_SUCCESS);
    assert_hex(md, sizeof(md), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(test_crypto_hmac_keyed_rfc4231)
{
    rts_hmac_key_t *k;
    unsigned char key[20], md[RTS_SHA256_LEN];
    int i;

    memset(key, 0x0b, sizeof(key));
    ck_assert_int_eq(rts_hmac_key_create(rts_test_pool, key, sizeof(key), &k), APR_SUCCESS);
    /* the prepared key is reusable: each use starts from the keyed state */
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(rts_hmac_sha256_keyed(k, "Hi There", 8, md), APR_SUCCESS);
        assert_hex(md, sizeof(md), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }
    ck_assert_int_eq(rts_hmac_key_create(rts_test_pool, "Jefe", 4, &k), APR_SUCCESS);
    ck_assert_int_eq(rts_hmac_sha256_keyed(k, "what do ya want for nothing?", 28, md), APR_SUCCESS);
    assert_hex(md, sizeof(md), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

START_TEST(test_crypto_hkdf_rfc5869)
{
    unsigned char ikm[22], salt[13], info[10], okm[42];
    apr_size_t ikm_len, salt_len, info_len;

    /* Test case 1 */
    hex_decode("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", ikm, &ikm_len);
    hex_decode("000102030405060708090a0b0c", salt, &salt_len);
    hex_decode("f0f1f2f3f4f5f6f7f8f9", info, &info_len);
    ck_assert_int_eq(rts_hkdf_sha256(ikm, ikm_len, salt, salt_len, info, info_len, okm, 42),
                     APR_SUCCESS);
    assert_hex(okm, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                        "34007208d5b887185865");
    /* Test case 3: no salt, no info */
    ck_assert_int_eq(rts_hkdf_sha256(ikm, ikm_len, NULL, 0, NULL, 0, okm, 42), APR_SUCCESS);
    assert_hex(okm, 42, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                        "9d201395faa4b61a96c8");
}
END_TEST

START_TEST(test_crypto_seal_roundtrip)
{
    unsigned char key[RTS_SEAL_KEY_LEN], *sealed, *sealed2, *plain;
    apr_size_t sealed_len, sealed2_len, plain_len;
    const char *msg = "{\"sub\":\"alice\",\"rt\":\"secret\"}";

    memset(key, 0x42, sizeof(key));
    ck_assert_int_eq(rts_seal(rts_test_pool, key, "v1", 2, msg, strlen(msg), &sealed, &sealed_len),
                     APR_SUCCESS);
    ck_assert_uint_eq(sealed_len, strlen(msg) + RTS_SEAL_OVERHEAD);
    ck_assert_int_eq(rts_open(rts_test_pool, key, "v1", 2, sealed, sealed_len, &plain, &plain_len),
                     APR_SUCCESS);
    ck_assert_uint_eq(plain_len, strlen(msg));
    ck_assert_str_eq((const char *)plain, msg);
    /* a fresh nonce each time: the same plaintext never seals the same way */
    ck_assert_int_eq(rts_seal(rts_test_pool, key, "v1", 2, msg, strlen(msg), &sealed2, &sealed2_len),
                     APR_SUCCESS);
    ck_assert(memcmp(sealed, sealed2, sealed_len) != 0);
    /* empty plaintext and no aad */
    ck_assert_int_eq(rts_seal(rts_test_pool, key, NULL, 0, "", 0, &sealed, &sealed_len), APR_SUCCESS);
    ck_assert_uint_eq(sealed_len, RTS_SEAL_OVERHEAD);
    ck_assert_int_eq(rts_open(rts_test_pool, key, NULL, 0, sealed, sealed_len, &plain, &plain_len),
                     APR_SUCCESS);
    ck_assert_uint_eq(plain_len, 0);
    ck_assert_str_eq((const char *)plain, "");
}
END_TEST

START_TEST(test_crypto_open_rejects)
{
    unsigned char key[RTS_SEAL_KEY_LEN], other[RTS_SEAL_KEY_LEN], *sealed, *plain;
    apr_size_t sealed_len, plain_len, i;
    const char *msg = "session record";

    memset(key, 0x42, sizeof(key));
    memcpy(other, key, sizeof(other));
    other[31] ^= 1;
    ck_assert_int_eq(rts_seal(rts_test_pool, key, "aad", 3, msg, strlen(msg), &sealed, &sealed_len),
                     APR_SUCCESS);
    ck_assert_int_eq(rts_open(rts_test_pool, other, "aad", 3, sealed, sealed_len, &plain, &plain_len),
                     RTS_EBADTOKEN);
    ck_assert_int_eq(rts_open(rts_test_pool, key, "aae", 3, sealed, sealed_len, &plain, &plain_len),
                     RTS_EBADTOKEN);
    ck_assert_int_eq(rts_open(rts_test_pool, key, NULL, 0, sealed, sealed_len, &plain, &plain_len),
                     RTS_EBADTOKEN);
    /* flipping any single byte (nonce, ciphertext or tag) breaks it */
    for (i = 0; i < sealed_len; i++) {
        sealed[i] ^= 0x80;
        ck_assert_int_eq(rts_open(rts_test_pool, key, "aad", 3, sealed, sealed_len, &plain,
                                  &plain_len), RTS_EBADTOKEN);
        sealed[i] ^= 0x80;
    }
    ck_assert_int_eq(rts_open(rts_test_pool, key, "aad", 3, sealed, sealed_len - 1, &plain,
                              &plain_len), RTS_EBADTOKEN);
    ck_assert_int_eq(rts_open(rts_test_pool, key, "aad", 3, sealed, RTS_SEAL_OVERHEAD - 1, &plain,
                              &plain_len), RTS_EBADTOKEN);
    /* and the untouched original still opens */
    ck_assert_int_eq(rts_open(rts_test_pool, key, "aad", 3, sealed, sealed_len, &plain, &plain_len),
                     APR_SUCCESS);
    ck_assert_str_eq((const char *)plain, msg);
}
END_TEST

START_TEST(test_crypto_pkce_rfc7636)
{
    /* RFC 7636 Appendix B */
    ck_assert_str_eq(rts_pkce_s256(rts_test_pool, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
                     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}
END_TEST

Suite *rts_suite_crypto(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("crypto");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_crypto_sha256);
    tcase_add_test(tc, test_crypto_hmac_rfc4231);
    tcase_add_test(tc, test_crypto_hmac_keyed_rfc4231);
    tcase_add_test(tc, test_crypto_hkdf_rfc5869);
    tcase_add_test(tc, test_crypto_seal_roundtrip);
    tcase_add_test(tc, test_crypto_open_rejects);
    tcase_add_test(tc, test_crypto_pkce_rfc7636);
    suite_add_tcase(s, tc);
    return s;
}
