/* ID token validation: OIDC Core §3.1.3.7 (rules), §2 (claims), §3.1.3.6 (at_hash), §12.2
 * (refresh), RFC 8725 (JWT best practices), RFC 7519 §4.1 (NumericDate).
 *
 * Decisions where the specifications leave a choice (see docs/security.md):
 * - typ: absent, "JWT" or "application/jwt" (both case-insensitive: RFC 7515 §4.1.9 allows the
 *   "application/" prefix to be omitted and media types are case-insensitive). Anything else,
 *   notably "at+jwt" (RFC 9068) or "logout+jwt", is refused: a JWT of another kind signed by
 *   the same provider must not pass for an ID token (RFC 8725 §3.11). A non-string typ is
 *   refused too.
 * - iss: exact byte-wise comparison, no normalisation (no trailing-slash tolerance).
 * - aud: a string, or a non-empty array of strings only. An array with more than one element
 *   requires azp (OIDC Core says SHOULD; we make it MUST); additional audiences are then
 *   accepted when azp equals our client_id.
 * - azp: when present, a string equal to client_id, even with a single audience.
 * - NumericDate claims (exp, iat, nbf, auth_time): JSON numbers; a fractional value is
 *   floored; values outside 0..RTS_IDTOKEN_TIME_MAX (year 9999) or JSON strings are refused.
 * - leeway widens every time check: exp (now < exp + leeway), iat in the future
 *   (iat <= now + leeway), nbf (nbf <= now + leeway) and the maximum age
 *   (iat >= now - iat_max_age - leeway): clock skew works in both directions.
 * - sub: a string of 1..255 characters of printable ASCII (%x20-7E). OIDC Core §2 only says
 *   ASCII; we also refuse control characters because sub is passed on in request headers.
 * - nonce: checked (constant time) only when the caller expects one (login); on refresh a
 *   nonce claim is ignored (OIDC Core §12.2 lets the provider omit or repeat it).
 * - at_hash: checked when present and the caller has the access token; it must be a string.
 *   For EdDSA the hash depends on the curve of the key that verified the token, so the value
 *   is accepted when it matches the half hash for the curve of any candidate key (same kid,
 *   kty OKP); for other algorithms the curve plays no part.
 * - Failures are RTS_EBADTOKEN with http_status 401, error "invalid_id_token" and a
 *   description naming the rule, never a claim value or the token.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_cstr.h>
#include <jansson.h>
#include "rts.h"
#include "rts_jose.h"
#include "rts_result.h"
#include "rts_util.h"
#include "rts_idtoken.h"

#define RTS_IDTOKEN_SUB_MAX   255
#define RTS_IDTOKEN_TIME_MAX  253402300799LL   /* 9999-12-31T23:59:59Z */
#define RTS_IDTOKEN_REASON    "invalid_id_token"

static apr_status_t idt_fail(rts_result_t *res, apr_pool_t *p, const char *what)
{
    return rts_result_set(res, p, RTS_EBADTOKEN, 401, RTS_IDTOKEN_REASON, "ID token: %s", what);
}

/* Keeps the JOSE layer's description (what was wrong, never the token) under our status. */
static apr_status_t idt_relabel(rts_result_t *res, apr_pool_t *p, apr_status_t status,
                                int http_status, const char *fallback)
{
    if (!res || !res->description || !*res->description) {
        return rts_result_set(res, p, status, http_status, RTS_IDTOKEN_REASON, "ID token: %s",
                              fallback);
    }
    return rts_result_set(res, p, status, http_status, RTS_IDTOKEN_REASON, "ID token: %s",
                          res->description);
}

/* A NumericDate claim in microseconds: APR_ENOENT when absent, APR_EINVAL when not a number
 * in range. Fractional seconds are floored. */
static apr_status_t idt_get_time(const json_t *claims, const char *name, apr_time_t *pt)
{
    const json_t *v = json_object_get(claims, name);
    double d;

    if (!v) {
        return APR_ENOENT;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > RTS_IDTOKEN_TIME_MAX) {
            return APR_EINVAL;
        }
        *pt = apr_time_from_sec((apr_time_t)i);
        return APR_SUCCESS;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        if (!(d >= 0 && d < (double)RTS_IDTOKEN_TIME_MAX + 1)) {
            return APR_EINVAL; /* also NaN */
        }
        /* truncation is the floor for non-negative values */
        *pt = apr_time_from_sec((apr_time_t)d);
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

static int idt_is_printable(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t idt_check_typ(apr_pool_t *p, const rts_jws_t *jws, rts_result_t *res)
{
    const json_t *typ = json_object_get(jws->header, "typ");
    const char *s;

    if (!typ) {
        return APR_SUCCESS;
    }
    if (!json_is_string(typ)) {
        return idt_fail(res, p, "typ header is not a string");
    }
    s = json_string_value(typ);
    if (apr_cstr_casecmp(s, "JWT") != 0 && apr_cstr_casecmp(s, "application/jwt") != 0) {
        return idt_fail(res, p, "typ header is not JWT");
    }
    return APR_SUCCESS;
}

static apr_status_t idt_check_aud(apr_pool_t *p, const json_t *claims, const char *client_id,
                                  rts_result_t *res)
{
    const json_t *aud = json_object_get(claims, "aud");
    const json_t *azp = json_object_get(claims, "azp");
    const json_t *v;
    size_t i, n;
    int found = 0;

    if (!aud) {
        return idt_fail(res, p, "aud missing");
    }
    if (json_is_string(aud)) {
        n = 1;
        found = strcmp(json_string_value(aud), client_id) == 0;
    }
    else if (json_is_array(aud)) {
        n = json_array_size(aud);
        if (n == 0) {
            return idt_fail(res, p, "aud is an empty array");
        }
        json_array_foreach(aud, i, v) {
            if (!json_is_string(v)) {
                return idt_fail(res, p, "aud contains a non-string element");
            }
            if (strcmp(json_string_value(v), client_id) == 0) {
                found = 1;
            }
        }
    }
    else {
        return idt_fail(res, p, "aud is neither a string nor an array");
    }
    if (!found) {
        return idt_fail(res, p, "aud does not contain the client_id");
    }
    if (azp) {
        if (!json_is_string(azp) || strcmp(json_string_value(azp), client_id) != 0) {
            return idt_fail(res, p, "azp is not the client_id");
        }
    }
    else if (n > 1) {
        return idt_fail(res, p, "several audiences but no azp");
    }
    return APR_SUCCESS;
}

static apr_status_t idt_check_times(apr_pool_t *p, const json_t *claims,
                                    const rts_idtoken_expect_t *expect, rts_result_t *res)
{
    apr_time_t exp, iat, nbf, auth_time;
    apr_time_t now = expect->now ? expect->now : apr_time_now();
    apr_interval_time_t leeway = expect->leeway > 0 ? expect->leeway : 0;
    apr_status_t rv;

    rv = idt_get_time(claims, "exp", &exp);
    if (rv != APR_SUCCESS) {
        return idt_fail(res, p, rv == APR_ENOENT ? "exp missing" : "exp is not a NumericDate");
    }
    if (now >= exp + leeway) {
        return idt_fail(res, p, "expired (exp)");
    }
    rv = idt_get_time(claims, "iat", &iat);
    if (rv != APR_SUCCESS) {
        return idt_fail(res, p, rv == APR_ENOENT ? "iat missing" : "iat is not a NumericDate");
    }
    if (iat > now + leeway) {
        return idt_fail(res, p, "issued in the future (iat)");
    }
    if (expect->iat_max_age > 0 && iat < now - expect->iat_max_age - leeway) {
        return idt_fail(res, p, "issued too long ago (iat)");
    }
    rv = idt_get_time(claims, "nbf", &nbf);
    if (rv == APR_EINVAL) {
        return idt_fail(res, p, "nbf is not a NumericDate");
    }
    if (rv == APR_SUCCESS && nbf > now + leeway) {
        return idt_fail(res, p, "not yet valid (nbf)");
    }
    if (idt_get_time(claims, "auth_time", &auth_time) == APR_EINVAL) {
        return idt_fail(res, p, "auth_time is not a NumericDate");
    }
    return APR_SUCCESS;
}

static apr_status_t idt_check_at_hash(apr_pool_t *p, const rts_jws_t *jws,
                                      const rts_jwks_t *jwks, const char *access_token,
                                      rts_result_t *res)
{
    const json_t *v = json_object_get(jws->claims, "at_hash");
    const char *at_hash, *h;
    const rts_jwk_t *k;
    int i;

    if (!v || !access_token) {
        return APR_SUCCESS;
    }
    if (!json_is_string(v)) {
        return idt_fail(res, p, "at_hash is not a string");
    }
    at_hash = json_string_value(v);
    if (strcmp(jws->alg, "EdDSA") != 0) {
        h = rts_jose_half_hash(p, jws->alg, NULL, access_token);
        if (h && rts_ct_streq(h, at_hash)) {
            return APR_SUCCESS;
        }
        return idt_fail(res, p, "at_hash does not match the access token");
    }
    for (i = 0; jwks && jwks->keys && i < jwks->keys->nelts; ++i) {
        k = APR_ARRAY_IDX(jwks->keys, i, const rts_jwk_t *);
        if (!k || !k->kty || strcmp(k->kty, "OKP") != 0 || !k->crv) {
            continue;
        }
        if (jws->kid && (!k->kid || strcmp(jws->kid, k->kid) != 0)) {
            continue;
        }
        h = rts_jose_half_hash(p, jws->alg, k->crv, access_token);
        if (h && rts_ct_streq(h, at_hash)) {
            return APR_SUCCESS;
        }
    }
    return idt_fail(res, p, "at_hash does not match the access token");
}

static apr_status_t idt_check_claims(apr_pool_t *p, const rts_jws_t *jws, const rts_jwks_t *jwks,
                                     const rts_idtoken_expect_t *expect, rts_result_t *res)
{
    const json_t *claims = jws->claims;
    const json_t *v;
    const char *sub;
    apr_size_t sub_len;
    apr_status_t rv;

    /* iss: exact match */
    v = json_object_get(claims, "iss");
    if (!v) {
        return idt_fail(res, p, "iss missing");
    }
    if (!json_is_string(v) || json_string_length(v) != strlen(expect->issuer)
        || strcmp(json_string_value(v), expect->issuer) != 0) {
        return idt_fail(res, p, "iss is not the expected issuer");
    }

    /* sub: OIDC Core §2 */
    v = json_object_get(claims, "sub");
    if (!v) {
        return idt_fail(res, p, "sub missing");
    }
    if (!json_is_string(v)) {
        return idt_fail(res, p, "sub is not a string");
    }
    sub = json_string_value(v);
    sub_len = json_string_length(v);
    if (sub_len == 0 || sub_len > RTS_IDTOKEN_SUB_MAX || strlen(sub) != sub_len
        || !idt_is_printable(sub, sub_len)) {
        return idt_fail(res, p, "sub is not 1..255 printable ASCII characters");
    }
    if (expect->sub && strcmp(sub, expect->sub) != 0) {
        return idt_fail(res, p, "sub differs from the session's subject");
    }

    if ((rv = idt_check_aud(p, claims, expect->client_id, res)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = idt_check_times(p, claims, expect, res)) != APR_SUCCESS) {
        return rv;
    }

    /* nonce: required at login, constant-time compare */
    if (expect->nonce) {
        v = json_object_get(claims, "nonce");
        if (!v) {
            return idt_fail(res, p, "nonce missing");
        }
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v))
            || !rts_ct_streq(json_string_value(v), expect->nonce)) {
            return idt_fail(res, p, "nonce does not match");
        }
    }

    return idt_check_at_hash(p, jws, jwks, expect->access_token, res);
}

apr_status_t rts_idtoken_validate(apr_pool_t *p, const char *id_token, apr_size_t max_len,
                                  const rts_jwks_t *jwks, const rts_idtoken_expect_t *expect,
                                  rts_jws_t **pjws, rts_result_t *res)
{
    rts_jws_t *jws = NULL;
    apr_status_t rv;

    *pjws = NULL;
    if (res) {
        rts_result_reset(res);
    }
    if (!expect || !expect->issuer || !*expect->issuer || !expect->client_id
        || !*expect->client_id || !expect->allowed_algs) {
        return rts_result_set(res, p, APR_EINVAL, 500, "server_error",
                              "ID token validation without issuer, client_id or algorithms");
    }
    if (!id_token || !*id_token) {
        return idt_fail(res, p, "missing");
    }
    if (!jwks) {
        return rts_result_set(res, p, RTS_ENOKEY, 401, RTS_IDTOKEN_REASON,
                              "ID token: no key set to verify it");
    }
    rv = rts_jws_parse(p, id_token, max_len, &jws, res);
    if (rv != APR_SUCCESS) {
        return idt_relabel(res, p, RTS_EBADTOKEN, 401, "malformed");
    }
    rv = idt_check_typ(p, jws, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = rts_jws_verify(p, jws, jwks, expect->allowed_algs, res);
    if (rv == RTS_ENOKEY) {
        return idt_relabel(res, p, RTS_ENOKEY, 401, "no key in the JWKS matches");
    }
    if (rv != APR_SUCCESS) {
        return idt_relabel(res, p, RTS_EBADTOKEN, 401, "signature does not verify");
    }
    rv = idt_check_claims(p, jws, jwks, expect, res);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pjws = jws;
    return APR_SUCCESS;
}
