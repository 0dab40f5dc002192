/* SPDX-License-Identifier: Apache-2.0 */
/* Log sinks: the core logs through rts_log_t; these print into httpd's error log under the
 * module's log level, with the request id on every request line. */
#include <http_core.h>
#include <http_protocol.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_log.h"

static int req_is_level(void *baton, int level)
{
    request_rec *r = baton;

    return APLOG_R_MODULE_IS_LEVEL(r, APLOG_MODULE_INDEX, level);
}

/* The request's id: mod_unique_id's when it is loaded, httpd's own otherwise (both through
 * the generate_log_id hook, as ErrorLogFormat's %L does), made on first use. */
const char *mrts_log_id(request_rec *r)
{
    if (!r->log_id) {
        ap_run_generate_log_id(r->connection, r, &r->log_id);
    }
    return r->log_id ? r->log_id : "-";
}

/* The module's own status codes mean nothing to apr_strerror ("APR does not understand this
 * error code"): they are logged as text after the message, with no status. */
static void req_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    request_rec *r = baton;

    /* on every line, whatever the ErrorLogFormat, so an error page's reference finds it */
    if (rts_is_own_status(rv)) {
        ap_log_rerror_(file, line, APLOG_MODULE_INDEX, level, 0, r, "[rid %s] %s (%s)",
                       mrts_log_id(r), msg, rts_strerror(r->pool, rv));
        return;
    }
    ap_log_rerror_(file, line, APLOG_MODULE_INDEX, level, rv, r, "[rid %s] %s",
                   mrts_log_id(r), msg);
}

rts_log_t *mrts_log_request(request_rec *r)
{
    rts_log_t *log = apr_pcalloc(r->pool, sizeof(*log));

    log->is_level = req_is_level;
    log->print = req_print;
    log->baton = r;
    return log;
}

static int srv_is_level(void *baton, int level)
{
    server_rec *s = baton;

    return APLOG_MODULE_IS_LEVEL(s, APLOG_MODULE_INDEX, level);
}

static void srv_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    server_rec *s = baton;

    if (rts_is_own_status(rv)) {
        ap_log_error_(file, line, APLOG_MODULE_INDEX, level, 0, s, "%s (%s)", msg,
                      rts_strerror(s->process->pool, rv));
        return;
    }
    ap_log_error_(file, line, APLOG_MODULE_INDEX, level, rv, s, "%s", msg);
}

rts_log_t *mrts_log_server(apr_pool_t *p, server_rec *s)
{
    rts_log_t *log = apr_pcalloc(p, sizeof(*log));

    log->is_level = srv_is_level;
    log->print = srv_print;
    log->baton = s;
    return log;
}
