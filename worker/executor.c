/* worker/executor.c — see executor.h. One loop: fill, run each complete job, write its result.
 * Reads block (the executor has nothing else to do); each result is written whole before the
 * next job starts. Per-job buffers (result, unpack zone, frame) are reused. */
#include "executor.h"

#include "builtins.h"
#include "frame.h"
#include "log.h"
#include "platform.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
    bool test_functions;
    msgpack_sbuffer result;
    msgpack_zone zone;
    uint8_t *frame;
    size_t frame_cap;
} s_exec_t;

static int s_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_run_one(s_exec_t *self, const uint8_t *p, size_t n)
{
    tmq_frame_job_t job;
    if (tmq_frame_job_decode(p, n, &job) != 0) {
        tmq_error("malformed job frame (%zu bytes) from the daemon", n);
        return -1;
    }
    self->result.size = 0;
    int64_t t0 = tmq_clock_us();
    int st = tmq_builtins_call(job.fn, job.fn_len, job.arg, job.arg_len, self->test_functions,
                               &self->zone, &self->result);
    double ms = (double)(tmq_clock_us() - t0) / 1000.0;

    size_t need = tmq_frame_result_size(self->result.size);
    if (need > self->frame_cap) {
        uint8_t *f = realloc(self->frame, need);
        if (!f) abort();
        self->frame = f;
        self->frame_cap = need;
    }
    size_t len =
        tmq_frame_result_write(self->frame, job.tag, st, self->result.data, self->result.size, ms);
    if (s_write_all(self->fd, self->frame, len) != 0) {
        tmq_debug("result write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int tmq_executor_run(int fd, bool test_functions)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* We run as /proc/self/exe; give top and ps -o comm a readable name. */
    prctl(PR_SET_NAME, "taskmq-executor");
    s_exec_t self = {.fd = fd, .test_functions = test_functions};
    msgpack_sbuffer_init(&self.result);
    if (!msgpack_zone_init(&self.zone, 4096)) abort();
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);

    int rc = 0;
    for (;;) {
        ssize_t got = tmq_frame_reader_fill(&rd, fd);
        if (got == 0) break; /* the daemon closed our end: a normal stop */
        if (got < 0) {
            tmq_error("read from the daemon failed: %s", strerror(errno));
            rc = -1;
            break;
        }
        const uint8_t *p;
        size_t n;
        int more;
        while ((more = tmq_frame_reader_next(&rd, &p, &n)) == 1)
            if (s_run_one(&self, p, n) != 0) break;
        if (more != 0) {
            if (more < 0) tmq_error("oversized frame from the daemon");
            rc = -1;
            break;
        }
    }
    tmq_frame_reader_destroy(&rd);
    msgpack_zone_destroy(&self.zone);
    msgpack_sbuffer_destroy(&self.result);
    free(self.frame);
    return rc;
}
