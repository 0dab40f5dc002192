/* SPDX-License-Identifier: Apache-2.0 */
/* ID token validation against the provider's current keys, with one JWKS refetch when the
 * token names a key we do not have (provider key rotation). Shared by login and refresh. */
#ifndef RTS_OIDC_H
#define RTS_OIDC_H

#include <jansson.h>
#include "rts.h"
#include "rts_result.h"

/* nonce: required at login, NULL on refresh; sub: NULL at login, the session's on refresh.
 * On success *pclaims holds the validated claims (owned by ctx->pool). */
apr_status_t rts_oidc_validate_id_token(rts_ctx_t *ctx, const char *id_token, const char *nonce,
                                        const char *sub, const char *access_token,
                                        json_t **pclaims, rts_result_t *res);

#endif
