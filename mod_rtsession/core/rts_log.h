/* SPDX-License-Identifier: Apache-2.0 */
/* Logging through a sink the caller provides. Levels have httpd's APLOG_* numbers, so the
 * Apache glue forwards with a cast. Messages carry a tag, RTS_LOGNO(nnnnn), registered in
 * docs/log-tags.md. Never pass a token, code, secret or cookie value to these functions. */
#ifndef RTS_LOG_H
#define RTS_LOG_H

#include <stdarg.h>
#include <apr_pools.h>
#include <apr_errno.h>

typedef enum {
    RTS_LOG_EMERG = 0, RTS_LOG_ALERT, RTS_LOG_CRIT, RTS_LOG_ERR, RTS_LOG_WARNING,
    RTS_LOG_NOTICE, RTS_LOG_INFO, RTS_LOG_DEBUG,
    RTS_LOG_TRACE1, RTS_LOG_TRACE2, RTS_LOG_TRACE3, RTS_LOG_TRACE4,
    RTS_LOG_TRACE5, RTS_LOG_TRACE6, RTS_LOG_TRACE7, RTS_LOG_TRACE8
} rts_log_level_t;

struct rts_log_t {
    /* Non-zero when a message at this level would be written; formatting is skipped otherwise. */
    int (*is_level)(void *baton, int level);
    void (*print)(void *baton, const char *file, int line, int level, apr_status_t rv,
                  const char *msg);
    void *baton;
};

#define RTS_LOG_MARK __FILE__, __LINE__
#define RTS_LOGNO(n) "RTS" #n ": "

int rts_log_is_level(const struct rts_log_t *log, int level);

void rts_log_perror(const struct rts_log_t *log, const char *file, int line, int level,
                    apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* A short, non-reversible fingerprint of a secret value, for correlating log lines. */
const char *rts_log_fingerprint(apr_pool_t *p, const char *value);

#endif
