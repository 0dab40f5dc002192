/* OpenID Connect Back-Channel Logout 1.0: the provider POSTs a logout_token; every session of
 * its sid (or, without sid, of its sub) ends, on every host (all state is in memcached).
 *
 * To find sessions by sid/sub without scanning memcached, each login with a configured
 * back-channel endpoint adds its store key to two small index items, one per (iss, sid) and one
 * per (iss, sub): key "rts:b:" + b64url(HMAC(K_id, kind ":" iss "\n" value)), value a JSON array
 * of store keys (the newest RTS_BACKCHANNEL_INDEX_MAX), updated by add or compare-and-swap,
 * expiring with the longest session they name. Store keys are HMACs: the index yields no cookie
 * and no token, and the item names no user. */
#ifndef RTS_BACKCHANNEL_H
#define RTS_BACKCHANNEL_H

#include <jansson.h>
#include "rts.h"
#include "rts_result.h"
#include "rts_session.h"

#define RTS_BACKCHANNEL_EVENT "http://schemas.openid.net/event/backchannel-logout"
#define RTS_BACKCHANNEL_INDEX_MAX 64
#define RTS_LOGOUT_TOKEN_MAX (16 * 1024)

/* Adds a new session to the (iss, sid) and (iss, sub) indexes. Failures are returned (and
 * logged); the login goes on without back-channel reach for that session. */
apr_status_t rts_backchannel_index_add(rts_ctx_t *ctx, const rts_session_t *s);

/* Validates a logout token (§2.6): signature with the provider's JWKS (one refetch on an
 * unknown key), typ absent/JWT/logout+jwt, iss, aud contains client_id, iat present and not in
 * the future nor older than cfg->iat_max_age, exp (when present) not passed, events with the
 * back-channel logout member (a JSON object), no nonce, sid and/or sub.
 * RTS_EBADTOKEN with res->description saying which rule failed; a provider failure as returned
 * by the provider cache. *pclaims: the validated claims. */
apr_status_t rts_backchannel_validate(rts_ctx_t *ctx, const char *logout_token,
                                      json_t **pclaims, rts_result_t *res);

/* The endpoint: body is the POSTed form (application/x-www-form-urlencoded). A token whose jti
 * was seen within its acceptance window (iat_max_age) is refused as a replay. APR_SUCCESS when
 * the sessions are ended (*pended: how many records were deleted; 0 is a success too: they
 * may have expired); RTS_EBADINPUT / RTS_EBADTOKEN with res->error and res->description for
 * the 400 answer; a store failure otherwise (the provider may retry). */
apr_status_t rts_backchannel_handle(rts_ctx_t *ctx, const char *body, apr_size_t len,
                                    int *pended, rts_result_t *res);

#endif
