/* SPDX-License-Identifier: Apache-2.0 */
/* The token endpoint: authorization code exchange, refresh grant, response parsing
 * (RFC 6749 §4.1.3-4.1.4, §5, §6; RFC 7636 §4.5; OIDC Core §3.1.3). */
#ifndef RTS_TOKEN_H
#define RTS_TOKEN_H

#include "rts.h"
#include "rts_result.h"
#include "rts_http.h"

typedef struct rts_token_set_t {
    const char *access_token;        /* required */
    const char *token_type;          /* required; only "Bearer" (case-insensitive) is accepted */
    const char *refresh_token;       /* NULL when absent */
    const char *id_token;            /* NULL when absent */
    apr_int64_t expires_in;          /* seconds; -1 when absent */
    apr_int64_t refresh_expires_in;  /* seconds; -1 when absent (a common extension) */
    const char *scope;               /* NULL when absent */
} rts_token_set_t;

/* What a token-endpoint call means for the grant it presented (docs/design.md, "Refresh
 * outcomes"). One classification for the code exchange and the refresh grant. */
typedef enum {
    RTS_TOKEN_OK = 0,        /* 200 with a usable token response */
    RTS_TOKEN_REFUSED,       /* the grant will never work: 400 with an error other than the
                              * client-authentication ones or with an empty/unparseable body;
                              * 403 without a client-authentication error */
    RTS_TOKEN_CLIENT_AUTH,   /* the client itself was refused (configuration): 401 whatever the
                              * body, or invalid_client / unauthorized_client in any status. The
                              * grant was not looked at */
    RTS_TOKEN_NOT_SENT,      /* the request never left (connect, DNS, TLS handshake): the grant
                              * is unspent, safe to retry */
    RTS_TOKEN_UNKNOWN        /* sent, no usable answer (timeout or reset after sending, 5xx, 429,
                              * other statuses, a 200 the parser refuses): the grant may be
                              * spent */
} rts_token_kind_t;

typedef struct rts_token_answer_t {
    rts_token_kind_t kind;
    int http_status;                 /* 0 when no HTTP answer came */
    const char *error;               /* the answer's OAuth error code (validated), NULL if none */
    apr_interval_time_t retry_after; /* Retry-After of the answer (delta or date), 0 if none */
    const char *refresh_token;       /* RTS_TOKEN_UNKNOWN from a 200 that the parser refused for
                                      * another member but whose refresh_token is well-formed:
                                      * the new token, to keep (the old one is spent) */
} rts_token_answer_t;

/* The kind of an answer: transport status of the HTTP call, the response (NULL when none),
 * and the status of rts_token_parse_response on it. error: the validated OAuth error code of
 * the body whatever the HTTP status, or NULL. */
rts_token_kind_t rts_token_classify(apr_status_t transport_rv, const rts_http_response_t *resp,
                                    apr_status_t parse_rv, const char *error);

/* Interprets a token endpoint response (the body is bounded by the HTTP client already).
 * 200 with a valid JSON object: APR_SUCCESS and *ptokens.
 * 400/401 with {"error": "invalid_grant"}: RTS_EINVALIDGRANT; with another error: RTS_EOAUTH;
 *   res->error holds the OAuth error code (validated: printable ASCII, bounded) and
 *   res->description the provider's error_description, sanitized for logging.
 * 5xx, other statuses (only 200, 400 and 401 are understood), non-JSON, JSON without
 * access_token, missing or unknown token_type, non-string (or null) fields, an error code that is
 * not NQSCHAR, expires_in / refresh_expires_in not a non-negative integer (a JSON string of
 * digits is refused): RTS_EUPSTREAM with res->error "upstream_error" (res->description says which).
 * Sets res->http_status to 401 for invalid_grant and to 502 for every other failure (provider
 * faults and other OAuth errors); the caller may override. */
apr_status_t rts_token_parse_response(apr_pool_t *p, const rts_http_response_t *resp,
                                      rts_token_set_t **ptokens, rts_result_t *res);

/* grant_type=authorization_code with the PKCE verifier; client authentication as configured
 * (client_secret_basic: RFC 6749 §2.3.1 form-encoded id and secret; client_secret_post: in the
 * body). Transport failures: APR_TIMEUP / APR_ECONNREFUSED / RTS_EUPSTREAM (any other failure,
 * RTS_ETOOLARGE included), http_status 502; the client's credentials refused (RTS_TOKEN_CLIENT_AUTH):
 * RTS_ECONFIG, http_status 502, logged at error level. Missing endpoint or client credentials in ctx->cfg:
 * RTS_ECONFIG; missing code, verifier or redirect_uri: APR_EINVAL. Nothing secret is logged. */
apr_status_t rts_token_exchange_code(rts_ctx_t *ctx, const char *token_endpoint,
                                     const char *code, const char *code_verifier,
                                     const char *redirect_uri,
                                     rts_token_set_t **ptokens, rts_result_t *res);

/* Client authentication as configured for a form POST to the provider (token, revocation):
 * an Authorization header (client_secret_basic), or client_id and client_secret appended to
 * *pbody (client_secret_post). */
void rts_token_client_auth(apr_pool_t *p, const rts_config_t *cfg, apr_table_t *headers,
                           const char **pbody);

/* grant_type=refresh_token. Same results as above; a client-authentication failure (at login
 * too) is RTS_ECONFIG, logged at error level naming the directives to check. timeout: the
 * whole call's bound (0: the configured HTTP timeout; never more than that). panswer (may be
 * NULL) receives the classification of the answer. */
apr_status_t rts_token_refresh(rts_ctx_t *ctx, const char *token_endpoint,
                               const char *refresh_token, apr_interval_time_t timeout,
                               rts_token_set_t **ptokens, rts_token_answer_t *panswer,
                               rts_result_t *res);

#endif
