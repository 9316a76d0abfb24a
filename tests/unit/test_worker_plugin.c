/* tests/unit/test_worker_plugin.c — the plugin SDK as the worker implements it: the registry
 * (one table of built-in and plugin functions, unique names, a plugin loads whole or not at
 * all), the ABI check, exit hooks, the reply builders and their misuse, the argument readers,
 * and real plugins (.so files built from tests/integration/plugins and examples/wordcount.c)
 * loaded into this executable, which exports the SDK as taskmq-worker does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "builtins.h"
#include "proto.h"
#include "registry.h"

#include <msgpack.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    tmq_registry_t *reg;
    msgpack_sbuffer out;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->reg = tmq_registry_new();
    msgpack_sbuffer_init(&fx->out);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    tmq_registry_destroy(&fx->reg);
    tmq_registry_destroy(&fx->reg); /* safe twice */
    msgpack_sbuffer_destroy(&fx->out);
    free(fx);
    return 0;
}

static int call(fx_t *fx, const char *fn, const void *arg, size_t len)
{
    return tmq_registry_call(fx->reg, fn, strlen(fn), arg, len, &fx->out);
}

static void assert_out(fx_t *fx, const void *bytes, size_t len)
{
    assert_int_equal(fx->out.size, len);
    assert_memory_equal(fx->out.data, bytes, len);
}

static void assert_text(fx_t *fx, const char *text)
{
    if (fx->out.size != strlen(text) || memcmp(fx->out.data, text, fx->out.size) != 0)
        fail_msg("expected '%s', got '%.*s'", text, (int)fx->out.size, fx->out.data);
}

/* ---- job functions for the reply tests ---- */

static int g_rc[4]; /* return values of builder calls a test checks */

static int f_builder(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_map(r, 3);
    tmq_reply_key(r, "a");
    tmq_reply_int(r, -1);
    tmq_reply_key(r, "b");
    tmq_reply_array(r, 8);
    tmq_reply_bool(r, true);
    tmq_reply_bool(r, false);
    tmq_reply_nil(r);
    tmq_reply_str(r, "s");
    tmq_reply_strn(r, "h\0i", 3);
    tmq_reply_double(r, 1.5);
    tmq_reply_uint(r, UINT64_MAX);
    tmq_reply_bin(r, "\x00\xff", 2);
    tmq_reply_key(r, "c");
    return tmq_reply_map(r, 0); /* an empty container completes at once */
}

static int f_incomplete(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_map(r, 2);
    tmq_reply_key(r, "a");
    return tmq_reply_int(r, 1);
}

static int f_incomplete_array(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_map(r, 1);
    tmq_reply_key(r, "a");
    tmq_reply_array(r, 2);
    return tmq_reply_int(r, 1);
}

/* A map of 2^31 pairs wants 2^32 items: counted in full, never wrapped to "complete". */
static int f_huge_map(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_map(r, 0x80000000u);
    tmq_reply_key(r, "a");
    return tmq_reply_int(r, 1);
}

static int f_two_values(const void *arg, size_t len, tmq_reply_t *r)
{
    g_rc[0] = tmq_reply_int(r, 1);
    g_rc[1] = tmq_reply_int(r, 2);
    g_rc[2] = tmq_reply_int(r, 3); /* refused too, and the first misuse is what is said */
    return 0;
}

static int f_key_outside(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_array(r, 1);
    g_rc[0] = tmq_reply_key(r, "k");
    return 0;
}

static int f_key_as_value(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_map(r, 1);
    tmq_reply_key(r, "a");
    g_rc[0] = tmq_reply_key(r, "b");
    return 0;
}

static int f_nothing(const void *arg, size_t len, tmq_reply_t *r)
{
    return 0;
}

static int f_minus1(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_int(r, 1); /* a complete result, but -1 says it failed */
    return -1;
}

static int f_bad_result(const void *arg, size_t len, tmq_reply_t *r)
{
    g_rc[0] = tmq_reply_result(r, "\x92\x01", 2);
    return 0;
}

static int f_too_deep(const void *arg, size_t len, tmq_reply_t *r)
{
    for (int i = 0; i < 32; i++)
        g_rc[0] = tmq_reply_array(r, 1);
    g_rc[1] = tmq_reply_array(r, 1);
    return 0;
}

static int f_deep_ok(const void *arg, size_t len, tmq_reply_t *r)
{
    for (int i = 0; i < 32; i++)
        tmq_reply_array(r, 1);
    return tmq_reply_nil(r);
}

static int f_result_too_deep(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_array(r, 1);
    uint8_t deep[32]; /* 31 arrays and a nil: 31 levels, 32 with the outer one */
    memset(deep, 0x91, 31);
    deep[31] = 0xc0;
    g_rc[0] = tmq_reply_result(r, deep, 32); /* 31 + 1: fits */
    return 0;
}

static int f_result_deeper(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_array(r, 1);
    uint8_t deep[33];
    memset(deep, 0x91, 32);
    deep[32] = 0xc0;
    g_rc[0] = tmq_reply_result(r, deep, 33); /* 32 + 1: too deep */
    return 0;
}

static int f_error_wins(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_map(r, 2);
    tmq_reply_key(r, "a");
    g_rc[0] = tmq_reply_error(r, "boom %d", 7);
    g_rc[1] = tmq_reply_error(r, "second");
    g_rc[2] = tmq_reply_int(r, 1);
    return 0; /* an error reply stands even when the function returns 0 */
}

static int f_error_after_misuse(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_nil(r);
    tmq_reply_nil(r);
    return tmq_reply_error(r, "mine");
}

static int f_long_error(const void *arg, size_t len, tmq_reply_t *r)
{
    char big[6000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    return tmq_reply_error(r, "%s", big);
}

static int f_result_in_map(const void *arg, size_t len, tmq_reply_t *r)
{
    tmq_reply_map(r, 1);
    tmq_reply_key(r, "arg");
    return tmq_reply_result(r, arg, len); /* the argument, as an item */
}

static int f_str_null(const void *arg, size_t len, tmq_reply_t *r)
{
    return tmq_reply_str(r, NULL);
}

static tmq_reply_t *g_kept;

static int f_keeper(const void *arg, size_t len, tmq_reply_t *r)
{
    g_kept = r;
    return tmq_reply_nil(r);
}

typedef struct {
    const char *name;
    tmq_job_fn fn;
} s_named_t;

static const s_named_t s_reply_fns[] = {
    {"builder", f_builder},
    {"incomplete", f_incomplete},
    {"incomplete_array", f_incomplete_array},
    {"huge_map", f_huge_map},
    {"two_values", f_two_values},
    {"key_outside", f_key_outside},
    {"key_as_value", f_key_as_value},
    {"nothing", f_nothing},
    {"minus1", f_minus1},
    {"bad_result", f_bad_result},
    {"too_deep", f_too_deep},
    {"deep_ok", f_deep_ok},
    {"result_too_deep", f_result_too_deep},
    {"result_deeper", f_result_deeper},
    {"error_wins", f_error_wins},
    {"error_after_misuse", f_error_after_misuse},
    {"long_error", f_long_error},
    {"result_in_map", f_result_in_map},
    {"str_null", f_str_null},
    {"keeper", f_keeper},
};

static int init_reply_fns(tmq_plugin_t *p, void *arg)
{
    for (size_t i = 0; i < sizeof s_reply_fns / sizeof s_reply_fns[0]; i++)
        if (tmq_plugin_register(p, s_reply_fns[i].name, s_reply_fns[i].fn) != 0) return -1;
    return 0;
}

static void add_reply_fns(fx_t *fx)
{
    assert_int_equal(tmq_registry_add(fx->reg, "test", init_reply_fns, NULL), 0);
}

static const uint8_t s_nil[] = {0xc0};

static void test_reply_builder(void **state)
{
    fx_t *fx = *state;
    add_reply_fns(fx);
    msgpack_sbuffer want;
    msgpack_sbuffer_init(&want);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_int64(&pk, -1);
    msgpack_pack_str_with_body(&pk, "b", 1);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "s", 1);
    msgpack_pack_str_with_body(&pk, "h\0i", 3);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_bin_with_body(&pk, "\x00\xff", 2);
    msgpack_pack_str_with_body(&pk, "c", 1);
    msgpack_pack_map(&pk, 0);
    assert_int_equal(call(fx, "builder", s_nil, 1), TMQ_ST_OK);
    assert_out(fx, want.data, want.size);
    msgpack_sbuffer_destroy(&want);

    const uint8_t arg[] = {0x92, 0x01, 0xa1, 'x'}; /* [1, "x"] */
    assert_int_equal(call(fx, "result_in_map", arg, sizeof arg), TMQ_ST_OK);
    assert_out(fx,
               "\x81\xa3"
               "arg\x92\x01\xa1x",
               9);

    assert_int_equal(call(fx, "deep_ok", s_nil, 1), TMQ_ST_OK);
    assert_int_equal(fx->out.size, 33);
    assert_int_equal(tmq_proto_check(fx->out.data, fx->out.size, TMQ_PROTO_MAX_DEPTH), 0);
    assert_int_equal(call(fx, "result_too_deep", s_nil, 1), TMQ_ST_OK);
    assert_int_equal(g_rc[0], 0);
}

static void test_reply_misuse(void **state)
{
    fx_t *fx = *state;
    add_reply_fns(fx);
    static const struct {
        const char *fn, *text;
    } cases[] = {
        {"incomplete", "incomplete: the reply is incomplete: a map still wants 2 items"},
        {"incomplete_array",
         "incomplete_array: the reply is incomplete: an array still wants 1 item"},
        {"huge_map", "huge_map: the reply is incomplete: a map still wants 4294967294 items"},
        {"two_values", "two_values: tmq_reply_int after the reply was complete (a result is one "
                       "value)"},
        {"key_outside", "key_outside: tmq_reply_key(\"k\") where no map key is due"},
        {"key_as_value", "key_as_value: tmq_reply_key(\"b\") where no map key is due"},
        {"nothing", "nothing: returned without a result"},
        {"minus1", "minus1: failed without saying why (returned -1 without tmq_reply_error)"},
        {"bad_result", "bad_result: tmq_reply_result was given 2 bytes that are not one "
                       "well-formed msgpack value (nested at most 32 deep)"},
        {"too_deep", "too_deep: tmq_reply_array: the reply is nested deeper than 32"},
        {"result_deeper", "result_deeper: tmq_reply_result was given 33 bytes that are not one "
                          "well-formed msgpack value (nested at most 32 deep)"},
        {"str_null", "str_null: tmq_reply_str(NULL)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(g_rc, 0x55, sizeof g_rc);
        int st = call(fx, cases[i].fn, s_nil, 1);
        if (st != TMQ_ST_ERROR) fail_msg("%s: status %d", cases[i].fn, st);
        assert_text(fx, cases[i].text);
        if (strcmp(cases[i].fn, "two_values") == 0) {
            assert_int_equal(g_rc[0], 0);
            assert_int_equal(g_rc[1], -1);
            assert_int_equal(g_rc[2], -1);
        } else if (strcmp(cases[i].fn, "too_deep") == 0) {
            assert_int_equal(g_rc[0], 0);
            assert_int_equal(g_rc[1], -1);
        } else if (strcmp(cases[i].fn, "key_outside") == 0 ||
                   strcmp(cases[i].fn, "bad_result") == 0 ||
                   strcmp(cases[i].fn, "result_deeper") == 0) {
            assert_int_equal(g_rc[0], -1);
        }
    }
}

static void test_reply_error(void **state)
{
    fx_t *fx = *state;
    add_reply_fns(fx);
    assert_int_equal(call(fx, "error_wins", s_nil, 1), TMQ_ST_ERROR);
    assert_text(fx, "boom 7"); /* replaces the map begun; the first error stands */
    assert_int_equal(g_rc[0], -1);
    assert_int_equal(g_rc[1], -1);
    assert_int_equal(g_rc[2], -1);
    assert_int_equal(call(fx, "error_after_misuse", s_nil, 1), TMQ_ST_ERROR);
    assert_text(fx, "mine"); /* the function's own words beat our diagnosis */
    assert_int_equal(call(fx, "long_error", s_nil, 1), TMQ_ST_ERROR);
    assert_int_equal(fx->out.size, TMQ_REPLY_ERROR_MAX);
    assert_int_equal(((char *)fx->out.data)[TMQ_REPLY_ERROR_MAX - 1], 'x');
    /* every call starts afresh */
    assert_int_equal(call(fx, "deep_ok", s_nil, 1), TMQ_ST_OK);
}

static void test_reply_kept_pointer(void **state)
{
    fx_t *fx = *state;
    add_reply_fns(fx);
    assert_int_equal(call(fx, "keeper", s_nil, 1), TMQ_ST_OK);
    /* after the call the reply refuses everything and the next job is unharmed */
    assert_int_equal(tmq_reply_int(g_kept, 1), -1);
    assert_int_equal(tmq_reply_error(g_kept, "late"), -1);
    assert_int_equal(tmq_reply_result(g_kept, s_nil, 1), -1);
    assert_int_equal(call(fx, "keeper", s_nil, 1), TMQ_ST_OK);
    assert_out(fx, s_nil, 1);
}

/* ---- the registry ---- */

static int f_nil(const void *arg, size_t len, tmq_reply_t *r)
{
    return tmq_reply_nil(r);
}

static int s_builtins(tmq_plugin_t *plugin, void *o)
{
    return tmq_builtins_register(plugin, o);
}

static void add_builtins(fx_t *fx)
{
    tmq_worker_opts_t o = {.test_functions = false};
    assert_int_equal(tmq_registry_add(fx->reg, "built-in", s_builtins, &o), 0);
}

static const char *g_names[3];

static int init_names(tmq_plugin_t *p, void *arg)
{
    for (int i = 0; i < 3 && g_names[i]; i++)
        if (tmq_plugin_register(p, g_names[i], f_nil) != 0) return -1;
    return 0;
}

/* Adds a compiled-in plugin registering a, b, c (NULL ends) as origin; returns its rc. */
static int add_names(fx_t *fx, const char *origin, const char *a, const char *b, const char *c)
{
    g_names[0] = a;
    g_names[1] = b;
    g_names[2] = c;
    return tmq_registry_add(fx->reg, origin, init_names, NULL);
}

static void assert_error_is(fx_t *fx, const char *text)
{
    const char *got = tmq_registry_error(fx->reg);
    if (!got || strcmp(got, text) != 0) fail_msg("expected '%s', got '%s'", text, got);
}

static void assert_names(fx_t *fx, const char *joined)
{
    const char *const *names;
    size_t n = tmq_registry_names(fx->reg, &names);
    char buf[512] = "";
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(buf, ",");
        strcat(buf, names[i]);
    }
    assert_string_equal(buf, joined);
}

static void test_registry_table(void **state)
{
    fx_t *fx = *state;
    add_builtins(fx);
    assert_int_equal(add_names(fx, "one.so", "x", "y", NULL), 0);
    assert_names(fx, "sum,primes,echo,sleep,fail,x,y");
    assert_null(tmq_registry_error(fx->reg));
    assert_int_equal(call(fx, "x", s_nil, 1), TMQ_ST_OK);
    assert_out(fx, s_nil, 1);
    assert_int_equal(call(fx, "nope", s_nil, 1), TMQ_ST_ERROR);
    assert_text(fx, "unknown function: nope");
    assert_int_equal(call(fx, "x", "\x92\x01", 2), TMQ_ST_ERROR); /* checked for plugins too */
    assert_text(fx, "x: argument is not one well-formed msgpack object");
    const uint8_t ten[] = {0x0a};
    assert_int_equal(call(fx, "sum", ten, 1), TMQ_ST_OK); /* built-ins: the same table */
    assert_out(fx, "\x2d", 1);                            /* 45 */
}

static void test_registry_refusals(void **state)
{
    fx_t *fx = *state;
    add_builtins(fx);
    assert_int_equal(add_names(fx, "one.so", "x", NULL, NULL), 0);
    static const struct {
        const char *a, *b, *text;
    } cases[] = {
        {"sum", NULL, "the two.so functions registers 'sum', which is a built-in function"},
        {"x", NULL, "the two.so functions registers 'x', which is a one.so function"},
        {"z", "z", "the two.so functions registers 'z' twice"},
        {"", NULL, "the two.so functions registers a function named '': names are 1 to 64 bytes"},
        {"z", "0123456789012345678901234567890123456789012345678901234567890123456789xx",
         "the two.so functions registers a function named "
         "'0123456789012345678901234567890123456789012345678901234567890123456789...': "
         "names are 1 to 64 bytes"},
        {NULL, NULL, "the two.so functions registered no functions"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(add_names(fx, "two.so", cases[i].a, cases[i].b, NULL), -1);
        assert_error_is(fx, cases[i].text);
        assert_names(fx, "sum,primes,echo,sleep,fail,x"); /* nothing of two.so stays */
        assert_int_equal(call(fx, "z", s_nil, 1), TMQ_ST_ERROR);
        assert_text(fx, "unknown function: z");
    }
    /* 64 bytes is a name */
    const char *n64 = "0123456789012345678901234567890123456789012345678901234567890123";
    assert_int_equal(add_names(fx, "three.so", n64, NULL, NULL), 0);
    assert_int_equal(call(fx, n64, s_nil, 1), TMQ_ST_OK);
}

static int init_null_fn(tmq_plugin_t *p, void *arg)
{
    return tmq_plugin_register(p, "f", NULL);
}

static int init_minus1(tmq_plugin_t *p, void *arg)
{
    tmq_plugin_register(p, "f", f_nil);
    return -1;
}

static int init_reason(tmq_plugin_t *p, void *arg)
{
    tmq_plugin_register(p, "f", f_nil);
    return tmq_plugin_error(p, "no GPU (%d found)", 0);
}

static int init_abi7(tmq_plugin_t *p, void *arg)
{
    if (tmq_plugin_register_abi(p, "f", f_nil, 7) != 0) return -1;
    return 0;
}

static int init_abi7_ignored(tmq_plugin_t *p, void *arg)
{
    tmq_plugin_register_abi(p, "f", f_nil, 7); /* ignores the failure */
    tmq_plugin_register(p, "g", f_nil);        /* refused: the first reason stands */
    return 0;
}

static tmq_plugin_t *g_kept_plugin;

static int init_keep(tmq_plugin_t *p, void *arg)
{
    g_kept_plugin = p;
    return tmq_plugin_register(p, "kept", f_nil);
}

static void test_registry_init_failures(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(tmq_registry_add(fx->reg, "p.so", init_null_fn, NULL), -1);
    assert_error_is(fx, "the p.so functions registers 'f' without a function (NULL)");
    assert_int_equal(tmq_registry_add(fx->reg, "p.so", init_minus1, NULL), -1);
    assert_error_is(fx, "the p.so functions refused to load (its tmq_plugin_init returned -1)");
    assert_int_equal(tmq_registry_add(fx->reg, "p.so", init_reason, NULL), -1);
    assert_error_is(fx, "the p.so functions refused to load: no GPU (0 found)");
    assert_int_equal(tmq_registry_add(fx->reg, "p.so", init_abi7, NULL), -1);
    assert_error_is(fx, "plugin p.so was built for plugin ABI 7; this worker has ABI 1");
    assert_int_equal(tmq_registry_add(fx->reg, "p.so", init_abi7_ignored, NULL), -1);
    assert_error_is(fx, "plugin p.so was built for plugin ABI 7; this worker has ABI 1");
    assert_names(fx, "");

    /* a plugin pointer kept past init registers nothing */
    assert_int_equal(tmq_registry_add(fx->reg, "k.so", init_keep, NULL), 0);
    assert_int_equal(tmq_plugin_register(g_kept_plugin, "late", f_nil), -1);
    assert_int_equal(tmq_plugin_on_exit(g_kept_plugin, free, NULL), -1);
    assert_names(fx, "kept");
}

static int init_many(tmq_plugin_t *p, void *arg)
{
    char name[16];
    for (int i = 0; i < *(int *)arg; i++) {
        snprintf(name, sizeof name, "f%d", i);
        if (tmq_plugin_register(p, name, f_nil) != 0) return -1;
    }
    return 0;
}

static void test_registry_limit(void **state)
{
    fx_t *fx = *state;
    int n = 1025;
    assert_int_equal(tmq_registry_add(fx->reg, "many.so", init_many, &n), -1);
    assert_error_is(fx, "the many.so functions registers 'f1024': a worker serves at most 1024 "
                        "functions");
    n = 1024;
    assert_int_equal(tmq_registry_add(fx->reg, "many.so", init_many, &n), 0);
    const char *const *names;
    assert_int_equal(tmq_registry_names(fx->reg, &names), 1024);
    assert_int_equal(call(fx, "f1023", s_nil, 1), TMQ_ST_OK);
}

static char g_log[64];

static void hook(void *arg)
{
    strcat(g_log, arg);
}

static int init_hooks_ab(tmq_plugin_t *p, void *arg)
{
    tmq_plugin_on_exit(p, hook, "a");
    tmq_plugin_on_exit(p, hook, "b");
    return tmq_plugin_register(p, "h1", f_nil);
}

static int init_hooks_fail(tmq_plugin_t *p, void *arg)
{
    tmq_plugin_on_exit(p, hook, "x");
    return -1;
}

static int init_hooks_c(tmq_plugin_t *p, void *arg)
{
    assert_int_equal(tmq_plugin_on_exit(p, NULL, NULL), -1);
    return 0;
}

static int init_hooks_d(tmq_plugin_t *p, void *arg)
{
    tmq_plugin_on_exit(p, hook, "d");
    return tmq_plugin_register(p, "h2", f_nil);
}

static void test_exit_hooks(void **state)
{
    fx_t *fx = *state;
    g_log[0] = '\0';
    assert_int_equal(tmq_registry_add(fx->reg, "ab", init_hooks_ab, NULL), 0);
    assert_int_equal(tmq_registry_add(fx->reg, "fail", init_hooks_fail, NULL), -1);
    assert_int_equal(tmq_registry_add(fx->reg, "c", init_hooks_c, NULL), -1);
    assert_error_is(fx, "the c functions registers an exit hook without a function (NULL)");
    assert_int_equal(tmq_registry_add(fx->reg, "d", init_hooks_d, NULL), 0);
    assert_string_equal(g_log, "");
    tmq_registry_exit(fx->reg);
    assert_string_equal(g_log, "dba"); /* latest first; a failed plugin's hooks are dropped */
    tmq_registry_exit(fx->reg);
    assert_string_equal(g_log, "dba"); /* once */
}

/* ---- the argument readers ---- */

/* A malloc'd copy, so that reading past its end is a sanitizer error. */
static void *dup_bytes(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    memcpy(q, p, n);
    return q;
}

typedef struct {
    const char *bytes;
    size_t len;
    const char *type;
    int kind; /* 'u' uint, 'i' negative int, 'd' float, 'b' bool, 's' str, 'y' bin, 0 other */
    uint64_t u;
    int64_t i;
    double d;
} s_arg_case_t;

#define B(s) s, sizeof(s) - 1

static const s_arg_case_t s_args[] = {
    {B("\x00"), "integer", 'u', 0, 0, 0},
    {B("\x7f"), "integer", 'u', 127, 0, 127},
    {B("\xcc\xff"), "integer", 'u', 255, 0, 255},
    {B("\xcd\x01\x00"), "integer", 'u', 256, 0, 256},
    {B("\xce\x00\x01\x00\x00"), "integer", 'u', 65536, 0, 65536},
    {B("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), "integer", 'u', UINT64_MAX, 0,
     18446744073709551615.0},
    {B("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), "integer", 'u', INT64_MAX, 0,
     9223372036854775807.0},
    {B("\xd0\x05"), "integer", 'u', 5, 0, 5}, /* a signed form of a positive number */
    {B("\xff"), "integer", 'i', 0, -1, -1},
    {B("\xe0"), "integer", 'i', 0, -32, -32},
    {B("\xd0\x80"), "integer", 'i', 0, -128, -128},
    {B("\xd1\x80\x00"), "integer", 'i', 0, -32768, -32768},
    {B("\xd2\xff\xff\xff\xfe"), "integer", 'i', 0, -2, -2},
    {B("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), "integer", 'i', 0, INT64_MIN,
     -9223372036854775808.0},
    {B("\xca\x3f\xc0\x00\x00"), "float", 'd', 0, 0, 1.5},
    {B("\xcb\xc0\x04\x00\x00\x00\x00\x00\x00"), "float", 'd', 0, 0, -2.5},
    {B("\xc2"), "boolean", 'b', 0, 0, 0},
    {B("\xc3"), "boolean", 'b', 1, 0, 0},
    {B("\xc0"), "null", 0, 0, 0, 0},
    {B("\xa0"), "string", 's', 0, 0, 0},
    {B("\xa3"
       "abc"),
     "string", 's', 3, 0, 0},
    {B("\xd9\x02"
       "hi"),
     "string", 's', 2, 0, 0},
    {B("\xda\x00\x02"
       "hi"),
     "string", 's', 2, 0, 0},
    {B("\xdb\x00\x00\x00\x02"
       "hi"),
     "string", 's', 2, 0, 0},
    {B("\xc4\x02\x00\xff"), "bytes", 'y', 2, 0, 0},
    {B("\xc5\x00\x01\x00"), "bytes", 'y', 1, 0, 0},
    {B("\xc6\x00\x00\x00\x00"), "bytes", 'y', 0, 0, 0},
    {B("\x90"), "array", 0, 0, 0, 0},
    {B("\x92\x01\x02"), "array", 0, 0, 0, 0},
    {B("\x80"), "map", 0, 0, 0, 0},
    {B("\xd4\x01\x02"), "extension", 0, 0, 0, 0},
    {B("\xc1"), "malformed", 0, 0, 0, 0},
    {B("\x01\x02"), "malformed", 0, 0, 0, 0}, /* two values */
    {B("\xa3"
       "ab"),
     "malformed", 0, 0, 0, 0},
    {B(""), "malformed", 0, 0, 0, 0},
};

static void check_arg(const s_arg_case_t *c, const void *p, size_t len, bool whole)
{
    int64_t i = 99;
    uint64_t u = 99;
    double d = 99;
    bool b = false;
    const char *s = NULL;
    const void *y = NULL;
    size_t n = 99;
    int k = whole ? c->kind : 0;
    int want_int = k == 'i' || (k == 'u' && c->u <= INT64_MAX);
    assert_int_equal(tmq_arg_int(p, len, &i), want_int ? 0 : -1);
    if (want_int) assert_int_equal(i, k == 'i' ? c->i : (int64_t)c->u);
    if (!want_int) assert_int_equal(i, 99); /* untouched */
    assert_int_equal(tmq_arg_uint(p, len, &u), k == 'u' ? 0 : -1);
    if (k == 'u') assert_int_equal(u, c->u);
    int want_d = k == 'u' || k == 'i' || k == 'd';
    assert_int_equal(tmq_arg_double(p, len, &d), want_d ? 0 : -1);
    if (want_d) assert_true(d == c->d);
    assert_int_equal(tmq_arg_bool(p, len, &b), k == 'b' ? 0 : -1);
    if (k == 'b') assert_int_equal(b, c->u != 0);
    assert_int_equal(tmq_arg_str(p, len, &s, &n), k == 's' ? 0 : -1);
    if (k == 's') {
        assert_int_equal(n, c->u);
        assert_ptr_equal(s, (const char *)p + len - n);
    }
    assert_int_equal(tmq_arg_bytes(p, len, &y, &n), k == 's' || k == 'y' ? 0 : -1);
    if (k == 's' || k == 'y') assert_int_equal(n, c->u);
}

static void test_arg_scalars(void **state)
{
    for (size_t t = 0; t < sizeof s_args / sizeof s_args[0]; t++) {
        const s_arg_case_t *c = &s_args[t];
        void *p = dup_bytes(c->bytes, c->len);
        check_arg(c, p, c->len, true);
        const char *type = tmq_arg_type(p, c->len);
        if (strcmp(type, c->type) != 0) fail_msg("case %zu: type %s, want %s", t, type, c->type);
        free(p);
        if (strcmp(c->type, "malformed") == 0) continue;
        /* every truncation reads as nothing, and nothing is read past the end */
        for (size_t cut = 0; cut < c->len; cut++) {
            p = dup_bytes(c->bytes, cut);
            check_arg(c, p, cut, false);
            assert_string_equal(tmq_arg_type(p, cut), "malformed");
            free(p);
        }
    }
    assert_int_equal(tmq_arg_int(NULL, 0, &(int64_t){0}), -1);
    assert_string_equal(tmq_arg_type(NULL, 3), "malformed");
}

static void test_arg_compound(void **state)
{
    /* [7, {"k": "v", "n": -3, "deep": [[1]]}, "s"] */
    static const uint8_t a[] = {0x93, 0x07, 0x83, 0xa1, 'k', 0xa1, 'v',  0xa1, 'n',  0xfd,
                                0xa4, 'd',  'e',  'e',  'p', 0x91, 0x91, 0x01, 0xa1, 's'};
    uint8_t *p = dup_bytes(a, sizeof a);
    uint32_t n;
    const void *v, *f;
    size_t vl, fl;
    int64_t i;
    assert_int_equal(tmq_arg_count(p, sizeof a, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(tmq_arg_item(p, sizeof a, 0, &v, &vl), 0);
    assert_int_equal(tmq_arg_int(v, vl, &i), 0);
    assert_int_equal(i, 7);
    assert_int_equal(tmq_arg_item(p, sizeof a, 1, &v, &vl), 0);
    assert_ptr_equal(v, p + 2);
    assert_int_equal(vl, 16);
    assert_string_equal(tmq_arg_type(v, vl), "map");
    assert_int_equal(tmq_arg_count(v, vl, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(tmq_arg_field(v, vl, "n", &f, &fl), 0);
    assert_int_equal(tmq_arg_int(f, fl, &i), 0);
    assert_int_equal(i, -3);
    assert_int_equal(tmq_arg_field(v, vl, "deep", &f, &fl), 0);
    assert_int_equal(fl, 3);
    assert_int_equal(tmq_arg_field(v, vl, "de", &f, &fl), -1);
    assert_int_equal(tmq_arg_field(v, vl, "v", &f, &fl), -1);       /* a value, not a key */
    assert_int_equal(tmq_arg_field(p, sizeof a, "k", &f, &fl), -1); /* an array */
    assert_int_equal(tmq_arg_item(v, vl, 0, &f, &fl), -1);          /* a map */
    assert_int_equal(tmq_arg_item(p, sizeof a, 2, &v, &vl), 0);
    assert_int_equal(vl, 2);
    assert_int_equal(tmq_arg_item(p, sizeof a, 3, &v, &vl), -1);
    assert_int_equal(tmq_arg_count("\x05", 1, &n), -1);
    /* cut anywhere: items past the cut are not found, and nothing reads past it */
    for (size_t cut = 0; cut < sizeof a; cut++) {
        uint8_t *q = dup_bytes(a, cut);
        if (tmq_arg_item(q, cut, 2, &v, &vl) == 0) fail_msg("item 2 found in %zu bytes", cut);
        if (cut > 2 && tmq_arg_item(q, cut, 1, &v, &vl) == 0)
            assert_true((const uint8_t *)v + vl <= q + cut);
        tmq_arg_field(q + 2, cut > 2 ? cut - 2 : 0, "deep", &f, &fl);
        free(q);
    }
    /* a count that lies: array32 of 2^32-1 items in 6 bytes is no value at all */
    const uint8_t liar[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(tmq_arg_item(liar, sizeof liar, 5, &v, &vl), -1);
    assert_int_equal(tmq_arg_item(liar, sizeof liar, 0, &v, &vl), -1);
    uint32_t count;
    assert_int_equal(tmq_arg_count(liar, sizeof liar, &count), -1);
    assert_string_equal(tmq_arg_type(liar, sizeof liar), "malformed");
    free(p);
}

/* ---- real plugins ---- */

static void load_ok(fx_t *fx, const char *path)
{
    if (tmq_registry_load(fx->reg, path) != 0)
        fail_msg("%s: %s", path, tmq_registry_error(fx->reg));
}

/* wc's counts of text, by the definition (newlines; runs of non-isspace in the C locale). */
static void wc(const char *t, size_t n, uint64_t out[3])
{
    out[0] = out[1] = 0;
    out[2] = n;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        bool sp = c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
        out[0] += c == '\n';
        if (!sp && !in) out[1]++;
        in = !sp;
    }
}

static void check_wordcount(fx_t *fx, const char *text, size_t n, bool bin)
{
    msgpack_sbuffer arg;
    msgpack_sbuffer_init(&arg);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &arg, msgpack_sbuffer_write);
    if (bin)
        msgpack_pack_bin_with_body(&pk, text, n);
    else
        msgpack_pack_str_with_body(&pk, text, n);
    assert_int_equal(call(fx, "wordcount", arg.data, arg.size), TMQ_ST_OK);
    uint64_t want[3];
    wc(text, n, want);
    msgpack_sbuffer ref;
    msgpack_sbuffer_init(&ref);
    msgpack_packer_init(&pk, &ref, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    const char *keys[] = {"lines", "words", "bytes"};
    for (int i = 0; i < 3; i++) {
        msgpack_pack_str_with_body(&pk, keys[i], strlen(keys[i]));
        msgpack_pack_uint64(&pk, want[i]);
    }
    assert_out(fx, ref.data, ref.size);
    msgpack_sbuffer_destroy(&ref);
    msgpack_sbuffer_destroy(&arg);
}

static void test_load_wordcount(void **state)
{
    fx_t *fx = *state;
    add_builtins(fx);
    load_ok(fx, WORDCOUNT_SO);
    assert_names(fx, "sum,primes,echo,sleep,fail,wordcount");
    static const char *texts[] = {"",
                                  "one",
                                  "two words\n",
                                  "  lead and trail  ",
                                  "\n\n\n",
                                  "a\tb\vc\fd\re\nf",
                                  "h\xc3\xa9llo w\xc3\xb6rld\n",
                                  "no newline at the end"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        check_wordcount(fx, texts[i], strlen(texts[i]), false);
        check_wordcount(fx, texts[i], strlen(texts[i]), true);
    }
    check_wordcount(fx,
                    "a\0b c\x85\xa0"
                    "d",
                    8, true); /* NUL and high bytes are not spaces */
    char big[70000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = " ab\ncd\t"[i % 7];
    check_wordcount(fx, big, sizeof big, false);
    assert_int_equal(call(fx, "wordcount", "\x05", 1), TMQ_ST_ERROR);
    assert_text(fx, "wordcount: argument must be a string, got integer");
}

static void test_load_crash_plugin(void **state)
{
    fx_t *fx = *state;
    add_builtins(fx);
    load_ok(fx, TP_DIR "/tp_crash.so");
    assert_names(fx, "sum,primes,echo,sleep,fail,segv,tp_pid,tp_args");
    /* [40, 1.25, true, "s", {"k": 2}] */
    const uint8_t args[] = {0x95, 0x28, 0xcb, 0x3f, 0xf4, 0,    0,    0,   0,
                            0,    0,    0xc3, 0xa1, 's',  0x81, 0xa1, 'k', 0x02};
    assert_int_equal(call(fx, "tp_args", args, sizeof args), TMQ_ST_OK);
    msgpack_sbuffer ref;
    msgpack_sbuffer_init(&ref);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ref, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int64(&pk, 42);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_false(&pk);
    msgpack_pack_str_with_body(&pk, "s", 1);
    msgpack_pack_nil(&pk);
    assert_out(fx, ref.data, ref.size);
    msgpack_sbuffer_destroy(&ref);
    assert_int_equal(call(fx, "tp_args", s_nil, 1), TMQ_ST_ERROR);
    assert_text(fx, "tp_args: want [int, float, bool, str, {\"k\": int}], got null");

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        call(fx, "segv", s_nil, 1);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
}

static void test_load_refusals(void **state)
{
    fx_t *fx = *state;
    add_builtins(fx);
    load_ok(fx, WORDCOUNT_SO);
    assert_int_equal(tmq_registry_load(fx->reg, TP_DIR "/tp_wrong_abi.so"), -1);
    assert_error_is(fx, "plugin " TP_DIR "/tp_wrong_abi.so was built for plugin ABI 7; this "
                        "worker has ABI 1");
    assert_int_equal(tmq_registry_load(fx->reg, TP_DIR "/tp_dup.so"), -1);
    assert_error_is(fx,
                    "plugin " TP_DIR "/tp_dup.so registers 'wordcount', which plugin " WORDCOUNT_SO
                    " already registered");
    setenv("TP_DUP_NAME", "echo", 1);
    assert_int_equal(tmq_registry_load(fx->reg, TP_DIR "/tp_dup.so"), -1);
    unsetenv("TP_DUP_NAME");
    assert_error_is(fx, "plugin " TP_DIR "/tp_dup.so registers 'echo', which is a built-in "
                        "function");
    assert_int_equal(tmq_registry_load(fx->reg, TP_DIR "/tp_init_fail.so"), -1);
    assert_error_is(fx, "plugin " TP_DIR "/tp_init_fail.so refused to load (its tmq_plugin_init "
                        "returned -1)");
    setenv("TP_REASON", "no licence file", 1);
    assert_int_equal(tmq_registry_load(fx->reg, TP_DIR "/tp_init_fail.so"), -1);
    unsetenv("TP_REASON");
    assert_error_is(fx, "plugin " TP_DIR "/tp_init_fail.so refused to load: no licence file");
    assert_int_equal(tmq_registry_load(fx->reg, TP_DIR "/tp_noinit.so"), -1);
    assert_error_is(fx, "plugin " TP_DIR "/tp_noinit.so has no tmq_plugin_init: not a taskmq "
                        "plugin (a plugin defines int tmq_plugin_init(tmq_plugin_t *) and includes "
                        "<taskmq/plugin.h>)");
    assert_int_equal(tmq_registry_load(fx->reg, "/nonexistent/x.so"), -1);
    assert_error_is(fx, "plugin /nonexistent/x.so cannot be loaded: cannot open shared object "
                        "file: No such file or directory");
    assert_int_equal(tmq_registry_load(fx->reg, TP_SRC "/tp_dup.c"), -1); /* not ELF */
    assert_non_null(strstr(tmq_registry_error(fx->reg), "plugin " TP_SRC "/tp_dup.c cannot be "
                                                        "loaded: "));
    /* none of the refused ones left a function behind */
    assert_names(fx, "sum,primes,echo,sleep,fail,wordcount");
}

static void test_load_bare_name(void **state)
{
    fx_t *fx = *state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    /* a name without '/' is a file here, never one found in the library path */
    assert_int_equal(tmq_registry_load(fx->reg, "libc.so.6"), -1);
    assert_error_is(fx, "plugin libc.so.6 cannot be loaded: cannot open shared object file: No "
                        "such file or directory");
    assert_int_equal(chdir(TP_DIR), 0);
    int rc = tmq_registry_load(fx->reg, "tp_crash.so");
    assert_int_equal(chdir(cwd), 0);
    if (rc != 0) fail_msg("%s", tmq_registry_error(fx->reg));
    assert_int_equal(call(fx, "tp_pid", s_nil, 1), TMQ_ST_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_builder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_kept_pointer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_init_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_hooks, setup, teardown),
        cmocka_unit_test(test_arg_scalars),
        cmocka_unit_test(test_arg_compound),
        cmocka_unit_test_setup_teardown(test_load_wordcount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_crash_plugin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_bare_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
