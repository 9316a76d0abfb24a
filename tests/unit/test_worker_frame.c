/* tests/unit/test_worker_frame.c — the daemon <-> executor framing (worker/frame.h).
 *
 * Round trips of job and result frames, every truncation of a payload, wrong types and
 * trailing bytes, and the stream reader fed one byte at a time, in bulk, with an oversized
 * length prefix, and through a real socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frame.h"
#include "proto.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static uint8_t *job_frame(uint64_t tag, const char *fn, const void *arg, size_t arg_len,
                          size_t *len)
{
    uint8_t *f = malloc(tmq_frame_job_size(strlen(fn), arg_len));
    *len = tmq_frame_job_write(f, tag, fn, strlen(fn), arg, arg_len);
    assert_int_equal(*len, tmq_frame_job_size(strlen(fn), arg_len));
    return f;
}

static void test_job_round_trip(void **state)
{
    size_t len;
    uint8_t *f = job_frame(0x0102030405060708ULL, "primes", "\xcd\x27\x10", 3, &len);
    /* The payload is msgpack: one well-formed object. */
    assert_int_equal(tmq_proto_check(f + 4, len - 4, 4), 0);
    tmq_frame_job_t j;
    assert_int_equal(tmq_frame_job_decode(f + 4, len - 4, &j), 0);
    assert_true(j.tag == 0x0102030405060708ULL);
    assert_int_equal(j.fn_len, 6);
    assert_memory_equal(j.fn, "primes", 6);
    assert_int_equal(j.arg_len, 3);
    assert_memory_equal(j.arg, "\xcd\x27\x10", 3);
    free(f);
}

static void test_result_round_trip(void **state)
{
    uint8_t f[64];
    size_t len = tmq_frame_result_write(f, 7, TMQ_ST_ERROR, "oops", 4, 12.25);
    assert_int_equal(len, tmq_frame_result_size(4));
    assert_int_equal(tmq_proto_check(f + 4, len - 4, 4), 0);
    tmq_frame_result_t r;
    assert_int_equal(tmq_frame_result_decode(f + 4, len - 4, &r), 0);
    assert_int_equal(r.tag, 7);
    assert_int_equal(r.status, TMQ_ST_ERROR);
    assert_int_equal(r.data_len, 4);
    assert_memory_equal(r.data, "oops", 4);
    assert_true(r.ms == 12.25);
    /* empty data */
    len = tmq_frame_result_write(f, 8, TMQ_ST_OK, NULL, 0, 0);
    assert_int_equal(tmq_frame_result_decode(f + 4, len - 4, &r), 0);
    assert_int_equal(r.data_len, 0);
}

/* msgpack-c's own compact encodings decode too. */
static void test_decode_compact_forms(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint64(&pk, TMQ_FRAME_JOB);
    msgpack_pack_uint64(&pk, 5);
    msgpack_pack_str_with_body(&pk, "echo", 4);
    msgpack_pack_bin_with_body(&pk, "\xc0", 1);
    tmq_frame_job_t j;
    assert_int_equal(tmq_frame_job_decode((uint8_t *)sb.data, sb.size, &j), 0);
    assert_int_equal(j.tag, 5);
    assert_memory_equal(j.fn, "echo", 4);
    sb.size = 0;
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, TMQ_FRAME_RESULT);
    msgpack_pack_uint64(&pk, 300);
    msgpack_pack_uint64(&pk, 0);
    msgpack_pack_bin_with_body(&pk, "\x2a", 1);
    msgpack_pack_float(&pk, 0.5f);
    tmq_frame_result_t r;
    assert_int_equal(tmq_frame_result_decode((uint8_t *)sb.data, sb.size, &r), 0);
    assert_int_equal(r.tag, 300);
    assert_true(r.ms == 0.5);
    msgpack_sbuffer_destroy(&sb);
}

static void test_truncation_and_junk(void **state)
{
    size_t len;
    uint8_t *f = job_frame(1, "sum", "\x0a", 1, &len);
    tmq_frame_job_t j;
    for (size_t cut = 0; cut < len - 4; cut++)
        assert_int_equal(tmq_frame_job_decode(f + 4, cut, &j), -1);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, f, len);
    longer[len] = 0xc0;
    assert_int_equal(tmq_frame_job_decode(longer + 4, len - 3, &j), -1); /* trailing byte */
    free(longer);

    uint8_t r[64];
    size_t rl = tmq_frame_result_write(r, 1, TMQ_ST_OK, "\x01", 1, 1.0);
    tmq_frame_result_t res;
    for (size_t cut = 0; cut < rl - 4; cut++)
        assert_int_equal(tmq_frame_result_decode(r + 4, cut, &res), -1);
    /* A job frame is not a result frame and vice versa. */
    assert_int_equal(tmq_frame_result_decode(f + 4, len - 4, &res), -1);
    assert_int_equal(tmq_frame_job_decode(r + 4, rl - 4, &j), -1);
    /* Status out of range. */
    r[4 + 2 + 9 + 1] = 9;
    assert_int_equal(tmq_frame_result_decode(r + 4, rl - 4, &res), -1);
    /* fn must be a str, arg a bin. */
    uint8_t bad[] = {0x94, 0x01, 0x01, 0xc4, 0x01, 'x', 0xc4, 0x01, 0x00};
    assert_int_equal(tmq_frame_job_decode(bad, sizeof bad, &j), -1);
    uint8_t bad2[] = {0x94, 0x01, 0x01, 0xa1, 'x', 0xa1, 'y'};
    assert_int_equal(tmq_frame_job_decode(bad2, sizeof bad2, &j), -1);
    /* A declared length past the end. */
    uint8_t bad3[] = {0x94, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(tmq_frame_job_decode(bad3, sizeof bad3, &j), -1);
    /* The kind must say what it is. */
    uint8_t wrong_kind[] = {0x94, 0x02, 0x01, 0xa1, 'x', 0xc4, 0x01, 0x00};
    assert_int_equal(tmq_frame_job_decode(wrong_kind, sizeof wrong_kind, &j), -1);
    uint8_t no_kind[] = {0x90};
    assert_int_equal(tmq_frame_kind(no_kind, sizeof no_kind), -1);
    uint8_t big_kind[] = {0x91, 0x09};
    assert_int_equal(tmq_frame_kind(big_kind, sizeof big_kind), -1);
    free(f);
}

static void test_revoke_and_returned(void **state)
{
    uint8_t f[TMQ_FRAME_REVOKE_SIZE];
    size_t len = tmq_frame_revoke_write(f, 63);
    assert_int_equal(len, TMQ_FRAME_REVOKE_SIZE);
    assert_int_equal(tmq_frame_kind(f + 4, len - 4), TMQ_FRAME_REVOKE);
    uint32_t n = 0;
    assert_int_equal(tmq_frame_revoke_decode(f + 4, len - 4, &n), 0);
    assert_int_equal(n, 63);
    for (size_t cut = 0; cut < len - 4; cut++)
        assert_int_equal(tmq_frame_revoke_decode(f + 4, cut, &n), -1);

    uint64_t tags[] = {5, 6, 0x0102030405060708ULL};
    uint8_t r[64];
    assert_true(tmq_frame_returned_size(3) <= sizeof r);
    len = tmq_frame_returned_write(r, tags, 3);
    assert_int_equal(len, tmq_frame_returned_size(3));
    assert_int_equal(tmq_proto_check(r + 4, len - 4, 4), 0);
    assert_int_equal(tmq_frame_kind(r + 4, len - 4), TMQ_FRAME_RETURNED);
    uint64_t got[4];
    size_t k = 0;
    assert_int_equal(tmq_frame_returned_decode(r + 4, len - 4, got, 4, &k), 0);
    assert_int_equal(k, 3);
    assert_true(got[2] == 0x0102030405060708ULL);
    assert_int_equal(tmq_frame_returned_decode(r + 4, len - 4, got, 2, &k), -1); /* too many */
    for (size_t cut = 0; cut < len - 4; cut++)
        assert_int_equal(tmq_frame_returned_decode(r + 4, cut, got, 4, &k), -1);
    len = tmq_frame_returned_write(r, NULL, 0); /* none: still an answer */
    assert_int_equal(tmq_frame_returned_decode(r + 4, len - 4, got, 4, &k), 0);
    assert_int_equal(k, 0);
    /* compact msgpack forms from another executor */
    uint8_t compact[] = {0x92, 0x04, 0x92, 0x07, 0xcc, 0xff};
    assert_int_equal(tmq_frame_returned_decode(compact, sizeof compact, got, 4, &k), 0);
    assert_int_equal(k, 2);
    assert_int_equal(got[1], 255);
}

static void test_hello(void **state)
{
    char *fns[] = {"sum", "wordcount"};
    tmq_frame_hello_t in = {
        .version = TMQ_EXECUTOR_PROTOCOL, .fns = fns, .nfns = 2, .revoke = true};
    size_t len;
    uint8_t *f = tmq_frame_hello_write(&in, &len);
    assert_true(len > TMQ_FRAME_PREFIX);
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);
    tmq_frame_reader_feed(&rd, f, len);
    const uint8_t *p;
    size_t n;
    assert_int_equal(tmq_frame_reader_next(&rd, &p, &n), 1); /* the prefix is right */
    assert_int_equal(tmq_frame_kind(p, n), TMQ_FRAME_HELLO);
    tmq_frame_hello_t h;
    char why[256];
    assert_int_equal(tmq_frame_hello_decode(p, n, &h, why, sizeof why), 0);
    assert_int_equal(h.version, TMQ_EXECUTOR_PROTOCOL);
    assert_int_equal(h.nfns, 2);
    assert_string_equal(h.fns[1], "wordcount");
    assert_true(h.revoke);
    assert_null(h.error);
    tmq_frame_hello_free(&h);
    for (size_t cut = 0; cut < n; cut++) /* every truncation is refused, with a reason */
        assert_int_equal(tmq_frame_hello_decode(p, cut, &h, why, sizeof why), -1);
    tmq_frame_reader_destroy(&rd); /* p points into it */
    free(f);

    in.error = "plugin x.so: no tmq_plugin_init";
    in.nfns = 0;
    f = tmq_frame_hello_write(&in, &len);
    assert_int_equal(tmq_frame_hello_decode(f + 4, len - 4, &h, why, sizeof why), 0);
    assert_string_equal(h.error, "plugin x.so: no tmq_plugin_init");
    assert_int_equal(h.nfns, 0);
    tmq_frame_hello_free(&h);
    free(f);
}

/* HELLOs other executors might write: compact forms and unknown keys are fine; bad names,
 * repeats and wrong types are refused with a reason. */
static void test_hello_checks(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    tmq_frame_hello_t h;
    char why[256];
#define HELLO_MAP(pairs)                                                                           \
    do {                                                                                           \
        sb.size = 0;                                                                               \
        msgpack_pack_array(&pk, 2);                                                                \
        msgpack_pack_uint8(&pk, TMQ_FRAME_HELLO);                                                  \
        msgpack_pack_map(&pk, pairs);                                                              \
    } while (0)
#define KEY(k) msgpack_pack_str_with_body(&pk, k, strlen(k))
    HELLO_MAP(3); /* revoke left out (false), an unknown key ignored */
    KEY("version");
    msgpack_pack_uint64(&pk, 1);
    KEY("functions");
    msgpack_pack_array(&pk, 1);
    KEY("upper");
    KEY("colour");
    KEY("blue");
    assert_int_equal(tmq_frame_hello_decode((uint8_t *)sb.data, sb.size, &h, why, sizeof why), 0);
    assert_false(h.revoke);
    assert_string_equal(h.fns[0], "upper");
    assert_null(h.python);
    tmq_frame_hello_free(&h);

    HELLO_MAP(3); /* a Python executor says its version */
    KEY("version");
    msgpack_pack_uint64(&pk, 1);
    KEY("functions");
    msgpack_pack_array(&pk, 0);
    KEY("python");
    KEY("3.11.2");
    assert_int_equal(tmq_frame_hello_decode((uint8_t *)sb.data, sb.size, &h, why, sizeof why), 0);
    assert_string_equal(h.python, "3.11.2");
    tmq_frame_hello_free(&h);

    HELLO_MAP(3); /* ... informational: anything but a string is ignored */
    KEY("version");
    msgpack_pack_uint64(&pk, 1);
    KEY("functions");
    msgpack_pack_array(&pk, 0);
    KEY("python");
    msgpack_pack_uint64(&pk, 3);
    assert_int_equal(tmq_frame_hello_decode((uint8_t *)sb.data, sb.size, &h, why, sizeof why), 0);
    assert_null(h.python);
    tmq_frame_hello_free(&h);

    HELLO_MAP(2); /* a function announced twice */
    KEY("version");
    msgpack_pack_uint64(&pk, 1);
    KEY("functions");
    msgpack_pack_array(&pk, 2);
    KEY("a");
    KEY("a");
    assert_int_equal(tmq_frame_hello_decode((uint8_t *)sb.data, sb.size, &h, why, sizeof why), -1);
    assert_non_null(strstr(why, "'a' announced twice"));

    HELLO_MAP(2); /* an empty name */
    KEY("version");
    msgpack_pack_uint64(&pk, 1);
    KEY("functions");
    msgpack_pack_array(&pk, 1);
    KEY("");
    assert_int_equal(tmq_frame_hello_decode((uint8_t *)sb.data, sb.size, &h, why, sizeof why), -1);

    HELLO_MAP(2); /* version as a string */
    KEY("version");
    KEY("1");
    KEY("functions");
    msgpack_pack_array(&pk, 0);
    assert_int_equal(tmq_frame_hello_decode((uint8_t *)sb.data, sb.size, &h, why, sizeof why), -1);
    assert_non_null(strstr(why, "'version'"));

    HELLO_MAP(1); /* no functions and no error */
    KEY("version");
    msgpack_pack_uint64(&pk, 1);
    assert_int_equal(tmq_frame_hello_decode((uint8_t *)sb.data, sb.size, &h, why, sizeof why), -1);
#undef HELLO_MAP
#undef KEY
    msgpack_sbuffer_destroy(&sb);

    /* a RESULT may carry its data as a str (a scripting language's bytes and strings mix) */
    uint8_t r[] = {0x95, 0x02, 0x07, 0x01, 0xa3, 'b', 'a', 'd', 0x00};
    tmq_frame_result_t res;
    assert_int_equal(tmq_frame_result_decode(r, sizeof r, &res), 0);
    assert_int_equal(res.data_len, 3);
    assert_memory_equal(res.data, "bad", 3);
}

static void test_reader_byte_by_byte(void **state)
{
    size_t l1, l2;
    uint8_t *a = job_frame(1, "echo", "\x01", 1, &l1);
    uint8_t *b = job_frame(2, "sleep", "\x02", 1, &l2);
    uint8_t *all = malloc(l1 + l2);
    memcpy(all, a, l1);
    memcpy(all + l1, b, l2);
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);
    const uint8_t *p;
    size_t n;
    uint64_t want = 1;
    for (size_t i = 0; i < l1 + l2; i++) {
        tmq_frame_reader_feed(&rd, all + i, 1);
        int rc = tmq_frame_reader_next(&rd, &p, &n);
        if (i == l1 - 1 || i == l1 + l2 - 1) {
            assert_int_equal(rc, 1);
            tmq_frame_job_t j;
            assert_int_equal(tmq_frame_job_decode(p, n, &j), 0);
            assert_int_equal(j.tag, want++);
        } else {
            assert_int_equal(rc, 0);
        }
    }
    assert_int_equal(tmq_frame_reader_next(&rd, &p, &n), 0);
    /* Both at once. */
    tmq_frame_reader_feed(&rd, all, l1 + l2);
    assert_int_equal(tmq_frame_reader_next(&rd, &p, &n), 1);
    assert_int_equal(tmq_frame_reader_next(&rd, &p, &n), 1);
    assert_int_equal(tmq_frame_reader_next(&rd, &p, &n), 0);
    tmq_frame_reader_destroy(&rd);
    free(a);
    free(b);
    free(all);
}

static void test_reader_oversized(void **state)
{
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x93};
    tmq_frame_reader_feed(&rd, huge, sizeof huge);
    const uint8_t *p;
    size_t n;
    assert_int_equal(tmq_frame_reader_next(&rd, &p, &n), -1);
    tmq_frame_reader_destroy(&rd);
}

/* A frame larger than the reader's first buffer arrives whole through a socket. */
static void test_reader_socket_large(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    size_t arg_len = 300000, len;
    uint8_t *arg = malloc(arg_len);
    for (size_t i = 0; i < arg_len; i++)
        arg[i] = (uint8_t)i;
    uint8_t *f = job_frame(9, "echo", arg, arg_len, &len);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(sv[1], f + off, len - off);
            if (w <= 0) _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(sv[1]);
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);
    const uint8_t *p;
    size_t n;
    int rc;
    while ((rc = tmq_frame_reader_next(&rd, &p, &n)) == 0)
        assert_true(tmq_frame_reader_fill(&rd, sv[0]) > 0);
    assert_int_equal(rc, 1);
    tmq_frame_job_t j;
    assert_int_equal(tmq_frame_job_decode(p, n, &j), 0);
    assert_int_equal(j.arg_len, arg_len);
    assert_memory_equal(j.arg, arg, arg_len);
    assert_int_equal(tmq_frame_reader_fill(&rd, sv[0]), 0); /* end of file */
    tmq_frame_reader_destroy(&rd);
    close(sv[0]);
    waitpid(pid, NULL, 0);
    free(arg);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_round_trip),
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_decode_compact_forms),
        cmocka_unit_test(test_truncation_and_junk),
        cmocka_unit_test(test_reader_byte_by_byte),
        cmocka_unit_test(test_reader_oversized),
        cmocka_unit_test(test_reader_socket_large),
        cmocka_unit_test(test_revoke_and_returned),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_hello_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
