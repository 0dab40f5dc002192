/* SPDX-License-Identifier: Apache-2.0 */
/* Version strings (rts_version.h). The only core file that reads config.h: httpd's own
 * ap_config_auto.h defines the same PACKAGE_* macros, so the glue must not see it. */
#include "config.h"
#include <apr_strings.h>
#include <apr_version.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libmemcached/memcached.h>
#include <openssl/crypto.h>
#include "rts_version.h"

const char *rts_version(void)
{
    return PACKAGE_VERSION;
}

const char *rts_version_libraries(apr_pool_t *p)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

    return apr_psprintf(p, "libcurl/%s OpenSSL/%s libmemcached/%s jansson/%s APR/%s",
                        curl ? curl->version : "?", OpenSSL_version(OPENSSL_VERSION_STRING),
                        memcached_lib_version(), JANSSON_VERSION, apr_version_string());
}
