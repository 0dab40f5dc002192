/* SPDX-License-Identifier: Apache-2.0 */
/* Logout: local (session record deleted, cookie expired), RP-initiated at the provider
 * (OpenID Connect RP-Initiated Logout 1.0) and token revocation (RFC 7009). Design and flows:
 * docs/logout.md. */
#ifndef RTS_LOGOUT_H
#define RTS_LOGOUT_H

#include "rts.h"
#include "rts_flow.h"
#include "rts_session.h"

/* Non-zero when a request may log out: a POST, or a GET the browser marks as same-origin or
 * user-initiated (Sec-Fetch-Site same-origin/none); never a request marked cross-site or
 * same-site (a sibling subdomain). A third-party page can neither link nor post a logout. */
int rts_logout_allowed(const char *method, const char *fetch_site);

/* The logout endpoint (cfg->logout_path), both legs:
 * - with a state in the query: the return from the provider's end_session_endpoint; the
 *   state must match the browser's logout cookie and a stored pending logout (single use),
 *   then the browser goes to the target chosen when logout started;
 * - otherwise a logout: refused with 403 unless rts_logout_allowed; the session (if any) is
 *   revoked at the provider, deleted and its cookie expired; then the browser goes to the
 *   provider's end_session_endpoint (when advertised and enabled, with id_token_hint,
 *   post_logout_redirect_uri and state) or straight to the target: the query's `return` when
 *   it is a same-origin path, else cfg->logout_redirect. */
apr_status_t rts_logout_handle(rts_ctx_t *ctx, const rts_req_t *req, const char *fetch_site,
                               rts_outcome_t *out);

/* Revokes the session's refresh token, then its access token, at revocation_endpoint
 * (client authentication as for the token endpoint). Failures are logged and returned, never
 * fatal to the logout. */
apr_status_t rts_logout_revoke(rts_ctx_t *ctx, const char *revocation_endpoint,
                               const rts_session_t *s);

#endif
