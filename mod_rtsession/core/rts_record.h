/* SPDX-License-Identifier: Apache-2.0 */
/* Store records that memcached cannot read: named by an HMAC under the module secret (a dump
 * yields no cookie or state), sealed with AES-256-GCM under a key derived from the module secret
 * and a value the browser holds (the cookie or the state), with the store key as associated
 * data (a record copied under another key does not open). Sessions, pending logins and the
 * back-channel index use this one scheme. */
#ifndef RTS_RECORD_H
#define RTS_RECORD_H

#include <apr_pools.h>
#include "rts_config.h"

/* The keys of one configured secret for one client of one provider (HKDF-SHA256 with the
 * module's salt; the info is a label, the issuer and the client id), prepared for per-request
 * use; the prepared keys live as long as p. Every record (sessions, pending logins, the
 * back-channel index) is named and sealed under these keys, so two virtual hosts or two client
 * ids that share RTSessionSecret and memcached neither find nor open each other's records: a
 * cookie of one client is an unknown session at the other. Derived once per server at startup:
 * no cost per request. */
apr_status_t rts_secret_derive(apr_pool_t *p, const char *secret, const char *issuer,
                               const char *client_id, rts_secret_t *out);

/* prefix + base64url(HMAC-SHA256(secret.key_id, message)); NULL on failure. */
const char *rts_record_key(apr_pool_t *p, const rts_secret_t *secret, const char *prefix,
                           const char *message);

/* Seals plain under HKDF-Expand-SHA256(PRK = secret.key_seal, info || 0x00 || bound), with key as
 * associated data. bound and info together are at most 253 bytes. */
apr_status_t rts_record_seal(apr_pool_t *p, const rts_secret_t *secret, const char *bound,
                             const char *info, const char *key, const void *plain,
                             apr_size_t plain_len, const char **pval, apr_size_t *plen);

/* Opens what rts_record_seal produced; RTS_EBADTOKEN when it does not open. The plaintext is
 * NUL-terminated (not counted). */
apr_status_t rts_record_open(apr_pool_t *p, const rts_secret_t *secret, const char *bound,
                             const char *info, const char *key, const char *val,
                             apr_size_t len, const char **pplain, apr_size_t *pplain_len);

#endif
