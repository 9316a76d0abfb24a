/* tests/unit/test_jsonmp.c — JSON <-> msgpack at the command line: round trips of every
 * JSON type, the "JSON if it parses, else a string" rule for arguments, and refusal of bad
 * msgpack bytes.
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
    static const struct { const char *in, *out; } cases[] = {
        {"42", "42"},
        {"-7", "-7"},
        {"9223372036854775807", "9223372036854775807"},
        {"1.5", "1.5"},
        {"true", "true"},
        {"null", "null"},
        {"\"quoted\"", "\"quoted\""},
        {"[1,[2,[3]],{}]", "[1,[2,[3]],{}]"},
        {"{\"a\":1,\"b\":[null,\"x\"]}", "{\"a\":1,\"b\":[null,\"x\"]}"},
        {"hello world", "\"hello world\""},      /* not JSON: a string */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_values),
        cmocka_unit_test(test_bad_msgpack),
        cmocka_unit_test(test_big_unsigned),
    };
    return cmocka_run_group_tests_name("jsonmp", tests, NULL, NULL);
}
