/* SPDX-License-Identifier: Apache-2.0 */
/* The orchestrator: a neutral description of the request in, a decision out. The Apache glue
 * translates request_rec into rts_req_t and applies the rts_outcome_t; everything in between
 * is here, unit-testable without httpd. */
#ifndef RTS_FLOW_H
#define RTS_FLOW_H

#include <apr_tables.h>
#include <jansson.h>
#include "rts.h"
#include "rts_cookie.h"
#include "rts_result.h"
#include "rts_session.h"

typedef struct rts_req_t {
    const char *method;
    int secure;                 /* the browser reached us over https */
    const char *origin;         /* "https://host[:port]" as the server names itself */
    const char *uri;            /* path and query as received: the return URL after login */
    const char *query;          /* NULL when none */
    const char *cookie_header;  /* NULL when none */
    int navigation;             /* a top-level browser navigation (may be sent to log in) */
} rts_req_t;

typedef enum {
    RTS_OUT_PASS = 0,           /* authenticated: session and claims set */
    RTS_OUT_REDIRECT,           /* 302 to location */
    RTS_OUT_DENY,               /* 401: not logged in and not a navigation */
    RTS_OUT_ERROR               /* an error page with http_status */
} rts_outcome_kind_t;

typedef struct rts_outcome_t {
    rts_outcome_kind_t kind;
    int http_status;
    const char *location;
    apr_array_header_t *set_cookies;   /* of const char *: Set-Cookie values */
    rts_session_t *session;
    json_t *claims;
    int retry_after;                   /* seconds, 0 for none */
    const char *message;               /* an error page's text, in the user's terms; the
                                        * details (result) go to the log only */
    rts_result_t result;
} rts_outcome_t;

/* The redirect URI for this request (configured absolute URL, or origin + path). */
const char *rts_flow_redirect_uri(apr_pool_t *p, const rts_config_t *cfg, const rts_req_t *req);
/* The path part of the configured redirect URI (what the callback is recognised by). */
const char *rts_flow_callback_path(apr_pool_t *p, const rts_config_t *cfg);

/* Outcome helpers for other request handlers of the core (logout): a fresh outcome, a
 * Set-Cookie (max_age < 0: session cookie, 0: delete), an error page outcome. */
void rts_flow_out_init(rts_ctx_t *ctx, rts_outcome_t *out);
/* The name of the module's cookie of this kind as sent for this request (rts_cookie_name). */
const char *rts_flow_cookie(const rts_ctx_t *ctx, rts_cookie_kind_t kind, int secure);
void rts_flow_add_cookie(rts_ctx_t *ctx, rts_outcome_t *out, const char *name, const char *value,
                         int secure, apr_int64_t max_age);
apr_status_t rts_flow_out_error(rts_ctx_t *ctx, rts_outcome_t *out, int status,
                                const char *error, const char *description);

/* A protected request: the session by cookie, refreshed when due; or the start of a login. */
apr_status_t rts_flow_authenticate(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out);
/* The redirect URI: check state, redeem the code, validate the ID token, create the session. */
apr_status_t rts_flow_callback(rts_ctx_t *ctx, const rts_req_t *req, rts_outcome_t *out);

#endif
