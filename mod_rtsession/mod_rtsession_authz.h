/* `Require claim NAME:VALUE` and the identity as environment variables. */
#ifndef MOD_RTSESSION_AUTHZ_H
#define MOD_RTSESSION_AUTHZ_H

#include <httpd.h>
#include <jansson.h>

#define RTS_ENV_PREFIX "RTS_CLAIM_"

/* The validated claims of this request's session (set by check_authn), NULL without one. */
json_t *rts_request_claims(request_rec *r);
/* Registers the "claim" authz provider. */
void rts_authz_register(apr_pool_t *p);
/* RTS_CLAIM_<name> for every top-level claim (name with non-alphanumerics as '_'). */
void rts_authz_set_env(request_rec *r, const json_t *claims);

#endif
