/* SPDX-License-Identifier: Apache-2.0 */
/* JWS/JWT: compact parsing, signature verification against a fixed JWKS (RSA, PS, EC P-256/384/521,
 * Ed25519: fuzz_keys.h, made with make_seeds.mjs together with the seeds), and the whole ID
 * token validation at a fixed time so the signed seeds pass every check. An input starting with
 * '{' is "{header}\n{claims}" that the target signs itself (fuzz_sign.h), so mutated claims
 * reach the ID token rules behind the signature. */
#include <string.h>
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "fuzz_sign.h"
#include "rts.h"
#include "rts_jose.h"
#include "rts_idtoken.h"
#include "rts_result.h"

#define JWS_MAX (16 * 1024)

static const rts_jwks_t *fuzz_jwks(void)
{
    static rts_jwks_t *jwks;
    rts_result_t res;

    if (!jwks) {
        memset(&res, 0, sizeof(res));
        rts_fuzz_static_begin();
        rts_fuzz_assert(rts_jwks_parse(rts_fuzz_pool(), RTS_FUZZ_JWKS, strlen(RTS_FUZZ_JWKS),
                                       64 * 1024, &jwks, &res) == APR_SUCCESS,
                        "the fixed JWKS parses");
        rts_fuzz_static_end();
    }
    return jwks;
}

int rts_fuzz_jws(const uint8_t *data, size_t size)
{
    apr_pool_t *p = rts_fuzz_input_pool();
    const char *s = rts_fuzz_cstr(p, data, size);
    const rts_jwks_t *keys = fuzz_jwks();
    rts_idtoken_expect_t expect;
    rts_result_t res;
    rts_jws_t *jws;

    if (size && data[0] == '{') {
        s = rts_fuzz_sign(p, s, size);
        keys = rts_fuzz_sign_jwks();
    }
    memset(&res, 0, sizeof(res));
    if (rts_jws_parse(p, s, JWS_MAX, &jws, &res) == APR_SUCCESS) {
        rts_fuzz_assert(jws->alg && jws->claims && jws->header, "a parsed JWS has alg and claims");
        memset(&res, 0, sizeof(res));
        if (rts_jws_verify(p, jws, keys, NULL, &res) == APR_SUCCESS) {
            rts_fuzz_assert(strcmp(jws->alg, "none") && strncmp(jws->alg, "HS", 2),
                            "none/HMAC never verifies");
        }
    }
    memset(&expect, 0, sizeof(expect));
    expect.issuer = RTS_FUZZ_ISSUER;
    expect.client_id = RTS_FUZZ_CLIENT_ID;
    expect.nonce = RTS_FUZZ_NONCE;
    expect.now = apr_time_from_sec(RTS_FUZZ_NOW);
    expect.leeway = apr_time_from_sec(60);
    memset(&res, 0, sizeof(res));
    if (rts_idtoken_validate(p, s, JWS_MAX, keys, &expect, &jws, &res) == APR_SUCCESS) {
        rts_fuzz_assert(jws->claims != NULL, "a valid ID token has claims");
    }
    apr_pool_destroy(p);
    return 0;
}

RTS_FUZZ_TARGET(jws)
