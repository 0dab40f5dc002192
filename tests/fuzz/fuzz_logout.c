/* SPDX-License-Identifier: Apache-2.0 */
/* Back-channel logout token validation (rts_backchannel_validate, Back-Channel Logout 1.0 §2.6)
 * with a context whose provider is a stub: discovery and the fixed JWKS of fuzz_keys.h plus the
 * signer's key (fuzz_sign.h: an input starting with '{' is "{header}\n{claims}", signed by the
 * target so mutated claims reach the logout rules), a fixed clock (RTS_FUZZ_NOW), a silent log. The provider cache is filled (and its one refetch
 * spent) during set-up, so no input allocates anything that outlives it. */
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "fuzz_sign.h"
#include "rts.h"
#include "rts_config.h"
#include "rts_http.h"
#include "rts_log.h"
#include "rts_provider.h"
#include "rts_backchannel.h"
#include "rts_result.h"

static rts_ctx_t base;
static const char *stub_jwks;   /* the signer's key, then the fixed keys */

static apr_status_t stub_perform(struct rts_http_t *http, apr_pool_t *p,
                                 const rts_http_request_t *req, rts_http_response_t **presp)
{
    rts_http_response_t *resp = apr_pcalloc(p, sizeof(*resp));
    apr_size_t n = strlen(req->url);

    (void)http;
    resp->status = 200;
    resp->headers = apr_table_make(p, 1);
    if (n >= 5 && !strcmp(req->url + n - 5, "/jwks")) {
        resp->body = stub_jwks;
    }
    else {
        resp->body = "{\"issuer\":\"" RTS_FUZZ_ISSUER "\","
                     "\"authorization_endpoint\":\"" RTS_FUZZ_ISSUER "/auth\","
                     "\"token_endpoint\":\"" RTS_FUZZ_ISSUER "/token\","
                     "\"jwks_uri\":\"" RTS_FUZZ_ISSUER "/jwks\"}";
    }
    resp->body_len = strlen(resp->body);
    *presp = resp;
    return APR_SUCCESS;
}

static int quiet_is_level(void *baton, int level)
{
    (void)baton;
    (void)level;
    return 0;
}

static void quiet_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                        const char *msg)
{
    (void)baton, (void)file, (void)line, (void)level, (void)rv, (void)msg;
}

static apr_time_t now_at = apr_time_from_sec(RTS_FUZZ_NOW);

static apr_time_t fixed_clock(void *baton)
{
    (void)baton;
    return now_at;
}

static void setup(void)
{
    apr_pool_t *p = rts_fuzz_pool();
    rts_config_t *cfg = apr_pcalloc(p, sizeof(*cfg));
    rts_http_t *http = apr_pcalloc(p, sizeof(*http));
    rts_log_t *log = apr_pcalloc(p, sizeof(*log));
    const rts_jwks_t *jwks;
    rts_result_t res;

    /* RTS_FUZZ_JWKS starts with {"keys":[ */
    stub_jwks = apr_pstrcat(p, "{\"keys\":[", rts_fuzz_sign_jwk_json(), ",",
                            RTS_FUZZ_JWKS + strlen("{\"keys\":["), NULL);
    cfg->metadata_url = RTS_FUZZ_ISSUER "/.well-known/openid-configuration";
    cfg->issuer = RTS_FUZZ_ISSUER;
    cfg->client_id = RTS_FUZZ_CLIENT_ID;
    cfg->http_timeout = apr_time_from_sec(5);
    cfg->connect_timeout = apr_time_from_sec(5);
    cfg->max_response = 256 * 1024;
    cfg->leeway = apr_time_from_sec(60);
    cfg->iat_max_age = apr_time_from_sec(600);
    cfg->metadata_ttl = apr_time_from_sec(10 * 365 * 86400LL);
    cfg->jwks_min_refetch = apr_time_from_sec(365 * 86400LL);
    http->perform = stub_perform;
    log->is_level = quiet_is_level;
    log->print = quiet_print;
    base.log = log;
    base.clock = fixed_clock;
    base.http = http;
    base.cfg = cfg;
    rts_fuzz_assert(rts_provider_create(p, &base.provider) == APR_SUCCESS, "provider");
    base.pool = p;
    memset(&res, 0, sizeof(res));
    now_at = apr_time_from_sec(RTS_FUZZ_NOW - 2 * 365 * 86400LL);
    rts_fuzz_assert(rts_provider_jwks(&base, 0, &jwks, &res) == APR_SUCCESS, "JWKS");
    now_at = apr_time_from_sec(RTS_FUZZ_NOW - 182 * 86400LL);
    rts_fuzz_assert(rts_provider_jwks(&base, 1, &jwks, &res) == APR_SUCCESS, "JWKS refetch");
    now_at = apr_time_from_sec(RTS_FUZZ_NOW);
}

int rts_fuzz_logout(const uint8_t *data, size_t size)
{
    rts_ctx_t ctx;
    rts_result_t res;
    json_t *claims;
    const char *token;

    if (!base.cfg) {
        rts_fuzz_static_begin();
        setup();
        rts_fuzz_static_end();
    }
    ctx = base;
    ctx.pool = rts_fuzz_input_pool();
    token = rts_fuzz_cstr(ctx.pool, data, size);
    if (size && data[0] == '{') {
        token = rts_fuzz_sign(ctx.pool, token, size);
    }
    memset(&res, 0, sizeof(res));
    if (rts_backchannel_validate(&ctx, token, &claims, &res) == APR_SUCCESS) {
        rts_fuzz_assert(!json_object_get(claims, "nonce"), "a valid logout token has no nonce");
    }
    apr_pool_destroy(ctx.pool);
    return 0;
}

RTS_FUZZ_TARGET(logout)
