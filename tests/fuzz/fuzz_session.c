/* SPDX-License-Identifier: Apache-2.0 */
/* Session record decoding (rts_session_open) under a fixed secret and cookie id. First byte
 * even: the rest is a sealed record as memcached would hand it back (exercises the AEAD
 * framing). Odd: the rest is a binary plaintext (rts_session_codec.h) that this target seals
 * with the record's key first, so the fuzzer reaches the decoder behind the authentication tag.
 * The sealing is checked against rts_session_seal once, so a change in rts_session.c cannot
 * silently turn this target into a decryption-failure test. */
#include <string.h>
#include "fuzz_common.h"
#include "rts.h"
#include "rts_config.h"
#include "rts_record.h"
#include "rts_session.h"
#include "rts_session_codec.h"
#include "rts_claims_memo.h"

#define FUZZ_SEAL_INFO "rtsession session v2"   /* = SEAL_INFO in rts_session.c */
#define FUZZ_ID "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"   /* 43 base64url characters */

static rts_secret_t secret;
static const char *store_key;

static void seal_plain(apr_pool_t *p, const void *plain, apr_size_t len, unsigned char **out,
                       apr_size_t *out_len)
{
    const char *val;

    rts_fuzz_assert(rts_record_seal(p, &secret, FUZZ_ID, FUZZ_SEAL_INFO, store_key, plain, len,
                                    &val, out_len) == APR_SUCCESS, "seal");
    *out = (unsigned char *)val;
}

static void setup(void)
{
    apr_pool_t *p = rts_fuzz_pool();
    rts_session_t sample = { 0 }, *s;
    const unsigned char *plain;
    apr_size_t plain_len;
    unsigned char *sealed;
    apr_size_t sealed_len;

    memset(secret.key_id, 0x11, sizeof(secret.key_id));
    memset(secret.key_seal, 0x22, sizeof(secret.key_seal));
    store_key = rts_session_store_key(p, &secret, FUZZ_ID);
    sample.gen = 1;
    sample.sub = "alice";
    sample.access_token = "at";
    rts_fuzz_assert(rts_session_encode(p, &sample, &plain, &plain_len) == APR_SUCCESS, "encode");
    seal_plain(p, plain, plain_len, &sealed, &sealed_len);
    rts_fuzz_assert(rts_session_open(p, &secret, FUZZ_ID, store_key, (const char *)sealed,
                                     sealed_len, &s) == APR_SUCCESS && !strcmp(s->sub, "alice"),
                    "the target's sealing matches rts_session.c (update FUZZ_SEAL_INFO)");
}

int rts_fuzz_session(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    unsigned char *val;
    apr_size_t len;
    rts_session_t *s;

    if (!store_key) {
        rts_fuzz_static_begin();
        setup();
        rts_fuzz_static_end();
    }
    if (size < 1) {
        return 0;
    }
    p = rts_fuzz_input_pool();
    if (data[0] & 1) {
        seal_plain(p, data + 1, size - 1, &val, &len);
    }
    else {
        val = (unsigned char *)rts_fuzz_cstr(p, data + 1, size - 1);
        len = size - 1;
    }
    if (rts_session_open(p, &secret, FUZZ_ID, store_key, (const char *)val, len, &s)
        == APR_SUCCESS) {
        json_t *claims;

        rts_fuzz_assert(s->sub && s->access_token, "an opened session has sub and access_token");
        rts_claims_memo_get(NULL, p, s->id_token, RTS_SESSION_MAX_PLAIN, &claims);
    }
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(session)
