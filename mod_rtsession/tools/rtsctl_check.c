/* SPDX-License-Identifier: Apache-2.0 */
/* rtsessionctl check: the configuration against the live provider and memcached, through the
 * module's own code paths (provider cache, token client, store). One line per check. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_http.h"
#include "rts_provider.h"
#include "rts_store.h"
#include "rts_token.h"
#include "rts_util.h"
#include "rtsctl.h"

#define PROBE_PREFIX "rts:probe:"
#define PROBE_TTL 30

typedef struct {
    int failed;
} tally_t;

static void line(tally_t *t, const char *verdict, const char *what, const char *detail)
{
    if (!strcmp(verdict, "FAIL")) {
        t->failed++;
    }
    printf("%-4s %s: %s\n", verdict, what, detail);
    fflush(stdout);
}

/* The client's credentials, by a refresh grant with a refresh token no provider issued: a
 * provider that authenticates the client before looking at the grant (RFC 6749 §5.2 lists
 * invalid_client first) answers invalid_grant to a client it accepted, invalid_client or 401 to
 * one it refused. The answer is classified as the module classifies a refresh answer. */
static void check_client(tally_t *t, rts_ctx_t *ctx, const rts_provider_meta_t *meta)
{
    rts_token_set_t *tokens = NULL;
    rts_token_answer_t ans;
    rts_result_t res;
    const char *dummy;
    const char *what = apr_psprintf(ctx->pool, "client credentials (%s, %s)",
                                    ctx->cfg->client_id,
                                    ctx->cfg->client_auth == RTS_AUTH_CLIENT_SECRET_POST
                                        ? "client_secret_post" : "client_secret_basic");

    rts_result_reset(&res);
    if (rts_random_token(ctx->pool, 24, &dummy) != APR_SUCCESS) {
        line(t, "FAIL", what, "the CSPRNG failed");
        return;
    }
    rts_token_refresh(ctx, meta->token_endpoint, apr_pstrcat(ctx->pool, "rtsessionctl-check-",
                                                             dummy, NULL),
                      0, &tokens, &ans, &res);
    switch (ans.kind) {
    case RTS_TOKEN_REFUSED:
        if (ans.error && !strcmp(ans.error, "invalid_grant")) {
            line(t, "OK", what, "accepted: the token endpoint refused only the test refresh "
                 "token (invalid_grant)");
        }
        else {
            line(t, "WARN", what, apr_psprintf(ctx->pool, "cannot tell: the token endpoint "
                 "answered HTTP %d %s to a test refresh grant, not invalid_grant",
                 ans.http_status, ans.error ? ans.error : "(no OAuth error)"));
        }
        break;
    case RTS_TOKEN_CLIENT_AUTH:
        line(t, "FAIL", what, apr_psprintf(ctx->pool, "refused: the token endpoint answered "
             "HTTP %d %s (check RTSessionClientID, RTSessionClientSecret and "
             "RTSessionTokenEndpointAuth; unauthorized_client may also mean the client may not "
             "use the refresh_token grant)", ans.http_status,
             ans.error ? ans.error : "(no OAuth error)"));
        break;
    case RTS_TOKEN_OK:
        line(t, "FAIL", what, "the token endpoint accepted a refresh token it never issued");
        break;
    case RTS_TOKEN_NOT_SENT:
        line(t, "FAIL", what, apr_psprintf(ctx->pool, "the token endpoint %s is unreachable: "
             "%s", meta->token_endpoint, res.description ? res.description : "not sent"));
        break;
    default:
        line(t, "FAIL", what, apr_psprintf(ctx->pool, "no usable answer from the token "
             "endpoint (HTTP %d): %s", ans.http_status,
             res.description ? res.description : "unknown failure"));
    }
}

static void check_provider(tally_t *t, rts_ctx_t *ctx)
{
    const rts_provider_meta_t *meta;
    const rts_jwks_t *jwks;
    rts_result_t res;
    apr_status_t rv;

    rts_result_reset(&res);
    rv = rts_provider_meta(ctx, &meta, &res);
    if (rv != APR_SUCCESS && res.error && !strcmp(res.error, "issuer_mismatch")) {
        line(t, "OK", "discovery", ctx->cfg->metadata_url);
        line(t, "FAIL", "issuer", res.description);
    }
    else if (rv != APR_SUCCESS) {
        line(t, "FAIL", "discovery", res.description ? res.description
                                                     : rts_strerror(ctx->pool, rv));
        line(t, "SKIP", "issuer", "needs the discovery document");
    }
    else {
        line(t, "OK", "discovery", ctx->cfg->metadata_url);
        line(t, "OK", "issuer", apr_psprintf(ctx->pool, "%s matches", meta->issuer));
    }
    if (rv != APR_SUCCESS) {
        line(t, "SKIP", "jwks", "needs the discovery document");
        line(t, "SKIP", "client credentials", "needs the discovery document");
        return;
    }
    rts_result_reset(&res);
    rv = rts_provider_jwks(ctx, 0, &jwks, &res);
    if (rv != APR_SUCCESS) {
        line(t, "FAIL", "jwks", res.description ? res.description : rts_strerror(ctx->pool, rv));
    }
    else if (jwks->keys->nelts == 0) {
        line(t, "FAIL", "jwks", apr_psprintf(ctx->pool, "%s holds no signature key the module "
                                              "can use", meta->jwks_uri));
    }
    else {
        line(t, "OK", "jwks", apr_psprintf(ctx->pool, "%s: %d usable signature key(s)",
                                            meta->jwks_uri, jwks->keys->nelts));
    }
    check_client(t, ctx, meta);
}

/* One server: an add, a get (the store refuses an item whose CAS unique is 0: memcached -C), a
 * compare-and-swap with that CAS unique, the same swap again (a server that honours CAS refuses
 * the stale unique), a delete. A store of its own per server: a -C server stops only its own. */
static void check_server(tally_t *t, apr_pool_t *p, const char *config, apr_interval_time_t to,
                         unsigned i)
{
    rts_store_t *s;
    const char *key, *name, *what;
    apr_uint64_t cas = 0;
    apr_time_t t0, rtt;
    apr_status_t rv;

    if (rts_store_memcached_create(p, config, 1, to, &s) != APR_SUCCESS) {
        line(t, "FAIL", "memcached", "the client could not be created");
        return;
    }
    name = rts_store_memcached_server_name(s, i);
    what = apr_pstrcat(p, "memcached ", name, NULL);
    key = rts_store_memcached_key_on(s, p, i, PROBE_PREFIX);
    if (!key) {
        line(t, "FAIL", what, "no key lands on this server (weight 0?)");
        return;
    }
    t0 = apr_time_now();
    rv = s->add(s, NULL, key, "probe", 5, PROBE_TTL);
    rtt = apr_time_now() - t0;
    if (rv != APR_SUCCESS) {
        line(t, "FAIL", what, apr_psprintf(p, "unreachable or failing: %s",
                                           rts_strerror(p, rv)));
        return;
    }
    rv = s->get(s, p, NULL, key, NULL, NULL, &cas);
    if (rv == RTS_ESTOREDOWN) {
        line(t, "FAIL", what, "the server answered an item with CAS unique 0: it runs with CAS "
             "disabled (memcached -C), which voids the refresh exclusion; the module refuses it");
        s->del(s, NULL, key);
        return;
    }
    if (rv == APR_SUCCESS) {
        rv = s->cas(s, NULL, key, "probe2", 6, PROBE_TTL, cas);
    }
    if (rv == APR_SUCCESS) {
        rv = s->cas(s, NULL, key, "probe3", 6, PROBE_TTL, cas);
        rv = rv == APR_EEXIST ? APR_SUCCESS : rv == APR_SUCCESS ? APR_EGENERAL : rv;
    }
    s->del(s, NULL, key);
    if (rv == APR_EGENERAL) {
        line(t, "FAIL", what, "a compare-and-swap with a stale CAS unique was accepted");
    }
    else if (rv != APR_SUCCESS) {
        line(t, "FAIL", what, apr_psprintf(p, "add worked, then get/cas failed: %s",
                                           rts_strerror(p, rv)));
    }
    else {
        line(t, "OK", what, apr_psprintf(p, "reachable, CAS enforced, round trip %.1f ms",
                                         (double)rtt / 1000.0));
    }
}

int rtsctl_check(apr_pool_t *p, const rtsctl_settings_t *st, const rts_config_t *cfg,
                 const char *where, const char *keys_err, int verbose)
{
    apr_interval_time_t mc_timeout = cfg->memcached_timeout;
    rts_ctx_t *ctx = rtsctl_ctx(p, cfg, verbose);
    rts_store_t *s;
    tally_t t = {0};
    unsigned i, n;
    apr_status_t rv;

    line(&t, "OK", "configuration", apr_psprintf(p, "%s: issuer %s, client %s", where,
                                                  cfg->issuer, cfg->client_id));
    if (keys_err) {
        line(&t, "FAIL", "module secret", keys_err);
    }
    else {
        line(&t, "OK", "module secret", apr_psprintf(p, "%d secret(s), session keys derived",
                                                      st->secrets->nelts));
    }

    if ((rv = rts_http_curl_global_init()) != APR_SUCCESS
        || (rv = rts_http_curl_create(p, cfg->ca_file, &ctx->http)) != APR_SUCCESS
        || (rv = rts_provider_create(p, &ctx->provider)) != APR_SUCCESS) {
        line(&t, "FAIL", "http client", rts_strerror(p, rv));
    }
    else {
        check_provider(&t, ctx);
    }
    if (rts_store_memcached_create(p, st->memcached, 1, mc_timeout, &s) != APR_SUCCESS) {
        line(&t, "FAIL", "memcached", "the client could not be created");
    }
    else {
        n = rts_store_memcached_server_count(s);
        for (i = 0; i < n; i++) {
            check_server(&t, p, st->memcached, mc_timeout, i);
        }
    }
    printf("%s: %d check(s) failed\n", t.failed ? "FAIL" : "OK", t.failed);
    return t.failed ? RTSCTL_FAIL : RTSCTL_OK;
}
