/* SPDX-License-Identifier: Apache-2.0 */
/* request_rec in: the core's context and request description for a request, and what
 * check_authn decided for it. */
#ifndef MOD_RTSESSION_CTX_H
#define MOD_RTSESSION_CTX_H

#include <httpd.h>
#include <jansson.h>
#include "rts.h"
#include "rts_flow.h"
#include "mod_rtsession_config.h"

/* What check_authn decided, for the authz provider, the fixups and subrequests. */
typedef struct mrts_req_state_t {
    rts_outcome_t outcome;
    int anonymous;          /* RTSessionUnauthAction pass without a session */
} mrts_req_state_t;

/* The core context for this request: the server's per-child store (already metered),
 * HTTP client, provider cache and memos, with a log sink bound to r. */
rts_ctx_t *mrts_ctx_make(request_rec *r, const mrts_srv_conf_t *sc);
/* The neutral request description (rts_req_t), with top-level navigation detected. */
rts_req_t *mrts_ctx_describe(request_rec *r);
/* The state check_authn stored for r (NULL when none). */
mrts_req_state_t *mrts_ctx_state(const request_rec *r);
void mrts_ctx_set_state(request_rec *r, mrts_req_state_t *st);
/* The validated claims of this request's session (set by check_authn), NULL without one. */
json_t *mrts_ctx_claims(const request_rec *r);

#endif
