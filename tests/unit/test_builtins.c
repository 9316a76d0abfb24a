/* tests/unit/test_builtins.c — the worker's built-in functions, called as the executor
 * calls them: through a registry holding the built-ins (registry.h).
 *
 * Each test packs an argument with msgpack-c, calls tmq_registry_call and checks the status
 * and the result bytes or error text. `crash` runs in a forked child so the test survives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "builtins.h"
#include "platform.h"
#include "proto.h"
#include "registry.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    msgpack_sbuffer arg, out;
    msgpack_packer pk;
    tmq_registry_t *reg, *reg_test; /* the built-ins without and with --test-functions */
} fx_t;

static int s_builtins(tmq_plugin_t *plugin, void *o)
{
    return tmq_builtins_register(plugin, o);
}

static tmq_registry_t *builtins(bool test_functions, bool allow_exec)
{
    tmq_worker_opts_t o = {.test_functions = test_functions, .allow_exec = allow_exec};
    tmq_registry_t *reg = tmq_registry_new();
    assert_int_equal(tmq_registry_add(reg, "built-in", s_builtins, &o), 0);
    return reg;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->reg = builtins(false, false);
    fx->reg_test = builtins(true, false);
    msgpack_sbuffer_init(&fx->arg);
    msgpack_sbuffer_init(&fx->out);
    msgpack_packer_init(&fx->pk, &fx->arg, msgpack_sbuffer_write);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    msgpack_sbuffer_destroy(&fx->arg);
    msgpack_sbuffer_destroy(&fx->out);
    tmq_registry_destroy(&fx->reg);
    tmq_registry_destroy(&fx->reg_test);
    free(fx);
    return 0;
}

static int call_bytes(fx_t *fx, const char *fn, const void *arg, size_t len, bool test_functions)
{
    fx->out.size = 7; /* the call empties it first */
    return tmq_registry_call(test_functions ? fx->reg_test : fx->reg, fn, strlen(fn), arg, len,
                             &fx->out);
}

static int call(fx_t *fx, const char *fn, bool test_functions)
{
    return call_bytes(fx, fn, fx->arg.data, fx->arg.size, test_functions);
}

/* The result as an unsigned integer (fails the test when it is not one). */
static uint64_t result_u64(fx_t *fx)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, fx->out.data, fx->out.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, fx->out.size);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    uint64_t v = up.data.via.u64;
    msgpack_unpacked_destroy(&up);
    return v;
}

static void assert_error(fx_t *fx, int st, const char *text)
{
    assert_int_equal(st, TMQ_ST_ERROR);
    assert_int_equal(fx->out.size, strlen(text));
    assert_memory_equal(fx->out.data, text, strlen(text));
}

static uint64_t sum_of(fx_t *fx, uint64_t n)
{
    fx->arg.size = 0;
    msgpack_pack_uint64(&fx->pk, n);
    assert_int_equal(call(fx, "sum", false), TMQ_ST_OK);
    return result_u64(fx);
}

static void test_sum(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(sum_of(fx, 10), 45);
    assert_int_equal(sum_of(fx, 0), 0);
    assert_int_equal(sum_of(fx, 1), 0);
    assert_int_equal(sum_of(fx, 2), 1);
    assert_int_equal(sum_of(fx, 1000000), 499999500000ULL);
}

static void test_sum_errors(void **state)
{
    fx_t *fx = *state;
    /* the error says what was given, as compact JSON */
    msgpack_pack_int64(&fx->pk, -1);
    assert_error(fx, call(fx, "sum", false),
                 "sum: argument must be a non-negative integer, got -1");
    fx->arg.size = 0;
    msgpack_pack_str_with_body(&fx->pk, "x", 1);
    assert_error(fx, call(fx, "sum", false),
                 "sum: argument must be a non-negative integer, got \"x\"");
    fx->arg.size = 0;
    msgpack_pack_double(&fx->pk, 1.5);
    assert_error(fx, call(fx, "sum", false),
                 "sum: argument must be a non-negative integer, got 1.5");
    fx->arg.size = 0;
    msgpack_pack_double(&fx->pk, 1e30);
    assert_error(fx, call(fx, "sum", false),
                 "sum: argument must be a non-negative integer, got 1e30");
    fx->arg.size = 0;
    msgpack_pack_nil(&fx->pk);
    assert_error(fx, call(fx, "sum", false),
                 "sum: argument must be a non-negative integer, got null");
    fx->arg.size = 0;
    char big[200];
    memset(big, 'y', sizeof big);
    msgpack_pack_str_with_body(&fx->pk, big, sizeof big); /* long values are cut short */
    assert_int_equal(call(fx, "sum", false), TMQ_ST_ERROR);
    assert_true(fx->out.size < 140);
    assert_memory_equal(fx->out.data + fx->out.size - 3, "...", 3);
    fx->arg.size = 0;
    msgpack_pack_str_with_body(&fx->pk, "x", 1);
    assert_error(fx, call(fx, "primes", false),
                 "primes: argument must be a non-negative integer, got \"x\"");
    fx->arg.size = 0;
    msgpack_pack_str_with_body(&fx->pk, "soon", 4);
    assert_error(fx, call(fx, "sleep", false),
                 "sleep: argument must be a non-negative integer (milliseconds), got \"soon\"");
}

static void test_sum_overflow(void **state)
{
    fx_t *fx = *state;
    /* n(n-1)/2 <= INT64_MAX holds up to n = 4294967296 (2^32: 2^31 * (2^32 - 1)). */
    msgpack_pack_uint64(&fx->pk, 4294967297ULL);
    assert_error(fx, call(fx, "sum", false),
                 "sum: result does not fit in 64 bits, got 4294967297 (at most 4294967296)");
    fx->arg.size = 0;
    msgpack_pack_uint64(&fx->pk, UINT64_MAX);
    assert_error(fx, call(fx, "sum", false),
                 "sum: result does not fit in 64 bits, got 18446744073709551615 (at most "
                 "4294967296)");
}

static uint64_t primes_below(fx_t *fx, uint64_t n)
{
    fx->arg.size = 0;
    msgpack_pack_uint64(&fx->pk, n);
    assert_int_equal(call(fx, "primes", false), TMQ_ST_OK);
    return result_u64(fx);
}

static void test_primes(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(primes_below(fx, 100), 25);
    assert_int_equal(primes_below(fx, 0), 0);
    assert_int_equal(primes_below(fx, 1), 0);
    assert_int_equal(primes_below(fx, 2), 0);
    assert_int_equal(primes_below(fx, 3), 1);
    assert_int_equal(primes_below(fx, 10), 4);
    assert_int_equal(primes_below(fx, 10000), 1229);
    fx->arg.size = 0;
    msgpack_pack_int64(&fx->pk, -5);
    assert_error(fx, call(fx, "primes", false),
                 "primes: argument must be a non-negative integer, got -5");
}

static void test_echo_nested(void **state)
{
    fx_t *fx = *state;
    msgpack_packer *pk = &fx->pk;
    msgpack_pack_map(pk, 3);
    msgpack_pack_str_with_body(pk, "list", 4);
    msgpack_pack_array(pk, 4);
    msgpack_pack_int64(pk, -7);
    msgpack_pack_double(pk, 1.5);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 1);
    msgpack_pack_true(pk);
    msgpack_pack_str_with_body(pk, "bin", 3);
    msgpack_pack_bin_with_body(pk, "\x00\x01\xff", 3);
    msgpack_pack_str_with_body(pk, "s", 1);
    msgpack_pack_str_with_body(pk, "h\xc3\xa9llo", 6);
    assert_int_equal(call(fx, "echo", false), TMQ_ST_OK);
    assert_int_equal(fx->out.size, fx->arg.size);
    assert_memory_equal(fx->out.data, fx->arg.data, fx->arg.size);
}

static void test_bad_argument_bytes(void **state)
{
    fx_t *fx = *state;
    const uint8_t truncated[] = {0x92, 0x01}; /* array of 2 holding 1 */
    int st = call_bytes(fx, "echo", truncated, sizeof truncated, false);
    assert_error(fx, st, "echo: argument is not one well-formed msgpack object");
    st = call_bytes(fx, "sum", "", 0, false);
    assert_error(fx, st, "sum: argument is not one well-formed msgpack object");
    const uint8_t trailing[] = {0x01, 0x02}; /* two values */
    assert_error(fx, call_bytes(fx, "sum", trailing, sizeof trailing, false),
                 "sum: argument is not one well-formed msgpack object");
}

static void test_sleep(void **state)
{
    fx_t *fx = *state;
    msgpack_pack_uint64(&fx->pk, 20);
    int64_t t0 = tmq_clock_us();
    assert_int_equal(call(fx, "sleep", false), TMQ_ST_OK);
    assert_true(tmq_clock_us() - t0 >= 20000);
    assert_int_equal(result_u64(fx), 20);
    fx->arg.size = 0;
    msgpack_pack_uint64(&fx->pk, 0);
    assert_int_equal(call(fx, "sleep", false), TMQ_ST_OK);
    assert_int_equal(result_u64(fx), 0);
    fx->arg.size = 0;
    msgpack_pack_int64(&fx->pk, -1);
    assert_error(fx, call(fx, "sleep", false),
                 "sleep: argument must be a non-negative integer (milliseconds), got -1");
}

static void test_fail(void **state)
{
    fx_t *fx = *state;
    msgpack_pack_str_with_body(&fx->pk, "it broke: badly", 15);
    assert_error(fx, call(fx, "fail", false), "it broke: badly");
    fx->arg.size = 0;
    msgpack_pack_str_with_body(&fx->pk, "", 0);
    assert_error(fx, call(fx, "fail", false), "");
    fx->arg.size = 0;
    msgpack_pack_int64(&fx->pk, 42); /* not a string: an argument error like any other */
    assert_error(fx, call(fx, "fail", false), "fail: argument must be a string, got 42");
    fx->arg.size = 0;
    msgpack_pack_nil(&fx->pk); /* `taskmq submit fail` without ARG */
    assert_error(fx, call(fx, "fail", false), "fail: argument must be a string, got null");
}

static void test_unknown_and_names(void **state)
{
    fx_t *fx = *state;
    msgpack_pack_nil(&fx->pk);
    assert_error(fx, call(fx, "nope", false), "unknown function: nope");
    assert_error(fx, call(fx, "crash", false), "unknown function: crash");

    assert_error(fx, call(fx, "su", false), "unknown function: su");
    assert_error(fx, call(fx, "sum2", false), "unknown function: sum2");

    /* the registry's table is what HELLO announces */
    const char *const *names;
    size_t n = tmq_registry_names(fx->reg, &names);
    const char *want[] = {"sum", "primes", "echo", "sleep", "fail"};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    assert_int_equal(tmq_registry_names(fx->reg_test, &names), 6);
    assert_string_equal(names[5], "crash");
    assert_null(tmq_registry_error(fx->reg));
    /* each gate opens its own function only */
    assert_error(fx, call(fx, "exec", false), "unknown function: exec");
    assert_error(fx, call(fx, "exec", true), "unknown function: exec");
    tmq_registry_t *with_exec = builtins(false, true);
    assert_int_equal(tmq_registry_names(with_exec, &names), 6);
    assert_string_equal(names[5], "exec");
    tmq_registry_destroy(&with_exec);
    with_exec = builtins(true, true);
    assert_int_equal(tmq_registry_names(with_exec, &names), 7);
    assert_string_equal(names[5], "crash");
    assert_string_equal(names[6], "exec");
    tmq_registry_destroy(&with_exec);
}

static void test_crash(void **state)
{
    fx_t *fx = *state;
    msgpack_pack_nil(&fx->pk);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        call(fx, "crash", true);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
}

/* One registry serves many jobs: its zone is cleared after each call, results do not mix. */
static void test_zone_reuse(void **state)
{
    fx_t *fx = *state;
    for (uint64_t i = 0; i < 1000; i++) {
        fx->arg.size = 0;
        if (i % 3 == 0) {
            msgpack_pack_array(&fx->pk, 1); /* unpacked into the zone, then an error */
            msgpack_pack_uint64(&fx->pk, i);
            assert_int_equal(call(fx, "sum", false), TMQ_ST_ERROR);
            continue;
        }
        msgpack_pack_uint64(&fx->pk, i % 50);
        assert_int_equal(call(fx, "sum", false), TMQ_ST_OK);
        uint64_t n = i % 50;
        assert_int_equal(result_u64(fx), n ? n * (n - 1) / 2 : 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sum_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sum_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_argument_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zone_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
