/* SPDX-License-Identifier: Apache-2.0 */
/* The session record's plaintext, before sealing: a fixed binary layout, so that reading it on
 * every request costs bounds checks and pointer assignments instead of a JSON parse (the ID
 * token is most of its bytes). Format 3, big-endian:
 *
 *   u8      format (3)
 *   u64     gen
 *   5 x i64 at_expires, rt_expires, created, seen, intent_until, in ms since the epoch (0: unset)
 *   6 x str sub, id_token, access_token, refresh_token, sid, intent_owner
 *           str = u16 length (0xFFFF: absent), the bytes, one NUL byte
 *   2 x i64 at_issued, retry_at (ms, 0: unset)                       } added in format 3
 *   u8      retry_step (0..RTS_SESSION_CODEC_MAX_STEP)                } (refresh outcomes)
 *   u8      rt_lost (0..3)                                            }
 *
 * Format 2 (the same without the last four fields) is still read, as unset fields: an upgrade
 * keeps every session. A host on the previous release cannot read format 3 (docs/install.md).
 *
 * The stored NUL makes decoding zero-copy: the strings point into the opened plaintext. */
#ifndef RTS_SESSION_CODEC_H
#define RTS_SESSION_CODEC_H

#include "rts_session.h"

#define RTS_SESSION_CODEC_FORMAT 3
#define RTS_SESSION_CODEC_FORMAT_OLD 2    /* still read */
#define RTS_SESSION_CODEC_MAX_STEP 32
#define RTS_SESSION_CODEC_MAX_STR 0xFFFEu

/* The persisted fields of s as a record plaintext. APR_EINVAL when a string is too long. */
apr_status_t rts_session_encode(apr_pool_t *p, const rts_session_t *s, const unsigned char **out,
                                apr_size_t *out_len);

/* Fills the persisted fields of s from a plaintext; the strings point into buf, which must stay
 * alive as long as s. RTS_EBADTOKEN when the layout, a bound or a required field (sub,
 * access_token) is wrong, or a string holds a NUL. */
apr_status_t rts_session_decode(const unsigned char *buf, apr_size_t len, rts_session_t *s);

#endif
