/* SPDX-License-Identifier: Apache-2.0 */
/* The session record: what memcached holds for one logged-in browser, sealed.
 * Store key = "rts:s:" + b64url(HMAC(secret.key_id, "s:" + cookie id)): a memcached dump
 * yields no cookie. Value = AES-256-GCM under a key derived from secret.key_seal and the cookie
 * id (rts_record.h): a dump yields no token either, and the cookie alone opens nothing without
 * the module secret. The plaintext layout is in rts_session_codec.h. */
#ifndef RTS_SESSION_H
#define RTS_SESSION_H

#include "rts.h"
#include "rts_config.h"

#define RTS_SESSION_ID_BYTES 32          /* 256 bits from the CSPRNG */
#define RTS_SESSION_MAX_PLAIN (48 * 1024)  /* a record's plaintext, and so the ID token in it */

typedef struct rts_session_t {
    /* not persisted: where the record lives */
    const char *id;                  /* the cookie value */
    const char *store_key;
    apr_uint64_t cas;                /* CAS unique of the version read */
    const rts_secret_t *secret;      /* the secret that opened it (new writes use secrets[0]) */
    /* persisted */
    apr_int64_t gen;                 /* +1 at every refresh */
    const char *sub;
    const char *id_token;
    const char *access_token;
    const char *refresh_token;       /* NULL when the provider gave none */
    apr_time_t at_expires;           /* 0: unknown */
    apr_time_t rt_expires;           /* 0: unknown */
    apr_time_t created;
    apr_time_t seen;                 /* last write of the record: anchors the idle slide */
    const char *sid;                 /* the provider's session id (ID token sid), NULL if none */
    const char *intent_owner;        /* refresh intent: who is spending refresh_token ... */
    apr_time_t intent_until;         /* ... and until when the intent holds */
    apr_time_t at_issued;            /* when access_token was obtained (0: unknown, format 2) */
    apr_time_t retry_at;             /* refresh backoff: no token call before (0: none) */
    int retry_step;                  /* failed refresh attempts of this generation (backoff) */
    int rt_lost;                     /* presentations of refresh_token whose answer was lost
                                      * (it may be spent; a refusal is then no reuse signal):
                                      * 0..3, saturating */
} rts_session_t;

/* A new random session id. */
apr_status_t rts_session_new_id(apr_pool_t *p, const char **pid);
/* A new id whose record lands on a memcached server that is not failed fast (see
 * rts_store_t.usable), drawn at most RTS_PLACE_DRAWS times. */
apr_status_t rts_session_new_id_placed(rts_ctx_t *ctx, const char **pid);
/* The store key of a session id under a secret. */
const char *rts_session_store_key(apr_pool_t *p, const rts_secret_t *secret, const char *id);
/* Checks the shape of a cookie value (43 base64url characters) before any store access. */
int rts_session_id_valid(const char *id);

/* Serializes and seals (under the session's secret, or secrets[0] when none). RTS_ETOOLARGE
 * when the plaintext exceeds RTS_SESSION_MAX_PLAIN, the bound rts_session_open enforces (also
 * from rts_session_add and rts_session_cas). */
apr_status_t rts_session_seal(apr_pool_t *p, const rts_config_t *cfg, rts_session_t *s,
                              const char **pval, apr_size_t *plen);
/* Opens and parses a sealed record read under store_key. RTS_EBADTOKEN when it does not open or
 * does not parse. */
apr_status_t rts_session_open(apr_pool_t *p, const rts_secret_t *secret, const char *id,
                              const char *store_key, const char *val, apr_size_t len,
                              rts_session_t **ps);

/* Loads a session by cookie id: tries each configured secret (rotation). APR_ENOENT when it is
 * in none; a store failure as returned by the store. */
apr_status_t rts_session_load(rts_ctx_t *ctx, const char *id, rts_session_t **ps);
/* Writes a changed session with compare-and-swap on s->cas (APR_EEXIST: changed meanwhile,
 * APR_ENOENT: gone). memcached does not hand back the new CAS unique, so s->cas is stale
 * afterwards: a caller that writes again re-reads first. */
apr_status_t rts_session_cas(rts_ctx_t *ctx, rts_session_t *s);
/* Writes a new session with add. */
apr_status_t rts_session_add(rts_ctx_t *ctx, rts_session_t *s);
apr_status_t rts_session_delete(rts_ctx_t *ctx, rts_session_t *s);
/* The item expiry for the store, in seconds: the idle deadline, capped by the absolute end and
 * the refresh token's expiry (rts_lifetime_ttl). */
apr_uint32_t rts_session_ttl(const rts_ctx_t *ctx, const rts_session_t *s);

#endif
