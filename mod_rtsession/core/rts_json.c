/* SPDX-License-Identifier: Apache-2.0 */
/* jansson values tied to APR pools. */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *rts_json_pool_own(apr_pool_t *p, json_t *json)
{
    if (json) {
        apr_pool_cleanup_register(p, json, json_cleanup, apr_pool_cleanup_null);
    }
    return json;
}

apr_status_t rts_json_parse_object(apr_pool_t *p, const char *text, apr_size_t len,
                                   apr_size_t max_len, json_t **pjson)
{
    json_error_t err;
    json_t *json;

    *pjson = NULL;
    if (len > max_len) {
        return RTS_ETOOLARGE;
    }
    /* jansson would reject a raw NUL too, but say so explicitly: a NUL must never reach a
     * C string taken from this document. (\u0000 is refused without JSON_ALLOW_NUL.) */
    if (!text || memchr(text, '\0', len)) {
        return APR_EINVAL;
    }
    json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!json) {
        return APR_EINVAL;
    }
    if (!json_is_object(json)) {
        json_decref(json);
        return APR_EINVAL;
    }
    *pjson = rts_json_pool_own(p, json);
    return APR_SUCCESS;
}

const char *rts_json_str(const json_t *obj, const char *key)
{
    /* json_object_get takes a non-const pointer but does not modify the object. */
    return json_string_value(json_object_get((json_t *)obj, key));
}

apr_status_t rts_json_int(const json_t *obj, const char *key, apr_int64_t *pval)
{
    json_t *v = json_object_get((json_t *)obj, key);
    double d;
    apr_int64_t i;

    if (!v) {
        return APR_ENOENT;
    }
    if (json_is_integer(v)) {
        *pval = (apr_int64_t)json_integer_value(v);
        return APR_SUCCESS;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        /* Range first: converting beyond 2^63 (or NaN) is undefined behaviour. */
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            i = (apr_int64_t)d;
            if ((double)i == d) {
                *pval = i;
                return APR_SUCCESS;
            }
        }
    }
    return APR_EINVAL;
}

const char *rts_json_dump(apr_pool_t *p, const json_t *json, apr_size_t *plen)
{
    char *s = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out;
    apr_size_t len;

    if (!s) {
        return NULL;
    }
    len = strlen(s);
    out = apr_pstrmemdup(p, s, len);
    free(s);
    if (plen) {
        *plen = len;
    }
    return out;
}
