/* SPDX-License-Identifier: Apache-2.0 */
/* The core's log sinks bound to httpd's error log, and the request id every line carries. */
#ifndef MOD_RTSESSION_LOG_H
#define MOD_RTSESSION_LOG_H

#include <httpd.h>
#include "rts.h"
#include "rts_log.h"

/* The request's log id (mod_unique_id's, else httpd's), made on first use; every line the
 * module logs for a request starts with "[rid <id>] ". */
const char *mrts_log_id(request_rec *r);
/* A log sink bound to r (the core's levels are APLOG numbers). */
rts_log_t *mrts_log_request(request_rec *r);
/* A server-level log sink (startup, child init). */
rts_log_t *mrts_log_server(apr_pool_t *p, server_rec *s);

#endif
