/* tests/unit/test_exec.c — the exec built-in: its argument, its result, and real commands.
 *
 * Arguments are written as JSON and packed (common/jsonmp), so each case reads as a client
 * would send it. Commands run for real (sh, cat, wc, ...): stdin, stdout and stderr both ways
 * at once past any pipe's size, exit statuses and signals, PATH lookup as execvp does it, env
 * and cwd, the output cap, and that a command leaves nothing running behind it. The test
 * process becomes a child subreaper (tmq_exec_init), as an executor does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "builtins.h"
#include "exec.h"
#include "jsonmp.h"
#include "platform.h"
#include "proto.h"
#include "registry.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    msgpack_sbuffer packed, out;
    msgpack_zone zone;
    msgpack_object arg;
    char err[512];
    char dir[64]; /* a scratch directory */
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    msgpack_sbuffer_init(&fx->packed);
    msgpack_sbuffer_init(&fx->out);
    msgpack_zone_init(&fx->zone, 4096);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_exec.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    msgpack_sbuffer_destroy(&fx->packed);
    msgpack_sbuffer_destroy(&fx->out);
    msgpack_zone_destroy(&fx->zone);
    free(fx);
    return 0;
}

/* fx->arg from JSON text (bytes, where given, replace the string "<bytes>"). */
static const msgpack_object *arg_json(fx_t *fx, const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) fail_msg("bad JSON in the test: %s: %s", json, jerr.text);
    msgpack_sbuffer_clear(&fx->packed);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fx->packed, msgpack_sbuffer_write);
    tmq_json_pack(&pk, j);
    json_decref(j);
    msgpack_zone_clear(&fx->zone);
    size_t off = 0;
    assert_int_equal(msgpack_unpack(fx->packed.data, fx->packed.size, &off, &fx->zone, &fx->arg),
                     MSGPACK_UNPACK_SUCCESS);
    return &fx->arg;
}

/* Parses json, expecting the error text want. */
static void parse_fails(fx_t *fx, const char *json, const char *want)
{
    tmq_exec_req_t req;
    int rc = tmq_exec_parse(arg_json(fx, json), &req, fx->err, sizeof fx->err);
    tmq_exec_req_free(&req);
    if (rc != -1) fail_msg("%s: parsed, expected '%s'", json, want);
    assert_string_equal(fx->err, want);
}

/* Runs json through the built-in; returns its status with the output in fx->out. */
static int call(fx_t *fx, const char *json)
{
    msgpack_sbuffer_clear(&fx->out);
    return tmq_exec_call(arg_json(fx, json), &fx->out);
}

/* The error text fx->out holds, NUL-terminated. */
static const char *error_text(fx_t *fx)
{
    msgpack_sbuffer_write(&fx->out, "", 1);
    return fx->out.data;
}

/* The value at key in the result map fx->out holds; NULL when absent. */
static const msgpack_object *field(fx_t *fx, msgpack_unpacked *up, const char *key)
{
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(up, fx->out.data, fx->out.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, fx->out.size);
    const msgpack_object *m = &up->data;
    assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m->via.map.size, 3);
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->via.str.size == strlen(key) && memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

static int64_t result_status(fx_t *fx)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *v = field(fx, &up, "status");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    int64_t st = (int64_t)v->via.u64;
    msgpack_unpacked_destroy(&up);
    return st;
}

/* Asserts that the result's key holds exactly want (want_len bytes) as str (or bin). */
static void assert_output(fx_t *fx, const char *key, const char *want, size_t want_len, bool bin)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *v = field(fx, &up, key);
    assert_non_null(v);
    assert_int_equal(v->type, bin ? MSGPACK_OBJECT_BIN : MSGPACK_OBJECT_STR);
    size_t n = bin ? v->via.bin.size : v->via.str.size;
    const char *p = bin ? v->via.bin.ptr : v->via.str.ptr;
    assert_int_equal(n, want_len);
    if (n) assert_memory_equal(p, want, n);
    msgpack_unpacked_destroy(&up);
}

#define ASSERT_OUT(fx, key, text) assert_output(fx, key, text, strlen(text), false)

/* ---- the argument ---- */

static void test_parse(void **state)
{
    fx_t *fx = *state;
    tmq_exec_req_t req;
    assert_int_equal(tmq_exec_parse(arg_json(fx, "{\"argv\":[\"wc\",\"-c\"],\"stdin\":\"hello\","
                                                 "\"env\":{\"A\":\"1\",\"B\":null},\"cwd\":\"/\"}"),
                                    &req, fx->err, sizeof fx->err),
                     0);
    assert_string_equal(req.argv[0], "wc");
    assert_string_equal(req.argv[1], "-c");
    assert_null(req.argv[2]);
    assert_int_equal(req.stdin_len, 5);
    assert_memory_equal(req.stdin_data, "hello", 5);
    assert_string_equal(req.env[0], "A=1");
    assert_string_equal(req.env[1], "B"); /* removed */
    assert_null(req.env[2]);
    assert_string_equal(req.cwd, "/");
    tmq_exec_req_free(&req);

    /* a bare array is argv; nulls are as good as absent */
    assert_int_equal(tmq_exec_parse(arg_json(fx, "[\"true\"]"), &req, fx->err, sizeof fx->err), 0);
    assert_string_equal(req.argv[0], "true");
    assert_null(req.stdin_data);
    assert_null(req.env);
    assert_null(req.cwd);
    tmq_exec_req_free(&req);
    assert_int_equal(
        tmq_exec_parse(arg_json(fx, "{\"argv\":[\"x\"],\"stdin\":null,\"env\":null,\"cwd\":null}"),
                       &req, fx->err, sizeof fx->err),
        0);
    tmq_exec_req_free(&req);
}

static void test_parse_errors(void **state)
{
    fx_t *fx = *state;
    parse_fails(fx, "5",
                "exec: argument must be {\"argv\":[PROGRAM, ARG...]} (with \"stdin\", \"env\", "
                "\"cwd\" optional), got 5");
    parse_fails(fx, "{\"stdin\":\"x\"}",
                "exec: argument must be {\"argv\":[PROGRAM, ARG...]} (with \"stdin\", \"env\", "
                "\"cwd\" optional), got {\"stdin\":\"x\"}");
    parse_fails(fx, "{\"argv\":[]}", "exec: argv must be a non-empty array of strings");
    parse_fails(fx, "[]", "exec: argv must be a non-empty array of strings");
    parse_fails(fx, "{\"argv\":\"ls\"}", "exec: argv must be a non-empty array of strings");
    parse_fails(fx, "[\"ls\", 5]", "exec: argv[1] is not a string");
    parse_fails(fx, "[\"ls\", \"a\\u0000b\"]", "exec: argv[1] contains a NUL byte");
    parse_fails(fx, "[\"\"]", "exec: argv[0] is empty");
    parse_fails(fx, "{\"argv\":[\"x\"],\"args\":1}",
                "exec: unknown key 'args' (known: argv, stdin, env, cwd)");
    parse_fails(fx, "{\"argv\":[\"x\"],\"stdin\":5}", "exec: stdin must be a string");
    parse_fails(fx, "{\"argv\":[\"x\"],\"cwd\":\"\"}",
                "exec: cwd must be a non-empty string without NUL");
    parse_fails(fx, "{\"argv\":[\"x\"],\"env\":[1]}",
                "exec: env must be a map of names to strings");
    parse_fails(fx, "{\"argv\":[\"x\"],\"env\":{\"A=B\":\"1\"}}",
                "exec: env name 'A=B' is not valid (it must be a non-empty string without '=' "
                "or NUL)");
    parse_fails(fx, "{\"argv\":[\"x\"],\"env\":{\"\":\"1\"}}",
                "exec: env name '' is not valid (it must be a non-empty string without '=' or "
                "NUL)");
    parse_fails(fx, "{\"argv\":[\"x\"],\"env\":{\"A\":1}}",
                "exec: env 'A' must be a string without NUL bytes, or null");

    /* a name given twice: packed by hand (JSON objects cannot say it) */
    msgpack_sbuffer_clear(&fx->packed);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fx->packed, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "argv", 4);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_str_with_body(&pk, "env", 3);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "A", 1);
    msgpack_pack_str_with_body(&pk, "1", 1);
    msgpack_pack_str_with_body(&pk, "A", 1);
    msgpack_pack_nil(&pk);
    size_t off = 0;
    assert_int_equal(msgpack_unpack(fx->packed.data, fx->packed.size, &off, &fx->zone, &fx->arg),
                     MSGPACK_UNPACK_SUCCESS);
    tmq_exec_req_t req;
    assert_int_equal(tmq_exec_parse(&fx->arg, &req, fx->err, sizeof fx->err), -1);
    tmq_exec_req_free(&req);
    assert_string_equal(fx->err, "exec: env sets 'A' twice");
}

/* ---- the result ---- */

static void test_utf8(void **state)
{
    assert_true(tmq_utf8_valid("", 0));
    assert_true(tmq_utf8_valid(NULL, 0));
    assert_true(tmq_utf8_valid("plain\n", 6));
    assert_true(tmq_utf8_valid("h\xc3\xa9", 3));             /* é */
    assert_true(tmq_utf8_valid("\xe2\x82\xac", 3));          /* € */
    assert_true(tmq_utf8_valid("\xf0\x9f\x98\x80", 4));      /* U+1F600 */
    assert_true(tmq_utf8_valid("\xf4\x8f\xbf\xbf", 4));      /* U+10FFFF */
    assert_false(tmq_utf8_valid("\xff\xfe", 2));             /* not UTF-8 at all */
    assert_false(tmq_utf8_valid("\xc0\x80", 2));             /* overlong NUL */
    assert_false(tmq_utf8_valid("\xe0\x80\xaf", 3));         /* overlong '/' */
    assert_false(tmq_utf8_valid("\xed\xa0\x80", 3));         /* a surrogate */
    assert_false(tmq_utf8_valid("\xf4\x90\x80\x80", 4));     /* past U+10FFFF */
    assert_false(tmq_utf8_valid("\xe2\x82", 2));             /* cut short */
    assert_false(tmq_utf8_valid("\x80", 1));                 /* a stray continuation byte */
    assert_false(tmq_utf8_valid("ok\xc3(", 4));              /* a lead without continuation */
    assert_false(tmq_utf8_valid("\xf8\x88\x80\x80\x80", 5)); /* 5-byte forms are gone */
}

static void test_signame(void **state)
{
    char buf[32];
    assert_string_equal(tmq_signal_name(SIGKILL, buf, sizeof buf), "SIGKILL");
    assert_string_equal(tmq_signal_name(SIGSEGV, buf, sizeof buf), "SIGSEGV");
    assert_string_equal(tmq_signal_name(SIGTERM, buf, sizeof buf), "SIGTERM");
    assert_string_equal(tmq_signal_name(SIGRTMIN + 2, buf, sizeof buf), "SIGRTMIN+2");
}

static void test_pack(void **state)
{
    fx_t *fx = *state;
    tmq_exec_outcome_t res = {
        .status = 3, .out = "ok\n", .out_len = 3, .err = "\xff", .err_len = 1};
    msgpack_sbuffer_clear(&fx->out);
    tmq_exec_pack(&fx->out, &res);
    assert_int_equal(result_status(fx), 3);
    ASSERT_OUT(fx, "stdout", "ok\n");
    assert_output(fx, "stderr", "\xff", 1, true); /* not UTF-8: bytes */

    tmq_exec_outcome_t sig = {.signal = SIGKILL};
    msgpack_sbuffer_clear(&fx->out);
    tmq_exec_pack(&fx->out, &sig);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_null(field(fx, &up, "status")); /* a signal instead of a status */
    const msgpack_object *v = field(fx, &up, "signal");
    assert_int_equal(v->type, MSGPACK_OBJECT_STR);
    assert_int_equal(v->via.str.size, 7);
    assert_memory_equal(v->via.str.ptr, "SIGKILL", 7);
    msgpack_unpacked_destroy(&up);
    ASSERT_OUT(fx, "stdout", "");
    ASSERT_OUT(fx, "stderr", "");
}

/* ---- commands ---- */

static void test_run_basics(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(call(fx, "{\"argv\":[\"wc\",\"-c\"],\"stdin\":\"hello\"}"), TMQ_ST_OK);
    assert_int_equal(result_status(fx), 0);
    ASSERT_OUT(fx, "stdout", "5\n");
    ASSERT_OUT(fx, "stderr", "");

    /* a non-zero exit is a result: exec itself worked */
    assert_int_equal(call(fx, "[\"sh\",\"-c\",\"echo out; echo err >&2; exit 3\"]"), TMQ_ST_OK);
    assert_int_equal(result_status(fx), 3);
    ASSERT_OUT(fx, "stdout", "out\n");
    ASSERT_OUT(fx, "stderr", "err\n");

    /* without stdin the command reads /dev/null, never the executor's stdin */
    assert_int_equal(call(fx, "[\"wc\",\"-c\"]"), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "0\n");

    /* no shell: words are words */
    assert_int_equal(call(fx, "[\"echo\",\"$HOME\",\"a b\",\"*\",\";\"]"), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "$HOME a b * ;\n");
}

static void test_run_signal(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(call(fx, "[\"sh\",\"-c\",\"echo before; kill -9 $$\"]"), TMQ_ST_OK);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *v = field(fx, &up, "signal");
    assert_non_null(v);
    assert_int_equal(v->via.str.size, 7);
    assert_memory_equal(v->via.str.ptr, "SIGKILL", 7);
    msgpack_unpacked_destroy(&up);
    ASSERT_OUT(fx, "stdout", "before\n");
    /* the executor ignores SIGPIPE; the command gets the default back */
    assert_int_equal(call(fx, "[\"sh\",\"-c\",\"yes | head -c 3; echo \\\" $?\\\"\"]"), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "y\ny 0\n");
    assert_int_equal(call(fx, "[\"sh\",\"-c\",\"trap - PIPE; kill -PIPE $$\"]"), TMQ_ST_OK);
    msgpack_unpacked_init(&up);
    v = field(fx, &up, "signal");
    assert_non_null(v);
    assert_memory_equal(v->via.str.ptr, "SIGPIPE", 7);
    msgpack_unpacked_destroy(&up);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_run_lookup(void **state)
{
    fx_t *fx = *state;
    char json[512], want[256], path[128];
    assert_int_equal(call(fx, "[\"nosuch-program-here\"]"), TMQ_ST_ERROR);
    assert_string_equal(error_text(fx),
                        "exec: cannot run 'nosuch-program-here': No such file or directory");
    assert_int_equal(call(fx, "[\"/nonexistent/bin/x\"]"), TMQ_ST_ERROR);
    assert_string_equal(error_text(fx),
                        "exec: cannot run '/nonexistent/bin/x': No such file or directory");
    /* a directory on PATH that holds a non-executable one: EACCES wins over a later ENOENT */
    snprintf(path, sizeof path, "%s/tool", fx->dir);
    write_file(path, "#!/bin/sh\necho tool\n", 0644);
    snprintf(json, sizeof json, "{\"argv\":[\"tool\"],\"env\":{\"PATH\":\"%s:/nonexistent\"}}",
             fx->dir);
    assert_int_equal(call(fx, json), TMQ_ST_ERROR);
    assert_string_equal(error_text(fx), "exec: cannot run 'tool': Permission denied");
    /* the PATH env sets is the one searched */
    chmod(path, 0755);
    assert_int_equal(call(fx, json), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "tool\n");
    snprintf(json, sizeof json, "{\"argv\":[\"sh\",\"-c\",\"true\"],\"env\":{\"PATH\":\"%s\"}}",
             fx->dir);
    assert_int_equal(call(fx, json), TMQ_ST_ERROR);
    assert_string_equal(error_text(fx), "exec: cannot run 'sh': No such file or directory");
    /* a script without #! runs with /bin/sh, as execvp does */
    snprintf(path, sizeof path, "%s/bare", fx->dir);
    write_file(path, "echo bare \"$1\"\n", 0755);
    snprintf(json, sizeof json, "[\"%s\",\"arg\"]", path);
    assert_int_equal(call(fx, json), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "bare arg\n");
    /* a relative program is found from cwd */
    snprintf(json, sizeof json, "{\"argv\":[\"./bare\",\"x\"],\"cwd\":\"%s\"}", fx->dir);
    assert_int_equal(call(fx, json), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "bare x\n");
    snprintf(json, sizeof json, "{\"argv\":[\"pwd\"],\"cwd\":\"%s/none\"}", fx->dir);
    assert_int_equal(call(fx, json), TMQ_ST_ERROR);
    snprintf(want, sizeof want,
             "exec: cannot change directory to '%s/none': No such file or "
             "directory",
             fx->dir);
    assert_string_equal(error_text(fx), want);
}

static void test_run_env_cwd(void **state)
{
    fx_t *fx = *state;
    setenv("TEST_EXEC_KEPT", "kept", 1);
    setenv("TEST_EXEC_GONE", "here", 1);
    assert_int_equal(
        call(fx, "{\"argv\":[\"sh\",\"-c\",\"echo $FOO ${TEST_EXEC_KEPT} ${TEST_EXEC_GONE-unset}; "
                 "pwd\"],\"env\":{\"FOO\":\"bar baz\",\"TEST_EXEC_GONE\":null},\"cwd\":\"/\"}"),
        TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "bar baz kept unset\n/\n");
    /* an override replaces, it does not add a second FOO */
    setenv("FOO", "old", 1);
    assert_int_equal(call(fx, "{\"argv\":[\"sh\",\"-c\",\"env | grep -c ^FOO=; echo $FOO\"],"
                              "\"env\":{\"FOO\":\"new\"}}"),
                     TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "1\nnew\n");
    unsetenv("FOO");
    unsetenv("TEST_EXEC_KEPT");
    unsetenv("TEST_EXEC_GONE");
}

/* Much more than a pipe holds, in and out at once: no deadlock, every byte back. */
static void test_run_big_io(void **state)
{
    fx_t *fx = *state;
    size_t n = 3u << 20;
    tmq_exec_req_t req;
    assert_int_equal(tmq_exec_parse(arg_json(fx, "[\"sh\",\"-c\",\"tee /dev/stderr\"]"), &req,
                                    fx->err, sizeof fx->err),
                     0);
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    req.stdin_data = data;
    req.stdin_len = n;
    tmq_exec_outcome_t res;
    assert_int_equal(tmq_exec_run(&req, n, &res, fx->err, sizeof fx->err), 0);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.out_len, n);
    assert_int_equal(res.err_len, n);
    assert_memory_equal(res.out, data, n);
    assert_memory_equal(res.err, data, n);
    tmq_exec_outcome_free(&res);
    /* a command that does not read its stdin is not an error */
    free(req.argv[2]);
    req.argv[2] = strdup("exit 0");
    assert_int_equal(tmq_exec_run(&req, n, &res, fx->err, sizeof fx->err), 0);
    assert_int_equal(res.status, 0);
    tmq_exec_outcome_free(&res);
    free(data);
    tmq_exec_req_free(&req);
}

/* stdout and stderr closed, stdin still read: the job lasts until the command exits. */
static void test_run_closed_outputs(void **state)
{
    fx_t *fx = *state;
    char json[512], path[128];
    snprintf(path, sizeof path, "%s/got", fx->dir);
    snprintf(json, sizeof json,
             "{\"argv\":[\"sh\",\"-c\",\"exec >&- 2>&-; sleep 0.2; cat > %s\"],\"stdin\":\"abc\"}",
             path);
    assert_int_equal(call(fx, json), TMQ_ST_OK);
    assert_int_equal(result_status(fx), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[8] = {0};
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 3);
    fclose(f);
    assert_string_equal(buf, "abc");
}

static pid_t read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1) pid = 0;
    fclose(f);
    return pid;
}

static void test_run_cap(void **state)
{
    fx_t *fx = *state;
    tmq_exec_req_t req;
    tmq_exec_outcome_t res;
    /* exactly the cap is fine; one byte more is not */
    assert_int_equal(tmq_exec_parse(arg_json(fx, "[\"head\",\"-c\",\"1000\",\"/dev/zero\"]"), &req,
                                    fx->err, sizeof fx->err),
                     0);
    assert_int_equal(tmq_exec_run(&req, 1000, &res, fx->err, sizeof fx->err), 0);
    assert_int_equal(res.out_len, 1000);
    tmq_exec_outcome_free(&res);
    assert_int_equal(tmq_exec_run(&req, 999, &res, fx->err, sizeof fx->err), -1);
    assert_string_equal(fx->err, "exec: stdout over 999 bytes");
    tmq_exec_req_free(&req);

    /* a command that never stops writing to stderr is killed, with what it started */
    char json[512], path[128];
    snprintf(path, sizeof path, "%s/bg.pid", fx->dir);
    snprintf(json, sizeof json,
             "[\"sh\",\"-c\",\"sleep 30 </dev/null >/dev/null 2>&1 & echo $! > %s; "
             "while :; do echo spam >&2; done\"]",
             path);
    assert_int_equal(tmq_exec_parse(arg_json(fx, json), &req, fx->err, sizeof fx->err), 0);
    int64_t t0 = tmq_clock_ms();
    assert_int_equal(tmq_exec_run(&req, 4096, &res, fx->err, sizeof fx->err), -1);
    assert_string_equal(fx->err, "exec: stderr over 4096 bytes");
    assert_true(tmq_clock_ms() - t0 < 5000);
    tmq_exec_req_free(&req);
    pid_t bg = read_pid(path);
    assert_true(bg > 0);
    assert_int_equal(kill(bg, 0), -1); /* killed and reaped: the pid is free */
    assert_int_equal(errno, ESRCH);
}

/* What a command leaves running after it exits is killed when it ends. */
static void test_run_leftovers(void **state)
{
    fx_t *fx = *state;
    char json[512], path[128];
    snprintf(path, sizeof path, "%s/left.pid", fx->dir);
    snprintf(json, sizeof json,
             "[\"sh\",\"-c\",\"(sleep 30; echo late) </dev/null >/dev/null 2>&1 & echo $! > %s; "
             "echo done\"]",
             path);
    assert_int_equal(call(fx, json), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "done\n");
    pid_t left = read_pid(path);
    assert_true(left > 0);
    assert_int_equal(kill(left, 0), -1);
    assert_int_equal(errno, ESRCH);
    /* one that keeps stdout open does not hold the job up (xargs and GNU parallel wait for
     * the command, not for its output's end): it ends with the command, and is killed */
    snprintf(json, sizeof json,
             "[\"sh\",\"-c\",\"(sleep 30; echo late) & echo $! > %s; echo early\"]", path);
    int64_t t0 = tmq_clock_ms();
    assert_int_equal(call(fx, json), TMQ_ST_OK);
    assert_true(tmq_clock_ms() - t0 < 5000);
    ASSERT_OUT(fx, "stdout", "early\n");
    left = read_pid(path);
    assert_true(left > 0);
    assert_int_equal(kill(left, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void test_bytes_out(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(call(fx, "[\"printf\",\"\\\\377\\\\376ok\"]"), TMQ_ST_OK);
    assert_output(fx, "stdout", "\xff\xfeok", 4, true);
    assert_int_equal(call(fx, "[\"printf\",\"h\\u00e9\"]"), TMQ_ST_OK);
    ASSERT_OUT(fx, "stdout", "h\xc3\xa9");
}

static int s_builtins(tmq_plugin_t *plugin, void *o)
{
    return tmq_builtins_register(plugin, o);
}

/* The built-ins of a worker started with or without --allow-exec, called as the executor
 * calls them (through its registry). */
static int gated_call(fx_t *fx, bool allow_exec, size_t *nnames, char last[16])
{
    tmq_worker_opts_t o = {.allow_exec = allow_exec};
    tmq_registry_t *reg = tmq_registry_new();
    assert_int_equal(tmq_registry_add(reg, "built-in", s_builtins, &o), 0);
    const char *const *names;
    *nnames = tmq_registry_names(reg, &names);
    snprintf(last, 16, "%s", names[*nnames - 1]);
    int st = tmq_registry_call(reg, "exec", 4, fx->packed.data, fx->packed.size, &fx->out);
    tmq_registry_destroy(&reg);
    return st;
}

/* exec exists only behind its gate. */
static void test_gate(void **state)
{
    fx_t *fx = *state;
    size_t n;
    char last[16];
    arg_json(fx, "[\"true\"]");
    assert_int_equal(gated_call(fx, false, &n, last), TMQ_ST_ERROR);
    assert_int_equal(n, 5);
    assert_string_equal(last, "fail");
    assert_string_equal(error_text(fx), "unknown function: exec");
    assert_int_equal(gated_call(fx, true, &n, last), TMQ_ST_OK);
    assert_int_equal(n, 6);
    assert_string_equal(last, "exec");
    assert_int_equal(result_status(fx), 0);
}

int main(void)
{
    assert_int_equal(tmq_exec_init(TMQ_EXEC_DEFAULT_OUTPUT_MAX), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_signame),
        cmocka_unit_test_setup_teardown(test_pack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_env_cwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_big_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_closed_outputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
