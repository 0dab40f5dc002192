/* SPDX-License-Identifier: Apache-2.0 */
/* The "claim" authz provider: `Require claim NAME:VALUE [NAME:VALUE ...]` grants when any pair
 * matches (a string claim equal to VALUE, or an array claim with VALUE as a member; numbers and
 * booleans compare by their JSON text). Combine several under <RequireAll>/<RequireAny>. */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <ap_provider.h>
#include <http_core.h>
#include <http_request.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_auth.h>
#include "mod_rtsession_private.h"
#include "mod_rtsession_authz.h"
#include "mod_rtsession_ctx.h"
#include "mod_rtsession_log.h"
#include "rts_json.h"

#define DENIED_PAGE "<!DOCTYPE html><html><head><title>Access denied</title></head><body>" \
                    "<h1>Access denied</h1><p>You are logged in, but your account is not " \
                    "allowed to use this resource.</p></body></html>\n"

typedef struct {
    const char *name;
    const char *value;
} claim_req_t;

static int json_matches(apr_pool_t *p, const json_t *v, const char *want)
{
    const char *text;

    if (json_is_string(v)) {
        return !strcmp(json_string_value(v), want);
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) {
            if (!json_is_array(item) && json_matches(p, item, want)) {
                return 1;
            }
        }
        return 0;
    }
    if (json_is_number(v) || json_is_boolean(v)) {
        text = rts_json_dump(p, v, NULL);
        return text && !strcmp(text, want);
    }
    return 0;
}

static const char *parse_claim_line(cmd_parms *cmd, const char *line_text,
                                    const void **parsed)
{
    apr_array_header_t *reqs = apr_array_make(cmd->pool, 2, sizeof(claim_req_t));
    const char *line = line_text, *word;

    while (*(word = ap_getword_conf(cmd->pool, &line))) {
        const char *colon = strchr(word, ':');
        claim_req_t *cr;
        if (!colon || colon == word) {
            return apr_psprintf(cmd->pool, "Require claim: '%s' is not NAME:VALUE", word);
        }
        cr = apr_array_push(reqs);
        cr->name = apr_pstrmemdup(cmd->pool, word, (apr_size_t)(colon - word));
        cr->value = colon + 1;
    }
    if (!reqs->nelts) {
        return "Require claim: expects at least one NAME:VALUE";
    }
    *parsed = reqs;
    return NULL;
}

static authz_status check_claim(request_rec *r, const char *line_text, const void *parsed)
{
    const apr_array_header_t *reqs = parsed;
    json_t *claims;
    int i;

    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;   /* authenticate first */
    }
    claims = mrts_ctx_claims(r);
    for (i = 0; claims && i < reqs->nelts; i++) {
        const claim_req_t *cr = &APR_ARRAY_IDX(reqs, i, claim_req_t);
        if (json_matches(r->pool, json_object_get(claims, cr->name), cr->value)) {
            return AUTHZ_GRANTED;
        }
    }
    if (!claims || !*r->user) {
        return AUTHZ_DENIED_NO_USER;   /* RTSessionUnauthAction pass: not logged in */
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "[rid %s] " RTSLOGNO(10323) "user %s lacks the claim required by "
                  "'Require claim %s'", mrts_log_id(r), r->user, line_text);
    /* The page, should this denial decide the request: 403 with AuthzSendForbiddenOnFailure
     * On, else httpd's 401 for authenticated users. */
    ap_custom_response(r, HTTP_FORBIDDEN, DENIED_PAGE);
    ap_custom_response(r, HTTP_UNAUTHORIZED, DENIED_PAGE);
    return AUTHZ_DENIED;
}

const authz_provider mrts_authz_claim_provider = {
    &check_claim,
    &parse_claim_line,
};
