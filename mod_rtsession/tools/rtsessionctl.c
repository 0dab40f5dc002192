/* SPDX-License-Identifier: Apache-2.0 */
/* rtsessionctl: the administrator's tool of mod_rtsession, on the module's own core (no httpd):
 * end a user's sessions everywhere, show a session's metadata, check a configuration against
 * the live provider and memcached, generate a module secret. docs/rtsessionctl.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/crypto.h>
#include "rts.h"
#include "rts_backchannel.h"
#include "rts_claim.h"
#include "rts_json.h"
#include "rts_log.h"
#include "rts_session.h"
#include "rts_store.h"
#include "rts_util.h"
#include "rts_version.h"
#include "rtsctl.h"

#define SECRET_BYTES_DEFAULT 48     /* 64 base64url characters */
#define SECRET_BYTES_MIN 32
#define COOKIE_INPUT_MAX 4096

static const char usage_text[] =
"Usage: rtsessionctl [options] COMMAND [ARG]\n"
"\n"
"Commands:\n"
"  end-user SUB        end every session of the user SUB on every host (back-channel index;\n"
"                      needs RTSessionBackchannelLogoutPath, see docs/rtsessionctl.md)\n"
"  show [COOKIE|-]     one session's metadata, never its tokens; without COOKIE (or with -)\n"
"                      the cookie value is read from stdin (recommended: not in shell history)\n"
"  check               the configuration against the live provider and memcached: one line\n"
"                      per check, OK/FAIL/WARN/SKIP; exit status 1 on any FAIL\n"
"  gen-secret [BYTES]  a new module secret (CSPRNG, base64url, default 48 bytes, >= 32),\n"
"                      for RTSessionSecretFile\n"
"\n"
"Configuration (the module's directives, read from an Apache config file):\n"
"  -f, --config FILE          file with the RTSession* directives (Include followed)\n"
"  -d, --server-root DIR      ServerRoot for relative paths (default /etc/apache2)\n"
"      --vhost NAME           the <VirtualHost> with this ServerName/ServerAlias/address\n"
"                             (default: the first one with RTSession directives)\n"
"Overrides (each replaces the directive of the same name):\n"
"      --metadata-url URL     RTSessionProviderMetadataURL\n"
"      --issuer URL           RTSessionIssuer\n"
"      --client-id ID         RTSessionClientID\n"
"      --client-secret-file F RTSessionClientSecretFile\n"
"      --token-endpoint-auth M RTSessionTokenEndpointAuth\n"
"      --memcached STRING     RTSessionMemcached\n"
"      --memcached-timeout D  RTSessionMemcachedTimeout\n"
"      --secret-file F        RTSessionSecretFile (repeat for rotation: the first seals)\n"
"      --ca-file F            RTSessionCAFile\n"
"      --http-timeout D       RTSessionHTTPTimeout\n"
"      --backchannel-logout-path P  RTSessionBackchannelLogoutPath\n"
"Other:\n"
"  -v, --verbose              the core's log lines on stderr\n"
"  -h, --help                 this text\n"
"  -V, --version              the version\n"
"\n"
"Exit status: 0 success, 1 the command found a failure or nothing, 2 usage or configuration.\n";

typedef enum {
    OPT_METADATA = 256, OPT_ISSUER, OPT_CLIENT_ID, OPT_CLIENT_SECRET_FILE, OPT_AUTH,
    OPT_MEMCACHED, OPT_MC_TIMEOUT, OPT_SECRET_FILE, OPT_CA_FILE, OPT_HTTP_TIMEOUT, OPT_VHOST,
    OPT_BACKCHANNEL
} opt_t;

static const apr_getopt_option_t options[] = {
    {"config", 'f', 1, "config file"},
    {"server-root", 'd', 1, "server root"},
    {"vhost", OPT_VHOST, 1, "virtual host"},
    {"metadata-url", OPT_METADATA, 1, "RTSessionProviderMetadataURL"},
    {"issuer", OPT_ISSUER, 1, "RTSessionIssuer"},
    {"client-id", OPT_CLIENT_ID, 1, "RTSessionClientID"},
    {"client-secret-file", OPT_CLIENT_SECRET_FILE, 1, "RTSessionClientSecretFile"},
    {"token-endpoint-auth", OPT_AUTH, 1, "RTSessionTokenEndpointAuth"},
    {"memcached", OPT_MEMCACHED, 1, "RTSessionMemcached"},
    {"memcached-timeout", OPT_MC_TIMEOUT, 1, "RTSessionMemcachedTimeout"},
    {"secret-file", OPT_SECRET_FILE, 1, "RTSessionSecretFile"},
    {"ca-file", OPT_CA_FILE, 1, "RTSessionCAFile"},
    {"http-timeout", OPT_HTTP_TIMEOUT, 1, "RTSessionHTTPTimeout"},
    {"backchannel-logout-path", OPT_BACKCHANNEL, 1, "RTSessionBackchannelLogoutPath"},
    {"verbose", 'v', 0, "verbose"},
    {"help", 'h', 0, "help"},
    {"version", 'V', 0, "version"},
    {NULL, 0, 0, NULL}
};

/* The directive each override sets. */
static const char *override_name(int opt)
{
    switch (opt) {
    case OPT_METADATA: return "RTSessionProviderMetadataURL";
    case OPT_ISSUER: return "RTSessionIssuer";
    case OPT_CLIENT_ID: return "RTSessionClientID";
    case OPT_CLIENT_SECRET_FILE: return "RTSessionClientSecretFile";
    case OPT_AUTH: return "RTSessionTokenEndpointAuth";
    case OPT_MEMCACHED: return "RTSessionMemcached";
    case OPT_MC_TIMEOUT: return "RTSessionMemcachedTimeout";
    case OPT_SECRET_FILE: return "RTSessionSecretFile";
    case OPT_CA_FILE: return "RTSessionCAFile";
    case OPT_HTTP_TIMEOUT: return "RTSessionHTTPTimeout";
    case OPT_BACKCHANNEL: return "RTSessionBackchannelLogoutPath";
    default: return NULL;
    }
}

/* ---- the core context ---- */

static int log_is_level(void *baton, int level)
{
    return level <= *(const int *)baton;
}

static void log_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    char err[120];

    if (rv != APR_SUCCESS) {
        fprintf(stderr, "rtsessionctl: [core] %s: %s\n", msg, apr_strerror(rv, err, sizeof(err)));
    }
    else {
        fprintf(stderr, "rtsessionctl: [core] %s\n", msg);
    }
}

rts_ctx_t *rtsctl_ctx(apr_pool_t *p, const rts_config_t *cfg, int verbose)
{
    rts_ctx_t *ctx = apr_pcalloc(p, sizeof(*ctx));
    rts_log_t *log = apr_pcalloc(p, sizeof(*log));
    int *level = apr_palloc(p, sizeof(*level));

    *level = verbose > 1 ? RTS_LOG_DEBUG : verbose ? RTS_LOG_INFO : -1;
    log->is_level = log_is_level;
    log->print = log_print;
    log->baton = level;
    ctx->pool = p;
    ctx->log = log;
    ctx->cfg = cfg;
    return ctx;
}

static int open_store(rts_ctx_t *ctx, const rtsctl_settings_t *st)
{
    apr_status_t rv = rts_store_memcached_create(ctx->pool, st->memcached, 1,
                                                 ctx->cfg->memcached_timeout, &ctx->store);

    if (rv != APR_SUCCESS) {
        fprintf(stderr, "rtsessionctl: creating the memcached client failed: %s\n",
                rts_strerror(ctx->pool, rv));
        return 0;
    }
    rts_store_memcached_set_log(ctx->store, ctx->log);
    return 1;
}

/* ---- time ---- */

/* "3h 2m 5s" */
static const char *span(apr_pool_t *p, apr_interval_time_t d)
{
    apr_int64_t s = apr_time_sec(d);

    if (s >= 3600) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "h %" APR_INT64_T_FMT "m", s / 3600,
                            s % 3600 / 60);
    }
    if (s >= 60) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "m %" APR_INT64_T_FMT "s", s / 60, s % 60);
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "s", s);
}

/* UTC time and how far from now. */
static const char *when(apr_pool_t *p, apr_time_t t, apr_time_t now)
{
    apr_time_exp_t x;

    if (!t) {
        return "unknown";
    }
    apr_time_exp_gmt(&x, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ (%s%s%s)", x.tm_year + 1900,
                        x.tm_mon + 1, x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec,
                        t >= now ? "in " : "", span(p, t >= now ? t - now : now - t),
                        t >= now ? "" : " ago");
}

/* ---- commands ---- */

static int cmd_gen_secret(apr_pool_t *p, const char *arg)
{
    long n = SECRET_BYTES_DEFAULT;
    const char *secret;
    char *end;

    if (arg) {
        n = strtol(arg, &end, 10);
        if (*end || n < SECRET_BYTES_MIN || n > 1024) {
            fprintf(stderr, "rtsessionctl: gen-secret: BYTES must be %d..1024\n",
                    SECRET_BYTES_MIN);
            return RTSCTL_USAGE;
        }
    }
    if (rts_random_token(p, (apr_size_t)n, &secret) != APR_SUCCESS) {
        fprintf(stderr, "rtsessionctl: gen-secret: the CSPRNG failed\n");
        return RTSCTL_FAIL;
    }
    printf("%s\n", secret);
    return RTSCTL_OK;
}

static int cmd_end_user(apr_pool_t *p, const rtsctl_settings_t *st, const rts_config_t *cfg,
                        const char *sub, int verbose)
{
    rts_ctx_t *ctx = rtsctl_ctx(p, cfg, verbose);
    apr_status_t rv;
    int ended = 0;

    if (!cfg->backchannel_path) {
        fprintf(stderr, "rtsessionctl: end-user: this configuration has no "
                "RTSessionBackchannelLogoutPath, and the module indexes sessions by user only "
                "when it is set: the sessions of %s cannot be found. They end at their idle "
                "timeout or maximum lifetime; a new RTSessionSecret (without the old one) ends "
                "every session of every user (docs/rtsessionctl.md)\n", sub);
        return RTSCTL_FAIL;
    }
    if (!open_store(ctx, st)) {
        return RTSCTL_FAIL;
    }
    rv = rts_backchannel_end_user(ctx, sub, &ended);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "rtsessionctl: end-user: %d session(s) of %s ended, then the session "
                "store failed (%s): run the command again\n", ended, sub,
                rv == APR_EEXIST ? "the user's index kept changing" : rts_strerror(p, rv));
        return RTSCTL_FAIL;
    }
    printf("ended %d session(s) of %s (issuer %s, client %s)\n", ended, sub, cfg->issuer,
           cfg->client_id);
    printf("note: logins of %s that were completing are refused; a session created while no "
           "RTSessionBackchannelLogoutPath was set is in no index and was not found; a session "
           "whose index item memcached evicted ends at its next refresh or idle slide\n", sub);
    return RTSCTL_OK;
}

/* A value the provider chose (the sub), as one line with control characters neutralised: the
 * module's rule for foreign text (rts_claim_value), so no escape sequence reaches the terminal. */
static const char *foreign_text(apr_pool_t *p, const char *v)
{
    const char *text = NULL;

    if (!v) {
        return "-";
    }
    rts_claim_value(p, rts_json_pool_own(p, json_string(v)), RTS_CLAIM_AS_TEXT, &text);
    return text ? text : "?";
}

/* The cookie value, from the argument or stdin; "NAME=VALUE" (a Cookie header's pair) is
 * accepted too. */
static const char *cookie_input(apr_pool_t *p, const char *arg)
{
    char buf[COOKIE_INPUT_MAX];
    char *v, *end, *eq;

    if (arg && strcmp(arg, "-")) {
        v = apr_pstrdup(p, arg);
    }
    else {
        if (!fgets(buf, sizeof(buf), stdin)) {
            return NULL;
        }
        v = apr_pstrdup(p, buf);
        OPENSSL_cleanse(buf, sizeof(buf));
    }
    while (apr_isspace(*v)) {
        v++;
    }
    end = v + strlen(v);
    while (end > v && (apr_isspace(end[-1]) || end[-1] == ';')) {
        *--end = '\0';
    }
    if ((eq = strrchr(v, '=')) != NULL) {
        v = eq + 1;
    }
    return v;
}

static int cmd_show(apr_pool_t *p, const rtsctl_settings_t *st, const rts_config_t *cfg,
                    const char *arg, int verbose)
{
    rts_ctx_t *ctx = rtsctl_ctx(p, cfg, verbose);
    const char *id = cookie_input(p, arg);
    apr_time_t now = apr_time_now();
    rts_session_t *s;
    apr_status_t rv;
    int i, which = 0;

    if (!id || !rts_session_id_valid(id)) {
        fprintf(stderr, "rtsessionctl: show: not a session cookie value (%d base64url "
                "characters expected)\n", 43);
        return RTSCTL_USAGE;
    }
    if (!open_store(ctx, st)) {
        return RTSCTL_FAIL;
    }
    rv = rts_session_load(ctx, id, &s);
    if (rv == APR_ENOENT) {
        printf("session %s: not found (ended, expired, or not of this configuration: secret, "
               "issuer and client id must be the module's)\n", rts_log_fingerprint(p, id));
        return RTSCTL_FAIL;
    }
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "rtsessionctl: show: the session store failed: %s\n",
                rts_strerror(p, rv));
        return RTSCTL_FAIL;
    }
    for (i = 0; i < cfg->secrets->nelts; i++) {
        if (s->secret == &APR_ARRAY_IDX(cfg->secrets, i, rts_secret_t)) {
            which = i + 1;
        }
    }
    /* metadata only: never a token, never the cookie value */
    printf("session:               %s (fingerprint)\n", rts_log_fingerprint(p, id));
    printf("user (sub):            %s\n", foreign_text(p, s->sub));
    printf("provider session (sid): %s\n", s->sid ? rts_log_fingerprint(p, s->sid)
                                                  : "- (the ID token had no sid)");
    printf("created:               %s\n", when(p, s->created, now));
    printf("ends at the latest:    %s (RTSessionMaxLifetime)\n",
           when(p, s->created + cfg->session_max, now));
    printf("last written:          %s\n", when(p, s->seen, now));
    printf("access token expires:  %s\n", when(p, s->at_expires, now));
    printf("refresh token:         %s\n", !s->refresh_token ? "none"
           : apr_pstrcat(p, "held, expires ", when(p, s->rt_expires, now), NULL));
    printf("generation:            %" APR_INT64_T_FMT "\n", s->gen);
    printf("refresh intent:        %s\n", s->intent_owner && s->intent_until > now
           ? apr_pstrcat(p, "held until ", when(p, s->intent_until, now), NULL)
           : s->intent_owner ? apr_pstrcat(p, "lapsed at ", when(p, s->intent_until, now), NULL)
                           : "none");
    printf("refresh backoff:       %s\n", s->retry_at > now
           ? apr_psprintf(p, "step %d, no token call before %s", s->retry_step,
                          when(p, s->retry_at, now))
           : s->retry_step ? apr_psprintf(p, "step %d, due now", s->retry_step) : "none");
    printf("lost refresh answers:  %d%s\n", s->rt_lost,
           s->rt_lost ? " (the refresh token may be spent)" : "");
    printf("opened with:           secret %d of %d\n", which, cfg->secrets->nelts);
    return RTSCTL_OK;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    apr_getopt_t *opt;
    const char *optval, *file = NULL, *root = "/etc/apache2", *vhost = NULL, *err, *where;
    const char *cmd, *arg;
    apr_array_header_t *overrides;
    rtsctl_settings_t st;
    rts_config_t *cfg;
    int optch, verbose = 0, i, rc, secrets_overridden = 0;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    overrides = apr_array_make(p, 8, sizeof(const char *));
    apr_getopt_init(&opt, p, argc, argv);
    opt->errfn = NULL;
    while ((rv = apr_getopt_long(opt, options, &optch, &optval)) == APR_SUCCESS) {
        switch (optch) {
        case 'f': file = optval; break;
        case 'd': root = optval; break;
        case OPT_VHOST: vhost = optval; break;
        case 'v': verbose++; break;
        case 'h': fputs(usage_text, stdout); return RTSCTL_OK;
        case 'V': printf("rtsessionctl (mod_rtsession) %s\n", rts_version()); return RTSCTL_OK;
        default:
            APR_ARRAY_PUSH(overrides, const char *) = override_name(optch);
            APR_ARRAY_PUSH(overrides, const char *) = optval;
        }
    }
    if (rv != APR_EOF || opt->ind >= argc) {
        fputs(rv != APR_EOF ? "rtsessionctl: unknown option or missing argument\n\n"
                            : "rtsessionctl: no command\n\n", stderr);
        fputs(usage_text, stderr);
        return RTSCTL_USAGE;
    }
    cmd = argv[opt->ind];
    arg = opt->ind + 1 < argc ? argv[opt->ind + 1] : NULL;
    if (opt->ind + 2 < argc) {
        fprintf(stderr, "rtsessionctl: %s: too many arguments\n", cmd);
        return RTSCTL_USAGE;
    }
    if (!strcmp(cmd, "gen-secret")) {
        return cmd_gen_secret(p, arg);
    }
    if (strcmp(cmd, "end-user") && strcmp(cmd, "show") && strcmp(cmd, "check")) {
        fprintf(stderr, "rtsessionctl: unknown command %s (see --help)\n", cmd);
        return RTSCTL_USAGE;
    }
    if (!strcmp(cmd, "end-user") && (!arg || !*arg)) {
        fprintf(stderr, "rtsessionctl: end-user: which user (the sub claim)?\n");
        return RTSCTL_USAGE;
    }

    rtsctl_settings_init(&st);
    where = "command line";
    if (file && (err = rtsctl_conf_read(p, file, root, vhost, &st, &where)) != NULL) {
        fprintf(stderr, "rtsessionctl: %s\n", err);
        return RTSCTL_USAGE;
    }
    for (i = 0; i < overrides->nelts; i += 2) {
        const char *name = APR_ARRAY_IDX(overrides, i, const char *);
        if (!strcmp(name, "RTSessionSecretFile") && !secrets_overridden++) {
            st.secrets = NULL;     /* the flags replace the file's secrets */
        }
        if ((err = rtsctl_conf_set(p, &st, root, name,
                                   APR_ARRAY_IDX(overrides, i + 1, const char *))) != NULL) {
            fprintf(stderr, "rtsessionctl: %s\n", err);
            return RTSCTL_USAGE;
        }
    }
    err = rtsctl_conf_build(p, &st, !strcmp(cmd, "check") ? "pm" : "km", &cfg);
    if (err) {
        fprintf(stderr, "rtsessionctl: %s: %s\n", where, err);
        return RTSCTL_USAGE;
    }
    if (verbose || strstr(where, "--vhost")) {
        fprintf(stderr, "rtsessionctl: configuration: %s\n", where);
    }
    if (!strcmp(cmd, "end-user")) {
        rc = cmd_end_user(p, &st, cfg, arg, verbose);
    }
    else if (!strcmp(cmd, "show")) {
        rc = cmd_show(p, &st, cfg, arg, verbose);
    }
    else {
        rts_config_t *with_keys;
        rc = rtsctl_check(p, &st, cfg, where, rtsctl_conf_build(p, &st, "k", &with_keys),
                          verbose);
    }
    apr_pool_destroy(p);
    return rc;
}
