/* Pending logins and the authorization request. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "rts.h"
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

apr_status_t rts_authreq_new(apr_pool_t *p, const char *return_url, apr_time_t now,
                             rts_pending_t **ppending)
{
    rts_pending_t *pd = apr_pcalloc(p, sizeof(*pd));
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
                            const rts_pending_t *pending)
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

void rts_authreq_place(rts_ctx_t *ctx, rts_pending_t *pd)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);
    int i;

    /* The state is random anyway: draw again while its item would land on a memcached server
     * that is failed fast (as rts_session_new_id_placed does for session ids). */
    for (i = 1; i < RTS_PLACE_DRAWS
                && !rts_store_usable(ctx->store, pending_key(ctx->pool, secret, pd->state)); i++) {
        if (rts_random_token(ctx->pool, RTS_AUTHREQ_RANDOM_BYTES, &pd->state) != APR_SUCCESS) {
            return;
        }
    }
}

apr_status_t rts_authreq_save(rts_ctx_t *ctx, const rts_pending_t *pd)
{
    const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, 0, rts_secret_t);
    const char *key = pending_key(ctx->pool, secret, pd->state);
    json_t *o = rts_json_pool_own(ctx->pool, json_object());
    const char *sealed;
    apr_size_t plain_len, sealed_len;
    const char *plain;
    apr_uint32_t ttl = (apr_uint32_t)apr_time_sec(ctx->cfg->pending_ttl);
    apr_status_t rv;

    json_object_set_new(o, "n", json_string(pd->nonce));
    json_object_set_new(o, "v", json_string(pd->code_verifier));
    json_object_set_new(o, "u", json_string(pd->return_url));
    json_object_set_new(o, "t", json_integer((json_int_t)apr_time_sec(pd->created)));
    plain = rts_json_dump(ctx->pool, o, &plain_len);
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

apr_status_t rts_authreq_take(rts_ctx_t *ctx, const char *state, rts_pending_t **ppending)
{
    int i;

    for (i = 0; i < ctx->cfg->secrets->nelts; i++) {
        const rts_secret_t *secret = &APR_ARRAY_IDX(ctx->cfg->secrets, i, rts_secret_t);
        const char *key = pending_key(ctx->pool, secret, state);
        const char *plain;
        apr_size_t len, plain_len;
        const char *val;
        json_t *o;
        rts_pending_t *pd;
        apr_int64_t t;
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
        if (rv != APR_SUCCESS
            || rts_json_parse_object(ctx->pool, plain, plain_len, PENDING_MAX_PLAIN, &o)
               != APR_SUCCESS
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
        /* the store expiry is coarse (seconds); enforce the lifetime here as well */
        if (rts_now(ctx) - pd->created > ctx->cfg->pending_ttl + apr_time_from_sec(1)) {
            return APR_ENOENT;
        }
        *ppending = pd;
        return APR_SUCCESS;
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
