/* SPDX-License-Identifier: Apache-2.0 */
/* The one rule for a claim value that leaves the module: as REMOTE_USER (r->user) and the user
 * header, as a claim header, as an RTS_CLAIM_* environment variable, or in a log line.
 *
 * A value is safe when it holds no control character (C0 including CR, LF, TAB and NUL; DEL;
 * the C1 range U+0080-U+009F) and is not over-long. UTF-8 passes through unchanged: RFC 9110
 * (5.5) lets field values carry such octets (obs-text), which recipients treat as opaque, and
 * backends expect names such as "José" as the provider sent them.
 *
 * - The user name is refused when it is not safe (never neutralised: two different names must
 *   not become one user): the login, or the request of a session, is refused with a page.
 * - Every other use is neutralised: each control character becomes one space, an over-long
 *   value is dropped (the header or variable is left out). */
#ifndef RTS_CLAIM_H
#define RTS_CLAIM_H

#include <jansson.h>
#include "rts.h"

#define RTS_CLAIM_USER_MAX 256     /* bytes of a user name */
#define RTS_CLAIM_TEXT_MAX 8192    /* bytes of a header or environment value */

typedef enum {
    RTS_CLAIM_OK = 0,
    RTS_CLAIM_ABSENT,              /* absent or JSON null */
    RTS_CLAIM_NOT_STRING,          /* a user name must be a JSON string */
    RTS_CLAIM_EMPTY,               /* a user name must not be empty */
    RTS_CLAIM_CONTROL,             /* holds a control character (text: neutralised) */
    RTS_CLAIM_TOO_LONG             /* over the bound (text: dropped) */
} rts_claim_verdict_t;

typedef enum {
    RTS_CLAIM_AS_USER,             /* a non-empty string, safe as it is, or nothing */
    RTS_CLAIM_AS_TEXT              /* any JSON value as one line: arrays comma-joined, numbers
                                    * and booleans as JSON text, objects as compact JSON */
} rts_claim_use_t;

/* Applies the rule to claim value v (NULL: absent). *ptext is the value to use, or NULL when
 * there is none: as user, only with RTS_CLAIM_OK; as text, also with RTS_CLAIM_CONTROL (then
 * neutralised). The text lives in p, or in v when it needed no change. Returns what was found
 * in the raw value. */
rts_claim_verdict_t rts_claim_value(apr_pool_t *p, const json_t *v, rts_claim_use_t use,
                                    const char **ptext);

/* The verdict in words, for log lines ("holds a control character (CR, LF, NUL, ...)"). */
const char *rts_claim_verdict_text(rts_claim_verdict_t verdict);

#endif
