/* SPDX-License-Identifier: Apache-2.0 */
/* The start of a login: state, nonce, PKCE, the authorization request URL (OIDC Core §3.1.2.1,
 * RFC 7636), and the pending login that binds the callback to the browser.
 *
 * A login keeps its pending state in the browser, not in the store (docs/design.md, "Pending
 * logins"): the short-lived cookie holds state "." b64url(sealed {nonce, PKCE verifier, return
 * URL, created}), sealed with the record scheme (rts_record.h) under a key bound to the state,
 * so an anonymous navigation writes nothing to memcached. The callback must present the same
 * state in the URL and in the cookie; it is single use through a small "consumed" marker added
 * after the code was redeemed (only a login the provider completed writes it).
 * The store-held record (rts_authreq_save/take) remains for RP-initiated logout and for pending
 * logins started before the upgrade (a cookie that holds the state alone). */
#ifndef RTS_AUTHREQ_H
#define RTS_AUTHREQ_H

#include "rts.h"
#include "rts_result.h"

#define RTS_AUTHREQ_RANDOM_BYTES 32
#define RTS_RETURN_URL_MAX 2048

/* A trip of the browser to the provider that we wait to see back: a login (the authorization
 * request) or an RP-initiated logout (nonce and code_verifier unused). Its state binds the
 * return to this browser; return_url is where the browser goes once it is back. */
typedef struct rts_provider_trip_t {
    const char *state;
    const char *nonce;
    const char *code_verifier;
    const char *return_url;     /* a same-origin relative path */
    apr_time_t created;
} rts_provider_trip_t;

/* A fresh pending login for return_url (which the caller has checked). */
apr_status_t rts_authreq_new(apr_pool_t *p, const char *return_url, apr_time_t now,
                             rts_provider_trip_t **ppending);
/* The authorization request URL. */
const char *rts_authreq_url(apr_pool_t *p, const char *authorization_endpoint,
                            const char *client_id, const char *redirect_uri, const char *scope,
                            const rts_provider_trip_t *pending);
/* The longest pending-login cookie value (a return URL that would make it longer is replaced
 * by "/"); well under a browser's 4096-byte limit per cookie. */
#define RTS_AUTHREQ_COOKIE_MAX 3200

/* The pending-login cookie value for pd (see above). */
apr_status_t rts_authreq_cookie_value(rts_ctx_t *ctx, const rts_provider_trip_t *pd,
                                      const char **pvalue);
/* Non-zero when a pending-login cookie value is a sealed one (else: a bare state, the
 * store-held form of earlier versions). */
int rts_authreq_cookie_sealed(const char *value);
/* Opens a sealed cookie value for the state of the callback URL (compared in constant time).
 * RTS_ESTATE when the cookie belongs to another state, RTS_EBADTOKEN when it does not open
 * (tampered, another secret), APR_ENOENT when older than cfg->pending_ttl. */
apr_status_t rts_authreq_cookie_open(rts_ctx_t *ctx, const char *value, const char *state,
                                     rts_provider_trip_t **ppending);
/* Single use of a sealed pending login. rts_authreq_consumed: APR_EEXIST when a callback of
 * this state completed already, APR_SUCCESS when not (one get). rts_authreq_consume: records
 * it (add, then read back so that a store without CAS is found before a session exists);
 * APR_EEXIST when another callback did first. Store failures as returned. */
apr_status_t rts_authreq_consumed(rts_ctx_t *ctx, const char *state);
apr_status_t rts_authreq_consume(rts_ctx_t *ctx, const char *state);

/* Stores the pending login (add, expiring after cfg->pending_ttl). */
/* Draws a new state while the memcached server of the login's consumed marker (the one item a
 * login writes, at its callback) is failed fast. */
void rts_authreq_place(rts_ctx_t *ctx, rts_provider_trip_t *pd);
apr_status_t rts_authreq_save(rts_ctx_t *ctx, const rts_provider_trip_t *pending);
/* Takes the pending login of state out of the store: reads it, then deletes it; if the delete
 * finds it already gone, another request consumed it first and this one gets APR_ENOENT
 * (single use). APR_ENOENT too when unknown or expired; RTS_EBADTOKEN if it does not open. */
apr_status_t rts_authreq_take(rts_ctx_t *ctx, const char *state, rts_provider_trip_t **ppending);

/* Non-zero when url is a same-origin relative reference safe to redirect to: starts with a
 * single '/', no backslash, no control characters or spaces, no "//" or "/\" prefix even after
 * percent-decoding, bounded length. */
int rts_return_url_ok(const char *url);
/* Non-zero when a state/nonce-like value has the shape we generate (43 base64url chars). */
int rts_authreq_value_ok(const char *v);

#endif
