/* SPDX-License-Identifier: Apache-2.0 */
/* ID token validation with key refresh. */
#include "rts.h"
#include "rts_clock.h"
#include "rts_oidc.h"
#include "rts_config.h"
#include "rts_idtoken.h"
#include "rts_provider.h"

#define ID_TOKEN_MAX (16 * 1024)

apr_status_t rts_oidc_validate_id_token(rts_ctx_t *ctx, const char *id_token, const char *nonce,
                                        const char *sub, const char *access_token,
                                        json_t **pclaims, rts_result_t *res)
{
    const rts_jwks_t *jwks;
    rts_idtoken_expect_t expect;
    rts_jws_t *jws;
    apr_status_t rv;
    int attempt;

    expect.issuer = ctx->cfg->issuer;
    expect.client_id = ctx->cfg->client_id;
    expect.nonce = nonce;
    expect.sub = sub;
    expect.access_token = access_token;
    expect.now = rts_now(ctx);
    expect.leeway = ctx->cfg->leeway;
    expect.iat_max_age = ctx->cfg->iat_max_age;
    expect.allowed_algs = ctx->cfg->allowed_algs;

    for (attempt = 0; attempt < 2; attempt++) {
        rv = rts_provider_jwks(ctx, attempt > 0, &jwks, res);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = rts_idtoken_validate(ctx->pool, id_token, ID_TOKEN_MAX, jwks, &expect, &jws, res);
        if (rv != RTS_ENOKEY) {
            break;
        }
    }
    if (rv == APR_SUCCESS) {
        *pclaims = jws->claims;
    }
    else if (res->http_status == 0) {
        res->http_status = 403;
    }
    return rv;
}
