/* SPDX-License-Identifier: Apache-2.0 */
/* What the backend sees: client-sent identity headers and the module's cookies removed, the
 * identity added as request headers and RTS_CLAIM_* environment variables. */
#ifndef MOD_RTSESSION_HEADERS_H
#define MOD_RTSESSION_HEADERS_H

#include <httpd.h>
#include <jansson.h>
#include "rts_flow.h"
#include "mod_rtsession_config.h"

#define MRTS_ENV_PREFIX "RTS_CLAIM_"

/* Removes client-sent copies of the identity headers (every name configured anywhere on the
 * server, and this location's; also their '_' spellings) and the module's cookies. */
void mrts_headers_scrub(request_rec *r, const mrts_srv_conf_t *sc, const mrts_dir_conf_t *dc);
/* Adds the identity headers for the backend. */
void mrts_headers_inject(request_rec *r, const mrts_dir_conf_t *dc, const rts_outcome_t *out);
/* RTS_CLAIM_<name> for every top-level claim (name with non-alphanumerics as '_'). */
void mrts_headers_set_env(request_rec *r, const json_t *claims);

#endif
