/* SPDX-License-Identifier: Apache-2.0 */
/* What the backend sees of the identity: spoofed copies removed, ours added. Claim values
 * leave the module through the core's one rule (rts_claim.h). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_headers.h"
#include "rts_claim.h"
#include "rts_cookie.h"
#include "rts_logout.h"

#define MAX_ENV_CLAIMS 64

/* Header names compared as a CGI backend would see them: case-insensitive, '_' == '-'. */
static int header_name_matches(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a == '_' ? '-' : (char)apr_tolower(*a);
        char cb = *b == '_' ? '-' : (char)apr_tolower(*b);
        if (ca != cb) {
            return 0;
        }
    }
    return *a == *b;
}

typedef struct {
    const apr_array_header_t *server;  /* every name configured in the server's sections */
    const mrts_dir_conf_t *dc;         /* this location's (may come from .htaccess) */
    apr_array_header_t *doomed;
} scrub_t;

static int dir_names_match(const mrts_dir_conf_t *dc, const char *key)
{
    int i;

    if (*mrts_config_user_header(dc) && header_name_matches(key, mrts_config_user_header(dc))) {
        return 1;
    }
    if (*mrts_config_at_header(dc) && header_name_matches(key, mrts_config_at_header(dc))) {
        return 1;
    }
    for (i = 0; dc->claim_headers && i < dc->claim_headers->nelts; i++) {
        if (header_name_matches(key, APR_ARRAY_IDX(dc->claim_headers, i,
                                                   mrts_claim_header_t).header)) {
            return 1;
        }
    }
    return 0;
}

static int scrub_visit(void *baton, const char *key, const char *value)
{
    scrub_t *st = baton;
    int i;

    for (i = 0; st->server && i < st->server->nelts; i++) {
        if (header_name_matches(key, APR_ARRAY_IDX(st->server, i, const char *))) {
            APR_ARRAY_PUSH(st->doomed, const char *) = key;
            return 1;
        }
    }
    if (dir_names_match(st->dc, key)) {
        APR_ARRAY_PUSH(st->doomed, const char *) = key;
    }
    return 1;
}

void mrts_headers_scrub(request_rec *r, const mrts_srv_conf_t *sc, const mrts_dir_conf_t *dc)
{
    scrub_t st;
    const char *cookie;
    int i;

    st.server = sc->scrub_names;
    st.dc = dc;
    st.doomed = apr_array_make(r->pool, 2, sizeof(const char *));
    apr_table_do(scrub_visit, &st, r->headers_in, NULL);
    for (i = 0; i < st.doomed->nelts; i++) {
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(st.doomed, i, const char *));
    }
    /* the module's own cookies never reach the backend */
    cookie = apr_table_get(r->headers_in, "Cookie");
    if (cookie && sc->core) {
        const char *names[7];
        const char *rest;
        names[0] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_SESSION, 1);
        names[1] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_SESSION, 0);
        names[2] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGIN, 1);
        names[3] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGIN, 0);
        names[4] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGOUT, 1);
        names[5] = rts_cookie_name(r->pool, sc->core->cookie_name, RTS_COOKIE_LOGOUT, 0);
        names[6] = NULL;
        rest = rts_cookie_strip(r->pool, cookie, names);
        if (rest) {
            apr_table_setn(r->headers_in, "Cookie", rest);
        }
        else {
            apr_table_unset(r->headers_in, "Cookie");
        }
    }
}

/* A claim as one header/environment value: the core's one rule (rts_claim.h: arrays
 * comma-joined, control characters become spaces); NULL when absent, null or over-long. */
static const char *claim_value(apr_pool_t *p, const json_t *v)
{
    const char *text;

    rts_claim_value(p, v, RTS_CLAIM_AS_TEXT, &text);
    return text;
}

void mrts_headers_inject(request_rec *r, const mrts_dir_conf_t *dc, const rts_outcome_t *out)
{
    const char *name;
    int i;

    /* r->user passed the user-name rule at check_authn */
    if (*(name = mrts_config_user_header(dc)) && r->user) {
        apr_table_setn(r->headers_in, name, r->user);
    }
    if (*(name = mrts_config_at_header(dc))) {
        apr_table_setn(r->headers_in, name, out->session->access_token);
    }
    for (i = 0; dc->claim_headers && out->claims && i < dc->claim_headers->nelts; i++) {
        const mrts_claim_header_t *ch = &APR_ARRAY_IDX(dc->claim_headers, i,
                                                       mrts_claim_header_t);
        const char *v = claim_value(r->pool, json_object_get(out->claims, ch->claim));
        if (v) {
            apr_table_setn(r->headers_in, ch->header, v);
        }
    }
}

void mrts_headers_set_env(request_rec *r, const json_t *claims)
{
    const char *name;
    json_t *v;
    int n = 0;

    if (!claims) {
        return;
    }
    json_object_foreach((json_t *)claims, name, v) {
        char *env = apr_pstrcat(r->pool, MRTS_ENV_PREFIX, name, NULL), *c;
        const char *value;
        if (n++ >= MAX_ENV_CLAIMS) {
            break;
        }
        for (c = env + sizeof(MRTS_ENV_PREFIX) - 1; *c; c++) {
            if (!apr_isalnum(*c)) {
                *c = '_';
            }
        }
        if ((value = claim_value(r->pool, v))) {
            apr_table_setn(r->subprocess_env, env, value);
        }
    }
}
