/* SPDX-License-Identifier: Apache-2.0 */
/* OpenID Connect Back-Channel Logout 1.0: the provider POSTs a logout_token; every session of
 * its sid (or, without sid, of its sub) ends, on every host (all state is in memcached).
 * Design and guarantees: docs/logout.md, "Back-channel logout".
 *
 * To find sessions by sid/sub without scanning memcached, each login with a configured
 * back-channel endpoint adds its store key to two small index items, one per (iss, sid) and one
 * per (iss, sub): key "rts:b:" + b64url(HMAC(K_id, kind ":" iss "\n" value)), value JSON
 * {"k": [store keys], "a": [their auth times], "x": logout iat, "t": logout time}. Every change
 * is a compare-and-swap (or an add when absent), so no concurrent login or logout is lost. A
 * logout empties the item and leaves "x"/"t" in it (a tombstone): a login of that sid or sub
 * that began before the logout and whose callback completes after it is refused. Items
 * expire with the longest session (RTSessionMaxLifetime). An item holds at most
 * RTS_BACKCHANNEL_INDEX_MAX sessions: the login that would add one more ends the oldest.
 * Store keys are HMACs: the index yields no cookie and no token, and the item names no user. */
#ifndef RTS_BACKCHANNEL_H
#define RTS_BACKCHANNEL_H

#include <jansson.h>
#include "rts.h"
#include "rts_result.h"
#include "rts_session.h"

#define RTS_BACKCHANNEL_EVENT "http://schemas.openid.net/event/backchannel-logout"
/* The longest jti accepted (it names a store record through an HMAC, so only a sanity bound). */
#define RTS_BACKCHANNEL_JTI_MAX 256
#define RTS_BACKCHANNEL_INDEX_MAX 64
#define RTS_LOGOUT_TOKEN_MAX (16 * 1024)

/* Status of the index functions: the session's sid or sub was logged out by the provider after
 * its login began; the session must not live. */
#define RTS_BACKCHANNEL_LOGGED_OUT APR_EACCES

/* Adds a new session to the (iss, sid) and (iss, sub) indexes. auth_time: the ID token's
 * auth_time (else its iat), provider clock, seconds (a sub logout spares sessions authenticated
 * after its iat, so a delayed duplicate cannot end a later login); login_started: when this
 * login began (pending login), our clock. RTS_BACKCHANNEL_LOGGED_OUT when a back-channel logout came
 * first (see above); a store failure as returned. Either way the caller must not let the
 * session live (it is unreachable by a later logout otherwise). Sessions that fall out of a
 * full index are deleted here (logged, counted). */
apr_status_t rts_backchannel_index_add(rts_ctx_t *ctx, const rts_session_t *s,
                                       apr_int64_t auth_time, apr_time_t login_started);

/* For a session that is being written anyway (refresh) or slid (touch): reads its index items,
 * which makes them as recent in memcached's LRU as the session; puts the session back in an item
 * memcached evicted; and tells whether a logout reached the item that the session escaped
 * (evicted index, or a logout while it was being indexed): RTS_BACKCHANNEL_LOGGED_OUT then.
 * Never on the hot path. APR_SUCCESS or a store failure (callers go on). */
apr_status_t rts_backchannel_session_check(rts_ctx_t *ctx, const rts_session_t *s);

/* Validates a logout token (§2.6): signature with the provider's JWKS (one refetch on an
 * unknown key), then typ, aud and times by the rules of every JWT (rts_jwt_claims.h: typ
 * absent, JWT or logout+jwt; aud containing client_id; iat required, exp optional), iss, events with the
 * back-channel logout member (a JSON object), no nonce, sid and/or sub.
 * RTS_EBADTOKEN with res->description saying which rule failed; a provider failure as returned
 * by the provider cache. *pclaims: the validated claims. */
apr_status_t rts_backchannel_validate(rts_ctx_t *ctx, const char *logout_token,
                                      json_t **pclaims, rts_result_t *res);

/* Ends every indexed session of sub, as a back-channel logout by sub does (every configured
 * secret's item, a tombstone that refuses a login of sub begun before now), but sparing none:
 * an administrator's "end this user everywhere" (rtsessionctl end-user). Sessions created
 * while no back-channel endpoint was configured are in no index and stay. *pended: how many
 * records were deleted. APR_SUCCESS, APR_EINVAL (no sub), APR_EEXIST (the item kept changing)
 * or a store failure (some sessions may be ended already: run it again). */
apr_status_t rts_backchannel_end_user(rts_ctx_t *ctx, const char *sub, int *pended);

/* The endpoint: body is the POSTed form (application/x-www-form-urlencoded). A token whose jti
 * was recorded within its acceptance window (iat_max_age) is refused as a replay; the jti is
 * recorded only once its sessions are ended, so a delivery that failed half-way (503) is
 * processed again when the provider retries. APR_SUCCESS when
 * the sessions are ended (*pended: how many records were deleted; 0 is a success too: they
 * may have expired); RTS_EBADINPUT / RTS_EBADTOKEN with res->error and res->description for
 * the 400 answer; a store failure otherwise (the provider may retry). */
apr_status_t rts_backchannel_handle(rts_ctx_t *ctx, const char *body, apr_size_t len,
                                    int *pended, rts_result_t *res);

#endif
