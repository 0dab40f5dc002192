/* request_rec in, rts_req_t out; rts_outcome_t in, response and headers out. */
#ifndef MOD_RTSESSION_REQ_H
#define MOD_RTSESSION_REQ_H

#include <httpd.h>
#include "rts.h"
#include "rts_flow.h"
#include "mod_rtsession_config.h"

/* The core context for this request, with a log sink bound to r. */
rts_ctx_t *rts_req_ctx(request_rec *r, rts_srv_conf_t *sc);
/* The neutral request description. */
rts_req_t *rts_req_describe(request_rec *r);
/* Applies a non-PASS outcome: redirect, 401 or error page. Returns the status for the hook. */
int rts_req_respond(request_rec *r, const rts_outcome_t *out);
/* An error page: a title for the status, the message (user's terms) and the reference id.
 * Returns status. */
int rts_req_error_page(request_rec *r, int status, const char *message);
/* RTSessionUnauthAction pass: the request goes on without identity (r->user "" until the
 * fixups, which unset it: the backend sees no REMOTE_USER). */
int rts_req_pass_anonymous(request_rec *r, const rts_outcome_t *out);
/* Removes client-sent copies of the identity headers (every name configured anywhere on the
 * server, and this location's; also their '_' spellings) and the module's cookies. */
void rts_req_scrub(request_rec *r, const rts_srv_conf_t *sc, const rts_dir_conf_t *dc);
/* A claim as one header/environment value by the core's rule (rts_claim.h: arrays
 * comma-joined, control characters become spaces); NULL when absent, null or over-long. */
const char *rts_req_claim_value(apr_pool_t *p, const json_t *v);
/* Adds the identity headers for the backend. */
void rts_req_inject(request_rec *r, const rts_dir_conf_t *dc, const rts_outcome_t *out);
/* A server-level log sink (startup, child init). */
rts_log_t *rts_req_server_log(apr_pool_t *p, server_rec *s);
/* The request's log id (mod_unique_id's, else httpd's), made on first use; every line the
 * module logs for a request starts with "[rid <id>] ". */
const char *rts_req_log_id(request_rec *r);

#endif
