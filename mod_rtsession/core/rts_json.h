/* SPDX-License-Identifier: Apache-2.0 */
/* jansson values whose lifetime is tied to an APR pool (a cleanup drops the reference). */
#ifndef RTS_JSON_H
#define RTS_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* Parses a JSON text of at most max_len bytes (RTS_ETOOLARGE beyond), rejecting duplicate keys
 * (JSON_REJECT_DUPLICATES) and NUL bytes. The root must be an object (else APR_EINVAL); malformed JSON is APR_EINVAL too. */
apr_status_t rts_json_parse_object(apr_pool_t *p, const char *text, apr_size_t len,
                                   apr_size_t max_len, json_t **pjson);
/* Hands ownership of a reference to the pool: json_decref() runs at pool cleanup. */
json_t *rts_json_pool_own(apr_pool_t *p, json_t *json);
/* Typed getters: NULL / -1 / default when absent or of another type. */
const char *rts_json_str(const json_t *obj, const char *key);
/* Integer-valued number (JSON integer, or a real with no fractional part); APR_ENOENT if absent,
 * APR_EINVAL if of another type. */
apr_status_t rts_json_int(const json_t *obj, const char *key, apr_int64_t *pval);
/* Serializes compactly into pool memory. */
const char *rts_json_dump(apr_pool_t *p, const json_t *json, apr_size_t *plen);

#endif
