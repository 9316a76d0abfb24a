/* worker/executor.c — see executor.h.
 *
 * Two threads share one queue under one mutex: the reader appends JOBs and, on REVOKE, takes
 * jobs off the queue's tail (so a job is either started by the main thread or returned, never
 * both); the main thread pops the head and runs it. Both write frames to the one descriptor,
 * each frame whole under a second mutex. At end of file the main thread stops after the job it
 * is running (the daemon closed us: it wants nothing more), joins the reader and frees all.
 */
#include "executor.h"

#include "builtins.h"
#include "frame.h"
#include "list.h"
#include "log.h"
#include "platform.h"
#include "xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    tmq_list_link_t link;
    uint64_t tag;
    size_t fn_len, arg_len;
    uint8_t data[]; /* fn bytes, then arg bytes */
} s_job_t;

typedef struct {
    int fd;
    bool test_functions;
    pthread_mutex_t mu; /* guards queue, eof, failed */
    pthread_cond_t ready;
    tmq_list_t queue;    /* received, not started */
    bool eof;            /* the reader stopped: the daemon closed us, or the stream broke */
    bool failed;         /* ... because of an error (malformed frame, read error) */
    pthread_mutex_t wmu; /* one frame at a time on fd */
    /* main thread only */
    msgpack_sbuffer result;
    msgpack_zone zone;
    uint8_t *frame;
    size_t frame_cap;
} s_exec_t;

/* Writes one whole frame under the write lock. Returns 0 or -1. */
static int s_write_frame(s_exec_t *self, const uint8_t *p, size_t n)
{
    pthread_mutex_lock(&self->wmu);
    int rc = 0;
    while (n > 0) {
        ssize_t w = send(self->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&self->wmu);
    return rc;
}

/* ---- the reader thread ---- */

static void s_enqueue(s_exec_t *self, const tmq_frame_job_t *j)
{
    s_job_t *job = tmq_xmalloc(sizeof *job + j->fn_len + j->arg_len);
    job->tag = j->tag;
    job->fn_len = j->fn_len;
    job->arg_len = j->arg_len;
    memcpy(job->data, j->fn, j->fn_len);
    if (j->arg_len) memcpy(job->data + j->fn_len, j->arg, j->arg_len);
    pthread_mutex_lock(&self->mu);
    tmq_list_push_back(&self->queue, &job->link);
    pthread_cond_signal(&self->ready);
    pthread_mutex_unlock(&self->mu);
}

/* REVOKE n: the last n unstarted jobs go back, in queue order. */
static int s_revoke(s_exec_t *self, uint32_t n)
{
    tmq_list_t back;
    tmq_list_init(&back);
    pthread_mutex_lock(&self->mu);
    while (n-- > 0 && self->queue.tail) {
        tmq_list_link_t *l = self->queue.tail;
        tmq_list_remove(&self->queue, l);
        tmq_list_push_front(&back, l);
    }
    pthread_mutex_unlock(&self->mu);
    uint64_t *tags = tmq_xmalloc((back.size ? back.size : 1) * sizeof *tags);
    size_t k = 0;
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&back))) {
        s_job_t *job = TMQ_LIST_ENTRY(l, s_job_t, link);
        tags[k++] = job->tag;
        free(job);
    }
    uint8_t *f = tmq_xmalloc(tmq_frame_returned_size(k));
    size_t len = tmq_frame_returned_write(f, tags, k);
    int rc = s_write_frame(self, f, len);
    free(f);
    free(tags);
    return rc;
}

/* One frame from the daemon. Returns 0, or -1 when it is not one we understand. */
static int s_on_frame(s_exec_t *self, const uint8_t *p, size_t n)
{
    tmq_frame_job_t j;
    uint32_t count;
    switch (tmq_frame_kind(p, n)) {
    case TMQ_FRAME_JOB:
        if (tmq_frame_job_decode(p, n, &j) != 0) break;
        s_enqueue(self, &j);
        return 0;
    case TMQ_FRAME_REVOKE:
        if (tmq_frame_revoke_decode(p, n, &count) != 0) break;
        return s_revoke(self, count);
    default:
        break;
    }
    tmq_error("malformed frame (%zu bytes) from the daemon", n);
    return -1;
}

static void *s_reader(void *arg)
{
    s_exec_t *self = arg;
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);
    bool failed = false;
    for (;;) {
        ssize_t got = tmq_frame_reader_fill(&rd, self->fd);
        if (got == 0) break; /* the daemon closed our end: a normal stop */
        if (got < 0) {
            if (errno != EBADF && errno != ENOTCONN) /* not our own shutdown */
                tmq_error("read from the daemon failed: %s", strerror(errno));
            failed = true;
            break;
        }
        const uint8_t *p;
        size_t n;
        int more;
        while ((more = tmq_frame_reader_next(&rd, &p, &n)) == 1)
            if (s_on_frame(self, p, n) != 0) break;
        if (more != 0) {
            if (more < 0) tmq_error("oversized frame from the daemon");
            failed = true;
            break;
        }
    }
    tmq_frame_reader_destroy(&rd);
    pthread_mutex_lock(&self->mu);
    self->eof = true;
    self->failed = failed;
    pthread_cond_signal(&self->ready);
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

/* ---- the main thread ---- */

/* The next job to run, or NULL once the reader stopped. */
static s_job_t *s_next(s_exec_t *self)
{
    pthread_mutex_lock(&self->mu);
    while (!self->eof && tmq_list_empty(&self->queue))
        pthread_cond_wait(&self->ready, &self->mu);
    tmq_list_link_t *l = self->eof ? NULL : tmq_list_pop_front(&self->queue);
    pthread_mutex_unlock(&self->mu);
    return l ? TMQ_LIST_ENTRY(l, s_job_t, link) : NULL;
}

static int s_run_one(s_exec_t *self, s_job_t *job)
{
    self->result.size = 0;
    int64_t t0 = tmq_clock_us();
    int st = tmq_builtins_call((const char *)job->data, job->fn_len, job->data + job->fn_len,
                               job->arg_len, self->test_functions, &self->zone, &self->result);
    double ms = (double)(tmq_clock_us() - t0) / 1000.0;
    size_t need = tmq_frame_result_size(self->result.size);
    if (need > self->frame_cap) {
        self->frame = tmq_xrealloc(self->frame, need);
        self->frame_cap = need;
    }
    size_t len =
        tmq_frame_result_write(self->frame, job->tag, st, self->result.data, self->result.size, ms);
    if (s_write_frame(self, self->frame, len) != 0) {
        tmq_debug("result write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int tmq_executor_run(int fd, bool test_functions)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    s_exec_t self = {.fd = fd, .test_functions = test_functions};
    pthread_mutex_init(&self.mu, NULL);
    pthread_mutex_init(&self.wmu, NULL);
    pthread_cond_init(&self.ready, NULL);
    tmq_list_init(&self.queue);
    msgpack_sbuffer_init(&self.result);
    if (!msgpack_zone_init(&self.zone, 4096)) tmq_oom();
    pthread_t reader;
    if (pthread_create(&reader, NULL, s_reader, &self) != 0) {
        tmq_error("cannot start the reader thread");
        return -1;
    }
    int rc = 0;
    s_job_t *job;
    while ((job = s_next(&self)) != NULL) {
        rc = s_run_one(&self, job);
        free(job);
        if (rc != 0) break;
    }
    shutdown(fd, SHUT_RDWR); /* wakes the reader if it still waits */
    pthread_join(reader, NULL);
    if (self.failed) rc = -1;
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&self.queue)))
        free(TMQ_LIST_ENTRY(l, s_job_t, link));
    msgpack_zone_destroy(&self.zone);
    msgpack_sbuffer_destroy(&self.result);
    free(self.frame);
    pthread_cond_destroy(&self.ready);
    pthread_mutex_destroy(&self.mu);
    pthread_mutex_destroy(&self.wmu);
    return rc;
}
