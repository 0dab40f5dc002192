/* The start of a login: state, nonce, PKCE, the authorization request URL (OIDC Core §3.1.2.1,
 * RFC 7636), and the pending-login record that binds the callback to the browser.
 * The browser holds the state in a short-lived cookie; the store holds, under an HMAC of the
 * state, the nonce, the PKCE verifier and the return URL, sealed. The callback must present the
 * same state in the URL and in the cookie, and consumes the record (single use). */
#ifndef RTS_AUTHREQ_H
#define RTS_AUTHREQ_H

#include "rts.h"
#include "rts_result.h"

#define RTS_AUTHREQ_RANDOM_BYTES 32
#define RTS_RETURN_URL_MAX 2048

typedef struct rts_pending_t {
    const char *state;
    const char *nonce;
    const char *code_verifier;
    const char *return_url;     /* a same-origin relative path */
    apr_time_t created;
} rts_pending_t;

/* A fresh pending login for return_url (which the caller has checked). */
apr_status_t rts_authreq_new(apr_pool_t *p, const char *return_url, apr_time_t now,
                             rts_pending_t **ppending);
/* The authorization request URL. */
const char *rts_authreq_url(apr_pool_t *p, const char *authorization_endpoint,
                            const char *client_id, const char *redirect_uri, const char *scope,
                            const rts_pending_t *pending);
/* Stores the pending login (add, expiring after cfg->pending_ttl). */
/* Draws a new state while the pending item's memcached server is failed fast. */
void rts_authreq_place(rts_ctx_t *ctx, rts_pending_t *pd);
apr_status_t rts_authreq_save(rts_ctx_t *ctx, const rts_pending_t *pending);
/* Takes the pending login of state out of the store: reads it, then deletes it; if the delete
 * finds it already gone, another request consumed it first and this one gets APR_ENOENT
 * (single use). APR_ENOENT too when unknown or expired; RTS_EBADTOKEN if it does not open. */
apr_status_t rts_authreq_take(rts_ctx_t *ctx, const char *state, rts_pending_t **ppending);

/* Non-zero when url is a same-origin relative reference safe to redirect to: starts with a
 * single '/', no backslash, no control characters or spaces, no "//" or "/\" prefix even after
 * percent-decoding, bounded length. */
int rts_return_url_ok(const char *url);
/* Non-zero when a state/nonce-like value has the shape we generate (43 base64url chars). */
int rts_authreq_value_ok(const char *v);

#endif
