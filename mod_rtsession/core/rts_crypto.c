/* OpenSSL 3 EVP primitives. SEED: rts_sha256 is complete; the rest of rts_crypto.h is
 * implemented by the JOSE/crypto work. */
#include <openssl/evp.h>
#include "rts.h"
#include "rts_crypto.h"

apr_status_t rts_sha256(const void *data, apr_size_t len, unsigned char out[RTS_SHA256_LEN])
{
    unsigned int outlen = RTS_SHA256_LEN;

    return EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) == 1 ? APR_SUCCESS : APR_EGENERAL;
}
