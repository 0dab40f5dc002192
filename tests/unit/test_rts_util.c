/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for rts_util: base64url, random tokens, constant-time compare, URL and forms. */
#include <string.h>
#include <apr_strings.h>
#include "test_common.h"
#include "rts.h"
#include "rts_util.h"
#include "rts_json.h"

static apr_status_t dec(const char *in, unsigned char **out, apr_size_t *len)
{
    return rts_b64url_decode(rts_test_pool, in, strlen(in), out, len);
}

START_TEST(test_util_own_status_texts)
{
    apr_status_t rv;

    /* every module code is recognised and has its own text, never APR's "does not understand" */
    for (rv = RTS_ERR_BASE + 1; rv <= RTS_ERR_LAST; rv++) {
        ck_assert(rts_is_own_status(rv));
        ck_assert_ptr_null(strstr(rts_strerror(rts_test_pool, rv), "does not understand"));
    }
    ck_assert(!rts_is_own_status(RTS_ERR_BASE));
    ck_assert(!rts_is_own_status(RTS_ERR_LAST + 1));
    ck_assert(!rts_is_own_status(APR_ENOENT));
    ck_assert(!rts_is_own_status(APR_SUCCESS));
}
END_TEST

START_TEST(test_util_b64url_roundtrip)
{
    /* RFC 4648 §10 vectors, without padding. */
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    unsigned char *out, all[256];
    apr_size_t len, i;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        ck_assert_str_eq(rts_b64url_encode(rts_test_pool, (const unsigned char *)plain[i],
                                           strlen(plain[i])), enc[i]);
        ck_assert_int_eq(dec(enc[i], &out, &len), APR_SUCCESS);
        ck_assert_uint_eq(len, strlen(plain[i]));
        ck_assert_mem_eq(out, plain[i], len);
        ck_assert_int_eq(out[len], '\0');
    }
    for (i = 0; i < sizeof(all); i++) {
        all[i] = (unsigned char)i;
    }
    ck_assert_int_eq(dec(rts_b64url_encode(rts_test_pool, all, sizeof(all)), &out, &len),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(all));
    ck_assert_mem_eq(out, all, sizeof(all));
    /* The url-safe characters: 0xfb 0xff -> "-_8" */
    ck_assert_int_eq(dec("-_8", &out, &len), APR_SUCCESS);
    ck_assert_uint_eq(len, 2);
    ck_assert_uint_eq(out[0], 0xfb);
    ck_assert_uint_eq(out[1], 0xff);
}
END_TEST

START_TEST(test_util_b64url_rejects)
{
    unsigned char *out;
    apr_size_t len;

    ck_assert_int_eq(dec("Zg==", &out, &len), APR_EINVAL);     /* padding */
    ck_assert_int_eq(dec("Zm8=", &out, &len), APR_EINVAL);
    ck_assert_int_eq(dec("Zm9v+g", &out, &len), APR_EINVAL);   /* standard alphabet */
    ck_assert_int_eq(dec("Zm9v/g", &out, &len), APR_EINVAL);
    ck_assert_int_eq(dec("Zm 9v", &out, &len), APR_EINVAL);    /* whitespace */
    ck_assert_int_eq(dec("Zm9v\n", &out, &len), APR_EINVAL);
    ck_assert_int_eq(dec("Z", &out, &len), APR_EINVAL);        /* 6 bits: impossible length */
    ck_assert_int_eq(dec("Zm9vY", &out, &len), APR_EINVAL);
    ck_assert_int_eq(dec("Zh", &out, &len), APR_EINVAL);       /* "Zg" with low bits set */
    ck_assert_int_eq(dec("Zm9", &out, &len), APR_EINVAL);      /* "Zm8" with low bits set */
    ck_assert_int_eq(dec("Zm8", &out, &len), APR_SUCCESS);
    /* An embedded NUL inside the given length is a bad character. */
    ck_assert_int_eq(rts_b64url_decode(rts_test_pool, "Zm\0v", 4, &out, &len), APR_EINVAL);
}
END_TEST

START_TEST(test_util_random_token)
{
    const char *a, *b;
    unsigned char *raw;
    apr_size_t len;

    ck_assert_int_eq(rts_random_token(rts_test_pool, 32, &a), APR_SUCCESS);
    ck_assert_int_eq(rts_random_token(rts_test_pool, 32, &b), APR_SUCCESS);
    ck_assert_uint_eq(strlen(a), 43);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(rts_b64url_decode(rts_test_pool, a, strlen(a), &raw, &len), APR_SUCCESS);
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(rts_random_token(rts_test_pool, 16, &a), APR_SUCCESS);
    ck_assert_uint_eq(strlen(a), 22);
}
END_TEST

START_TEST(test_util_ct_equal)
{
    ck_assert(rts_ct_equal("abc", 3, "abc", 3));
    ck_assert(!rts_ct_equal("abc", 3, "abd", 3));
    ck_assert(!rts_ct_equal("abc", 3, "abcd", 4));
    ck_assert(rts_ct_equal("", 0, "", 0));
    ck_assert(!rts_ct_equal("a\0b", 3, "a\0c", 3));    /* binary-safe, not strcmp */
    ck_assert(rts_ct_streq("state-1", "state-1"));
    ck_assert(!rts_ct_streq("state-1", "state-2"));
    ck_assert(!rts_ct_streq("state", "state-1"));
    ck_assert(!rts_ct_streq(NULL, "x"));
    ck_assert(!rts_ct_streq("x", NULL));
}
END_TEST

START_TEST(test_util_url_encode)
{
    ck_assert_str_eq(rts_url_encode(rts_test_pool, "AZaz09-._~"), "AZaz09-._~");
    ck_assert_str_eq(rts_url_encode(rts_test_pool, "a b+c&d=e/f?"), "a%20b%2Bc%26d%3De%2Ff%3F");
    ck_assert_str_eq(rts_url_encode(rts_test_pool, "\xc3\xa9"), "%C3%A9");
    ck_assert_str_eq(rts_url_encode(rts_test_pool, ""), "");
}
END_TEST

START_TEST(test_util_url_decode)
{
    char *out;

    ck_assert_int_eq(rts_url_decode(rts_test_pool, "a%20b+c%2b%C3%a9", 16, 0, &out), APR_SUCCESS);
    ck_assert_str_eq(out, "a b+c+\xc3\xa9");
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "a+b", 3, 1, &out), APR_SUCCESS);
    ck_assert_str_eq(out, "a b");
    /* len bounds the input: the rest of the string is not read. */
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "abc%zz", 3, 0, &out), APR_SUCCESS);
    ck_assert_str_eq(out, "abc");
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "a%2", 3, 0, &out), APR_EINVAL);
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "a%", 2, 0, &out), APR_EINVAL);
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "%g0", 3, 0, &out), APR_EINVAL);
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "%0g", 3, 0, &out), APR_EINVAL);
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "a%00b", 5, 0, &out), APR_EINVAL);
    ck_assert_int_eq(rts_url_decode(rts_test_pool, "a\0b", 3, 0, &out), APR_EINVAL);
}
END_TEST

START_TEST(test_util_form_parse)
{
    apr_table_t *t;

    ck_assert_int_eq(rts_form_parse(rts_test_pool,
                                    "code=abc%2Fdef&state=x+y&empty=&flag&&iss=https%3A%2F%2Fop",
                                    &t), APR_SUCCESS);
    ck_assert_str_eq(apr_table_get(t, "code"), "abc/def");
    ck_assert_str_eq(apr_table_get(t, "state"), "x y");
    ck_assert_str_eq(apr_table_get(t, "empty"), "");
    ck_assert_str_eq(apr_table_get(t, "flag"), "");
    ck_assert_str_eq(apr_table_get(t, "iss"), "https://op");
    ck_assert_int_eq(apr_table_elts(t)->nelts, 5);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "", &t), APR_SUCCESS);
    ck_assert_int_eq(apr_table_elts(t)->nelts, 0);
    /* a value containing '=' keeps it */
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "a=b=c", &t), APR_SUCCESS);
    ck_assert_str_eq(apr_table_get(t, "a"), "b=c");
}
END_TEST

START_TEST(test_util_form_parse_rejects)
{
    apr_table_t *t = NULL;

    ck_assert_int_eq(rts_form_parse(rts_test_pool, "state=a&code=1&state=b", &t), APR_EINVAL);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "state=a&state=a", &t), APR_EINVAL);
    /* the same name spelled with an escape is still a repeat */
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "code=1&c%6Fde=2", &t), APR_EINVAL);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "code=%zz", &t), APR_EINVAL);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "code=a%0", &t), APR_EINVAL);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "code=a%00b", &t), APR_EINVAL);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "co%00de=a", &t), APR_EINVAL);
    ck_assert_int_eq(rts_form_parse(rts_test_pool, "=a", &t), APR_EINVAL);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_util_form_build)
{
    const char *s;
    apr_table_t *t;

    s = rts_form_build(rts_test_pool, "grant_type", "authorization_code", "code", "a/b c+d",
                       "skipped", NULL, "redirect_uri", "https://rp/cb?x=1", NULL);
    ck_assert_str_eq(s, "grant_type=authorization_code&code=a%2Fb%20c%2Bd"
                        "&redirect_uri=https%3A%2F%2Frp%2Fcb%3Fx%3D1");
    ck_assert_int_eq(rts_form_parse(rts_test_pool, s, &t), APR_SUCCESS);
    ck_assert_str_eq(apr_table_get(t, "code"), "a/b c+d");
    ck_assert_str_eq(apr_table_get(t, "redirect_uri"), "https://rp/cb?x=1");
    ck_assert_ptr_null(apr_table_get(t, "skipped"));
    ck_assert_str_eq(rts_form_build(rts_test_pool, NULL), "");
}
END_TEST

static apr_status_t jparse(const char *text, apr_size_t len, apr_size_t max, json_t **pj)
{
    return rts_json_parse_object(rts_test_pool, text, len, max, pj);
}

START_TEST(test_util_json)
{
    static const char doc[] = "{ \"a\": \"x\", \"i\": 7, \"r\": 3.0, \"f\": 3.5, \"s\": \"3\","
                              " \"big\": 1e300 }";
    json_t *j = NULL;
    apr_int64_t v = 0;
    apr_size_t len;

    ck_assert_int_eq(jparse(doc, strlen(doc), strlen(doc), &j), APR_SUCCESS);
    ck_assert_str_eq(rts_json_str(j, "a"), "x");
    ck_assert_ptr_null(rts_json_str(j, "i"));
    ck_assert_ptr_null(rts_json_str(j, "nope"));
    ck_assert_int_eq(rts_json_int(j, "i", &v), APR_SUCCESS);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(rts_json_int(j, "r", &v), APR_SUCCESS);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(rts_json_int(j, "f", &v), APR_EINVAL);
    ck_assert_int_eq(rts_json_int(j, "s", &v), APR_EINVAL);
    ck_assert_int_eq(rts_json_int(j, "big", &v), APR_EINVAL);
    ck_assert_int_eq(rts_json_int(j, "nope", &v), APR_ENOENT);
    json_object_del(j, "big");      /* its text form depends on jansson's real precision */
    ck_assert_str_eq(rts_json_dump(rts_test_pool, j, &len),
                     "{\"a\":\"x\",\"i\":7,\"r\":3.0,\"f\":3.5,\"s\":\"3\"}");
    ck_assert_uint_eq(len, strlen(rts_json_dump(rts_test_pool, j, NULL)));
    /* refusals */
    ck_assert_int_eq(jparse(doc, strlen(doc), strlen(doc) - 1, &j), RTS_ETOOLARGE);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(jparse("{\"a\":1,\"a\":2}", 13, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("{\"a\":\"x\\u0000y\"}", 17, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("{\"a\":\"x\0\"}", 9, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("{} ", 3, 100, &j), APR_SUCCESS);
    ck_assert_int_eq(jparse("{}\0", 3, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("{} {}", 5, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("[1]", 3, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("\"s\"", 3, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("{\"a\":", 5, 100, &j), APR_EINVAL);
    ck_assert_int_eq(jparse("", 0, 100, &j), APR_EINVAL);
}
END_TEST

Suite *rts_suite_util(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");

    tcase_add_checked_fixture(tc, rts_test_setup, rts_test_teardown);
    tcase_add_test(tc, test_util_own_status_texts);
    tcase_add_test(tc, test_util_b64url_roundtrip);
    tcase_add_test(tc, test_util_b64url_rejects);
    tcase_add_test(tc, test_util_random_token);
    tcase_add_test(tc, test_util_ct_equal);
    tcase_add_test(tc, test_util_url_encode);
    tcase_add_test(tc, test_util_url_decode);
    tcase_add_test(tc, test_util_form_parse);
    tcase_add_test(tc, test_util_form_parse_rejects);
    tcase_add_test(tc, test_util_form_build);
    tcase_add_test(tc, test_util_json);
    suite_add_tcase(s, tc);
    return s;
}
