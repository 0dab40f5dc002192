/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery metadata and JWKS cache. */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_provider.h"
#include "rts_claim.h"
#include "rts_config.h"
#include "rts_http.h"
#include "rts_json.h"
#include "rts_log.h"
#include "rts_metrics.h"

/* After a failed fetch, no new fetch of that document for this long (per process). */
#define FAIL_FAST_FOR apr_time_from_sec(5)
/* A document past its TTL is still used this long while it cannot be refetched (a fetch in
 * flight in another thread, or a failure less than FAIL_FAST_FOR ago); beyond, requests that
 * need it fail fast (502) until a fetch succeeds. */
#define MAX_STALE apr_time_from_sec(24 * 3600)

/* One fetched document and the pool it lives in; freed when replaced and no longer used. */
typedef struct snapshot_t {
    apr_pool_t *pool;
    int refs;
    int retired;
    apr_time_t fetched;
    void *data;
} snapshot_t;

/* The mutex guards only these fields and the snapshots' reference counts: it is never held
 * across network I/O. One fetch per document is in flight per process; meanwhile the others
 * use the snapshot they have (fresh or stale, up to MAX_STALE) or fail fast. */
struct rts_provider_t {
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    snapshot_t *meta;
    snapshot_t *jwks;
    apr_time_t meta_failed;     /* when the last metadata fetch failed (0: it did not) */
    apr_time_t jwks_failed;     /* when the last JWKS fetch failed (0: it did not) */
    int meta_fetching;          /* a thread is fetching the metadata */
    int jwks_fetching;
    apr_time_t jwks_refetched;  /* when the JWKS was last fetched on demand */
};

typedef struct {
    rts_provider_t *prov;
    snapshot_t *snap;
} snapshot_ref_t;

apr_status_t rts_provider_create(apr_pool_t *pool, rts_provider_t **pprovider)
{
    rts_provider_t *prov = apr_pcalloc(pool, sizeof(*prov));
    apr_status_t rv;

    rv = apr_pool_create(&prov->pool, pool);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_mutex_create(&prov->mutex, APR_THREAD_MUTEX_DEFAULT, pool);
    }
    *pprovider = prov;
    return rv;
}

/* Called with the mutex held. */
static void snapshot_retire(snapshot_t *snap)
{
    if (snap) {
        snap->retired = 1;
        if (snap->refs == 0) {
            apr_pool_destroy(snap->pool);
        }
    }
}

static apr_status_t snapshot_release(void *baton)
{
    snapshot_ref_t *ref = baton;

    apr_thread_mutex_lock(ref->prov->mutex);
    if (--ref->snap->refs == 0 && ref->snap->retired) {
        apr_pool_destroy(ref->snap->pool);
    }
    apr_thread_mutex_unlock(ref->prov->mutex);
    return APR_SUCCESS;
}

/* Called with the mutex held: the snapshot stays alive until the request pool is cleaned up. */
static void *snapshot_use(rts_ctx_t *ctx, snapshot_t *snap)
{
    snapshot_ref_t *ref = apr_palloc(ctx->pool, sizeof(*ref));

    ref->prov = ctx->provider;
    ref->snap = snap;
    snap->refs++;
    apr_pool_cleanup_register(ctx->pool, ref, snapshot_release, apr_pool_cleanup_null);
    return snap->data;
}

static apr_status_t fetch(rts_ctx_t *ctx, const char *url, rts_http_response_t **presp,
                          rts_result_t *res)
{
    rts_http_request_t req;
    apr_status_t rv;

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.headers = apr_table_make(ctx->pool, 1);
    apr_table_setn(req.headers, "Accept", "application/json");
    req.timeout = ctx->cfg->http_timeout;
    req.connect_timeout = ctx->cfg->connect_timeout;
    req.max_response = ctx->cfg->max_response;
    rv = ctx->http->perform(ctx->http, ctx->pool, &req, presp);
    if (rv != APR_SUCCESS) {
        return rts_result_set(res, ctx->pool, rv, 502, "provider_unreachable",
                              "fetching %s failed: %s", url, rts_strerror(ctx->pool, rv));
    }
    if ((*presp)->status != 200) {
        return rts_result_set(res, ctx->pool, RTS_EUPSTREAM, 502, "provider_error",
                              "fetching %s answered HTTP %d", url, (*presp)->status);
    }
    return APR_SUCCESS;
}

static int url_ok(const char *url, int allow_http)
{
    return url && (!strncmp(url, "https://", 8) || (allow_http && !strncmp(url, "http://", 7)))
           && !strpbrk(url, " \t\r\n#");
}

apr_status_t rts_provider_parse_meta(apr_pool_t *p, const char *body, apr_size_t len,
                                     const char *expected_issuer, int allow_http,
                                     rts_provider_meta_t **pmeta, rts_result_t *res)
{
    json_t *o;
    rts_provider_meta_t *m;
    json_t *iss_supported;
    apr_status_t rv;

    rv = rts_json_parse_object(p, body, len, len + 1, &o);
    if (rv != APR_SUCCESS) {
        return rts_result_set(res, p, RTS_EUPSTREAM, 502, "bad_metadata",
                              "the discovery document is not a JSON object");
    }
    m = apr_pcalloc(p, sizeof(*m));
    m->issuer = rts_json_str(o, "issuer");
    if (!m->issuer || strcmp(m->issuer, expected_issuer)) {
        const char *sent;   /* the provider's value, through the one rule for foreign text */
        rts_claim_value(p, json_object_get(o, "issuer"), RTS_CLAIM_AS_TEXT, &sent);
        return rts_result_set(res, p, RTS_EUPSTREAM, 502, "issuer_mismatch",
                              "the discovery document names the issuer '%.300s', not the "
                              "configured issuer %s (RTSessionIssuer, or the metadata URL "
                              "without /.well-known/openid-configuration)",
                              sent ? sent : "(none)", expected_issuer);
    }
    m->authorization_endpoint = rts_json_str(o, "authorization_endpoint");
    m->token_endpoint = rts_json_str(o, "token_endpoint");
    m->jwks_uri = rts_json_str(o, "jwks_uri");
    m->userinfo_endpoint = rts_json_str(o, "userinfo_endpoint");
    m->end_session_endpoint = rts_json_str(o, "end_session_endpoint");
    m->revocation_endpoint = rts_json_str(o, "revocation_endpoint");
    if (!url_ok(m->authorization_endpoint, allow_http) || !url_ok(m->token_endpoint, allow_http)
        || !url_ok(m->jwks_uri, allow_http)) {
        return rts_result_set(res, p, RTS_EUPSTREAM, 502, "bad_metadata",
                              "the discovery document lacks a valid authorization_endpoint, "
                              "token_endpoint or jwks_uri");
    }
    if (m->userinfo_endpoint && !url_ok(m->userinfo_endpoint, allow_http)) {
        m->userinfo_endpoint = NULL;
    }
    if (m->end_session_endpoint && !url_ok(m->end_session_endpoint, allow_http)) {
        m->end_session_endpoint = NULL;
    }
    if (m->revocation_endpoint && !url_ok(m->revocation_endpoint, allow_http)) {
        m->revocation_endpoint = NULL;
    }
    iss_supported = json_object_get(o, "authorization_response_iss_parameter_supported");
    m->iss_parameter_supported = json_is_true(iss_supported);
    *pmeta = m;
    return APR_SUCCESS;
}

/* A document past its TTL that may still stand in while it cannot be refetched. */
static int usable_stale(const rts_ctx_t *ctx, const snapshot_t *snap, apr_time_t now)
{
    return snap && now - snap->fetched < ctx->cfg->metadata_ttl + MAX_STALE;
}

/* Called with the mutex held: whether this thread must not fetch now (one is in flight, or
 * one failed less than FAIL_FAST_FOR ago). */
static int must_wait(int fetching, apr_time_t failed, apr_time_t now)
{
    return fetching || (failed && now - failed < FAIL_FAST_FOR);
}

/* A new snapshot of data parsed into sp. */
static snapshot_t *snapshot_new(apr_pool_t *sp, apr_time_t fetched, void *data)
{
    snapshot_t *snap = apr_pcalloc(sp, sizeof(*snap));

    snap->pool = sp;
    snap->fetched = fetched;
    snap->data = data;
    return snap;
}

/* Called with the mutex held (the snapshot pools are subpools of prov->pool: creating and
 * destroying them must not race). Parsing is CPU only, bounded by max_response. */
static apr_status_t parse_meta(rts_ctx_t *ctx, const rts_http_response_t *resp, apr_time_t now,
                               snapshot_t **psnap, rts_result_t *res)
{
    rts_provider_meta_t *meta;
    apr_pool_t *sp;
    apr_status_t rv;

    apr_pool_create(&sp, ctx->provider->pool);
    rv = rts_provider_parse_meta(sp, resp->body, resp->body_len, ctx->cfg->issuer,
                                 !strncmp(ctx->cfg->metadata_url, "http://", 7), &meta, res);
    if (rv != APR_SUCCESS) {
        /* the description was allocated from sp: move it before sp goes */
        res->description = apr_pstrdup(ctx->pool, res->description);
        apr_pool_destroy(sp);
        return rv;
    }
    *psnap = snapshot_new(sp, now, meta);
    return APR_SUCCESS;
}

/* Called with the mutex held by a thread that may not fetch now (must_wait): the cached copy
 * when it is usable, else a fast failure. Releases the mutex. */
static apr_status_t cached_or_fail(rts_ctx_t *ctx, snapshot_t *snap, apr_time_t now,
                                   const char *what, void **pdoc, rts_result_t *res)
{
    if (usable_stale(ctx, snap, now)) {
        *pdoc = snapshot_use(ctx, snap);
        apr_thread_mutex_unlock(ctx->provider->mutex);
        return APR_SUCCESS;
    }
    apr_thread_mutex_unlock(ctx->provider->mutex);
    return rts_result_set(res, ctx->pool, RTS_EUPSTREAM, 502, "provider_unavailable",
                          "the provider's %s is being fetched or could not be fetched "
                          "recently, and no usable copy is cached; not waiting for it", what);
}

apr_status_t rts_provider_meta(rts_ctx_t *ctx, const rts_provider_meta_t **pmeta, rts_result_t *res)
{
    rts_provider_t *prov = ctx->provider;
    apr_time_t now = rts_now(ctx);
    rts_http_response_t *resp;
    snapshot_t *snap = NULL;
    apr_status_t rv;

    apr_thread_mutex_lock(prov->mutex);
    if (prov->meta && now - prov->meta->fetched < ctx->cfg->metadata_ttl) {
        *pmeta = snapshot_use(ctx, prov->meta);
        apr_thread_mutex_unlock(prov->mutex);
        return APR_SUCCESS;
    }
    if (must_wait(prov->meta_fetching, prov->meta_failed, now)) {
        void *doc = NULL;
        rv = cached_or_fail(ctx, prov->meta, now, "discovery document", &doc, res);
        *pmeta = doc;
        return rv;
    }
    prov->meta_fetching = 1;
    apr_thread_mutex_unlock(prov->mutex);

    /* no lock held: other threads use the cached copy or fail fast meanwhile */
    rv = fetch(ctx, ctx->cfg->metadata_url, &resp, res);

    apr_thread_mutex_lock(prov->mutex);
    prov->meta_fetching = 0;
    if (rv == APR_SUCCESS) {
        rv = parse_meta(ctx, resp, now, &snap, res);
    }
    if (rv == APR_SUCCESS) {
        snapshot_retire(prov->meta);
        prov->meta = snap;
        prov->meta_failed = 0;
    }
    else {
        prov->meta_failed = rts_now(ctx);
        rts_metric_inc(ctx, RTS_M_PROVIDER_ERRORS_DISCOVERY);
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10020) "provider metadata: %s", res->description);
    }
    if (rv == APR_SUCCESS || usable_stale(ctx, prov->meta, now)) {
        /* stale metadata beats none while the provider recovers */
        *pmeta = snapshot_use(ctx, prov->meta);
        rv = APR_SUCCESS;
    }
    apr_thread_mutex_unlock(prov->mutex);
    return rv;
}

apr_status_t rts_provider_jwks(rts_ctx_t *ctx, int refetch, const rts_jwks_t **pjwks,
                               rts_result_t *res)
{
    rts_provider_t *prov = ctx->provider;
    const rts_provider_meta_t *meta;
    apr_time_t now = rts_now(ctx);
    rts_http_response_t *resp;
    rts_jwks_t *jwks;
    apr_pool_t *sp;
    apr_status_t rv;

    rv = rts_provider_meta(ctx, &meta, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_thread_mutex_lock(prov->mutex);
    if (prov->jwks) {
        int fresh = now - prov->jwks->fetched < ctx->cfg->metadata_ttl;
        int may_refetch = now - prov->jwks_refetched >= ctx->cfg->jwks_min_refetch
                          && prov->jwks->fetched < now - apr_time_from_msec(100);
        if ((!refetch && fresh) || (refetch && !may_refetch)) {
            *pjwks = snapshot_use(ctx, prov->jwks);
            apr_thread_mutex_unlock(prov->mutex);
            return APR_SUCCESS;
        }
    }
    if (must_wait(prov->jwks_fetching, prov->jwks_failed, now)) {
        void *doc = NULL;
        rv = cached_or_fail(ctx, prov->jwks, now, "JWKS", &doc, res);
        *pjwks = doc;
        return rv;
    }
    prov->jwks_fetching = 1;
    if (refetch) {
        prov->jwks_refetched = now;
    }
    apr_thread_mutex_unlock(prov->mutex);

    /* no lock held (see rts_provider_meta) */
    rv = fetch(ctx, meta->jwks_uri, &resp, res);

    apr_thread_mutex_lock(prov->mutex);
    prov->jwks_fetching = 0;
    if (rv == APR_SUCCESS) {
        apr_pool_create(&sp, prov->pool);
        rv = rts_jwks_parse(sp, resp->body, resp->body_len, ctx->cfg->max_response, &jwks, res);
        if (rv != APR_SUCCESS) {
            res->description = apr_pstrdup(ctx->pool, res->description);
            res->http_status = 502;
            apr_pool_destroy(sp);
        }
        else {
            snapshot_retire(prov->jwks);
            prov->jwks = snapshot_new(sp, now, jwks);
            prov->jwks_failed = 0;
        }
    }
    if (rv != APR_SUCCESS) {
        prov->jwks_failed = rts_now(ctx);
        rts_metric_inc(ctx, RTS_M_PROVIDER_ERRORS_JWKS);
        rts_log_perror(ctx->log, RTS_LOG_MARK, RTS_LOG_ERR, rv,
                       RTS_LOGNO(10021) "provider JWKS: %s", res->description);
    }
    if (rv == APR_SUCCESS || usable_stale(ctx, prov->jwks, now)) {
        *pjwks = snapshot_use(ctx, prov->jwks);
        rv = APR_SUCCESS;
    }
    apr_thread_mutex_unlock(prov->mutex);
    return rv;
}
