/* SPDX-License-Identifier: Apache-2.0 */
/* rtsessionctl: reading the module's directives from an Apache configuration file. */
#include <stdlib.h>
#include <string.h>
#include <apr_file_io.h>
#include <apr_fnmatch.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include "rts.h"
#include "rts_record.h"
#include "rts_store.h"
#include "rtsctl_conf.h"

#define MAX_INCLUDE_DEPTH 16
#define MAX_LINE (16 * 1024)


void rtsctl_settings_init(rtsctl_settings_t *st)
{
    memset(st, 0, sizeof(*st));
    st->client_auth = RTSCTL_UNSET;
    st->http_timeout = RTSCTL_UNSET;
    st->memcached_timeout = RTSCTL_UNSET;
    st->max_lifetime = RTSCTL_UNSET;
    st->idle_timeout = RTSCTL_UNSET;
}

/* httpd's duration syntax (ap_timeout_parameter_parse): digits and ms, s, mi or h; s alone. */
static int parse_duration(const char *arg, apr_interval_time_t *out)
{
    char *end;
    long long n = strtoll(arg, &end, 10);

    if (end == arg || n < 0 || n > 10LL * 365 * 86400 * 1000) {
        return 0;
    }
    if (!*end || !strcasecmp(end, "s")) {
        *out = apr_time_from_sec(n);
    }
    else if (!strcasecmp(end, "ms")) {
        *out = apr_time_from_msec(n);
    }
    else if (!strcasecmp(end, "mi")) {
        *out = apr_time_from_sec(n * 60);
    }
    else if (!strcasecmp(end, "h")) {
        *out = apr_time_from_sec(n * 3600);
    }
    else {
        return 0;
    }
    return 1;
}

static const char *root_relative(apr_pool_t *p, const char *server_root, const char *path)
{
    char *full;

    if (apr_filepath_merge(&full, server_root, path, APR_FILEPATH_TRUENAME, p) != APR_SUCCESS) {
        return NULL;
    }
    return full;
}

/* A secret on a single line, as the module reads RTSession*SecretFile. */
static const char *read_secret_file(apr_pool_t *p, const char *name, const char *server_root,
                                    const char *path, const char **out)
{
    const char *fname = root_relative(p, server_root, path);

    if (!fname) {
        return apr_psprintf(p, "%s: invalid path '%s'", name, path);
    }
    return rts_config_read_secret_file(p, name, fname, out);
}

static const char *add_secret(apr_pool_t *p, rtsctl_settings_t *st, const char *name,
                              const char *secret)
{
    if (strlen(secret) < RTS_CONFIG_MIN_SECRET_LEN) {
        return apr_psprintf(p, "%s: each secret must be at least %d characters long", name,
                            RTS_CONFIG_MIN_SECRET_LEN);
    }
    if (!st->secrets) {
        st->secrets = apr_array_make(p, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(st->secrets, const char *) = secret;
    return NULL;
}

static const char *set_duration(apr_pool_t *p, const char *name, const char *arg,
                                apr_interval_time_t *out)
{
    if (!parse_duration(arg, out)) {
        return apr_psprintf(p, "%s: '%s' is not a duration (e.g. 10, 500ms)", name, arg);
    }
    return NULL;
}

const char *rtsctl_conf_set(apr_pool_t *p, rtsctl_settings_t *st, const char *server_root,
                            const char *name, const char *arg)
{
    const char *v, *err;

    if (strncasecmp(name, "RTSession", 9)) {
        return NULL;
    }
    st->seen = 1;
    name += 9;
    if (!strcasecmp(name, "ProviderMetadataURL")) {
        st->metadata_url = arg;
    }
    else if (!strcasecmp(name, "Issuer")) {
        st->issuer = arg;
    }
    else if (!strcasecmp(name, "ClientID")) {
        st->client_id = arg;
    }
    else if (!strcasecmp(name, "ClientSecret")) {
        st->client_secret = arg;
    }
    else if (!strcasecmp(name, "ClientSecretFile")) {
        return read_secret_file(p, "RTSessionClientSecretFile", server_root, arg,
                                &st->client_secret);
    }
    else if (!strcasecmp(name, "TokenEndpointAuth")) {
        if (!strcasecmp(arg, "client_secret_basic")) {
            st->client_auth = RTS_AUTH_CLIENT_SECRET_BASIC;
        }
        else if (!strcasecmp(arg, "client_secret_post")) {
            st->client_auth = RTS_AUTH_CLIENT_SECRET_POST;
        }
        else {
            return "RTSessionTokenEndpointAuth: expects client_secret_basic or client_secret_post";
        }
    }
    else if (!strcasecmp(name, "Memcached")) {
        st->memcached = arg;
    }
    else if (!strcasecmp(name, "Secret")) {
        return add_secret(p, st, "RTSessionSecret", arg);
    }
    else if (!strcasecmp(name, "SecretFile")) {
        err = read_secret_file(p, "RTSessionSecretFile", server_root, arg, &v);
        return err ? err : add_secret(p, st, "RTSessionSecretFile", v);
    }
    else if (!strcasecmp(name, "CAFile")) {
        st->ca_file = root_relative(p, server_root, arg);
    }
    else if (!strcasecmp(name, "RedirectURI")) {
        st->redirect_uri = arg;
    }
    else if (!strcasecmp(name, "BackchannelLogoutPath")) {
        st->backchannel_path = arg;
    }
    else if (!strcasecmp(name, "HTTPTimeout")) {
        return set_duration(p, "RTSessionHTTPTimeout", arg, &st->http_timeout);
    }
    else if (!strcasecmp(name, "MemcachedTimeout")) {
        return set_duration(p, "RTSessionMemcachedTimeout", arg, &st->memcached_timeout);
    }
    else if (!strcasecmp(name, "MaxLifetime")) {
        return set_duration(p, "RTSessionMaxLifetime", arg, &st->max_lifetime);
    }
    else if (!strcasecmp(name, "IdleTimeout")) {
        if (!strcasecmp(arg, "off")) {
            st->idle_timeout = 0;
            return NULL;
        }
        return set_duration(p, "RTSessionIdleTimeout", arg, &st->idle_timeout);
    }
    return NULL;   /* a directive the tool does not need */
}

/* ---- the file ---- */

/* One argument, with httpd's quoting (ap_getword_conf): "..." or '...', where a backslash
 * escapes the quote; else up to white space. NULL at the end of the line. */
static char *next_word(apr_pool_t *p, const char **line)
{
    const char *s = *line, *start;
    char *word, *o;

    while (apr_isspace(*s)) {
        s++;
    }
    if (!*s) {
        *line = s;
        return NULL;
    }
    if (*s == '"' || *s == '\'') {
        char quote = *s++;
        start = s;
        while (*s && *s != quote) {
            s += (*s == '\\' && s[1] == quote) ? 2 : 1;
        }
        word = o = apr_pstrmemdup(p, start, (apr_size_t)(s - start));
        for (start = word; *start; start++) {   /* drop the escaping backslashes */
            if (*start == '\\' && start[1] == quote) {
                start++;
            }
            *o++ = *start;
        }
        *o = '\0';
        *line = *s ? s + 1 : s;
        return word;
    }
    start = s;
    while (*s && !apr_isspace(*s)) {
        s++;
    }
    *line = s;
    return apr_pstrmemdup(p, start, (apr_size_t)(s - start));
}

typedef struct {
    apr_array_header_t *names;   /* <VirtualHost> addresses, ServerName, ServerAlias */
    rtsctl_settings_t st;
} vhost_t;

typedef struct {
    apr_pool_t *p;
    const char *server_root;
    rtsctl_settings_t main;
    apr_array_header_t *vhosts;  /* of vhost_t */
    vhost_t *cur;                /* inside a <VirtualHost> section, else NULL */
} reader_t;

static const char *read_file(reader_t *r, const char *fname, int depth);

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Include / IncludeOptional: a file, a directory (every file in it) or a wildcard in the last
 * path component, in sorted order as httpd does. */
static const char *include(reader_t *r, const char *pattern, int optional, int depth)
{
    const char *path = root_relative(r->p, r->server_root, pattern);
    const char *slash, *dir;
    apr_array_header_t *names = NULL;
    apr_finfo_t fi;
    int i;

    if (!path) {
        return apr_psprintf(r->p, "Include: invalid path '%s'", pattern);
    }
    if (!apr_fnmatch_test(path)) {
        if (apr_stat(&fi, path, APR_FINFO_TYPE, r->p) != APR_SUCCESS) {
            return optional ? NULL : apr_psprintf(r->p, "Include: '%s' does not exist", path);
        }
        if (fi.filetype != APR_DIR) {
            return read_file(r, path, depth + 1);
        }
        path = apr_pstrcat(r->p, path, "/*", NULL);
    }
    slash = strrchr(path, '/');
    dir = apr_pstrmemdup(r->p, path, (apr_size_t)(slash - path));
    if (apr_match_glob(path, &names, r->p) != APR_SUCCESS) {
        return optional ? NULL : apr_psprintf(r->p, "Include: cannot read '%s'", dir);
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_names);
    for (i = 0; i < names->nelts; i++) {
        const char *f = apr_pstrcat(r->p, dir, "/", APR_ARRAY_IDX(names, i, const char *), NULL);
        const char *err;

        if (apr_stat(&fi, f, APR_FINFO_TYPE, r->p) == APR_SUCCESS && fi.filetype == APR_REG
            && (err = read_file(r, f, depth + 1)) != NULL) {
            return err;
        }
    }
    return NULL;
}

/* One logical line (continuations joined, comments and blank lines already skipped). */
static const char *directive(reader_t *r, const char *line, int depth)
{
    const char *rest = line;
    char *name = next_word(r->p, &rest), *arg;

    if (!name) {
        return NULL;
    }
    if (name[0] == '<') {
        if (!strcasecmp(name, "</VirtualHost>")) {
            r->cur = NULL;
        }
        else if (!strncasecmp(name, "<VirtualHost", 12)) {
            r->cur = apr_array_push(r->vhosts);
            r->cur->names = apr_array_make(r->p, 4, sizeof(const char *));
            rtsctl_settings_init(&r->cur->st);
            while ((arg = next_word(r->p, &rest)) != NULL) {
                apr_size_t n = strlen(arg);
                if (n && arg[n - 1] == '>') {
                    arg[n - 1] = '\0';
                }
                if (*arg) {
                    APR_ARRAY_PUSH(r->cur->names, const char *) = arg;
                }
            }
        }
        return NULL;   /* other sections (IfModule, Directory, ...) are read through */
    }
    arg = next_word(r->p, &rest);
    if (!arg) {
        return NULL;
    }
    if (!strcasecmp(name, "ServerRoot")) {
        r->server_root = arg;
    }
    else if (!strcasecmp(name, "Include") || !strcasecmp(name, "IncludeOptional")) {
        return include(r, arg, !strcasecmp(name, "IncludeOptional"), depth);
    }
    else if (r->cur && (!strcasecmp(name, "ServerName") || !strcasecmp(name, "ServerAlias"))) {
        do {
            APR_ARRAY_PUSH(r->cur->names, const char *) = arg;
        } while ((arg = next_word(r->p, &rest)) != NULL);
    }
    else {
        return rtsctl_conf_set(r->p, r->cur ? &r->cur->st : &r->main, r->server_root, name, arg);
    }
    return NULL;
}

static const char *read_file(reader_t *r, const char *fname, int depth)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *text, *line, *next;
    apr_size_t len;
    int lineno = 0;
    apr_status_t rv;

    if (depth > MAX_INCLUDE_DEPTH) {
        return apr_psprintf(r->p, "%s: Include nested more than %d deep", fname,
                            MAX_INCLUDE_DEPTH);
    }
    rv = apr_file_open(&f, fname, APR_FOPEN_READ, APR_OS_DEFAULT, r->p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    }
    if (rv == APR_SUCCESS && fi.size > 4 * 1024 * 1024) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        len = (apr_size_t)fi.size;
        text = apr_palloc(r->p, len + 1);
        rv = len ? apr_file_read_full(f, text, len, &len) : APR_SUCCESS;
        text[len] = '\0';
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(r->p, "cannot read %s: %pm", fname, &rv);
    }
    apr_file_close(f);
    for (line = text; line; line = next) {
        char *end, *logical = line;
        const char *err;
        int first = ++lineno;

        /* a line ending in a backslash continues on the next one */
        for (;;) {
            next = strchr(line, '\n');
            if (next) {
                *next++ = '\0';
            }
            end = line + strlen(line);
            while (end > line && apr_isspace(end[-1])) {
                *--end = '\0';
            }
            if (end > line && end[-1] == '\\' && next) {
                end[-1] = ' ';
                memmove(end, next, strlen(next) + 1);
                next = end;
                line = end;
                lineno++;
                continue;
            }
            break;
        }
        while (apr_isspace(*logical)) {
            logical++;
        }
        if (!*logical || *logical == '#' || strlen(logical) > MAX_LINE) {
            continue;
        }
        if ((err = directive(r, logical, depth)) != NULL) {
            return apr_psprintf(r->p, "%s:%d: %s", fname, first, err);
        }
    }
    return NULL;
}

#define OVER(f) if (v->f) out->f = v->f
#define OVER_VAL(f) if (v->f != RTSCTL_UNSET) out->f = v->f

/* v over out, as the module merges a virtual host over the main server. */
static void merge(rtsctl_settings_t *out, const rtsctl_settings_t *v)
{
    OVER(metadata_url);
    OVER(issuer);
    OVER(client_id);
    OVER(client_secret);
    OVER_VAL(client_auth);
    OVER(memcached);
    OVER(secrets);
    OVER(ca_file);
    OVER(redirect_uri);
    OVER(backchannel_path);
    OVER_VAL(http_timeout);
    OVER_VAL(memcached_timeout);
    OVER_VAL(max_lifetime);
    OVER_VAL(idle_timeout);
    out->seen |= v->seen;
}

static int vhost_named(const vhost_t *vh, const char *name)
{
    apr_size_t n = strlen(name);
    int i;

    for (i = 0; i < vh->names->nelts; i++) {
        const char *have = APR_ARRAY_IDX(vh->names, i, const char *);
        /* "app.example.org" also matches "app.example.org:443" */
        if (!strcasecmp(have, name) || (!strncasecmp(have, name, n) && have[n] == ':')) {
            return 1;
        }
    }
    return 0;
}

const char *rtsctl_conf_read(apr_pool_t *p, const char *file, const char *server_root,
                             const char *vhost, rtsctl_settings_t *out, const char **pwhere)
{
    reader_t r;
    const vhost_t *pick = NULL;
    const char *err;
    int i, configured = 0;

    memset(&r, 0, sizeof(r));
    r.p = p;
    r.server_root = server_root;
    r.vhosts = apr_array_make(p, 4, sizeof(vhost_t));
    rtsctl_settings_init(&r.main);
    if ((err = read_file(&r, file, 0)) != NULL) {
        return err;
    }
    for (i = 0; i < r.vhosts->nelts; i++) {
        const vhost_t *vh = &APR_ARRAY_IDX(r.vhosts, i, vhost_t);
        configured += vh->st.seen;
        if (!pick && (vhost ? vhost_named(vh, vhost) : vh->st.seen)) {
            pick = vh;
        }
    }
    if (vhost && !pick) {
        return apr_psprintf(p, "%s: no <VirtualHost> named %s (ServerName, ServerAlias or "
                            "address)", file, vhost);
    }
    *out = r.main;
    if (pick) {
        merge(out, &pick->st);
        *pwhere = apr_psprintf(p, "%s, <VirtualHost %s>%s", file,
                               APR_ARRAY_IDX(pick->names, 0, const char *),
                               !vhost && configured > 1
                                   ? apr_psprintf(p, " (the first of %d virtual hosts with "
                                                  "RTSession directives; --vhost chooses)",
                                                  configured) : "");
    }
    else {
        *pwhere = apr_psprintf(p, "%s, main server", file);
    }
    if (!out->seen) {
        return apr_psprintf(p, "%s: no RTSession directive found", *pwhere);
    }
    return NULL;
}

/* ---- the core configuration ---- */

static const char *derived_issuer(apr_pool_t *p, const rtsctl_settings_t *st)
{
    return rts_config_issuer(p, st->issuer, st->metadata_url);
}


const char *rtsctl_conf_build(apr_pool_t *p, const rtsctl_settings_t *st, const char *need,
                              rts_config_t **pcfg)
{
    rts_config_t *c = apr_pcalloc(p, sizeof(*c));
    const char *err;
    int i;

    rts_config_defaults(c);
    c->metadata_url = st->metadata_url;
    c->issuer = derived_issuer(p, st);
    c->client_id = st->client_id;
    c->client_secret = st->client_secret;
    if (strchr(need, 'p') && !c->metadata_url) {
        return "RTSessionProviderMetadataURL is not set (--metadata-url)";
    }
    if ((strchr(need, 'p') || strchr(need, 'k')) && !c->issuer) {
        return "RTSessionIssuer is not set and the metadata URL does not end in "
               RTS_CONFIG_DISCOVERY_SUFFIX " (--issuer)";
    }
    if ((strchr(need, 'p') || strchr(need, 'k')) && !c->client_id) {
        return "RTSessionClientID is not set (--client-id)";
    }
    if (strchr(need, 'p') && !c->client_secret) {
        return "RTSessionClientSecret is not set (--client-secret-file)";
    }
    if (strchr(need, 'k') && !st->secrets) {
        return "RTSessionSecret is not set (--secret-file)";
    }
    if (strchr(need, 'm')) {
        if (!st->memcached) {
            return "RTSessionMemcached is not set (--memcached)";
        }
        if (rts_store_memcached_check(p, st->memcached, &err) != APR_SUCCESS) {
            return apr_psprintf(p, "RTSessionMemcached: %s", err);
        }
    }
    if (st->client_auth != RTSCTL_UNSET) {
        c->client_auth = (rts_client_auth_t)st->client_auth;
    }
    c->ca_file = st->ca_file;
    if (st->http_timeout != RTSCTL_UNSET) {
        c->http_timeout = st->http_timeout;
    }
    if (st->memcached_timeout != RTSCTL_UNSET) {
        c->memcached_timeout = st->memcached_timeout;
    }
    if (st->max_lifetime != RTSCTL_UNSET) {
        c->session_max = st->max_lifetime;
    }
    if (st->idle_timeout != RTSCTL_UNSET) {
        c->idle_timeout = st->idle_timeout;
    }
    c->redirect_uri = st->redirect_uri;
    c->backchannel_path = st->backchannel_path;
    c->secrets = apr_array_make(p, st->secrets ? st->secrets->nelts : 1, sizeof(rts_secret_t));
    rts_config_wipe_secrets_at_cleanup(p, c->secrets);
    for (i = 0; strchr(need, 'k') && i < st->secrets->nelts; i++) {
        rts_secret_t *sec = apr_array_push(c->secrets);
        if (rts_secret_derive(p, APR_ARRAY_IDX(st->secrets, i, const char *), c->issuer,
                              c->client_id, sec) != APR_SUCCESS) {
            return "deriving the keys from RTSessionSecret failed";
        }
    }
    /* rts_config_finish derives the rest (connect timeout, ...) and checks the whole as the
     * module does; what this command does not use stands in with an inert value (an all-zero
     * secret when no keys are derived: such a command reads and writes no record) */
    if (!c->redirect_uri) c->redirect_uri = "/rtsession/callback";
    if (!c->metadata_url) c->metadata_url = "https://unused.invalid" RTS_CONFIG_DISCOVERY_SUFFIX;
    if (!c->issuer) c->issuer = "https://unused.invalid";
    if (!c->client_id) c->client_id = "unused";
    if (!c->client_secret) c->client_secret = "unused";
    if (!c->secrets->nelts) apr_array_push(c->secrets);
    if (rts_config_finish(p, c, &err) != APR_SUCCESS) {
        return err;
    }
    *pcfg = c;
    return NULL;
}
