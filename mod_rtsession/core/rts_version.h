/* SPDX-License-Identifier: Apache-2.0 */
/* The module's version, and the versions of the libraries it runs with: for the startup log
 * line and httpd's server banner (ServerTokens Full), so that a bug report names them all. */
#ifndef RTS_VERSION_H
#define RTS_VERSION_H

#include <apr_pools.h>

/* "0.6.0": the version configure.ac declares. */
const char *rts_version(void);

/* "libcurl/7.88.1 OpenSSL/3.0.17 libmemcached/1.1.4 jansson/2.14 APR/1.7.2": the versions
 * found at run time (jansson's is the one compiled against: it has no run-time query before
 * 2.13). */
const char *rts_version_libraries(apr_pool_t *p);

#endif
