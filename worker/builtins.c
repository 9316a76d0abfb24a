/* worker/builtins.c — sum, primes, echo, sleep, fail, the test-only crash and the gated exec
 * (worker/exec.c).
 *
 * Each function reads its unpacked argument, computes, and packs its result or writes error
 * text into the caller's buffer. The CPU-bound ones (sum, primes) run real loops that the
 * compiler may not fold, because they exist to measure how well jobs spread over processes.
 * The argument is checked with tmq_proto_check before msgpack-c unpacks it.
 */
#include "builtins.h"

#include "exec.h"
#include "jsonmp.h"
#include "proto.h"

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
    bool raw;      /* needs only the argument's bytes: skip unpacking */
    unsigned gate; /* 0, or the TMQ_BUILTINS_* gate that must be open for it to be served */
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
    {"sum", s_sum, false, 0},
    {"primes", s_primes, false, 0},
    {"echo", s_echo, true, 0},
    {"sleep", s_sleep, false, 0},
    {"fail", s_fail, false, 0},
    {"crash", s_crash, true, TMQ_BUILTINS_TEST},
    {"exec", s_exec, false, TMQ_BUILTINS_EXEC},
};
#define S_NBUILTINS (sizeof s_builtins / sizeof s_builtins[0])

static const s_builtin_t *s_find(const char *fn, size_t fn_len, unsigned gates)
{
    for (size_t i = 0; i < S_NBUILTINS; i++) {
        const s_builtin_t *b = &s_builtins[i];
        if (b->gate && !(gates & b->gate)) continue;
        if (strlen(b->name) == fn_len && memcmp(b->name, fn, fn_len) == 0) return b;
    }
    return NULL;
}

size_t tmq_builtins_names(unsigned gates, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < S_NBUILTINS; i++) {
        if (s_builtins[i].gate && !(gates & s_builtins[i].gate)) continue;
        if (n < max) names[n] = s_builtins[i].name;
        n++;
    }
    return n;
}

bool tmq_builtins_has(const char *fn, size_t fn_len, unsigned gates)
{
    return s_find(fn, fn_len, gates) != NULL;
}

int tmq_builtins_call(const char *fn, size_t fn_len, const void *arg, size_t arg_len,
                      unsigned gates, msgpack_zone *zone, msgpack_sbuffer *out)
{
    const s_builtin_t *b = s_find(fn, fn_len, gates);
    if (!b) {
        int n = fn_len > TMQ_PROTO_MAX_FNAME ? TMQ_PROTO_MAX_FNAME : (int)fn_len;
        return s_error(out, "unknown function: %.*s", n, fn);
    }
    if (tmq_proto_check(arg, arg_len, TMQ_PROTO_MAX_DEPTH) != 0)
        return s_error(out, "%s: argument is not one well-formed msgpack object", b->name);
    if (b->raw) return b->fn(NULL, arg, arg_len, out);

    msgpack_zone local;
    msgpack_zone *z = zone;
    if (!z) {
        z = &local;
        if (!msgpack_zone_init(z, 2048)) return s_error(out, "%s: out of memory", b->name);
    }
    msgpack_object obj;
    size_t off = 0;
    int st;
    if (msgpack_unpack(arg, arg_len, &off, z, &obj) != MSGPACK_UNPACK_SUCCESS)
        st = s_error(out, "%s: argument did not unpack", b->name);
    else
        st = b->fn(&obj, arg, arg_len, out);
    if (z == &local)
        msgpack_zone_destroy(z);
    else
        msgpack_zone_clear(z);
    return st;
}
