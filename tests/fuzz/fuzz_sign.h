/* SPDX-License-Identifier: Apache-2.0 */
/* A signer for the JWS and logout targets: an ES256 key made at start-up, its JWKS, and
 * compact JWS of any header and payload text. Mutated claims then still carry a good
 * signature, so the fuzzer reaches the claim checks behind the signature check. */
#ifndef RTS_FUZZ_SIGN_H
#define RTS_FUZZ_SIGN_H

#include <apr_pools.h>
#include "rts_jose.h"

#define RTS_FUZZ_SIGN_KID "fz"

/* The JWKS holding the signer's public key (parsed once), and that key as JWK JSON text. */
const rts_jwks_t *rts_fuzz_sign_jwks(void);
const char *rts_fuzz_sign_jwk_json(void);
/* b64url(header).b64url(payload).b64url(ES256 signature), from p. Input "{header}\n{payload}":
 * header and payload text as given (any bytes); without a newline the payload is all of it
 * and the header {"alg":"ES256","kid":"fz"}. */
const char *rts_fuzz_sign(apr_pool_t *p, const char *text, apr_size_t len);

#endif
