/* SPDX-License-Identifier: Apache-2.0 */
/* Log sink dispatch. Formatting happens only when the level is enabled. */
#include <stdio.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_log.h"
#include "rts_crypto.h"
#include "rts_util.h"

int rts_log_is_level(const rts_log_t *log, int level)
{
    return log && log->print && (!log->is_level || log->is_level(log->baton, level));
}

void rts_log_perror(const rts_log_t *log, const char *file, int line, int level,
                    apr_status_t rv, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;

    if (!rts_log_is_level(log, level)) {
        return;
    }
    va_start(ap, fmt);
    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log->print(log->baton, file, line, level, rv, buf);
}

const char *rts_log_fingerprint(apr_pool_t *p, const char *value)
{
    unsigned char digest[RTS_SHA256_LEN];

    if (!value) {
        return "-";
    }
    if (rts_sha256(value, strlen(value), digest) != APR_SUCCESS) {
        return "?";
    }
    /* 6 bytes: enough to correlate lines, far too little to recover or replay anything. */
    return rts_b64url_encode(p, digest, 6);
}
