/* SPDX-License-Identifier: Apache-2.0 */
/* `Require claim NAME:VALUE`: the "claim" authz provider (registered by mod_rtsession.c). */
#ifndef MOD_RTSESSION_AUTHZ_H
#define MOD_RTSESSION_AUTHZ_H

#include <httpd.h>
#include <mod_auth.h>

extern const authz_provider mrts_authz_claim_provider;

#endif
