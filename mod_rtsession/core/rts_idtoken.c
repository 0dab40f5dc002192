/* SPDX-License-Identifier: Apache-2.0 */
/* ID token validation: OIDC Core §3.1.3.7 (rules), §2 (claims), §3.1.3.6 (at_hash), §12.2
 * (refresh), RFC 8725 (JWT best practices), RFC 7519 §4.1 (NumericDate).
 *
 * Decisions where the specifications leave a choice (see docs/security.md):
 * - typ, aud, exp, iat, nbf, auth_time: the rules every JWT of the module follows
 *   (rts_jwt_claims.h): typ absent or JWT (no other kind of JWT passes for an ID token), aud a
 *   string or a non-empty array of strings containing client_id, NumericDates floored, bounded
 *   to year 9999, leeway both ways.
 * - iss: exact byte-wise comparison, no normalisation (no trailing-slash tolerance).
 * - aud: an array with more than one element requires azp (OIDC Core says SHOULD; we make it
 *   MUST); additional audiences are then accepted when azp equals our client_id.
 * - azp: when present, a string equal to client_id, even with a single audience.
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
#include <jansson.h>
#include "rts.h"
#include "rts_jose.h"
#include "rts_jwt_claims.h"
#include "rts_result.h"
#include "rts_util.h"
#include "rts_idtoken.h"

#define RTS_IDTOKEN_SUB_MAX   255
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

/* The shared rules (rts_jwt_claims.c) under this validator's error. */
static apr_status_t idt_check_shared(apr_pool_t *p, const rts_jws_t *jws,
                                     const rts_idtoken_expect_t *expect, rts_result_t *res)
{
    const json_t *azp = json_object_get(jws->claims, "azp");
    rts_jwt_times_t times = { expect->now ? expect->now : apr_time_now(), expect->leeway,
                              expect->iat_max_age, 0 };
    apr_size_t n_aud = 0;
    const char *why;

    if (rts_jwt_check_aud(jws->claims, expect->client_id, &n_aud, &why) != APR_SUCCESS) {
        return idt_fail(res, p, why);
    }
    /* azp (OIDC Core §2): required with several audiences (SHOULD there; MUST here) */
    if (azp) {
        if (!json_is_string(azp) || strcmp(json_string_value(azp), expect->client_id) != 0) {
            return idt_fail(res, p, "azp is not the client_id");
        }
    }
    else if (n_aud > 1) {
        return idt_fail(res, p, "several audiences but no azp");
    }
    if (rts_jwt_check_times(jws->claims, &times, &why) != APR_SUCCESS) {
        return idt_fail(res, p, why);
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

    if ((rv = idt_check_shared(p, jws, expect, res)) != APR_SUCCESS) {
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
    const char *why;
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
    if (rts_jwt_check_typ(p, jws->typ, NULL, &why) != APR_SUCCESS) {
        return idt_fail(res, p, why);
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
