/* SPDX-License-Identifier: Apache-2.0 */
/* The status handler (SetHandler rtsession-status) and the shared counters behind it. */
#ifndef MOD_RTSESSION_STATUS_H
#define MOD_RTSESSION_STATUS_H

#include <httpd.h>
#include "rts.h"

/* post_config: maps the counters (once per httpd lifetime; children inherit them). */
int mrts_status_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s);
/* handler: the counters in the Prometheus text format. */
int mrts_status_handler(request_rec *r);
/* The shared counters, NULL when they could not be mapped (the module counts nothing). */
rts_metrics_t *mrts_status_metrics(void);

#endif
