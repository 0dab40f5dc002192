/* SPDX-License-Identifier: Apache-2.0 */
/* HMAC-named, sealed store records. */
#include <string.h>
#include <openssl/crypto.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_record.h"
#include "rts_crypto.h"
#include "rts_util.h"

/* HKDF info: label || 0x00 || issuer || 0x00 || client_id. Neither the issuer nor the client id
 * holds a NUL, so two different pairs never give the same info. */
static const char *derive_info(apr_pool_t *p, const char *label, const char *issuer,
                               const char *client_id, apr_size_t *plen)
{
    apr_size_t ll = strlen(label), il = strlen(issuer), cl = strlen(client_id);
    char *info = apr_palloc(p, ll + il + cl + 2);

    memcpy(info, label, ll);
    info[ll] = '\0';
    memcpy(info + ll + 1, issuer, il);
    info[ll + 1 + il] = '\0';
    memcpy(info + ll + 2 + il, client_id, cl);
    *plen = ll + il + cl + 2;
    return info;
}

apr_status_t rts_secret_derive(apr_pool_t *p, const char *secret, const char *issuer,
                               const char *client_id, rts_secret_t *out)
{
    static const char salt[] = "mod_rtsession";
    const char *info_id, *info_seal;
    apr_size_t id_len, seal_len;
    apr_status_t rv;

    if (!issuer || !client_id) {
        return APR_EINVAL;
    }
    info_id = derive_info(p, "store key naming", issuer, client_id, &id_len);
    info_seal = derive_info(p, "record sealing", issuer, client_id, &seal_len);
    rv = rts_hkdf_sha256(secret, strlen(secret), salt, sizeof(salt) - 1, info_id, id_len,
                         out->key_id, sizeof(out->key_id));
    if (rv == APR_SUCCESS) {
        rv = rts_hkdf_sha256(secret, strlen(secret), salt, sizeof(salt) - 1, info_seal,
                             seal_len, out->key_seal, sizeof(out->key_seal));
    }
    if (rv == APR_SUCCESS) {
        rv = rts_hmac_key_create(p, out->key_id, sizeof(out->key_id), &out->mac_id);
    }
    if (rv == APR_SUCCESS) {
        rv = rts_hmac_key_create(p, out->key_seal, sizeof(out->key_seal), &out->mac_seal);
    }
    return rv;
}

/* HMAC-SHA256 under one of the secret's keys: the prepared key when there is one. */
static apr_status_t secret_hmac(const rts_hmac_key_t *keyed, const unsigned char *raw,
                                const void *data, apr_size_t len, unsigned char out[RTS_SHA256_LEN])
{
    return keyed ? rts_hmac_sha256_keyed(keyed, data, len, out)
                 : rts_hmac_sha256(raw, RTS_SEAL_KEY_LEN, data, len, out);
}

const char *rts_record_key(apr_pool_t *p, const rts_secret_t *secret, const char *prefix,
                           const char *message)
{
    unsigned char mac[RTS_SHA256_LEN];

    if (secret_hmac(secret->mac_id, secret->key_id, message, strlen(message), mac)
        != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrcat(p, prefix, rts_b64url_encode(p, mac, sizeof(mac)), NULL);
}

/* HKDF-Expand (RFC 5869, 2.3) for one SHA-256 block: HMAC(PRK, info || 0x00 || bound || 0x01).
 * key_seal is itself an HKDF output, a uniform PRK, so no Extract step is needed; one HMAC per
 * record instead of the two of a full HKDF, on every request's session read. The 0x00 separates
 * info from bound (neither holds a NUL). */
static apr_status_t record_seal_key(const rts_secret_t *secret, const char *bound,
                                    const char *info, unsigned char key[RTS_SEAL_KEY_LEN])
{
    char buf[256];
    apr_size_t info_len = strlen(info), bound_len = strlen(bound);

    if (info_len + bound_len + 2 > sizeof(buf)) {
        return APR_EINVAL;
    }
    memcpy(buf, info, info_len);
    buf[info_len] = '\0';
    memcpy(buf + info_len + 1, bound, bound_len);
    buf[info_len + 1 + bound_len] = 0x01;
    return secret_hmac(secret->mac_seal, secret->key_seal, buf, info_len + bound_len + 2, key);
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
