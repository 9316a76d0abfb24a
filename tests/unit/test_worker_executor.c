/* tests/unit/test_worker_executor.c — one real executor process on its two streams, driven
 * frame by frame as the daemon would: results of a run of short jobs go out together, and a
 * result is never held behind a long job (nor a lone job's at all).
 *
 * The test starts the built taskmq-worker in --executor mode with the job stream as its
 * fd 3 and the control stream as fd 4 (CMake passes the path), writes JOB frames itself and
 * reads RESULT frames, counting the reads they took. Teardown closes both streams (the
 * executor's normal stop) and reaps it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frame.h"
#include "platform.h"
#include "proto.h"

#include <msgpack.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_GOT 512

typedef struct {
    pid_t pid;
    int fd, ctl; /* our ends */
    tmq_frame_reader_t rd;
    uint64_t tags[MAX_GOT];
    int64_t at_ms[MAX_GOT]; /* when each result was read */
    size_t ngot;
    size_t reads; /* reads that brought results */
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    int sv[2], cv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv), 0);
    char *argv[] = {TMQ_WORKER_BIN, "--executor", "--test-functions", NULL};
    int child[2] = {sv[1], cv[1]};
    fx->pid = tmq_spawn_fds(TMQ_WORKER_BIN, argv, child, 2, TMQ_SPAWN_DIE_WITH_PARENT);
    assert_true(fx->pid > 0);
    close(sv[1]);
    close(cv[1]);
    fx->fd = sv[0];
    fx->ctl = cv[0];
    tmq_frame_reader_init(&fx->rd);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    close(fx->fd);
    close(fx->ctl);
    int st;
    assert_int_equal(waitpid(fx->pid, &st, 0), fx->pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    tmq_frame_reader_destroy(&fx->rd);
    free(fx);
    return 0;
}

/* Reads frames for up to ms; records RESULTs. Returns when `want` results are in. */
static void s_read(fx_t *fx, size_t want, int ms)
{
    int64_t until = tmq_clock_ms() + ms;
    while (fx->ngot < want && tmq_clock_ms() < until) {
        struct pollfd p = {.fd = fx->fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0) continue;
        assert_true(tmq_frame_reader_fill(&fx->rd, fx->fd) > 0);
        const uint8_t *f;
        size_t n;
        size_t before = fx->ngot;
        while (tmq_frame_reader_next(&fx->rd, &f, &n) == 1) {
            if (tmq_frame_kind(f, n) != TMQ_FRAME_RESULT) continue; /* HELLO */
            tmq_frame_result_t r;
            assert_int_equal(tmq_frame_result_decode(f, n, &r), 0);
            assert_int_equal(r.status, TMQ_ST_OK);
            assert_true(fx->ngot < MAX_GOT);
            fx->at_ms[fx->ngot] = tmq_clock_ms();
            fx->tags[fx->ngot++] = r.tag;
        }
        fx->reads += fx->ngot > before;
    }
}

/* Appends a JOB frame (fn on the integer v) to buf at *len. */
static void s_job(uint8_t *buf, size_t *len, uint64_t tag, const char *fn, int64_t v)
{
    unsigned char arg[16];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_int64(&pk, v);
    memcpy(arg, sb.data, sb.size);
    *len += tmq_frame_job_write(buf + *len, tag, fn, strlen(fn), arg, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void s_write(fx_t *fx, const uint8_t *buf, size_t len)
{
    assert_int_equal(write(fx->fd, buf, len), (ssize_t)len);
}

/* 200 echo jobs in one write: every result comes, in order, in far fewer reads than jobs. */
static void test_short_jobs_go_together(void **state)
{
    fx_t *fx = *state;
    static uint8_t buf[200 * 64];
    size_t len = 0;
    for (uint64_t t = 1; t <= 200; t++)
        s_job(buf, &len, t, "echo", (int64_t)t);
    s_write(fx, buf, len);
    s_read(fx, 200, 10000);
    assert_int_equal(fx->ngot, 200);
    for (size_t i = 0; i < 200; i++)
        assert_int_equal(fx->tags[i], i + 1);
    assert_true(fx->reads <= 20); /* one write each would be read in about as many reads */
}

/* echo, then a 600 ms sleep, then echo, in one write: the first echo's result is not held
 * behind the sleep (it may wait S_HOLD_US, 1 ms; the bound here allows a slow machine), and
 * the second comes with or right after the sleep's. */
static void test_not_held_behind_a_long_job(void **state)
{
    fx_t *fx = *state;
    uint8_t buf[256];
    size_t len = 0;
    s_job(buf, &len, 1, "echo", 1);
    s_job(buf, &len, 2, "sleep", 600);
    s_job(buf, &len, 3, "echo", 3);
    int64_t t0 = tmq_clock_ms();
    s_write(fx, buf, len);
    s_read(fx, 1, 5000);
    assert_int_equal(fx->ngot, 1);
    assert_int_equal(fx->tags[0], 1);
    assert_true(fx->at_ms[0] - t0 < 300);
    s_read(fx, 3, 5000);
    assert_int_equal(fx->ngot, 3);
    assert_int_equal(fx->tags[1], 2);
    assert_int_equal(fx->tags[2], 3);
    assert_true(fx->at_ms[1] - t0 >= 590);
}

/* A lone job's result goes at once, each time. */
static void test_lone_job_at_once(void **state)
{
    fx_t *fx = *state;
    for (uint64_t t = 1; t <= 20; t++) {
        uint8_t buf[64];
        size_t len = 0;
        s_job(buf, &len, t, "echo", (int64_t)t);
        s_write(fx, buf, len);
        s_read(fx, t, 5000);
        assert_int_equal(fx->ngot, t);
        assert_int_equal(fx->tags[t - 1], t);
    }
    assert_int_equal(fx->reads, 20);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_short_jobs_go_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_held_behind_a_long_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lone_job_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
