/* The status handler (SetHandler rtsession-status) and the shared counters behind it. */
#ifndef MOD_RTSESSION_STATUS_H
#define MOD_RTSESSION_STATUS_H

#include <httpd.h>
#include "rts.h"

/* Registers the post_config hook that maps the counters and the handler. */
void rts_status_register_hooks(apr_pool_t *p);
/* Points ctx at the shared counters and meters its store (no-op when they are missing). */
void rts_status_attach(rts_ctx_t *ctx);

#endif
