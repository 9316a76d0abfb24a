/* tests/unit/test_cli.c — the `taskmq` tool's modules (client/cli_*, jsonline, reorder,
 * progress): reorder buffer, JSON lines (values, escapes, floats, the result line format),
 * input-line arguments, command-line parsing and usage errors, the progress bar text. No
 * network. */
#include "buf.h"
#include "cli.h"
#include "cli_args.h"
#include "jsonline.h"
#include "jsonmp.h"
#include "progress.h"
#include "render.h"
#include "reorder.h"
#include "result.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "testutil.h"

/* ---- reorder buffer ---- */

static char *s_dup(const char *s)
{
    return strdup(s);
}

static void test_reorder_in_order_out(void **state)
{
    (void)state;
    tmq_reorder_t *r = tmq_reorder_new();
    assert_int_equal(tmq_reorder_put(r, 2, s_dup("c"), 1), 0);
    assert_int_equal(tmq_reorder_put(r, 1, s_dup("b"), 1), 0);
    assert_null(tmq_reorder_pop(r, NULL)); /* 0 missing */
    assert_int_equal(tmq_reorder_size(r), 2);
    assert_int_equal(tmq_reorder_put(r, 0, s_dup("a"), 1), 0);
    const char *want[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        size_t len;
        char *line = tmq_reorder_pop(r, &len);
        assert_non_null(line);
        assert_string_equal(line, want[i]);
        assert_int_equal(len, 1);
        free(line);
    }
    assert_null(tmq_reorder_pop(r, NULL));
    assert_int_equal(tmq_reorder_next(r), 3);
    assert_int_equal(tmq_reorder_size(r), 0);
    tmq_reorder_destroy(&r);
    assert_null(r);
    tmq_reorder_destroy(&r); /* twice is safe */
}

static void test_reorder_duplicates_and_past(void **state)
{
    (void)state;
    tmq_reorder_t *r = tmq_reorder_new();
    assert_int_equal(tmq_reorder_put(r, 1, s_dup("x"), 1), 0);
    assert_int_equal(tmq_reorder_put(r, 1, s_dup("y"), 1), -1); /* already stored */
    assert_int_equal(tmq_reorder_skip(r), 0);                   /* 0 printed directly */
    assert_int_equal(tmq_reorder_skip(r), -1);                  /* 1 is stored: pop it */
    free(tmq_reorder_pop(r, NULL));
    assert_int_equal(tmq_reorder_put(r, 0, s_dup("z"), 1), -1); /* already gone */
    assert_int_equal(tmq_reorder_next(r), 2);
    tmq_reorder_destroy(&r);
}

/* Reverse order over a span far larger than the initial ring, then a shuffled run after
 * the ring has wrapped: the buffer grows and keeps every line at its index. */
static void test_reorder_grows_and_wraps(void **state)
{
    (void)state;
    tmq_reorder_t *r = tmq_reorder_new();
    const int n = 5000;
    for (int i = n - 1; i >= 0; i--) {
        char text[16];
        snprintf(text, sizeof text, "%d", i);
        assert_int_equal(tmq_reorder_put(r, (uint64_t)i, s_dup(text), strlen(text)), 0);
    }
    for (int i = 0; i < n; i++) {
        char *line = tmq_reorder_pop(r, NULL);
        assert_non_null(line);
        assert_int_equal(atoi(line), i);
        free(line);
    }
    /* Pairs swapped: 5001, 5000, 5003, 5002, ... */
    for (int i = 0; i < 200; i += 2) {
        char text[16];
        snprintf(text, sizeof text, "%d", n + i + 1);
        tmq_reorder_put(r, (uint64_t)(n + i + 1), s_dup(text), strlen(text));
        assert_null(tmq_reorder_pop(r, NULL));
        snprintf(text, sizeof text, "%d", n + i);
        tmq_reorder_put(r, (uint64_t)(n + i), s_dup(text), strlen(text));
        for (int k = 0; k < 2; k++) {
            char *line = tmq_reorder_pop(r, NULL);
            assert_non_null(line);
            assert_int_equal(atoi(line), n + i + k);
            free(line);
        }
    }
    tmq_reorder_destroy(&r);
}

/* ---- JSON lines ---- */

typedef void (*s_packfn_t)(msgpack_packer *pk);

/* The JSON text tmq_jsonline_value writes for what fn packs. */
static void s_expect(s_packfn_t fn, const char *want)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fn(&pk);
    tmq_buf_t b;
    tmq_buf_init(&b);
    assert_int_equal(tmq_jsonline_value(&b, sb.data, sb.size), 0);
    assert_string_equal(b.data, want);
    tmq_buf_free(&b);
    msgpack_sbuffer_destroy(&sb);
}

static void p_zero(msgpack_packer *pk)
{
    msgpack_pack_uint8(pk, 0);
}
static void p_neg(msgpack_packer *pk)
{
    msgpack_pack_int8(pk, -33);
}
static void p_i64min(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, INT64_MIN);
}
static void p_u64max(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, UINT64_MAX);
}
static void p_u16(msgpack_packer *pk)
{
    msgpack_pack_uint16(pk, 60000);
}
static void p_tenth(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 0.1);
}
static void p_one(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.0);
}
static void p_big(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1e300);
}
static void p_third(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.0 / 3.0);
}
static void p_nan(msgpack_packer *pk)
{
    msgpack_pack_double(pk, NAN);
}
static void p_f32(msgpack_packer *pk)
{
    msgpack_pack_float(pk, 0.1f);
}
static void p_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void p_bools(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
}
static void p_escapes(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "a\"b\\c\n\t\x01/", 9);
}
static void p_utf8(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "h\xc3\xa9llo \xe2\x98\x83", 10);
}
static void p_bad_utf8(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk,
                               "x\xff"
                               "y\xe2\x98",
                               5); /* stray byte, cut sequence */
}
static void p_surrogate(msgpack_packer *pk)
{
    msgpack_pack_str_with_body(pk, "\xed\xa0\x80", 3); /* UTF-16 surrogate: not UTF-8 */
}
static void p_nested(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    msgpack_pack_str_with_body(pk, "a", 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_int32(pk, 1);
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "b", 1);
    msgpack_pack_nil(pk);
    msgpack_pack_str_with_body(pk, "c", 1);
    msgpack_pack_array(pk, 0);
}
static void p_int_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    msgpack_pack_int32(pk, 1);
    msgpack_pack_str_with_body(pk, "x", 1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_true(pk);
    msgpack_pack_map(pk, 0);
}
static void p_bin(msgpack_packer *pk)
{
    msgpack_pack_bin_with_body(pk, "raw", 3);
}
static void p_ext(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_ext_with_body(pk, "abcd", 4, 7);
    msgpack_pack_ext_with_body(pk, "abc", 3, 7);
}

static void p_long(msgpack_packer *pk)
{
    char text[1000];
    memset(text, 'z', sizeof text);
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, text, sizeof text);
    msgpack_pack_int8(pk, 1);
}
static void p_bad_key(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "k\xc3", 2); /* cut sequence */
    msgpack_pack_nil(pk);
}

static void test_jsonline_values(void **state)
{
    (void)state;
    s_expect(p_zero, "0");
    s_expect(p_neg, "-33");
    s_expect(p_i64min, "-9223372036854775808");
    s_expect(p_u64max, "1.84467440737096e19"); /* above INT64_MAX: a real in jansson */
    s_expect(p_u16, "60000");
    s_expect(p_tenth, "0.1");
    s_expect(p_one, "1.0");
    s_expect(p_big, "1e300");
    s_expect(p_third, "0.333333333333333"); /* 15 significant digits */
    s_expect(p_nan, "null");
    s_expect(p_f32, "0.100000001490116"); /* the float widened to double, 15 digits */
    s_expect(p_nil, "null");
    s_expect(p_bools, "[true,false]");
    s_expect(p_escapes, "\"a\\\"b\\\\c\\n\\t\\u0001/\"");
    s_expect(p_utf8, "\"h\xc3\xa9llo \xe2\x98\x83\"");
    s_expect(p_bad_utf8, "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\""); /* U+FFFD each */
    s_expect(p_surrogate, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    s_expect(p_nested, "{\"a\":[1,{\"b\":null}],\"c\":[]}");
    s_expect(p_int_key, "{\"1\":\"x\",\"[true]\":{}}");
    s_expect(p_bin, "\"raw\"");
    s_expect(p_ext, "[null,null]");
    s_expect(p_bad_key, "{\"k\xef\xbf\xbd\":null}");
    char want[1010] = "[\"";
    memset(want + 2, 'z', 1000);
    strcpy(want + 1002, "\",1]");
    s_expect(p_long, want);
}

static void test_jsonline_rejects_bad_msgpack(void **state)
{
    (void)state;
    tmq_buf_t b;
    tmq_buf_init(&b);
    assert_int_equal(tmq_jsonline_value(&b, "\xc1", 1), -1);                 /* never used */
    assert_int_equal(tmq_jsonline_value(&b, "\x92\x01", 2), -1);             /* truncated */
    assert_int_equal(tmq_jsonline_value(&b, "\x01\x02", 2), -1);             /* two objects */
    assert_int_equal(tmq_jsonline_value(&b, "\xdd\xff\xff\xff\xff", 5), -1); /* huge count */
    assert_int_equal(tmq_jsonline_value(&b, "", 0), -1);
    assert_int_equal(b.len, 0);
    tmq_buf_free(&b);
}

/* Whatever JSON goes in (as an input line) comes out equal, per jansson. */
static void test_jsonline_round_trip(void **state)
{
    (void)state;
    const char *inputs[] = {
        "0",
        "-12345678901",
        "3.25",
        "1e-7",
        "true",
        "null",
        "\"a string\"",
        "[1,[2,[3,[4]]],{\"k\":\"v\"}]",
        "{\"nested\":{\"list\":[1,2,3],\"empty\":{},\"none\":null},\"u\":\"h\\u00e9llo \\u2603\"}",
        "\"tab\\there\\u0000nul\"",
        "9223372036854775807",
        "-9223372036854775808",
        "[0.1,2.5e10]",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(
            tmq_jsonline_arg(&sb, TMQ_INPUT_AUTO, inputs[i], strlen(inputs[i]), NULL, 0), 0);
        tmq_buf_t b;
        tmq_buf_init(&b);
        assert_int_equal(tmq_jsonline_value(&b, sb.data, sb.size), 0);
        json_t *got = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        json_t *want = json_loads(inputs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(got);
        assert_non_null(want);
        if (!json_equal(got, want)) fail_msg("input %s came out as %s", inputs[i], b.data);
        json_decref(got);
        json_decref(want);
        tmq_buf_free(&b);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* The integer fast path packs exactly what the general JSON path packs, wherever jansson
 * can hold the value (within int64, and anything that is not a plain integer). */
static void test_jsonline_arg_fast_path(void **state)
{
    (void)state;
    const char *inputs[] = {"0",
                            "5",
                            "-5",
                            "-0",
                            "007",
                            "00",
                            "-",
                            "",
                            "1x",
                            "127",
                            "128",
                            "-32",
                            "-33",
                            "65536",
                            "999999999999999999",
                            "-999999999999999999",
                            "9223372036854775807",
                            "-9223372036854775808",
                            "1000000000000000000",
                            "1.5",
                            "1e400",
                            "[18446744073709551615]",
                            " 5",
                            "5 ",
                            "+5",
                            "hello"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(
            tmq_jsonline_arg(&sb, TMQ_INPUT_AUTO, inputs[i], strlen(inputs[i]), NULL, 0), 0);
        size_t len;
        void *want = tmq_json_arg_to_msgpack(inputs[i], strlen(inputs[i]), &len);
        if (len != sb.size || memcmp(want, sb.data, len) != 0)
            fail_msg("input '%s' packed differently", inputs[i]);
        free(want);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_jsonline_result_lines(void **state)
{
    (void)state;
    uint8_t big[16];
    size_t big_len = tu_pack_int(big, 499999500000ll);
    const uint8_t one = 1;
    const char *err = "sum: argument must be a non-negative integer";
    const char *bad_err = "no such file: \xff\xfe.txt";
    const struct {
        tmq_result_t *r;
        const char *line;
    } cases[] = {
        {tmq_result_new(2, TMQ_RESULT_OK, big, big_len, "hostA:4121", 10, 3.4149, 1),
         "{\"index\":2,\"ok\":true,\"result\":499999500000,\"worker\":\"hostA:4121\",\"ms\":3.41}"
         "\n"},
        {tmq_result_new(0, TMQ_RESULT_ERROR, err, strlen(err), "", 0, 0.0, 1),
         "{\"index\":0,\"ok\":false,\"error\":\"sum: argument must be a non-negative integer\"}\n"},
        {tmq_result_new(7, TMQ_RESULT_OK, &one, 1, "w\"x:1", 5, 12.5, 1),
         "{\"index\":7,\"ok\":true,\"result\":1,\"worker\":\"w\\\"x:1\",\"ms\":12.5}\n"},
        {tmq_result_new(8, TMQ_RESULT_OK, "\xc1", 1, "w:1", 3, 0.004, 1),
         "{\"index\":8,\"ok\":true,\"result\":null,\"worker\":\"w:1\",\"ms\":0.0}\n"},
        /* invalid UTF-8 in the error text or the worker name: repaired, the line kept */
        {tmq_result_new(9, TMQ_RESULT_ERROR, bad_err, strlen(bad_err), "", 0, 0.0, 1),
         "{\"index\":9,\"ok\":false,\"error\":\"no such file: \xef\xbf\xbd\xef\xbf\xbd.txt\"}\n"},
        {tmq_result_new(10, TMQ_RESULT_OK, &one, 1, "h\xe9:1", 4, 1.0, 1),
         "{\"index\":10,\"ok\":true,\"result\":1,\"worker\":\"h\xef\xbf\xbd:1\",\"ms\":1.0}\n"},
        /* every way a job can fail prints the same shape */
        {tmq_result_new(11, TMQ_RESULT_LOST, "broker shut down", 16, "", 0, 0.0, 0),
         "{\"index\":11,\"ok\":false,\"error\":\"broker shut down\"}\n"},
        {tmq_result_new(12, TMQ_RESULT_OUT_OF_MEMORY, "out of memory (limit 512 MiB)", 29, "w:7", 3,
                        80.0, 1),
         "{\"index\":12,\"ok\":false,\"error\":\"out of memory (limit 512 MiB)\"}\n"},
    };
    tmq_buf_t b;
    tmq_buf_init(&b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmq_buf_reset(&b);
        tmq_jsonline_result(&b, tmq_result_id(cases[i].r), cases[i].r, NULL, 0);
        assert_string_equal(b.data, cases[i].line);
        tmq_result_t *r = cases[i].r;
        tmq_result_destroy(&r);
        assert_null(r);
    }

    /* ms: rounded to 2 decimals, shortest text. */
    struct {
        double ms;
        const char *text;
    } ms[] = {{2.999, "3.0"},   {0.05, "0.05"},    {1234.567, "1234.57"}, {0.1, "0.1"},
              {100.0, "100.0"}, {0.004999, "0.0"}, {-1.0, "-1.0"},        {0.07, "0.07"},
              {0.56, "0.56"},   {8.03, "8.03"},    {NAN, "null"}};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        tmq_result_t *r = tmq_result_new(1, TMQ_RESULT_OK, &one, 1, "w:1", 3, ms[i].ms, 1);
        tmq_buf_reset(&b);
        tmq_jsonline_result(&b, 1, r, NULL, 0);
        char want[128];
        snprintf(want, sizeof want,
                 "{\"index\":1,\"ok\":true,\"result\":1,\"worker\":\"w:1\","
                 "\"ms\":%s}\n",
                 ms[i].text);
        assert_string_equal(b.data, want);
        tmq_result_destroy(&r);
    }
    tmq_buf_free(&b);
}

/* ---- input modes (--json, --raw, default) and empty lines ---- */

/* The JSON text of what a line packs to under mode (its msgpack type too: "bin" when it
 * went as bin), or the error. */
static void s_mode(tmq_input_mode_t mode, bool keep, const char *line, size_t len,
                   tmq_line_t want_kind, const char *want)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char err[256] = "";
    tmq_line_t kind = tmq_jsonline_input(&sb, mode, keep, line, len, err, sizeof err);
    if (kind != want_kind)
        fail_msg("'%.*s' (mode %d): kind %d, not %d", (int)len, line, mode, kind, want_kind);
    if (kind == TMQ_LINE_BAD) {
        assert_string_equal(err, want);
    } else if (kind == TMQ_LINE_JOB) {
        tmq_buf_t b;
        tmq_buf_init(&b);
        if ((uint8_t)sb.data[0] >= 0xc4 && (uint8_t)sb.data[0] <= 0xc6) tmq_buf_adds(&b, "bin:");
        assert_int_equal(tmq_jsonline_value(&b, sb.data, sb.size), 0);
        assert_string_equal(b.data, want);
        tmq_buf_free(&b);
    }
    msgpack_sbuffer_destroy(&sb);
}

#define S_LINE(mode, keep, text, kind, want) s_mode(mode, keep, text, sizeof text - 1, kind, want)

static void test_jsonline_input_modes(void **state)
{
    (void)state;
    /* default: JSON when it parses, else a string of the bytes as given */
    S_LINE(TMQ_INPUT_AUTO, false, "42", TMQ_LINE_JOB, "42");
    S_LINE(TMQ_INPUT_AUTO, false, "[1,\"a\"]", TMQ_LINE_JOB, "[1,\"a\"]");
    S_LINE(TMQ_INPUT_AUTO, false, "hello world", TMQ_LINE_JOB, "\"hello world\"");
    S_LINE(TMQ_INPUT_AUTO, false, "{\"broken\":", TMQ_LINE_JOB, "\"{\\\"broken\\\":\"");
    S_LINE(TMQ_INPUT_AUTO, false, "x\xffy", TMQ_LINE_JOB, "\"x\xef\xbf\xbdy\""); /* str */
    S_LINE(TMQ_INPUT_AUTO, false, "7\r", TMQ_LINE_JOB, "7");                     /* CRLF */
    /* --json: must be JSON; the error is jansson's */
    S_LINE(TMQ_INPUT_JSON, false, "{\"k\":[1,2]}", TMQ_LINE_JOB, "{\"k\":[1,2]}");
    S_LINE(TMQ_INPUT_JSON, false, "\"s\"", TMQ_LINE_JOB, "\"s\"");
    S_LINE(TMQ_INPUT_JSON, false, "-5", TMQ_LINE_JOB, "-5");
    S_LINE(TMQ_INPUT_JSON, false, "hello", TMQ_LINE_BAD, "invalid token near 'hello'");
    S_LINE(TMQ_INPUT_JSON, false, "[1,", TMQ_LINE_BAD, "']' expected near end of file");
    S_LINE(TMQ_INPUT_JSON, false, "\"\xff\"", TMQ_LINE_BAD, "unable to decode byte 0xff near '\"'");
    /* --raw: always a string, never parsed; invalid UTF-8 as bin, bytes unchanged */
    S_LINE(TMQ_INPUT_RAW, false, "42", TMQ_LINE_JOB, "\"42\"");
    S_LINE(TMQ_INPUT_RAW, false, "[1,2]", TMQ_LINE_JOB, "\"[1,2]\"");
    S_LINE(TMQ_INPUT_RAW, false, "h\xc3\xa9", TMQ_LINE_JOB, "\"h\xc3\xa9\"");
    S_LINE(TMQ_INPUT_RAW, false, "x\xffy", TMQ_LINE_JOB, "bin:\"x\xef\xbf\xbdy\"");
    S_LINE(TMQ_INPUT_RAW, false, "a\r", TMQ_LINE_JOB, "\"a\"");
    /* empty lines: skipped; kept as "" with --keep-empty; an error under --json */
    static const tmq_input_mode_t modes[] = {TMQ_INPUT_AUTO, TMQ_INPUT_JSON, TMQ_INPUT_RAW};
    for (size_t k = 0; k < 3; k++) {
        S_LINE(modes[k], false, "", TMQ_LINE_SKIP, "");
        S_LINE(modes[k], false, "\r", TMQ_LINE_SKIP, "");
    }
    S_LINE(TMQ_INPUT_AUTO, true, "", TMQ_LINE_JOB, "\"\"");
    S_LINE(TMQ_INPUT_RAW, true, "\r", TMQ_LINE_JOB, "\"\"");
    S_LINE(TMQ_INPUT_JSON, true, "", TMQ_LINE_BAD, "empty line");
    S_LINE(TMQ_INPUT_AUTO, false, " ", TMQ_LINE_JOB, "\" \""); /* blank is not empty */

    /* raw bytes travel exactly: bin with the original bytes */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(tmq_jsonline_arg(&sb, TMQ_INPUT_RAW, "\xfe\x00\xff", 3, NULL, 0), 0);
    assert_int_equal(sb.size, 5);
    assert_memory_equal(sb.data, "\xc4\x03\xfe\x00\xff", 5);
    msgpack_sbuffer_destroy(&sb);
}

/* Whole numbers outside int64 but within INT64_MIN..UINT64_MAX are msgpack integers, by
 * default and under --json (jansson alone calls them "too big integer"); beyond that range
 * jansson decides: a string by default, an error under --json. */
static void test_jsonline_big_integers(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* of want: the msgpack bytes */
        const char *want;
    } ints[] = {
        {"18446744073709551615", 9, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"},
        {"9223372036854775808", 9, "\xcf\x80\x00\x00\x00\x00\x00\x00\x00"},
        {"12345678901234567890", 9, "\xcf\xab\x54\xa9\x8c\xeb\x1f\x0a\xd2"},
        {"9223372036854775807", 9, "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"},
        {"-9223372036854775808", 9, "\xd3\x80\x00\x00\x00\x00\x00\x00\x00"},
        {"-1", 1, "\xff"},
    };
    static const tmq_input_mode_t modes[] = {TMQ_INPUT_AUTO, TMQ_INPUT_JSON};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char err[256];
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            const char *t = ints[i].text;
            assert_int_equal(tmq_jsonline_arg(&sb, modes[m], t, strlen(t), err, sizeof err), 0);
            if (sb.size != ints[i].len || memcmp(sb.data, ints[i].want, ints[i].len) != 0)
                fail_msg("'%s' (mode %d) did not pack as a msgpack integer", t, modes[m]);
        }
        /* the same as stdin lines */
        assert_int_equal(
            tmq_jsonline_input(&sb, modes[m], false, "18446744073709551615\r", 21, err, sizeof err),
            TMQ_LINE_JOB);
        assert_memory_equal(sb.data, ints[0].want, 9);
    }
    /* one past either end, and integers inside containers: jansson's */
    static const char *beyond[] = {"18446744073709551616", "-9223372036854775809",
                                   "99999999999999999999999"};
    for (size_t i = 0; i < sizeof beyond / sizeof beyond[0]; i++) {
        const char *t = beyond[i];
        assert_int_equal(tmq_jsonline_arg(&sb, TMQ_INPUT_AUTO, t, strlen(t), err, sizeof err), 0);
        assert_true(((uint8_t)sb.data[0] & 0xe0) == 0xa0 || (uint8_t)sb.data[0] == 0xd9);
        assert_int_equal(tmq_jsonline_arg(&sb, TMQ_INPUT_JSON, t, strlen(t), err, sizeof err), -1);
        assert_non_null(strstr(err, "too big"));
    }
    S_LINE(TMQ_INPUT_AUTO, false, "18446744073709551616", TMQ_LINE_JOB, "\"18446744073709551616\"");
    S_LINE(TMQ_INPUT_JSON, false, "[18446744073709551615]", TMQ_LINE_BAD,
           "too big integer near '18446744073709551615'");
    S_LINE(TMQ_INPUT_RAW, false, "18446744073709551615", TMQ_LINE_JOB,
           "\"18446744073709551615\""); /* --raw: never parsed */
    msgpack_sbuffer_destroy(&sb);
}

/* --tag: the job's input as "arg", right after "index". */
static void test_jsonline_tag(void **state)
{
    (void)state;
    msgpack_sbuffer in;
    msgpack_sbuffer_init(&in);
    tmq_jsonline_arg(&in, TMQ_INPUT_AUTO, "{\"n\":[1,2]}", 11, NULL, 0);
    const uint8_t one = 1;
    tmq_result_t *ok = tmq_result_new(3, TMQ_RESULT_OK, &one, 1, "w:1", 3, 2.5, 1);
    tmq_result_t *bad = tmq_result_new(4, TMQ_RESULT_ERROR, "boom", 4, "", 0, 0.0, 1);
    tmq_buf_t b;
    tmq_buf_init(&b);
    tmq_jsonline_result(&b, 3, ok, in.data, in.size);
    assert_string_equal(b.data, "{\"index\":3,\"arg\":{\"n\":[1,2]},\"ok\":true,\"result\":1,"
                                "\"worker\":\"w:1\",\"ms\":2.5}\n");
    tmq_buf_reset(&b);
    tmq_jsonline_arg(&in, TMQ_INPUT_RAW, "x\xff", 2, NULL, 0); /* bin: shown repaired */
    tmq_jsonline_result(&b, 4, bad, in.data, in.size);
    assert_string_equal(
        b.data, "{\"index\":4,\"arg\":\"x\xef\xbf\xbd\",\"ok\":false,\"error\":\"boom\"}\n");
    tmq_buf_reset(&b);
    tmq_jsonline_result(&b, 4, bad, "\xc1", 1); /* not msgpack: null, the line kept */
    assert_string_equal(b.data, "{\"index\":4,\"arg\":null,\"ok\":false,\"error\":\"boom\"}\n");
    tmq_buf_free(&b);
    tmq_result_destroy(&ok);
    tmq_result_destroy(&bad);
    msgpack_sbuffer_destroy(&in);
}

/* ---- command line ---- */

#define S_ARGV(...) ((char *[]){"taskmq", __VA_ARGS__, NULL})
#define S_ARGC(argv) s_argc(argv)

static int s_argc(char **argv)
{
    int n = 0;
    while (argv[n])
        n++;
    return n;
}

static int s_parse(tmq_cli_t *o, char **argv, char *err)
{
    return tmq_cli_parse(o, s_argc(argv), argv, err, 256);
}

static void test_cli_map_and_options_anywhere(void **state)
{
    (void)state;
    tmq_cli_t o;
    char err[256];
    char **argv = S_ARGV("--broker", "tcp://x:1", "map", "--ordered", "sum", "10", "-1", "\"x\"",
                         "20", "--timeout=500", "--retries", "3", "-vv", "--fail-when-full");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_MAP);
    assert_string_equal(o.broker, "tcp://x:1");
    assert_true(o.ordered);
    assert_true(o.fail_when_full);
    assert_int_equal(o.timeout_ms, 500);
    assert_int_equal(o.retries, 3);
    assert_int_equal(o.verbose, 2);
    assert_string_equal(o.function, "sum");
    assert_int_equal(o.nargs, 4);
    assert_string_equal(o.args[1], "-1"); /* a negative number is an argument */
    assert_string_equal(o.args[2], "\"x\"");
    assert_int_equal(o.connect_timeout_ms, 5000);
    assert_int_equal(o.progress, -1);
    assert_int_equal(o.local, 0);
    tmq_cli_free(&o);

    argv = S_ARGV("map", "echo", "--", "--not-an-option", "-");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_int_equal(o.nargs, 2);
    assert_string_equal(o.args[0], "--not-an-option");
    assert_string_equal(o.args[1], "-");
    tmq_cli_free(&o);

    argv = S_ARGV("submit", "--local", "2", "primes", "100", "--connect-timeout", "1000",
                  "--timeout", "0", "--raw");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_SUBMIT);
    assert_int_equal(o.local, 2);
    assert_int_equal(o.connect_timeout_ms, 1000);
    assert_int_equal(o.timeout_ms, 0);
    assert_true(o.raw);
    assert_string_equal(o.function, "primes");
    assert_int_equal(o.nargs, 1);
    tmq_cli_free(&o);

    argv = S_ARGV("--no-progress", "map", "echo", "--progress");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_int_equal(o.progress, 1); /* the last one counts */
    tmq_cli_free(&o);

    argv = S_ARGV("status", "--json", "-v");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_STATUS);
    assert_true(o.json);
    assert_int_equal(o.verbose, 1);
    tmq_cli_free(&o);

    argv = S_ARGV("keygen", "--force", "/tmp/k");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_KEYGEN);
    assert_true(o.force);
    assert_string_equal(o.function, "/tmp/k");
    tmq_cli_free(&o);

    argv = S_ARGV("map", "--tag", "echo", "--raw", "--keep-empty");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_true(o.tag);
    assert_true(o.raw);
    assert_true(o.keep_empty);
    assert_false(o.json);
    assert_string_equal(o.function, "echo");
    tmq_cli_free(&o);

    argv = S_ARGV("functions", "--json", "--broker", "tcp://broker.example:5555");
    assert_int_equal(s_parse(&o, argv, err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_FUNCTIONS);
    assert_true(o.json);
    assert_null(o.function);
    tmq_cli_free(&o);
}

static void test_cli_usage_errors(void **state)
{
    (void)state;
    char *long_fn = malloc(70);
    memset(long_fn, 'f', 65);
    long_fn[65] = '\0';
    char **cases[] = {
        (char *[]){"taskmq", NULL},
        S_ARGV("frobnicate"),
        S_ARGV("map"),
        S_ARGV("--timeout", "abc", "map", "echo", "1"),
        S_ARGV("map", "echo", "--bogus"),
        S_ARGV("map", "echo", "-x"),
        S_ARGV("submit", "echo", "1", "2"),
        S_ARGV("status", "extra"),
        S_ARGV("--local", "0", "map", "echo"),
        S_ARGV("--retries", "-1", "map", "echo"),
        S_ARGV("--timeout", "5x", "map", "echo"),
        S_ARGV("map", "echo", "--broker"),
        S_ARGV("--ordered=yes", "map", "echo"),
        S_ARGV("--broker=", "status"),
        S_ARGV("map", long_fn),
        S_ARGV("keygen"),
        S_ARGV("functions", "extra"),
        S_ARGV("map", "echo", "--json", "--raw"),
        S_ARGV("--broker", "localhost:5555", "status"),
        S_ARGV("--broker", "tcp://127.0.0.1", "status"),
        S_ARGV("--broker", "tcp://127.0.0.1:99999", "status"),
        S_ARGV("--broker", "tcp://*:5555", "status"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmq_cli_t o;
        char err[256];
        int rc = s_parse(&o, cases[i], err);
        if (rc != TMQ_EXIT_USAGE) fail_msg("case %zu parsed (rc %d)", i, rc);
        assert_true(strlen(err) > 0);
        tmq_cli_free(&o);
    }
    free(long_fn);

    /* A bad --broker says what a valid one looks like. */
    tmq_cli_t o;
    char err[256];
    assert_int_equal(s_parse(&o, S_ARGV("--broker", "localhost:5555", "status"), err),
                     TMQ_EXIT_USAGE);
    assert_string_equal(err, "--broker: 'localhost:5555' is not an endpoint: use tcp://HOST:PORT "
                             "(e.g. tcp://127.0.0.1:5555)");
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("map", "echo", "--json", "--raw"), err), TMQ_EXIT_USAGE);
    assert_non_null(strstr(err, "--json"));
    tmq_cli_free(&o);
}

/* Each option is for some subcommands; given to another it is a usage error that says
 * which, naming the first such option as given (before or after the subcommand). */
static void test_cli_options_per_subcommand(void **state)
{
    (void)state;
    const struct {
        char **argv;
        const char *err;
    } cases[] = {
        {S_ARGV("submit", "echo", "1", "--tag"), "--tag is for map"},
        {S_ARGV("submit", "--ordered", "echo"), "--ordered is for map and attach"},
        {S_ARGV("submit", "echo", "--batch", "b"), "--batch is for map"},
        {S_ARGV("attach", "b", "--resume"), "--resume is for map"},
        {S_ARGV("batches", "--ordered"), "--ordered is for map and attach"},
        {S_ARGV("attach", "b", "--tag"), "--tag is for map"},
        {S_ARGV("--keep-empty", "submit", "echo"), "--keep-empty is for map"},
        {S_ARGV("submit", "echo", "--progress"), "--progress is for map"},
        {S_ARGV("submit", "echo", "--no-progress"), "--no-progress is for map"},
        {S_ARGV("submit", "echo", "--no-progress", "--tag"), "--no-progress is for map"},
        {S_ARGV("--tag", "submit", "echo", "--ordered"), "--tag is for map"},
        {S_ARGV("status", "--timeout", "5"), "--timeout is for map and submit"},
        {S_ARGV("functions", "--raw"), "--raw is for map and submit"},
        {S_ARGV("status", "--progress"), "--progress is for map"},
        {S_ARGV("keygen", "k", "--json"),
         "--json is for map, submit, attach, status, batches and functions"},
        {S_ARGV("keygen", "k", "--broker", "tcp://h:1"),
         "--broker is for map, submit, attach, status, batches and functions"},
        {S_ARGV("map", "echo", "--force"), "--force is for keygen"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmq_cli_t o;
        char err[256];
        assert_int_equal(s_parse(&o, cases[i].argv, err), TMQ_EXIT_USAGE);
        assert_string_equal(err, cases[i].err);
        tmq_cli_free(&o);
    }
    /* --help still wins: `taskmq submit --tag --help` shows submit's help */
    tmq_cli_t o;
    char err[256];
    assert_int_equal(s_parse(&o, S_ARGV("submit", "--tag", "--help"), err), 0);
    assert_true(o.help);
    tmq_cli_free(&o);
}

/* A near miss names the nearest option or subcommand (at most two edits, a swap of two
 * letters counting one); after a subcommand the hint points at its help. */
static void test_cli_did_you_mean(void **state)
{
    (void)state;
    const struct {
        char **argv;
        const char *err;
        const char *usage; /* what tmq_cli_usage prints, second line */
    } cases[] = {
        {S_ARGV("map", "--ordred", "echo"), "unknown option '--ordred' (did you mean '--ordered'?)",
         "Try 'taskmq map --help'."},
        {S_ARGV("mapp", "echo"), "unknown subcommand 'mapp' (did you mean 'map'?)",
         "Try 'taskmq --help'."},
        {S_ARGV("sumbit", "echo"), "unknown subcommand 'sumbit' (did you mean 'submit'?)",
         "Try 'taskmq --help'."},
        {S_ARGV("stauts"), "unknown subcommand 'stauts' (did you mean 'status'?)",
         "Try 'taskmq --help'."},
        {S_ARGV("fuctions"), "unknown subcommand 'fuctions' (did you mean 'functions'?)",
         "Try 'taskmq --help'."},
        {S_ARGV("frobnicate"), "unknown subcommand 'frobnicate'", "Try 'taskmq --help'."},
        {S_ARGV("--ordred", "map", "echo"), "unknown option '--ordred' (did you mean '--ordered'?)",
         "Try 'taskmq map --help'."},
        {S_ARGV("submit", "echo", "--timout=5"),
         "unknown option '--timout=5' (did you mean '--timeout'?)", "Try 'taskmq submit --help'."},
        {S_ARGV("status", "--jsno"), "unknown option '--jsno' (did you mean '--json'?)",
         "Try 'taskmq status --help'."},
        {S_ARGV("map", "-ordered", "echo"), "unknown option '-ordered' (did you mean '--ordered'?)",
         "Try 'taskmq map --help'."},
        {S_ARGV("map", "--progres", "echo"),
         "unknown option '--progres' (did you mean '--progress'?)", "Try 'taskmq map --help'."},
        {S_ARGV("map", "--bogus", "echo"), "unknown option '--bogus'", "Try 'taskmq map --help'."},
        {S_ARGV("map", "-x", "echo"), "unknown option '-x'", "Try 'taskmq map --help'."},
        {S_ARGV("--a", "map"), "unknown option '--a'", "Try 'taskmq map --help'."},
        {S_ARGV("submit", "echo", "--tag"), "--tag is for map", "Try 'taskmq submit --help'."},
        {S_ARGV("keygen"), "missing PATH", "Try 'taskmq keygen --help'."},
        {S_ARGV("--timeout", "x"), "--timeout: 'x' is not a number in 0..2147483647",
         "Try 'taskmq --help'."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmq_cli_t o;
        char err[256];
        assert_int_equal(s_parse(&o, cases[i].argv, err), TMQ_EXIT_USAGE);
        assert_string_equal(err, cases[i].err);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        tmq_cli_usage(out, o.cmd, err);
        fclose(out);
        char want[512];
        snprintf(want, sizeof want, "taskmq: %s\n%s\n", cases[i].err, cases[i].usage);
        assert_string_equal(text, want);
        free(text);
        tmq_cli_free(&o);
    }
    assert_string_equal(tmq_cli_cmd_name(TMQ_CLI_FUNCTIONS), "functions");
    assert_null(tmq_cli_cmd_name(TMQ_CLI_NONE));
}

/* The help text for cmd, as a string the caller frees. */
static char *s_help(tmq_cli_cmd_t cmd)
{
    /* through a temporary file, not open_memstream: GCC 12 takes the string open_memstream
       fills for a pointer to the local that held its address (-Wdangling-pointer) */
    FILE *out = tmpfile();
    assert_non_null(out);
    tmq_cli_help(out, cmd);
    long n = ftell(out);
    assert_true(n >= 0);
    rewind(out);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, out), (size_t)n);
    text[n] = '\0';
    fclose(out);
    return text;
}

/* The text of help from the line starting with `from` up to the next line that does not
 * start with a space (the next heading), as a string the caller frees. */
static char *s_section(const char *help, const char *from)
{
    const char *start = strstr(help, from);
    assert_non_null(start);
    const char *end = strchr(start, '\n');
    while (end && end[1] == ' ')
        end = strchr(end + 1, '\n');
    return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* Each help lists what applies to its subcommand only: map's options are not job options,
 * submit's help never speaks of lines, --timeout 0 means none, --local says where the
 * worker comes from and that failing to start it exits 3. */
static void test_cli_help_per_subcommand(void **state)
{
    (void)state;
    static const char *map_only[] = {"--ordered", "--tag", "--keep-empty", "--progress"};
    char *all = s_help(TMQ_CLI_NONE);
    char *jobs = s_section(all, "Job options (map, submit):");
    char *mapsec = s_section(all, "Map options (map only):");
    for (size_t i = 0; i < sizeof map_only / sizeof map_only[0]; i++) {
        if (strstr(jobs, map_only[i])) fail_msg("'Job options' lists %s", map_only[i]);
        if (!strstr(mapsec, map_only[i])) fail_msg("'Map options' lacks %s", map_only[i]);
    }
    assert_non_null(
        strstr(jobs, "--timeout MS           per-job time limit in ms (0 or absent: none)"));
    assert_non_null(strstr(all, "$TASKMQ_WORKER when set, else taskmq-worker beside this taskmq"));
    assert_non_null(strstr(all, "taskmq-worker found in PATH"));
    assert_non_null(strstr(all, "or --local could not start its cluster"));
    free(jobs);
    free(mapsec);
    free(all);

    char *submit = s_help(TMQ_CLI_SUBMIT);
    if (strstr(submit, "line")) fail_msg("submit's help speaks of lines:\n%s", submit);
    for (size_t i = 0; i < sizeof map_only / sizeof map_only[0]; i++)
        if (strstr(submit, map_only[i])) fail_msg("submit's help lists %s", map_only[i]);
    assert_non_null(strstr(submit, "--timeout MS"));
    assert_non_null(strstr(submit, "ARG must be JSON"));
    assert_non_null(strstr(submit, "or --local could not start its cluster"));
    free(submit);

    char *map = s_help(TMQ_CLI_MAP);
    for (size_t i = 0; i < sizeof map_only / sizeof map_only[0]; i++)
        if (!strstr(map, map_only[i])) fail_msg("map's help lacks %s", map_only[i]);
    assert_non_null(strstr(map, "(0 or absent: none)"));
    assert_null(strstr(map, "--force"));
    free(map);

    char *keygen = s_help(TMQ_CLI_KEYGEN);
    assert_non_null(strstr(keygen, "--force"));
    assert_null(strstr(keygen, "--broker"));
    free(keygen);
    for (tmq_cli_cmd_t c = TMQ_CLI_STATUS; c <= TMQ_CLI_FUNCTIONS; c++) {
        char *text = s_help(c);
        assert_null(strstr(text, "--timeout"));
        assert_null(strstr(text, "--tag"));
        assert_non_null(strstr(text, "3 no broker answers"));
        free(text);
    }
}

/* --mem-limit BYTES (a size: decimal bytes, or K, M, G with or without "iB", 1 byte..1 TiB)
 * and --retry-oom, for map (also --exec, --local) and submit, before or after the
 * subcommand; a bad size names the flag and what is accepted. */
static void test_cli_mem_limit(void **state)
{
    (void)state;
    const struct {
        const char *value;
        uint64_t bytes;
    } good[] = {
        {"1", 1},
        {"1000", 1000},
        {"64K", 64ull << 10},
        {"512M", 512ull << 20},
        {"512MiB", 512ull << 20},
        {"2g", 2ull << 30},
        {"1024G", 1ull << 40},
        {"1099511627776", 1ull << 40},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tmq_cli_t o;
        char err[256];
        char **argv = S_ARGV("submit", "f", "--mem-limit", (char *)good[i].value);
        if (s_parse(&o, argv, err) != 0) fail_msg("'%s': %s", good[i].value, err);
        assert_true(o.mem_limit == good[i].bytes);
        assert_false(o.retry_oom);
        tmq_cli_free(&o);
    }

    tmq_cli_t o;
    char err[256];
    assert_int_equal(s_parse(&o, S_ARGV("map", "f"), err), 0);
    assert_true(o.mem_limit == 0); /* absent: none (the worker's own) */
    assert_false(o.retry_oom);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("--mem-limit=256M", "--retry-oom", "map", "f"), err), 0);
    assert_true(o.mem_limit == 256ull << 20);
    assert_true(o.retry_oom);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("submit", "f", "--retry-oom"), err), 0);
    assert_true(o.retry_oom);
    assert_true(o.mem_limit == 0);
    tmq_cli_free(&o);
    assert_int_equal(
        s_parse(&o, S_ARGV("map", "--local", "2", "--mem-limit", "1G", "--exec", "--", "cmd"), err),
        0);
    assert_true(o.exec);
    assert_int_equal(o.local, 2);
    assert_true(o.mem_limit == 1ull << 30);
    tmq_cli_free(&o);

    /* too small, too big, overflow; suffixes it does not know (P, MB), fractions, junk */
    static const char *bad[] = {
        "0",    "",  "-1",   "1025G", "1099511627777", "99999999999999999999", "2T", "1P", "1MB",
        "1.5G", "M", "12 M", "5x",    "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char **argv = S_ARGV("submit", "f", "--mem-limit", (char *)bad[i]);
        if (s_parse(&o, argv, err) != TMQ_EXIT_USAGE) fail_msg("'%s' was taken", bad[i]);
        char want[256];
        snprintf(want, sizeof want,
                 "--mem-limit: '%s' is not a size in 1 byte..1 TiB (bytes, or K, M, G: KiB, MiB, "
                 "GiB; e.g. 512M)",
                 bad[i]);
        assert_string_equal(err, want);
        tmq_cli_free(&o);
    }
    assert_int_equal(s_parse(&o, S_ARGV("submit", "f", "--mem-limit"), err), TMQ_EXIT_USAGE);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("submit", "f", "--retry-oom=yes"), err), TMQ_EXIT_USAGE);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("status", "--mem-limit", "1M"), err), TMQ_EXIT_USAGE);
    assert_string_equal(err, "--mem-limit is for map and submit");
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("functions", "--retry-oom"), err), TMQ_EXIT_USAGE);
    assert_string_equal(err, "--retry-oom is for map and submit");
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("submit", "f", "--mem-limt", "1M"), err), TMQ_EXIT_USAGE);
    assert_string_equal(err, "unknown option '--mem-limt' (did you mean '--mem-limit'?)");
    tmq_cli_free(&o);

    /* both in the job options of every help that has them, in none other */
    char *all = s_help(TMQ_CLI_NONE);
    char *jobs = s_section(all, "Job options (map, submit):");
    assert_non_null(strstr(jobs, "--mem-limit BYTES      per-job memory limit"));
    assert_non_null(strstr(jobs, "--retry-oom            retry a job that ran out of memory"));
    free(jobs);
    free(all);
    for (tmq_cli_cmd_t c = TMQ_CLI_MAP; c <= TMQ_CLI_KEYGEN; c++) {
        char *text = s_help(c);
        bool jobcmd = c == TMQ_CLI_MAP || c == TMQ_CLI_SUBMIT;
        assert_true((strstr(text, "--mem-limit BYTES") != NULL) == jobcmd);
        assert_true((strstr(text, "--retry-oom") != NULL) == jobcmd);
        free(text);
    }
}

/* --broker-loss-timeout S: seconds, 0..86400, default 60, for map and submit; shown in the
 * job options of their helps. */
static void test_cli_broker_loss_timeout(void **state)
{
    (void)state;
    tmq_cli_t o;
    char err[256];
    assert_int_equal(s_parse(&o, S_ARGV("map", "f"), err), 0);
    assert_int_equal(o.broker_loss_timeout_s, 60);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("--broker-loss-timeout", "0", "submit", "f"), err), 0);
    assert_int_equal(o.broker_loss_timeout_s, 0);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("map", "f", "--broker-loss-timeout=86400"), err), 0);
    assert_int_equal(o.broker_loss_timeout_s, 86400);
    tmq_cli_free(&o);
    static const char *bad[] = {"86401", "-1", "", "1.5", "60s", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char **argv = S_ARGV("map", "f", "--broker-loss-timeout", (char *)bad[i]);
        if (s_parse(&o, argv, err) != TMQ_EXIT_USAGE) fail_msg("'%s' was taken", bad[i]);
        char want[256];
        snprintf(want, sizeof want, "--broker-loss-timeout: '%s' is not a number in 0..86400",
                 bad[i]);
        assert_string_equal(err, want);
        tmq_cli_free(&o);
    }
    assert_int_equal(s_parse(&o, S_ARGV("map", "f", "--broker-loss-timeout"), err), TMQ_EXIT_USAGE);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("status", "--broker-loss-timeout", "5"), err),
                     TMQ_EXIT_USAGE);
    assert_string_equal(err, "--broker-loss-timeout is for map, submit and attach");
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("map", "f", "--broker-loss-timout", "5"), err),
                     TMQ_EXIT_USAGE);
    assert_string_equal(
        err, "unknown option '--broker-loss-timout' (did you mean '--broker-loss-timeout'?)");
    tmq_cli_free(&o);
    for (tmq_cli_cmd_t c = TMQ_CLI_NONE; c <= TMQ_CLI_BATCHES; c++) {
        char *text = s_help(c);
        bool jobcmd =
            c == TMQ_CLI_NONE || c == TMQ_CLI_MAP || c == TMQ_CLI_SUBMIT || c == TMQ_CLI_ATTACH;
        assert_true((strstr(text, "--broker-loss-timeout S\n") != NULL) == jobcmd);
        free(text);
    }
}

/* Named batches (PROTOCOL.md 5.8): map --batch NAME [--batch-ttl S] [--resume], attach NAME
 * [--ordered], batches; a name must be a batch name, --resume and --batch-ttl need --batch. */
static void test_cli_batches(void **state)
{
    (void)state;
    tmq_cli_t o;
    char err[256];
    assert_int_equal(s_parse(&o, S_ARGV("map", "f"), err), 0);
    assert_null(o.batch);
    assert_int_equal(o.batch_ttl_s, 0);
    assert_false(o.resume);
    tmq_cli_free(&o);
    assert_int_equal(
        s_parse(&o, S_ARGV("--batch", "run-1", "map", "f", "--resume", "--batch-ttl=60"), err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_MAP);
    assert_string_equal(o.batch, "run-1");
    assert_int_equal(o.batch_ttl_s, 60);
    assert_true(o.resume);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("map", "--batch", "b", "--exec", "--", "gzip", "{}"), err),
                     0);
    assert_string_equal(o.batch, "b");
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("attach", "run-1", "--ordered", "--json"), err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_ATTACH);
    assert_string_equal(o.function, "run-1");
    assert_true(o.ordered);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("attach", "b", "--broker-loss-timeout", "5"), err), 0);
    assert_int_equal(o.broker_loss_timeout_s, 5);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("batches", "--json"), err), 0);
    assert_int_equal(o.cmd, TMQ_CLI_BATCHES);
    assert_true(o.json);
    tmq_cli_free(&o);

    char *long_name = malloc(140);
    memset(long_name, 'b', 129);
    long_name[129] = '\0';
    const struct {
        char **argv;
        const char *err;
    } bad[] = {
        {S_ARGV("map", "f", "--resume"), "--resume needs --batch NAME (the batch to finish)"},
        {S_ARGV("map", "f", "--batch-ttl", "5"),
         "--batch-ttl needs --batch NAME (the batch to keep)"},
        {S_ARGV("map", "f", "--batch", "a b"),
         "--batch: 'a b' is not a batch name (1 to 128 bytes, no space or control character)"},
        {S_ARGV("map", "f", "--batch", ""),
         "--batch: '' is not a batch name (1 to 128 bytes, no space or control character)"},
        {S_ARGV("map", "f", "--batch", "a\tb"),
         "--batch: 'a\tb' is not a batch name (1 to 128 bytes, no space or control character)"},
        {S_ARGV("map", "f", "--batch", "b", "--batch-ttl", "0"),
         "--batch-ttl: '0' is not a number in 1..604800"},
        {S_ARGV("map", "f", "--batch", "b", "--batch-ttl", "604801"),
         "--batch-ttl: '604801' is not a number in 1..604800"},
        {S_ARGV("map", "f", "--batch"), "option '--batch' needs a value"},
        {S_ARGV("attach"), "missing NAME (the batch: map --batch NAME)"},
        {S_ARGV("attach", "a", "b"), "attach takes one NAME (got 'b' too)"},
        {S_ARGV("batches", "x"), "batches takes no arguments (got 'x')"},
        {S_ARGV("attach", "b", "--timeout", "5"), "--timeout is for map and submit"},
        {S_ARGV("atach", "b"), "unknown subcommand 'atach' (did you mean 'attach'?)"},
        {S_ARGV("batchs"), "unknown subcommand 'batchs' (did you mean 'batches'?)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (s_parse(&o, bad[i].argv, err) != TMQ_EXIT_USAGE) fail_msg("case %zu was taken", i);
        assert_string_equal(err, bad[i].err);
        tmq_cli_free(&o);
    }
    assert_int_equal(s_parse(&o, S_ARGV("attach", long_name), err), TMQ_EXIT_USAGE);
    char want[256];
    snprintf(want, sizeof want,
             "'%s' is not a batch name (1 to 128 bytes, no space or control character)", long_name);
    assert_string_equal(err, want);
    tmq_cli_free(&o);
    long_name[128] = '\0'; /* 128 bytes: a name */
    assert_int_equal(s_parse(&o, S_ARGV("attach", long_name), err), 0);
    tmq_cli_free(&o);
    free(long_name);

    char *help = s_help(TMQ_CLI_MAP);
    assert_non_null(strstr(help, "--batch NAME"));
    assert_non_null(strstr(help, "--resume"));
    assert_non_null(strstr(help, "--batch-ttl S"));
    free(help);
    help = s_help(TMQ_CLI_ATTACH);
    assert_non_null(strstr(help, "Usage: taskmq attach NAME"));
    assert_non_null(strstr(help, "--ordered"));
    assert_null(strstr(help, "--timeout"));
    assert_non_null(strstr(help, "2 usage error, or no batch by that name"));
    free(help);
    help = s_help(TMQ_CLI_BATCHES);
    assert_non_null(strstr(help, "Usage: taskmq batches"));
    free(help);
    help = s_help(TMQ_CLI_NONE);
    assert_non_null(strstr(help, "  attach NAME "));
    assert_non_null(strstr(help, "  batches [--json] "));
    free(help);
}

/* `taskmq batches`: the table from STATUS_REPLY's batches, --json the list as sent, an
 * older broker (no `batches`) -1 with nothing printed. */
static void test_render_batches(void **state)
{
    (void)state;
    json_error_t e;
    json_t *st = json_loads(
        "{\"batches\":[{\"name\":\"nightly-2026-12-01\",\"total\":40,\"done\":31,"
        "\"failed\":2,\"running\":7,\"closed\":true,\"complete\":false,\"age_ms\":125000},"
        "{\"name\":\"b\",\"total\":3,\"done\":3,\"failed\":0,\"running\":0,\"closed\":false,"
        "\"complete\":true,\"age_ms\":8100},{\"name\":\"c\",\"total\":1,\"done\":0,"
        "\"failed\":0,\"running\":1,\"closed\":false,\"complete\":false,\"age_ms\":10}]}",
        0, &e);
    assert_non_null(st);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(tmq_render_batches(out, st, false), 0);
    fclose(out);
    assert_string_equal(
        text, "NAME                  TOTAL     DONE   FAILED  RUNNING  STATE     AGE\n"
              "nightly-2026-12-01       40       31        2        7  closed    2:05\n"
              "b                         3        3        0        0  complete  8.1 s\n"
              "c                         1        0        0        1  running   0.0 s\n");
    free(text);
    out = open_memstream(&text, &len);
    assert_int_equal(tmq_render_batches(out, st, true), 0);
    fclose(out);
    assert_true(text[0] == '[' && strstr(text, "\"name\":\"nightly-2026-12-01\""));
    assert_non_null(strstr(text, "\"complete\":true"));
    free(text);
    json_decref(st);

    st = json_loads("{\"batches\":[]}", 0, &e);
    out = open_memstream(&text, &len);
    assert_int_equal(tmq_render_batches(out, st, false), 0);
    fclose(out);
    assert_string_equal(text, "no batches (taskmq map --batch NAME makes one)\n");
    free(text);
    json_decref(st);
    st = json_loads("{\"queued\":0}", 0, &e); /* a 0.4 broker */
    out = open_memstream(&text, &len);
    assert_int_equal(tmq_render_batches(out, st, false), -1);
    fclose(out);
    assert_int_equal(len, 0);
    free(text);
    json_decref(st);
}

static void test_cli_help_and_version(void **state)
{
    (void)state;
    struct {
        char **argv;
        tmq_cli_cmd_t cmd;
    } cases[] = {
        {S_ARGV("--help"), TMQ_CLI_NONE},
        {S_ARGV("-h"), TMQ_CLI_NONE},
        {S_ARGV("map", "--help"), TMQ_CLI_MAP},
        {S_ARGV("help", "submit"), TMQ_CLI_SUBMIT},
        {S_ARGV("status", "-h"), TMQ_CLI_STATUS},
        {S_ARGV("help"), TMQ_CLI_NONE},
        {S_ARGV("functions", "--help"), TMQ_CLI_FUNCTIONS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmq_cli_t o;
        char err[256];
        assert_int_equal(s_parse(&o, cases[i].argv, err), 0);
        assert_true(o.help);
        assert_int_equal(o.cmd, cases[i].cmd);
        tmq_cli_free(&o);

        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        tmq_cli_help(out, cases[i].cmd);
        fclose(out);
        assert_non_null(strstr(text, "Usage: taskmq"));
        /* map, submit and the overview state every exit status */
        if (cases[i].cmd == TMQ_CLI_MAP || cases[i].cmd == TMQ_CLI_SUBMIT ||
            cases[i].cmd == TMQ_CLI_NONE) {
            bool one = cases[i].cmd == TMQ_CLI_SUBMIT;
            const char *exits[] = {one ? "0 the job" : "0 every job",
                                   one ? "1 the job" : "1 some job",
                                   "2 usage",
                                   "3 no broker",
                                   "4 lost the broker",
                                   "130 interrupted",
                                   "141 stdout closed"};
            for (size_t k = 0; k < sizeof exits / sizeof exits[0]; k++)
                if (!strstr(text, exits[k])) fail_msg("help %d lacks '%s'", cases[i].cmd, exits[k]);
        }
        free(text);
    }
    tmq_cli_t o;
    char err[256];
    assert_int_equal(s_parse(&o, S_ARGV("--version"), err), 0);
    assert_true(o.version);
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("-V"), err), 0);
    assert_true(o.version);
    tmq_cli_free(&o);
}

static void test_cli_broker_default(void **state)
{
    (void)state;
    tmq_cli_t o;
    char err[256];
    assert_int_equal(s_parse(&o, S_ARGV("status"), err), 0);
    unsetenv("TASKMQ_BROKER");
    assert_string_equal(tmq_cli_broker(&o), TMQ_DEFAULT_BROKER);
    setenv("TASKMQ_BROKER", "tcp://10.0.0.1:7000", 1);
    assert_string_equal(tmq_cli_broker(&o), "tcp://10.0.0.1:7000");
    tmq_cli_free(&o);
    assert_int_equal(s_parse(&o, S_ARGV("status", "--broker", "ipc:///tmp/b"), err), 0);
    assert_string_equal(tmq_cli_broker(&o), "ipc:///tmp/b");
    tmq_cli_free(&o);
    unsetenv("TASKMQ_BROKER");
}

/* ---- progress bar ---- */

static void test_progress_format(void **state)
{
    (void)state;
    char text[200];
    tmq_progress_format(text, sizeof text, 5000, 3, 10000, true, 45210.4, 110);
    assert_string_equal(text, "[##########----------] 5000/10000  3 failed  45210 jobs/s  0.1 s  "
                              "ETA 0.1 s");
    tmq_progress_format(text, sizeof text, 0, 0, 0, false, 0, 0);
    assert_string_equal(text, "[--------------------] 0/0+  0 failed  0.0 jobs/s  0.0 s");
    tmq_progress_format(text, sizeof text, 120, 1, 300, false, 24.0, 5000);
    assert_string_equal(text, "[########------------] 120/300+  1 failed  24 jobs/s  5.0 s");
    tmq_progress_format(text, sizeof text, 7, 0, 7, true, 1.0, 125000);
    assert_string_equal(text, "[####################] 7/7  0 failed  1.0 jobs/s  2:05  ETA 0.0 s");
    tmq_progress_format(text, sizeof text, 10, 0, 100000, true, 10.0, 3723000);
    assert_string_equal(text, "[--------------------] 10/100000  0 failed  10 jobs/s  1:02:03  "
                              "ETA 2:46:39");
    /* not measured yet: no number, no ETA; a slow rate keeps a decimal */
    tmq_progress_format(text, sizeof text, 3, 0, 10, true, -1, 200);
    assert_string_equal(text, "[######--------------] 3/10  0 failed  - jobs/s  0.2 s");
    tmq_progress_format(text, sizeof text, 3, 0, 10, true, 0.25, 12000);
    assert_string_equal(text,
                        "[######--------------] 3/10  0 failed  0.2 jobs/s  12.0 s  ETA 28.0 s");
    tmq_progress_format(text, sizeof text, 3, 0, 10, true, 0, 12000); /* stalled: no ETA */
    assert_string_equal(text, "[######--------------] 3/10  0 failed  0.0 jobs/s  12.0 s");

    tmq_progress_summary(text, sizeof text, 200, 0, 8130);
    assert_string_equal(text, "200 jobs, 0 failed, 8.1 s, 24.6 jobs/s");
    tmq_progress_summary(text, sizeof text, 1, 1, 0);
    assert_string_equal(text, "1 job, 1 failed, 0.0 s, 0.0 jobs/s");
    tmq_progress_duration(text, sizeof text, 59.96);
    assert_string_equal(text, "1:00");
    tmq_progress_duration(text, sizeof text, -1);
    assert_string_equal(text, "0.0 s");

    /* On by default only when stderr is a terminal and stdin is not one; forced either way. */
    assert_true(tmq_progress_wanted(-1, true, false));
    assert_false(tmq_progress_wanted(-1, true, true));
    assert_false(tmq_progress_wanted(-1, false, false));
    assert_true(tmq_progress_wanted(1, false, true));
    assert_false(tmq_progress_wanted(0, true, false));
}

/* The last bar drawn into a memstream's text: from its last \r to the erase after it. */
static void s_last_bar(const char *out, char *bar, size_t len)
{
    const char *end = NULL, *from = NULL;
    for (const char *s = out; (s = strstr(s, "\r[")); s++)
        from = s + 1;
    assert_non_null(from);
    end = strstr(from, "\033[K");
    assert_non_null(end);
    snprintf(bar, len, "%.*s", (int)(end - from), from);
}

/* The rate with an explicit clock: a result every 30 ms (33 jobs/s), the bar erased before
 * each one and redrawn right after, as on a terminal shared with stdout. Redrawing 1 ms
 * after each erase used to measure the rate over 1 ms windows ("1600 jobs/s ... ETA 0.0 s"),
 * and ticks in the same millisecond dropped their jobs from it. */
static void test_progress_rate(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    tmq_progress_t p;
    tmq_progress_init(&p, f, true, 10000);
    assert_true(tmq_progress_rate(&p, 0, 10000) < 0);
    uint64_t done = 0;
    int64_t now = 10000;
    char bar[200];
    while (done < 60) { /* 1.8 s */
        now += 30;
        tmq_progress_clear(&p);
        done++;
        tmq_progress_tick(&p, done, 0, 100, true, now);     /* redrawn at once */
        tmq_progress_tick(&p, done, 0, 100, true, now);     /* same ms */
        tmq_progress_tick(&p, done, 0, 100, true, now + 1); /* 1 ms later */
        if (now == 10000 + 30 * 10) {                       /* 0.3 s: too early to tell */
            fflush(f);
            s_last_bar(out, bar, sizeof bar);
            assert_string_equal(bar, "[##------------------] 10/100  0 failed  - jobs/s  0.3 s");
        }
    }
    double rate = tmq_progress_rate(&p, done, now);
    if (rate < 32.5 || rate > 34.5) fail_msg("rate %.2f, want 33.3", rate);
    fflush(f);
    s_last_bar(out, bar, sizeof bar);
    assert_string_equal(bar,
                        "[############--------] 60/100  0 failed  33 jobs/s  1.8 s  ETA 1.2 s");

    /* Then nothing finishes for 6 s: the window slides past the last result, rate 0. */
    for (int i = 0; i < 60; i++) {
        now += 100;
        tmq_progress_tick(&p, done, 0, 100, true, now);
    }
    assert_true(tmq_progress_rate(&p, done, now) == 0.0);
    /* ... and a burst of 40 in one millisecond counts in full: 40 jobs over the window. */
    tmq_progress_tick(&p, done + 40, 0, 100, true, now);
    rate = tmq_progress_rate(&p, done + 40, now);
    if (rate < 7.5 || rate > 8.5) fail_msg("rate after a burst %.2f, want ~8 (40 in 5 s)", rate);
    tmq_progress_finish(&p, 100, 0, now);
    fclose(f);
    free(out);
}

/* Drawn at most every interval while on screen, at once after an erase; cleared with \r +
 * erase; the summary after. */
static void test_progress_draws(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    tmq_progress_t p;
    tmq_progress_init(&p, f, true, 1000);
    tmq_progress_tick(&p, 1, 0, 10, true, 1000);
    tmq_progress_tick(&p, 2, 0, 10, true, 1050); /* too soon: nothing */
    tmq_progress_tick(&p, 3, 0, 10, true, 1100);
    tmq_progress_clear(&p);
    assert_false(p.drawn);
    tmq_progress_tick(&p, 4, 0, 10, true, 1120); /* cleared: redrawn at once */
    tmq_progress_finish(&p, 10, 1, 3000);
    fclose(f);
    int draws = 0;
    for (char *s = out; (s = strstr(s, "jobs/s  ")); s++)
        draws++;
    assert_int_equal(draws, 3);
    assert_non_null(strstr(out, "3/10"));
    assert_null(strstr(out, "2/10"));
    const char *tail = "\r\033[K10 jobs, 1 failed, 2.0 s, 5.0 jobs/s\n";
    assert_string_equal(out + strlen(out) - strlen(tail), tail);
    free(out);

    tmq_progress_init(&p, stderr, false, 0); /* disabled: never writes */
    tmq_progress_tick(&p, 1, 0, 1, true, 500);
    tmq_progress_finish(&p, 1, 0, 600);
    assert_false(p.drawn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reorder_in_order_out),
        cmocka_unit_test(test_reorder_duplicates_and_past),
        cmocka_unit_test(test_reorder_grows_and_wraps),
        cmocka_unit_test(test_jsonline_values),
        cmocka_unit_test(test_jsonline_rejects_bad_msgpack),
        cmocka_unit_test(test_jsonline_round_trip),
        cmocka_unit_test(test_jsonline_arg_fast_path),
        cmocka_unit_test(test_jsonline_result_lines),
        cmocka_unit_test(test_jsonline_input_modes),
        cmocka_unit_test(test_jsonline_big_integers),
        cmocka_unit_test(test_jsonline_tag),
        cmocka_unit_test(test_cli_map_and_options_anywhere),
        cmocka_unit_test(test_cli_usage_errors),
        cmocka_unit_test(test_cli_mem_limit),
        cmocka_unit_test(test_cli_broker_loss_timeout),
        cmocka_unit_test(test_cli_batches),
        cmocka_unit_test(test_render_batches),
        cmocka_unit_test(test_cli_options_per_subcommand),
        cmocka_unit_test(test_cli_did_you_mean),
        cmocka_unit_test(test_cli_help_per_subcommand),
        cmocka_unit_test(test_cli_help_and_version),
        cmocka_unit_test(test_cli_broker_default),
        cmocka_unit_test(test_progress_format),
        cmocka_unit_test(test_progress_rate),
        cmocka_unit_test(test_progress_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
