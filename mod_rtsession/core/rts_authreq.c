/* SPDX-License-Identifier: Apache-2.0 */
/* Pending logins and the authorization request. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_clock.h"
#include "rts_authreq.h"
#include "rts_config.h"
#include "rts_record.h"
#include "rts_crypto.h"
#include "rts_json.h"
#include "rts_store.h"
#include "rts_util.h"

#define PENDING_KEY_PREFIX "rts:p:"
#define PENDING_SEAL_INFO "rtsession pending v1"
#define PENDING_MAX_PLAIN 8192
#define PENDING_COOKIE_SEAL_INFO "rtsession pending cookie v2"
/* associated data of the sealed cookie: what the blob is (the state binds it to one login) */
#define PENDING_COOKIE_AD "rts:pc"

apr_status_t rts_authreq_new(apr_pool_t *p, const char *return_url, apr_time_t now,
                             rts_provider_trip_t **ppending)
{
    rts_provider_trip_t *pd = apr_pcalloc(p, sizeof(*pd));
    apr_status_t rv;

    if ((rv = rts_random_token(p, RTS_AUTHREQ_RANDOM_BYTES, &pd->state)) != APR_SUCCESS
        || (rv = rts_random_token(p, RTS_AUTHREQ_RANDOM_BYTES, &pd->nonce)) != APR_SUCCESS
        || (rv = rts_random_token(p, RTS_AUTHREQ_RANDOM_BYTES, &pd->code_verifier)) != APR_SUCCESS) {
        return rv;
    }
    pd->return_url = return_url;
    pd->created = now;
    *ppending = pd;
    return APR_SUCCESS;
}

const char *rts_authreq_url(apr_pool_t *p, const char *authorization_endpoint,
                            const char *client_id, const char *redirect_uri, const char *scope,
                            const rts_provider_trip_t *pending)
{
    const char *query = rts_form_build(p,
        "response_type", "code",
        "client_id", client_id,
        "redirect_uri", redirect_uri,
        "scope", scope,
        "state", pending->state,
        "nonce", pending->nonce,
        "code_challenge", rts_pkce_s256(p, pending->code_verifier),
        "code_challenge_method", "S256",
        NULL);

    return apr_pstrcat(p, authorization_endpoint,
                       strchr(authorization_endpoint, '?') ? "&" : "?", query, NULL);
}

static const char *pending_key(apr_pool_t *p, const rts_secret_t *secret, const char *state)
{
    return rts_record_key(p, secret, PENDING_KEY_PREFIX, apr_pstrcat(p, "p:", state, NULL));
}

/* The plaintext both forms share: nonce, verifier, return URL, creation time. */
static const char *pending_plain(rts_ctx_t *ctx, const rts_provider_trip_t *pd,
                                 const char *return_url, apr_size_t *plen)
{
    json_t *o = rts_json_pool_own(ctx->pool, json_object());

    json_object_set_new(o, "n", json_string(pd->nonce));
    json_object_set_new(o, "v", json_string(pd->code_verifier));
    json_object_set_new(o, "u", json_string(return_url));
    json_object_set_new(o, "t", json_integer((json_int_t)apr_time_sec(pd->created)));
    /* the same instant in ms: a back-channel logout refuses logins begun before it, and one
     * begun in the same second after it must go on */
    json_object_set_new(o, "m", json_integer((json_int_t)apr_time_as_msec(pd->created)));
    return rts_json_dump(ctx->pool, o, plen);
}

/* Parses an opened plaintext into a pending login of state; checks its age. RTS_EBADTOKEN when
 * malformed, APR_ENOENT when too old. */
static apr_status_t pending_parse(rts_ctx_t *ctx, const char *state, const char *plain,
                                  apr_size_t plain_len, rts_provider_trip_t **ppending)
{
    json_t *o;
    rts_provider_trip_t *pd;
    apr_int64_t t, ms;

    if (rts_json_parse_object(ctx->pool, plain, plain_len, PENDING_MAX_PLAIN, &o) != APR_SUCCESS
        || !rts_json_str(o, "n") || !rts_json_str(o, "v") || !rts_json_str(o, "u")
        || rts_json_int(o, "t", &t) != APR_SUCCESS) {
        return RTS_EBADTOKEN;
    }
    pd = apr_pcalloc(ctx->pool, sizeof(*pd));
    pd->state = state;
    pd->nonce = rts_json_str(o, "n");
    pd->code_verifier = rts_json_str(o, "v");
    pd->return_url = rts_json_str(o, "u");
    pd->created = apr_time_from_sec(t);
    if (rts_json_int(o, "m", &ms) == APR_SUCCESS && ms / 1000 == t) {
        pd->created = apr_time_from_msec(ms);
    }
    /* the store expiry (and the cookie's Max-Age) are coarse or up to the browser: enforce the
     * lifetime here as well */
    if (rts_now(ctx) - pd->created > ctx->cfg->pending_ttl + apr_time_from_sec(1)) {
        return APR_ENOENT;
    }
    *ppending = pd;
    return APR_SUCCESS;
}

apr_status_t rts_authreq_cookie_value(rts_ctx_t *ctx, const rts_provider_trip_t *pd,
                                      const char **pvalue)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);
    const char *return_url = pd->return_url, *plain, *sealed, *value;
    apr_size_t plain_len, sealed_len;
    apr_status_t rv;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        plain = pending_plain(ctx, pd, return_url, &plain_len);
        if (!plain) {
            return APR_ENOMEM;
        }
        rv = rts_record_seal(ctx->pool, secret, pd->state, PENDING_COOKIE_SEAL_INFO,
                             PENDING_COOKIE_AD, plain, plain_len, &sealed, &sealed_len);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        value = apr_pstrcat(ctx->pool, pd->state, ".",
                            rts_b64url_encode(ctx->pool, (const unsigned char *)sealed,
                                              sealed_len), NULL);
        if (strlen(value) <= RTS_AUTHREQ_COOKIE_MAX) {
            *pvalue = value;
            return APR_SUCCESS;
        }
        return_url = "/";   /* a long return URL full of escapes: bound the cookie */
    }
    return RTS_ETOOLARGE;
}

int rts_authreq_cookie_sealed(const char *value)
{
    return value && strchr(value, '.') != NULL;
}

apr_status_t rts_authreq_cookie_open(rts_ctx_t *ctx, const char *value, const char *state,
                                     rts_provider_trip_t **ppending)
{
    const char *dot = value ? strchr(value, '.') : NULL;
    const char *cookie_state, *blob, *plain;
    unsigned char *sealed;
    apr_size_t sealed_len, plain_len;
    int i;

    if (!dot || !state || strlen(value) > RTS_AUTHREQ_COOKIE_MAX) {
        return RTS_EBADTOKEN;
    }
    cookie_state = apr_pstrmemdup(ctx->pool, value, (apr_size_t)(dot - value));
    if (!rts_authreq_value_ok(cookie_state) || !rts_ct_streq(state, cookie_state)) {
        return RTS_ESTATE;
    }
    blob = dot + 1;
    if (rts_b64url_decode(ctx->pool, blob, strlen(blob), &sealed, &sealed_len) != APR_SUCCESS) {
        return RTS_EBADTOKEN;
    }
    for (i = 0; i < ctx->cfg->secrets->nelts; i++) {
        const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, i, rts_secret_t);

        if (rts_record_open(ctx->pool, secret, state, PENDING_COOKIE_SEAL_INFO,
                            PENDING_COOKIE_AD, (const char *)sealed, sealed_len, &plain,
                            &plain_len) == APR_SUCCESS) {
            return pending_parse(ctx, state, plain, plain_len, ppending);
        }
    }
    return RTS_EBADTOKEN;
}

static const char *consumed_key(rts_ctx_t *ctx, const char *state)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);

    return rts_record_key(ctx->pool, secret, PENDING_KEY_PREFIX,
                          apr_pstrcat(ctx->pool, "c:", state, NULL));
}

apr_status_t rts_authreq_consumed(rts_ctx_t *ctx, const char *state)
{
    const char *val;
    apr_size_t len;
    apr_status_t rv = ctx->store->get(ctx->store, ctx->pool, NULL, consumed_key(ctx, state),
                                      &val, &len, NULL);

    return rv == APR_SUCCESS ? APR_EEXIST : rv == APR_ENOENT ? APR_SUCCESS : rv;
}

apr_status_t rts_authreq_consume(rts_ctx_t *ctx, const char *state)
{
    /* as long as the cookie may be presented: pending_ttl, plus the second of slack above */
    apr_uint32_t ttl = (apr_uint32_t)apr_time_sec(ctx->cfg->pending_ttl) + 2;
    const char *key = consumed_key(ctx, state), *val;
    apr_size_t len;
    apr_uint64_t cas;
    apr_status_t rv = ctx->store->add(ctx->store, NULL, key, "1", 1, ttl);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Read it back, once per completed login: the first item a login reads is where the store
     * finds a server that runs without CAS (memcached -C) and refuses to go on, and that must
     * happen before a session exists whose refreshes would have no exclusion. */
    rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, &cas);
    return rv == APR_ENOENT ? APR_SUCCESS : rv;
}

void rts_authreq_place(rts_ctx_t *ctx, rts_provider_trip_t *pd)
{
    int i;

    /* The state is random anyway: draw again while the one item its login writes (the
     * consumed marker, at the callback) would land on a memcached server that is failed fast
     * (as rts_session_new_id_placed does for session ids). */
    for (i = 1; i < RTS_PLACE_DRAWS && !rts_store_usable(ctx->store, consumed_key(ctx, pd->state));
         i++) {
        if (rts_random_token(ctx->pool, RTS_AUTHREQ_RANDOM_BYTES, &pd->state) != APR_SUCCESS) {
            return;
        }
    }
}

apr_status_t rts_authreq_save(rts_ctx_t *ctx, const rts_provider_trip_t *pd)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);
    const char *key = pending_key(ctx->pool, secret, pd->state);
    const char *sealed;
    apr_size_t plain_len, sealed_len;
    const char *plain;
    apr_uint32_t ttl = (apr_uint32_t)apr_time_sec(ctx->cfg->pending_ttl);
    apr_status_t rv;

    plain = pending_plain(ctx, pd, pd->return_url, &plain_len);
    if (!key || !plain) {
        return APR_ENOMEM;
    }
    rv = rts_record_seal(ctx->pool, secret, pd->state, PENDING_SEAL_INFO, key, plain, plain_len,
                         &sealed, &sealed_len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return ctx->store->add(ctx->store, NULL, key, sealed, sealed_len, ttl ? ttl : 1);
}

apr_status_t rts_authreq_take(rts_ctx_t *ctx, const char *state, rts_provider_trip_t **ppending)
{
    int i;

    for (i = 0; i < ctx->cfg->secrets->nelts; i++) {
        const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, i, rts_secret_t);
        const char *key = pending_key(ctx->pool, secret, state);
        const char *plain;
        apr_size_t len, plain_len;
        const char *val;
        apr_status_t rv;

        rv = ctx->store->get(ctx->store, ctx->pool, NULL, key, &val, &len, NULL);
        if (rv == APR_ENOENT) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        /* The delete decides who consumed it: only one request sees it succeed. */
        rv = ctx->store->del(ctx->store, NULL, key);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = rts_record_open(ctx->pool, secret, state, PENDING_SEAL_INFO, key, val, len,
                             &plain, &plain_len);
        if (rv != APR_SUCCESS) {
            return RTS_EBADTOKEN;
        }
        return pending_parse(ctx, state, plain, plain_len, ppending);
    }
    return APR_ENOENT;
}

/* "//host" and "/\\host" are read by browsers as another origin; so is anything not
 * starting with '/'. Control characters, spaces and backslashes have no place in a path. */
static int path_unsafe(const char *s)
{
    const char *c;

    if (s[0] != '/' || s[1] == '/' || s[1] == '\\') {
        return 1;
    }
    for (c = s; *c; c++) {
        unsigned char uc = (unsigned char)*c;
        if (uc <= 0x20 || uc == 0x7f || uc == '\\') {
            return 1;
        }
    }
    return 0;
}

static int prefix_ok(const char *s)
{
    return s[0] == '/' && s[1] != '/' && s[1] != '\\';
}

static int hexval(char h)
{
    return apr_isdigit(h) ? h - '0' : apr_tolower(h) - 'a' + 10;
}

/* One round of percent-decoding, lenient: invalid escapes stay as they are. */
static char *decode_once(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) + 1);
    char *o = out;

    while (*s) {
        if (s[0] == '%' && apr_isxdigit(s[1]) && apr_isxdigit(s[2])) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 3;
        }
        else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

int rts_return_url_ok(const char *url)
{
    char buf[RTS_RETURN_URL_MAX + 1];
    apr_pool_t *p;
    const char *d1, *d2;
    int ok;

    if (!url || !*url || strlen(url) > RTS_RETURN_URL_MAX || path_unsafe(url)) {
        return 0;
    }
    /* what a browser or a later decoder might see after one or two rounds of decoding
     * ("/%2F", "/%5C", "/%252F") must be safe too */
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return 0;
    }
    apr_cpystrn(buf, url, sizeof(buf));
    d1 = decode_once(p, buf);
    d2 = decode_once(p, d1);
    ok = prefix_ok(d1) && prefix_ok(d2);
    apr_pool_destroy(p);
    return ok;
}

int rts_authreq_value_ok(const char *v)
{
    apr_size_t i, n;

    if (!v || (n = strlen(v)) != 43) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!apr_isalnum(v[i]) && v[i] != '-' && v[i] != '_') {
            return 0;
        }
    }
    return 1;
}
