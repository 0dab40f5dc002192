/* SPDX-License-Identifier: Apache-2.0 */
/* rtsessionctl: what its command files share. */
#ifndef RTSCTL_H
#define RTSCTL_H

#include "rts.h"
#include "rtsctl_conf.h"

/* Exit statuses. */
#define RTSCTL_OK 0
#define RTSCTL_FAIL 1        /* the command ran and found a failure (or nothing to act on) */
#define RTSCTL_USAGE 2       /* bad arguments or configuration */

/* A core context on cfg: no metrics, the real clock, the core's log lines on stderr at
 * verbosity > 0. Store and HTTP client are created by the command that needs them. */
rts_ctx_t *rtsctl_ctx(apr_pool_t *p, const rts_config_t *cfg, int verbose);

/* `check`: one line per check on stdout; RTSCTL_FAIL when any failed. where: what was read;
 * keys_err: why the session keys could not be derived (NULL: they were). */
int rtsctl_check(apr_pool_t *p, const rtsctl_settings_t *st, const rts_config_t *cfg,
                 const char *where, const char *keys_err, int verbose);

#endif
