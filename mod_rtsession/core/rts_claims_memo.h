/* SPDX-License-Identifier: Apache-2.0 */
/* A per-child memo of the claims parsed from stored ID tokens. Every hot request needs the
 * session's claims (REMOTE_USER, claim headers, RTS_CLAIM_* variables, Require claim), and
 * parsing them from the ID token was the largest CPU cost after the memcached round trip. The
 * memo is keyed by the whole ID token string, which never changes for a given token, so it
 * needs no invalidation: a refresh that brings a new ID token simply misses. */
#ifndef RTS_CLAIMS_MEMO_H
#define RTS_CLAIMS_MEMO_H

#include <jansson.h>
#include "rts.h"

#define RTS_CLAIMS_MEMO_SLOTS 128        /* direct-mapped; a collision re-parses */

typedef struct rts_claims_memo_t rts_claims_memo_t;

/* A memo living as long as p (the child's pool); its entries are wiped and freed with p. */
apr_status_t rts_claims_memo_create(apr_pool_t *p, rts_claims_memo_t **pmemo);

/* The claims of id_token (payload decoded, not re-verified: it was verified when stored), as a
 * read-only object owned by p. The memo may be NULL: then it parses every time. APR_ENOENT
 * without an ID token, RTS_EBADTOKEN when it does not parse. */
apr_status_t rts_claims_memo_get(rts_claims_memo_t *memo, apr_pool_t *p, const char *id_token,
                                 apr_size_t max_len, json_t **pclaims);

#endif
