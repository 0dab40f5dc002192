/* SPDX-License-Identifier: Apache-2.0 */
/* rts_outcome_t out: redirects, 401s, error pages and the anonymous pass. */
#ifndef MOD_RTSESSION_PAGE_H
#define MOD_RTSESSION_PAGE_H

#include <httpd.h>
#include "rts_flow.h"

/* Applies a non-PASS outcome: redirect, 401 or error page. Returns the status for the hook. */
int mrts_page_respond(request_rec *r, const rts_outcome_t *out);
/* An error page: a title for the status, the message (user's terms) and the reference id.
 * Returns status. */
int mrts_page_error(request_rec *r, int status, const char *message);
/* RTSessionUnauthAction pass: the request goes on without identity (r->user "" until the
 * fixups, which unset it: the backend sees no REMOTE_USER). */
int mrts_page_pass_anonymous(request_rec *r, const rts_outcome_t *out);

#endif
