/* tests/unit/test_jsonmp.c — JSON <-> msgpack at the command line: round trips of every
 * JSON type, the "JSON if it parses, else a string" rule for arguments, refusal of bad
 * msgpack bytes, and strings that are not valid UTF-8 repaired rather than lost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonmp.h"

/* text -> msgpack (as an argument) -> JSON text */
static char *s_roundtrip(const char *text)
{
    size_t len;
    void *mp = tmq_json_arg_to_msgpack(text, strlen(text), &len);
    json_t *j = tmq_json_from_msgpack(mp, len);
    free(mp);
    assert_non_null(j);
    char *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(j);
    return out;
}

static void test_roundtrip_values(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"42", "42"},
        {"-7", "-7"},
        {"9223372036854775807", "9223372036854775807"},
        {"1.5", "1.5"},
        {"true", "true"},
        {"null", "null"},
        {"\"quoted\"", "\"quoted\""},
        {"[1,[2,[3]],{}]", "[1,[2,[3]],{}]"},
        {"{\"a\":1,\"b\":[null,\"x\"]}", "{\"a\":1,\"b\":[null,\"x\"]}"},
        {"hello world", "\"hello world\""}, /* not JSON: a string */
        {"{broken", "\"{broken\""},
        {"", "\"\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = s_roundtrip(cases[i].in);
        if (strcmp(got, cases[i].out) != 0)
            fail_msg("'%s' became '%s', expected '%s'", cases[i].in, got, cases[i].out);
        free(got);
    }
}

static void test_bad_msgpack(void **state)
{
    (void)state;
    assert_null(tmq_json_from_msgpack("\xdd\xff\xff\xff\xff", 5));
    assert_null(tmq_json_from_msgpack("\x01\x02", 2)); /* two objects */
    assert_null(tmq_json_from_msgpack("", 0));
}

static void test_big_unsigned(void **state)
{
    (void)state;
    /* uint64 max has no jansson integer: it becomes a real rather than wrapping negative */
    json_t *j = tmq_json_from_msgpack("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    assert_non_null(j);
    assert_true(json_is_real(j));
    assert_true(json_real_value(j) > 1.8e19);
    json_decref(j);
}

/* The compact JSON text of msgpack bytes, which must convert and dump. */
static char *s_text(const char *mp, size_t len)
{
    json_t *j = tmq_json_from_msgpack(mp, len);
    assert_non_null(j);
    char *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(j);
    assert_non_null(out);
    return out;
}

static void test_invalid_utf8_repaired(void **state)
{
    (void)state;
    static const struct {
        const char *mp;
        size_t len;
        const char *out;
    } cases[] = {
        /* stray byte, cut 3-byte sequence, then a valid 2-byte one */
        {"\xa7x\xffy\xe2\x98\xc3\xa9", 8, "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9\""},
        /* UTF-16 surrogate, overlong '/', beyond U+10FFFF: one U+FFFD per byte */
        {"\xa3\xed\xa0\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xa2\xc0\xaf", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\""},
        {"\xa4\xf4\x90\x80\x80", 5, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
        /* valid 4-byte sequence kept; NUL kept (escaped by jansson) */
        {"\xa5\xf0\x9f\x98\x80\x80", 6, "\"\xf0\x9f\x98\x80\xef\xbf\xbd\""},
        {"\xa3x\0\xfe", 4, "\"x\\u0000\xef\xbf\xbd\""},
        /* BIN, map key, empty STR */
        {"\xc4\x02\x80z", 4, "\"\xef\xbf\xbdz\""},
        {"\x81\xa2k\xc3\x01", 5, "{\"k\xef\xbf\xbd\":1}"},
        {"\xa0", 1, "\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = s_text(cases[i].mp, cases[i].len);
        if (strcmp(got, cases[i].out) != 0)
            fail_msg("case %zu became '%s', expected '%s'", i, got, cases[i].out);
        free(got);
    }
    /* the helper itself: valid text untouched, NULL allowed when empty */
    json_t *j = tmq_json_string_repair("ok\xff", 2);
    assert_string_equal(json_string_value(j), "ok");
    json_decref(j);
    j = tmq_json_string_repair(NULL, 0);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), 0);
    json_decref(j);
}

static void test_non_finite_is_null(void **state)
{
    (void)state;
    /* [NaN, inf] as float64: jansson has no such reals */
    char *got = s_text("\x92\xcb\x7f\xf8\0\0\0\0\0\0\xcb\x7f\xf0\0\0\0\0\0\0", 19);
    assert_string_equal(got, "[null,null]");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_values),   cmocka_unit_test(test_bad_msgpack),
        cmocka_unit_test(test_big_unsigned),       cmocka_unit_test(test_invalid_utf8_repaired),
        cmocka_unit_test(test_non_finite_is_null),
    };
    return cmocka_run_group_tests_name("jsonmp", tests, NULL, NULL);
}
