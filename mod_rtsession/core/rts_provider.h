/* SPDX-License-Identifier: Apache-2.0 */
/* The provider's discovery metadata (OpenID Connect Discovery 1.0) and JWKS, fetched lazily
 * and cached per process. Threads share the cache; what they are handed stays valid until
 * their request pool goes, even when a refetch replaces it meanwhile. */
#ifndef RTS_PROVIDER_H
#define RTS_PROVIDER_H

#include "rts.h"
#include "rts_result.h"
#include "rts_jose.h"

typedef struct rts_provider_meta_t {
    const char *issuer;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *jwks_uri;
    const char *userinfo_endpoint;        /* NULL when absent */
    const char *end_session_endpoint;     /* NULL when absent */
    const char *revocation_endpoint;      /* NULL when absent */
    int iss_parameter_supported;          /* RFC 9207 */
} rts_provider_meta_t;

/* A cache for one provider, living in pool (a child's pool). */
apr_status_t rts_provider_create(apr_pool_t *pool, rts_provider_t **pprovider);

/* The metadata, fetched when absent or older than cfg->metadata_ttl. The issuer must equal
 * cfg->issuer exactly (Discovery §4.3); the endpoints must be https URLs (http only when the
 * metadata URL itself is http, for tests). No lock is held during the fetch, and one fetch is
 * in flight per process: meanwhile, and for 5 s after a failed fetch, other requests use the
 * cached copy even when it is past its TTL (up to 24 h past it), or fail fast (502) when there
 * is none; they never wait for the provider. */
apr_status_t rts_provider_meta(rts_ctx_t *ctx, const rts_provider_meta_t **pmeta, rts_result_t *res);

/* The JWKS; with refetch non-zero (an unknown kid was seen) it is fetched again, at most once
 * per cfg->jwks_min_refetch. Fetched like the metadata: never under a lock, one fetch in
 * flight, stale copy or fail fast meanwhile and for 5 s after a failure. */
apr_status_t rts_provider_jwks(rts_ctx_t *ctx, int refetch, const rts_jwks_t **pjwks,
                               rts_result_t *res);

/* Parses and checks a discovery document (exposed for the unit tests). */
apr_status_t rts_provider_parse_meta(apr_pool_t *p, const char *body, apr_size_t len,
                                     const char *expected_issuer, int allow_http,
                                     rts_provider_meta_t **pmeta, rts_result_t *res);

#endif
