/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for rts_jwt_claims: every rule of the claims shared by ID tokens, logout tokens and
 * JWT access tokens, one table per claim. Claims are JSON texts parsed by jansson as a provider's
 * would be (integers and reals as the text says). */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>
#include "test_common.h"
#include "rts.h"
#include "rts_json.h"
#include "rts_jwt_claims.h"

#define NOW 1700000000LL

static json_t *claims_of(const char *text)
{
    json_t *o = NULL;

    ck_assert_msg(rts_json_parse_object(rts_test_pool, text, strlen(text), 4096, &o)
                  == APR_SUCCESS, "bad test JSON: %s", text);
    return o;
}

/* ---------------------------------------------------------------- NumericDate */

typedef struct {
    const char *json;          /* the value of "t" */
    apr_status_t rv;
    apr_int64_t sec;           /* when rv is APR_SUCCESS */
} date_case_t;

static const date_case_t date_cases[] = {
    { "1700000000", APR_SUCCESS, 1700000000 },
    { "0", APR_SUCCESS, 0 },
    { "1700000000.0", APR_SUCCESS, 1700000000 },
    { "1700000000.999", APR_SUCCESS, 1700000000 },     /* RFC 7519 §2: non-integer allowed */
    { "0.5", APR_SUCCESS, 0 },
    { "1.7e9", APR_SUCCESS, 1700000000 },
    { "253402300799", APR_SUCCESS, 253402300799LL },   /* 9999-12-31T23:59:59Z */
    { "253402300799.5", APR_SUCCESS, 253402300799LL },
    { "253402300800", APR_EINVAL, 0 },                 /* year 10000 */
    { "253402300800.0", APR_EINVAL, 0 },
    { "9223372036854775807", APR_EINVAL, 0 },
    { "1e300", APR_EINVAL, 0 },
    { "-1", APR_EINVAL, 0 },
    { "-0.5", APR_EINVAL, 0 },
    { "\"1700000000\"", APR_EINVAL, 0 },               /* a string is not a NumericDate */
    { "true", APR_EINVAL, 0 },
    { "null", APR_EINVAL, 0 },
    { "[1700000000]", APR_EINVAL, 0 },
    { "{}", APR_EINVAL, 0 },
    { NULL, APR_ENOENT, 0 },                           /* absent */
};

START_TEST(test_numeric_date)
{
    const date_case_t *c = &date_cases[_i];
    json_t *o = claims_of(c->json ? apr_psprintf(rts_test_pool, "{\"t\":%s}", c->json)
                                  : "{\"u\":1}");
    apr_int64_t sec = -42;
    apr_status_t rv = rts_jwt_numeric_date(o, "t", &sec);

    ck_assert_msg(rv == c->rv, "%s: status %d, expected %d", c->json ? c->json : "(absent)",
                  rv, c->rv);
    if (c->rv == APR_SUCCESS) {
        ck_assert_msg(sec == c->sec, "%s: %lld", c->json, (long long)sec);
    }
    else {
        ck_assert_msg(sec == -42, "%s: output written on failure", c->json);
    }
}
END_TEST

/* ---------------------------------------------------------------- aud */

typedef struct {
    const char *aud;           /* the JSON value of aud; NULL: absent */
    apr_status_t rv;
    apr_size_t count;          /* when accepted */
    const char *why;           /* a substring of the reason when refused */
} aud_case_t;

static const aud_case_t aud_cases[] = {
    { "\"rp\"", APR_SUCCESS, 1, NULL },
    { "[\"rp\"]", APR_SUCCESS, 1, NULL },
    { "[\"api\",\"rp\"]", APR_SUCCESS, 2, NULL },
    { NULL, RTS_EBADTOKEN, 0, "aud missing" },
    { "\"rp2\"", RTS_EBADTOKEN, 0, "does not contain" },
    { "\"r\"", RTS_EBADTOKEN, 0, "does not contain" },
    { "\"RP\"", RTS_EBADTOKEN, 0, "does not contain" },        /* byte-wise, not case-blind */
    { "\"\"", RTS_EBADTOKEN, 0, "does not contain" },
    { "[]", RTS_EBADTOKEN, 0, "empty array" },
    { "[\"a\",\"b\"]", RTS_EBADTOKEN, 0, "does not contain" },
    { "[\"rp\",7]", RTS_EBADTOKEN, 0, "non-string element" },  /* strict, even with a match */
    { "[7,\"rp\"]", RTS_EBADTOKEN, 0, "non-string element" },
    { "[\"rp\",null]", RTS_EBADTOKEN, 0, "non-string element" },
    { "[[\"rp\"]]", RTS_EBADTOKEN, 0, "non-string element" },
    { "42", RTS_EBADTOKEN, 0, "neither a string nor an array" },
    { "{\"rp\":1}", RTS_EBADTOKEN, 0, "neither a string nor an array" },
    { "null", RTS_EBADTOKEN, 0, "neither a string nor an array" },
};

START_TEST(test_aud)
{
    const aud_case_t *c = &aud_cases[_i];
    json_t *o = claims_of(c->aud ? apr_psprintf(rts_test_pool, "{\"aud\":%s}", c->aud) : "{}");
    apr_size_t count = 99;
    const char *why = NULL;
    apr_status_t rv = rts_jwt_check_aud(o, "rp", &count, &why);

    ck_assert_msg(rv == c->rv, "aud %s: status %d", c->aud ? c->aud : "(absent)", rv);
    if (rv == APR_SUCCESS) {
        ck_assert_uint_eq(count, c->count);
        ck_assert_int_eq(rts_jwt_check_aud(o, "rp", NULL, &why), APR_SUCCESS);
    }
    else {
        ck_assert_msg(why && strstr(why, c->why), "aud %s: reason \"%s\"", c->aud,
                      why ? why : "(none)");
    }
}
END_TEST

/* ---------------------------------------------------------------- exp, iat, nbf, auth_time */

typedef struct {
    const char *claims;        /* JSON members; times relative to NOW are written literally */
    int exp_optional;
    apr_interval_time_t max_age;
    apr_status_t rv;
    const char *why;
} times_case_t;

/* leeway is 60 s in every case */
static const times_case_t times_cases[] = {
    { "\"exp\":1700000300,\"iat\":1700000000", 0, 0, APR_SUCCESS, NULL },
    /* exp: now < exp + leeway */
    { "\"iat\":1700000000", 0, 0, RTS_EBADTOKEN, "exp missing" },
    { "\"iat\":1700000000", 1, 0, APR_SUCCESS, NULL },
    { "\"exp\":1699999941,\"iat\":1699999000", 0, 0, APR_SUCCESS, NULL },     /* within leeway */
    { "\"exp\":1699999940,\"iat\":1699999000", 0, 0, RTS_EBADTOKEN, "expired (exp)" },
    { "\"exp\":1699999940,\"iat\":1699999000", 1, 0, RTS_EBADTOKEN, "expired (exp)" },
    { "\"exp\":1699999940.9,\"iat\":1699999000", 0, 0, RTS_EBADTOKEN, "expired (exp)" },
    { "\"exp\":1699999941.2,\"iat\":1699999000", 0, 0, APR_SUCCESS, NULL },
    { "\"exp\":\"1700000300\",\"iat\":1700000000", 0, 0, RTS_EBADTOKEN, "exp is not a NumericDate" },
    { "\"exp\":\"1700000300\",\"iat\":1700000000", 1, 0, RTS_EBADTOKEN, "exp is not a NumericDate" },
    { "\"exp\":253402300800,\"iat\":1700000000", 0, 0, RTS_EBADTOKEN, "exp is not a NumericDate" },
    { "\"exp\":-1,\"iat\":1700000000", 0, 0, RTS_EBADTOKEN, "exp is not a NumericDate" },
    { "\"exp\":253402300799,\"iat\":1700000000", 0, 0, APR_SUCCESS, NULL },
    /* iat: required, not in the future, not too old */
    { "\"exp\":1700000300", 0, 0, RTS_EBADTOKEN, "iat missing" },
    { "\"exp\":1700000300", 1, 0, RTS_EBADTOKEN, "iat missing" },
    { "\"exp\":1700000300,\"iat\":null", 0, 0, RTS_EBADTOKEN, "iat is not a NumericDate" },
    { "\"exp\":1700000300,\"iat\":1700000060", 0, 0, APR_SUCCESS, NULL },      /* within leeway */
    { "\"exp\":1700000300,\"iat\":1700000061", 0, 0, RTS_EBADTOKEN, "issued in the future" },
    { "\"exp\":1700000300,\"iat\":1700000060.9", 0, 0, APR_SUCCESS, NULL },    /* floored */
    { "\"exp\":1700000300,\"iat\":1700000000.5", 0, 0, APR_SUCCESS, NULL },
    { "\"exp\":1700000300,\"iat\":1699999340", 0, 600, APR_SUCCESS, NULL },    /* 600 + 60 */
    { "\"exp\":1700000300,\"iat\":1699999339", 0, 600, RTS_EBADTOKEN, "issued too long ago" },
    { "\"exp\":1700000300,\"iat\":1600000000", 0, 0, APR_SUCCESS, NULL },      /* no limit */
    /* nbf: optional, nbf <= now + leeway */
    { "\"exp\":1700000300,\"iat\":1700000000,\"nbf\":1700000060", 0, 0, APR_SUCCESS, NULL },
    { "\"exp\":1700000300,\"iat\":1700000000,\"nbf\":1700000061", 0, 0, RTS_EBADTOKEN,
      "not yet valid (nbf)" },
    { "\"exp\":1700000300,\"iat\":1700000000,\"nbf\":1700000061", 1, 0, RTS_EBADTOKEN,
      "not yet valid (nbf)" },
    { "\"exp\":1700000300,\"iat\":1700000000,\"nbf\":\"0\"", 0, 0, RTS_EBADTOKEN,
      "nbf is not a NumericDate" },
    /* auth_time: when present, a NumericDate */
    { "\"exp\":1700000300,\"iat\":1700000000,\"auth_time\":1699990000.5", 0, 0, APR_SUCCESS,
      NULL },
    { "\"exp\":1700000300,\"iat\":1700000000,\"auth_time\":\"yesterday\"", 0, 0, RTS_EBADTOKEN,
      "auth_time is not a NumericDate" },
};

START_TEST(test_times)
{
    const times_case_t *c = &times_cases[_i];
    json_t *o = claims_of(apr_psprintf(rts_test_pool, "{%s}", c->claims));
    rts_jwt_times_t t = { apr_time_from_sec(NOW), apr_time_from_sec(60),
                          apr_time_from_sec(c->max_age), c->exp_optional };
    const char *why = NULL;
    apr_status_t rv = rts_jwt_check_times(o, &t, &why);

    ck_assert_msg(rv == c->rv, "{%s} exp_optional=%d: status %d (%s)", c->claims,
                  c->exp_optional, rv, why ? why : "");
    if (rv != APR_SUCCESS) {
        ck_assert_msg(why && strstr(why, c->why), "{%s}: reason \"%s\"", c->claims,
                      why ? why : "(none)");
    }
}
END_TEST

/* A negative leeway counts as none; without leeway the bounds are exact. */
START_TEST(test_times_leeway_bounds)
{
    json_t *o = claims_of("{\"exp\":1700000001,\"iat\":1700000000}");
    rts_jwt_times_t t = { apr_time_from_sec(NOW), -apr_time_from_sec(3600), 0, 0 };
    const char *why;

    ck_assert_int_eq(rts_jwt_check_times(o, &t, &why), APR_SUCCESS);
    t.now = apr_time_from_sec(NOW + 1);
    ck_assert_int_eq(rts_jwt_check_times(o, &t, &why), RTS_EBADTOKEN);
    ck_assert_str_eq(why, "expired (exp)");
    t.now = apr_time_from_sec(NOW) - 1;   /* one microsecond before iat */
    ck_assert_int_eq(rts_jwt_check_times(o, &t, &why), RTS_EBADTOKEN);
    ck_assert_str_eq(why, "issued in the future (iat)");
}
END_TEST

/* ---------------------------------------------------------------- typ */

typedef struct {
    const char *typ;           /* NULL: absent */
    const char *explicit_type; /* NULL: an ID token */
    apr_status_t rv;
} typ_case_t;

static const typ_case_t typ_cases[] = {
    { NULL, NULL, APR_SUCCESS },
    { "JWT", NULL, APR_SUCCESS },
    { "jwt", NULL, APR_SUCCESS },
    { "application/jwt", NULL, APR_SUCCESS },
    { "Application/JWT", NULL, APR_SUCCESS },
    { "logout+jwt", NULL, RTS_EBADTOKEN },           /* another kind never passes */
    { "at+jwt", NULL, RTS_EBADTOKEN },               /* RFC 9068 access token */
    { "application/at+jwt", NULL, RTS_EBADTOKEN },
    { "JOSE", NULL, RTS_EBADTOKEN },
    { "", NULL, RTS_EBADTOKEN },
    { "application/", NULL, RTS_EBADTOKEN },
    { "application/application/jwt", NULL, RTS_EBADTOKEN },
    { "jwt ", NULL, RTS_EBADTOKEN },
    { "xjwt", NULL, RTS_EBADTOKEN },
    { NULL, "logout+jwt", APR_SUCCESS },
    { "JWT", "logout+jwt", APR_SUCCESS },
    { "logout+jwt", "logout+jwt", APR_SUCCESS },
    { "Logout+JWT", "logout+jwt", APR_SUCCESS },
    { "application/logout+jwt", "logout+jwt", APR_SUCCESS },
    { "APPLICATION/LOGOUT+JWT", "logout+jwt", APR_SUCCESS },
    { "at+jwt", "logout+jwt", RTS_EBADTOKEN },
    { "logout", "logout+jwt", RTS_EBADTOKEN },
    { "logout+jwt+x", "logout+jwt", RTS_EBADTOKEN },
    { "secevent+jwt", "logout+jwt", RTS_EBADTOKEN },
};

START_TEST(test_typ)
{
    const typ_case_t *c = &typ_cases[_i];
    const char *why = NULL;
    apr_status_t rv = rts_jwt_check_typ(rts_test_pool, c->typ, c->explicit_type, &why);

    ck_assert_msg(rv == c->rv, "typ %s for %s: status %d", c->typ ? c->typ : "(absent)",
                  c->explicit_type ? c->explicit_type : "an ID token", rv);
    if (rv != APR_SUCCESS) {
        ck_assert_ptr_nonnull(why);
        ck_assert_ptr_nonnull(strstr(why, "typ header is not"));
        if (c->explicit_type) {
            ck_assert_ptr_nonnull(strstr(why, c->explicit_type));
        }
    }
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *rts_suite_jwt_claims(void)
{
    Suite *s = suite_create("jwt_claims");
    TCase *tc = tcase_create("rules");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_loop_test(tc, test_numeric_date, 0, N(date_cases));
    tcase_add_loop_test(tc, test_aud, 0, N(aud_cases));
    tcase_add_loop_test(tc, test_times, 0, N(times_cases));
    tcase_add_test(tc, test_times_leeway_bounds);
    tcase_add_loop_test(tc, test_typ, 0, N(typ_cases));
    suite_add_tcase(s, tc);
    return s;
}
