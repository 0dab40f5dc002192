/* SPDX-License-Identifier: Apache-2.0 */
/* JWT claim rules: one per claim, for every JWT the module reads (see rts_jwt_claims.h). */
#include <string.h>
#include <apr_strings.h>
#include <apr_cstr.h>
#include "rts.h"
#include "rts_jwt_claims.h"

static apr_status_t fail(const char **pwhy, const char *why)
{
    *pwhy = why;
    return RTS_EBADTOKEN;
}

apr_status_t rts_jwt_numeric_date(const json_t *claims, const char *name, apr_int64_t *psec)
{
    const json_t *v = json_object_get(claims, name);
    double d;

    if (!v) {
        return APR_ENOENT;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i < 0 || i > RTS_JWT_TIME_MAX) {
            return APR_EINVAL;
        }
        *psec = (apr_int64_t)i;
        return APR_SUCCESS;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        /* the range test is false for NaN; it also makes the conversion defined */
        if (!(d >= 0 && d < (double)RTS_JWT_TIME_MAX + 1)) {
            return APR_EINVAL;
        }
        *psec = (apr_int64_t)d;   /* truncation is the floor for non-negative values */
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

apr_status_t rts_jwt_check_aud(const json_t *claims, const char *client_id, apr_size_t *pcount,
                               const char **pwhy)
{
    const json_t *aud = json_object_get(claims, "aud");
    const json_t *v;
    size_t i, n;
    int found = 0;

    if (!aud) {
        return fail(pwhy, "aud missing");
    }
    if (json_is_string(aud)) {
        n = 1;
        found = strcmp(json_string_value(aud), client_id) == 0;
    }
    else if (json_is_array(aud)) {
        n = json_array_size(aud);
        if (n == 0) {
            return fail(pwhy, "aud is an empty array");
        }
        json_array_foreach(aud, i, v) {
            if (!json_is_string(v)) {
                return fail(pwhy, "aud contains a non-string element");
            }
            found |= strcmp(json_string_value(v), client_id) == 0;
        }
    }
    else {
        return fail(pwhy, "aud is neither a string nor an array");
    }
    if (!found) {
        return fail(pwhy, "aud does not contain the client_id");
    }
    if (pcount) {
        *pcount = n;
    }
    return APR_SUCCESS;
}

apr_status_t rts_jwt_check_times(const json_t *claims, const rts_jwt_times_t *t,
                                 const char **pwhy)
{
    apr_interval_time_t leeway = t->leeway > 0 ? t->leeway : 0;
    apr_int64_t exp, iat, nbf, auth_time;
    apr_status_t rv;

    rv = rts_jwt_numeric_date(claims, "exp", &exp);
    if (rv == APR_EINVAL) {
        return fail(pwhy, "exp is not a NumericDate");
    }
    if (rv == APR_ENOENT && !t->exp_optional) {
        return fail(pwhy, "exp missing");
    }
    if (rv == APR_SUCCESS && t->now >= apr_time_from_sec(exp) + leeway) {
        return fail(pwhy, "expired (exp)");
    }
    rv = rts_jwt_numeric_date(claims, "iat", &iat);
    if (rv != APR_SUCCESS) {
        return fail(pwhy, rv == APR_ENOENT ? "iat missing" : "iat is not a NumericDate");
    }
    if (apr_time_from_sec(iat) > t->now + leeway) {
        return fail(pwhy, "issued in the future (iat)");
    }
    if (t->iat_max_age > 0 && apr_time_from_sec(iat) < t->now - t->iat_max_age - leeway) {
        return fail(pwhy, "issued too long ago (iat)");
    }
    rv = rts_jwt_numeric_date(claims, "nbf", &nbf);
    if (rv == APR_EINVAL) {
        return fail(pwhy, "nbf is not a NumericDate");
    }
    if (rv == APR_SUCCESS && apr_time_from_sec(nbf) > t->now + leeway) {
        return fail(pwhy, "not yet valid (nbf)");
    }
    if (rts_jwt_numeric_date(claims, "auth_time", &auth_time) == APR_EINVAL) {
        return fail(pwhy, "auth_time is not a NumericDate");
    }
    return APR_SUCCESS;
}

/* Whether typ names media type `type`, with or without "application/" (RFC 7515 §4.1.9), in
 * any case (media types are case-insensitive, RFC 2045 §5.1). */
static int typ_is(const char *typ, const char *type)
{
    static const char app[] = "application/";

    if (apr_cstr_casecmpn(typ, app, sizeof(app) - 1) == 0) {
        typ += sizeof(app) - 1;
    }
    return apr_cstr_casecmp(typ, type) == 0;
}

apr_status_t rts_jwt_check_typ(apr_pool_t *p, const char *typ, const char *explicit_type,
                               const char **pwhy)
{
    if (!typ || typ_is(typ, "jwt") || (explicit_type && typ_is(typ, explicit_type))) {
        return APR_SUCCESS;
    }
    *pwhy = explicit_type ? apr_pstrcat(p, "typ header is not ", explicit_type, " or JWT", NULL)
                          : "typ header is not JWT";
    return RTS_EBADTOKEN;
}
