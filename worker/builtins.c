/* worker/builtins.c — sum, primes, echo, sleep, fail, the test-only crash and the gated exec
 * (worker/exec.c).
 *
 * Each function reads its unpacked argument, computes, and packs its result or writes error
 * text into the caller's buffer. The CPU-bound ones (sum, primes) run real loops that the
 * compiler may not fold, because they exist to measure how well jobs spread over processes.
 * They serve through the executor's registry like a plugin's functions (registry.h), which
 * checks the argument with tmq_proto_check before msgpack-c unpacks it here.
 */
#include "builtins.h"

#include "exec.h"
#include "jsonmp.h"
#include "proto.h"
#include "registry.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A function gets the unpacked argument (NULL for raw functions) and its raw bytes. */
typedef int(s_fn_t)(const msgpack_object *arg, const void *raw, size_t raw_len,
                    msgpack_sbuffer *out);

typedef struct {
    const char *name;
    s_fn_t *fn;
    bool raw;  /* needs only the argument's bytes: skip unpacking */
    char gate; /* 0, 't': served only with --test-functions, 'x': only with --allow-exec */
} s_builtin_t;

static int s_error(msgpack_sbuffer *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int s_error(msgpack_sbuffer *out, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof text) n = sizeof text - 1;
    msgpack_sbuffer_write(out, text, (size_t)n);
    return TMQ_ST_ERROR;
}

#define S_GOT_MAX 60 /* characters of a wrong argument quoted in the error */

/* "FN: argument must be WHAT, got VALUE", the value as compact JSON, cut at S_GOT_MAX. */
static int s_wrong(msgpack_sbuffer *out, const char *fn, const char *what,
                   const msgpack_object *arg)
{
    json_t *j = tmq_json_from_object(arg);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    const char *got = text ? text : "?";
    int n = (int)strlen(got);
    int st = n > S_GOT_MAX
                 ? s_error(out, "%s: argument must be %s, got %.*s...", fn, what, S_GOT_MAX, got)
                 : s_error(out, "%s: argument must be %s, got %s", fn, what, got);
    free(text);
    return st;
}

static int s_pack_u64(msgpack_sbuffer *out, uint64_t v)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_uint64(&pk, v);
    return TMQ_ST_OK;
}

static int s_count_arg(const msgpack_object *arg, uint64_t *n)
{
    if (arg->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *n = arg->via.u64;
    return 0;
}

/* sum n: 0 + 1 + ... + (n-1), by a loop, refusing results past INT64_MAX up front. */
static int s_sum(const msgpack_object *arg, const void *raw, size_t raw_len, msgpack_sbuffer *out)
{
    uint64_t n;
    if (s_count_arg(arg, &n) != 0) return s_wrong(out, "sum", "a non-negative integer", arg);
    unsigned __int128 total = n ? (unsigned __int128)n * (n - 1) / 2 : 0;
    if (total > INT64_MAX)
        return s_error(out, "sum: result does not fit in 64 bits, got %llu (at most 4294967296)",
                       (unsigned long long)n);
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        acc += i;
        /* Makes acc opaque each turn, so the loop is neither folded nor vectorised. */
        __asm__ volatile("" : "+r"(acc));
    }
    return s_pack_u64(out, acc);
}

static bool s_is_prime(uint64_t k)
{
    if (k < 2) return false;
    if (k % 2 == 0) return k == 2;
    for (uint64_t d = 3; d <= k / d; d += 2)
        if (k % d == 0) return false;
    return true;
}

/* primes n: how many primes are below n, by trial division. */
static int s_primes(const msgpack_object *arg, const void *raw, size_t raw_len,
                    msgpack_sbuffer *out)
{
    uint64_t n;
    if (s_count_arg(arg, &n) != 0) return s_wrong(out, "primes", "a non-negative integer", arg);
    uint64_t count = 0;
    for (uint64_t k = 2; k < n; k++)
        count += s_is_prime(k);
    return s_pack_u64(out, count);
}

/* echo x: x, byte for byte. */
static int s_echo(const msgpack_object *arg, const void *raw, size_t raw_len, msgpack_sbuffer *out)
{
    msgpack_sbuffer_write(out, raw, raw_len);
    return TMQ_ST_OK;
}

/* sleep ms: waits without using CPU, returns ms. */
static int s_sleep(const msgpack_object *arg, const void *raw, size_t raw_len, msgpack_sbuffer *out)
{
    uint64_t ms;
    if (s_count_arg(arg, &ms) != 0)
        return s_wrong(out, "sleep", "a non-negative integer (milliseconds)", arg);
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return s_pack_u64(out, ms);
}

/* fail text: a job error carrying exactly text. */
static int s_fail(const msgpack_object *arg, const void *raw, size_t raw_len, msgpack_sbuffer *out)
{
    if (arg->type != MSGPACK_OBJECT_STR) return s_wrong(out, "fail", "a string", arg);
    msgpack_sbuffer_write(out, arg->via.str.ptr, arg->via.str.size);
    return TMQ_ST_ERROR;
}

/* crash: dies of SIGSEGV, to exercise the executor-death path. */
static int s_crash(const msgpack_object *arg, const void *raw, size_t raw_len, msgpack_sbuffer *out)
{
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return s_error(out, "crash: still alive after SIGSEGV");
}

/* exec ARG: runs a command (worker/exec.c). */
static int s_exec(const msgpack_object *arg, const void *raw, size_t raw_len, msgpack_sbuffer *out)
{
    return tmq_exec_call(arg, out);
}

static const s_builtin_t s_builtins[] = {
    {"sum", s_sum, false, 0},     {"primes", s_primes, false, 0}, {"echo", s_echo, true, 0},
    {"sleep", s_sleep, false, 0}, {"fail", s_fail, false, 0},     {"crash", s_crash, true, 't'},
    {"exec", s_exec, false, 'x'},
};
#define S_NBUILTINS (sizeof s_builtins / sizeof s_builtins[0])

/* A built-in as a registry handler: unpacks the argument (checked by the registry) unless
 * the function takes raw bytes, and writes the outcome into the reply's buffer. */
static int s_handle(void *ctx, const void *arg, size_t arg_len, tmq_reply_t *reply)
{
    const s_builtin_t *b = ctx;
    msgpack_sbuffer *out = tmq_reply_buffer(reply);
    if (b->raw) return tmq_reply_raw(reply, b->fn(NULL, arg, arg_len, out));
    msgpack_object obj;
    size_t off = 0;
    int st;
    if (msgpack_unpack(arg, arg_len, &off, tmq_reply_zone(reply), &obj) != MSGPACK_UNPACK_SUCCESS)
        st = s_error(out, "%s: argument did not unpack", b->name);
    else
        st = b->fn(&obj, arg, arg_len, out);
    return tmq_reply_raw(reply, st);
}

int tmq_builtins_register(tmq_plugin_t *plugin, const tmq_worker_opts_t *o)
{
    for (size_t i = 0; i < S_NBUILTINS; i++) {
        const s_builtin_t *b = &s_builtins[i];
        if ((b->gate == 't' && !o->test_functions) || (b->gate == 'x' && !o->allow_exec)) continue;
        if (tmq_registry_register(plugin, b->name, s_handle, (void *)b) != 0) return -1;
    }
    return 0;
}
