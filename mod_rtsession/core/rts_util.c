/* Small helpers. SEED: rts_b64url_encode and rts_random_bytes are complete; the rest of
 * rts_util.h is implemented by the JOSE/crypto work. */
#include <openssl/rand.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_util.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *rts_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    char *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *o++ = b64url_alphabet[((data[i + 1] & 0x0f) << 2) | (data[i + 2] >> 6)];
        *o++ = b64url_alphabet[data[i + 2] & 0x3f];
    }
    if (len - i == 1) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[(data[i] & 0x03) << 4];
    }
    else if (len - i == 2) {
        *o++ = b64url_alphabet[data[i] >> 2];
        *o++ = b64url_alphabet[((data[i] & 0x03) << 4) | (data[i + 1] >> 4)];
        *o++ = b64url_alphabet[(data[i + 1] & 0x0f) << 2];
    }
    *o = '\0';
    return out;
}

apr_status_t rts_random_bytes(unsigned char *buf, apr_size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? APR_SUCCESS : APR_EGENERAL;
}
