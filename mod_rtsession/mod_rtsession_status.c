/* SPDX-License-Identifier: Apache-2.0 */
/* SetHandler rtsession-status: the module's counters in the Prometheus text format, summed
 * across every process of this httpd. The counters are one rts_metrics_t in anonymous shared
 * memory (a file in the runtime directory where anonymous memory is not available), made
 * once per httpd lifetime from the process pool and kept across graceful restarts through
 * retained data, like mod_status's scoreboard; the children inherit it by fork. */
#include <string.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_log.h"
#include "mod_rtsession_status.h"
#include "rts_metrics.h"

#define STATUS_HANDLER "rtsession-status"
#define RETAINED_KEY "mod_rtsession-metrics"
#define SHM_FILE "rtsession-metrics.shm"

/* Set in the parent at post_config; the children inherit the mapping. */
static rts_metrics_t *shared_metrics;

static apr_status_t metrics_shm_create(server_rec *s, apr_shm_t **pshm)
{
    apr_pool_t *pool = s->process->pool;
    apr_status_t rv = apr_shm_create(pshm, sizeof(rts_metrics_t), NULL, pool);
    const char *fname;

    if (rv != APR_ENOTIMPL) {
        return rv;
    }
    fname = ap_runtime_dir_relative(pool, SHM_FILE);
    apr_shm_remove(fname, pool);
    return apr_shm_create(pshm, sizeof(rts_metrics_t), fname, pool);
}

int mrts_status_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    rts_metrics_t **retained = ap_retained_data_get(RETAINED_KEY);
    apr_shm_t *shm;
    apr_status_t rv;

    if (!retained || !*retained) {
        rv = metrics_shm_create(s, &shm);
        if (rv != APR_SUCCESS) {
            /* The module works without counters; the status page says they are missing. */
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                         RTSLOGNO(10350) "creating shared memory for the counters failed; "
                         "rtsession-status will report nothing");
            shared_metrics = NULL;
            return OK;
        }
        retained = ap_retained_data_create(RETAINED_KEY, sizeof(*retained));
        *retained = apr_shm_baseaddr_get(shm);
        memset(*retained, 0, sizeof(rts_metrics_t));
    }
    shared_metrics = *retained;
    return OK;
}

rts_metrics_t *mrts_status_metrics(void)
{
    return shared_metrics;
}

int mrts_status_handler(request_rec *r)
{
    if (!r->handler || strcmp(r->handler, STATUS_HANDLER)) {
        return DECLINED;
    }
    r->allowed = (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!shared_metrics) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "[rid %s] " RTSLOGNO(10351) "rtsession-status: no shared counters (see "
                      "RTS10350 at startup)", mrts_log_id(r));
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    ap_rputs(rts_metrics_format(r->pool, shared_metrics), r);
    return OK;
}
