/* HMAC-named, sealed store records. */
#include <string.h>
#include <openssl/crypto.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_record.h"
#include "rts_crypto.h"
#include "rts_util.h"

const char *rts_record_key(apr_pool_t *p, const rts_secret_t *secret, const char *prefix,
                           const char *message)
{
    unsigned char mac[RTS_SHA256_LEN];

    if (rts_hmac_sha256(secret->key_id, sizeof(secret->key_id), message, strlen(message), mac)
        != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrcat(p, prefix, rts_b64url_encode(p, mac, sizeof(mac)), NULL);
}

static apr_status_t record_seal_key(const rts_secret_t *secret, const char *bound,
                                    const char *info, unsigned char key[RTS_SEAL_KEY_LEN])
{
    return rts_hkdf_sha256(secret->key_seal, sizeof(secret->key_seal), bound, strlen(bound),
                           info, strlen(info), key, RTS_SEAL_KEY_LEN);
}

apr_status_t rts_record_seal(apr_pool_t *p, const rts_secret_t *secret, const char *bound,
                             const char *info, const char *key, const void *plain,
                             apr_size_t plain_len, const char **pval, apr_size_t *plen)
{
    unsigned char skey[RTS_SEAL_KEY_LEN];
    unsigned char *sealed;
    apr_status_t rv;

    rv = record_seal_key(secret, bound, info, skey);
    if (rv == APR_SUCCESS) {
        rv = rts_seal(p, skey, key, strlen(key), plain, plain_len, &sealed, plen);
    }
    OPENSSL_cleanse(skey, sizeof(skey));
    if (rv == APR_SUCCESS) {
        *pval = (const char *)sealed;
    }
    return rv;
}

apr_status_t rts_record_open(apr_pool_t *p, const rts_secret_t *secret, const char *bound,
                             const char *info, const char *key, const char *val,
                             apr_size_t len, const char **pplain, apr_size_t *pplain_len)
{
    unsigned char skey[RTS_SEAL_KEY_LEN];
    unsigned char *plain;
    apr_status_t rv;

    rv = record_seal_key(secret, bound, info, skey);
    if (rv == APR_SUCCESS) {
        rv = rts_open(p, skey, key, strlen(key), val, len, &plain, pplain_len);
    }
    OPENSSL_cleanse(skey, sizeof(skey));
    if (rv != APR_SUCCESS) {
        return RTS_EBADTOKEN;
    }
    *pplain = (const char *)plain;
    return APR_SUCCESS;
}
