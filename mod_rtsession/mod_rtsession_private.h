/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the Apache glue: the module record and log binding. */
#ifndef MOD_RTSESSION_PRIVATE_H
#define MOD_RTSESSION_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA rtsession_module;

#ifdef APLOG_USE_MODULE
APLOG_USE_MODULE(rtsession);
#endif

/* Our own log tags (httpd's AH numbers are for modules shipped with httpd). */
#define RTSLOGNO(n) "RTS" #n ": "

#endif
