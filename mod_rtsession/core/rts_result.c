/* SPDX-License-Identifier: Apache-2.0 */
/* Failure records and status texts. */
#include <stdarg.h>
#include <apr_strings.h>
#include "rts.h"
#include "rts_result.h"

void rts_result_reset(rts_result_t *res)
{
    res->status = APR_SUCCESS;
    res->http_status = 0;
    res->error = NULL;
    res->description = NULL;
    res->retry_after = 0;
}

apr_status_t rts_result_set(rts_result_t *res, apr_pool_t *p, apr_status_t status, int http_status,
                            const char *error, const char *fmt, ...)
{
    va_list ap;

    if (!res) {
        return status;
    }
    res->status = status;
    res->http_status = http_status;
    res->error = error;
    res->retry_after = 0;
    va_start(ap, fmt);
    res->description = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return status;
}

int rts_is_own_status(apr_status_t rv)
{
    return rv > RTS_ERR_BASE && rv <= RTS_ERR_LAST;
}

const char *rts_strerror(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    switch (rv) {
    case RTS_EBADTOKEN:     return "invalid token";
    case RTS_ENOKEY:        return "no matching key";
    case RTS_EOAUTH:        return "provider returned an OAuth error";
    case RTS_EINVALIDGRANT: return "provider returned invalid_grant";
    case RTS_EUPSTREAM:     return "unusable answer from the provider";
    case RTS_ETOOLARGE:     return "size limit exceeded";
    case RTS_ESTATE:        return "login state missing or invalid";
    case RTS_ECONFIG:       return "configuration error";
    case RTS_EBADINPUT:     return "malformed input";
    case RTS_ESTORE:        return "session store failure";
    case RTS_ESTOREUNKNOWN: return "session store write outcome unknown";
    case RTS_ESTOREDOWN:    return "session store server failed fast (down or refused)";
    case RTS_ESTOREGONE:    return "session store server down longer than its grace (records taken as lost)";
    default:
        return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
    }
}
