/* SPDX-License-Identifier: Apache-2.0 */
/* The logout endpoint (RTSessionLogoutPath), answered in quick_handler like the redirect URI. */
#ifndef MOD_RTSESSION_LOGOUT_H
#define MOD_RTSESSION_LOGOUT_H

#include <httpd.h>

int mrts_logout_quick_handler(request_rec *r, int lookup_uri);

#endif
