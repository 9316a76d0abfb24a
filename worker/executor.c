/* worker/executor.c — see executor.h.
 *
 * The main thread owns the job stream (fd): while its queue is empty it waits for it (and
 * for a wake-up pipe), reads and parses what came, then runs the queued jobs one by one,
 * writing each result at once. A helper thread blocks on the control descriptor and wakes
 * only for REVOKE. While the main thread computes, the helper answers it: it drains the job
 * stream (so jobs still in the socket come back too) and takes jobs off the queue's tail, so
 * a job is either started by the main thread or handed back, never both. While the main
 * thread is not computing, jobs may sit in the socket or in a buffer it has read and not yet
 * parsed, which only it may touch: the helper leaves the REVOKE pending and wakes it, and the
 * main thread answers before it starts another job. The stream's reader state is touched by
 * the main thread only while it is not computing and by the helper only while it is, both
 * under the mutex when parsing. Frames go out whole under a second mutex. In the common case
 * (no REVOKE) the helper never wakes, so a job costs what it costs a single-threaded
 * executor; an idle wait is one poll more than a bare read. SIGTERM between jobs sets a flag
 * and wakes the main thread through the same pipe, so the plugins' exit hooks run on it; the
 * helper never takes SIGTERM.
 */
#include "executor.h"

#include "builtins.h"
#include "frame.h"
#include "list.h"
#include "log.h"
#include "options.h"
#include "platform.h"
#include "proto.h"
#include "registry.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    tmq_list_link_t link;
    uint64_t tag;
    size_t fn_len, arg_len;
    uint8_t data[]; /* fn bytes, then arg bytes */
} s_job_t;

typedef struct {
    int fd, ctl;
    int wake[2];           /* the helper writes a byte to wake[1] when a REVOKE is left pending */
    tmq_registry_t *reg;   /* the functions served: built-ins, then plugins */
    size_t max_result;     /* a larger result fails its job (--max-result) */
    pthread_mutex_t mu;    /* guards queue, computing, pending, broken and (see above) rd */
    tmq_list_t queue;      /* received, not started */
    tmq_frame_reader_t rd; /* the job stream */
    bool computing;        /* the main thread runs a job */
    uint32_t pending;      /* a REVOKE for the main thread to answer (0: none) */
    bool broken;           /* the job stream held something we do not understand */
    pthread_mutex_t wmu;   /* one frame at a time on fd */
    /* main thread only */
    msgpack_sbuffer result;
    uint8_t *frame;
    size_t frame_cap;
} s_executor_t;

static volatile sig_atomic_t s_in_job; /* the main thread runs a job function */
static volatile sig_atomic_t s_stop;   /* SIGTERM came between jobs: stop serving */
static int s_wake_fd = -1;             /* wake[1], for the SIGTERM handler */

/* Writes one whole frame under the write lock. Returns 0 or -1. */
static int s_write_frame(s_executor_t *self, const uint8_t *p, size_t n)
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

/* Moves every complete JOB frame held in rd onto the queue (caller holds mu). Returns 0, or
 * -1 (and sets broken) on a frame that is not a job. */
static int s_parse(s_executor_t *self)
{
    const uint8_t *p;
    size_t n;
    int more;
    while ((more = tmq_frame_reader_next(&self->rd, &p, &n)) == 1) {
        tmq_frame_job_t j;
        if (tmq_frame_kind(p, n) != TMQ_FRAME_JOB || tmq_frame_job_decode(p, n, &j) != 0) {
            tmq_error("malformed frame (%zu bytes) on the job stream", n);
            self->broken = true;
            return -1;
        }
        s_job_t *job = tmq_xmalloc(sizeof *job + j.fn_len + j.arg_len);
        job->tag = j.tag;
        job->fn_len = j.fn_len;
        job->arg_len = j.arg_len;
        memcpy(job->data, j.fn, j.fn_len);
        if (j.arg_len) memcpy(job->data + j.fn_len, j.arg, j.arg_len);
        tmq_list_push_back(&self->queue, &job->link);
    }
    if (more < 0) {
        tmq_error("oversized frame on the job stream");
        self->broken = true;
        return -1;
    }
    return 0;
}

/* ---- the helper thread: REVOKE ---- */

/* Reads what the job stream holds without waiting (caller holds mu; the helper while main
 * computes, or main itself). */
static void s_drain_stream(s_executor_t *self)
{
    struct pollfd pfd = {.fd = self->fd, .events = POLLIN};
    while (!self->broken && poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
        if (tmq_frame_reader_fill(&self->rd, self->fd) <= 0) return; /* main sees the end */
        s_parse(self);
    }
}

/* Moves up to n jobs off the queue's tail into back, in queue order (caller holds mu). */
static void s_take_tail(s_executor_t *self, uint32_t n, tmq_list_t *back)
{
    while (n-- > 0 && self->queue.tail) {
        tmq_list_link_t *l = self->queue.tail;
        tmq_list_remove(&self->queue, l);
        tmq_list_push_front(back, l);
    }
}

/* Writes RETURNED listing the jobs on back (possibly none) and frees them. */
static int s_send_returned(s_executor_t *self, tmq_list_t *back)
{
    uint64_t *tags = tmq_xmalloc((back->size ? back->size : 1) * sizeof *tags);
    size_t k = 0;
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(back))) {
        tags[k++] = TMQ_LIST_ENTRY(l, s_job_t, link)->tag;
        free(TMQ_LIST_ENTRY(l, s_job_t, link));
    }
    uint8_t *f = tmq_xmalloc(tmq_frame_returned_size(k));
    size_t len = tmq_frame_returned_write(f, tags, k);
    int rc = s_write_frame(self, f, len);
    free(f);
    free(tags);
    return rc;
}

/* REVOKE n: the last n unstarted jobs go back, in queue order, in one RETURNED frame — from
 * here while the main thread computes, else from the main thread (see the file header). */
static int s_on_revoke(s_executor_t *self, uint32_t n)
{
    tmq_list_t back;
    tmq_list_init(&back);
    pthread_mutex_lock(&self->mu);
    bool now = self->computing;
    if (now) {
        s_drain_stream(self);
        s_take_tail(self, n, &back);
    } else if (n > self->pending) {
        self->pending = n;
    }
    pthread_mutex_unlock(&self->mu);
    if (now) return s_send_returned(self, &back);
    ssize_t w = write(self->wake[1], "", 1); /* a full pipe is already a wake-up */
    (void)w;
    return 0;
}

static void *s_helper(void *arg)
{
    s_executor_t *self = arg;
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);
    for (;;) {
        ssize_t got = tmq_frame_reader_fill(&rd, self->ctl);
        if (got <= 0) break; /* the daemon closed it, or we are stopping */
        const uint8_t *p;
        size_t n;
        uint32_t count;
        while (tmq_frame_reader_next(&rd, &p, &n) == 1) {
            if (tmq_frame_revoke_decode(p, n, &count) != 0) {
                tmq_error("malformed frame (%zu bytes) on the control stream", n);
                continue;
            }
            if (s_on_revoke(self, count) != 0) break;
        }
    }
    tmq_frame_reader_destroy(&rd);
    return NULL;
}

/* ---- the main thread ---- */

#define S_KEEP_BYTES (4u << 20) /* buffers grown past this by one job are not kept */

/* A result over max_result fails its job (error text is cut), before any frame is made. */
static int s_limit(s_executor_t *self, int st)
{
    if (self->result.size <= self->max_result) return st;
    if (st != TMQ_ST_OK) {
        self->result.size = self->max_result; /* error text: keep its start */
        return st;
    }
    char text[96];
    int n = snprintf(text, sizeof text, "result too large: %zu bytes (limit %zu)",
                     self->result.size, self->max_result);
    self->result.size = 0;
    msgpack_sbuffer_write(&self->result, text, (size_t)n);
    return TMQ_ST_ERROR;
}

/* Lets go of what one large job made the buffers grow to. */
static void s_trim(s_executor_t *self)
{
    if (self->result.alloc > S_KEEP_BYTES) {
        msgpack_sbuffer_destroy(&self->result);
        msgpack_sbuffer_init(&self->result);
    }
    if (self->frame_cap > S_KEEP_BYTES) {
        free(self->frame);
        self->frame = NULL;
        self->frame_cap = 0;
    }
}

static int s_run_one(s_executor_t *self, s_job_t *job)
{
    int64_t t0 = tmq_clock_us();
    s_in_job = 1;
    int st = tmq_registry_call(self->reg, (const char *)job->data, job->fn_len,
                               job->data + job->fn_len, job->arg_len, &self->result);
    s_in_job = 0;
    double ms = (double)(tmq_clock_us() - t0) / 1000.0;
    st = s_limit(self, st);
    size_t need = tmq_frame_result_size(self->result.size);
    if (need > self->frame_cap) {
        self->frame = tmq_xrealloc(self->frame, need);
        self->frame_cap = need;
    }
    size_t len =
        tmq_frame_result_write(self->frame, job->tag, st, self->result.data, self->result.size, ms);
    int rc = s_write_frame(self, self->frame, len);
    if (rc != 0) tmq_debug("result write failed: %s", strerror(errno));
    s_trim(self);
    return rc;
}

/* Waits until the job stream or the wake-up pipe is readable (emptying the pipe). Returns
 * true when the stream is. */
static bool s_wait_idle(s_executor_t *self)
{
    struct pollfd pfd[2] = {{.fd = self->fd, .events = POLLIN},
                            {.fd = self->wake[0], .events = POLLIN}};
    while (poll(pfd, 2, -1) < 0 && errno == EINTR) {
    }
    if (pfd[1].revents) {
        char buf[64];
        while (read(self->wake[0], buf, sizeof buf) > 0) {
        }
    }
    return pfd[0].revents != 0;
}

/* Runs jobs until the daemon closes the stream or asks us to stop (0), or something breaks
 * (-1). */
static int s_serve(s_executor_t *self)
{
    for (;;) {
        if (s_stop) return 0;
        tmq_list_t back;
        tmq_list_init(&back);
        pthread_mutex_lock(&self->mu);
        uint32_t owed = self->pending; /* a REVOKE that came while we were not computing */
        self->pending = 0;
        /* jobs still in the socket are unstarted too: a REVOKE can overtake the JOBs it is
         * about (another stream), and the helper drains them the same way while we compute */
        if (owed) s_drain_stream(self);
        s_take_tail(self, owed, &back);
        tmq_list_link_t *l = tmq_list_pop_front(&self->queue);
        self->computing = l != NULL;
        bool broken = self->broken;
        pthread_mutex_unlock(&self->mu);
        if (owed && s_send_returned(self, &back) != 0) return -1;
        if (l) {
            s_job_t *job = TMQ_LIST_ENTRY(l, s_job_t, link);
            int rc = s_run_one(self, job);
            free(job);
            if (rc != 0) return -1;
            continue;
        }
        if (broken) return -1;
        if (!s_wait_idle(self)) continue;                         /* woken to answer a REVOKE */
        ssize_t got = tmq_frame_reader_fill(&self->rd, self->fd); /* the helper keeps off */
        if (got == 0) return 0; /* the daemon closed our end: a normal stop */
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            if (errno == ECONNRESET) return 0; /* the daemon went before reading all we said */
            tmq_error("read from the daemon failed: %s", strerror(errno));
            return -1;
        }
        pthread_mutex_lock(&self->mu);
        s_parse(self);
        pthread_mutex_unlock(&self->mu);
    }
}

/* The first frame: the protocol spoken and the functions served (docs/EXECUTOR.md), or why
 * none can be (a plugin that did not load). */
static int s_hello(s_executor_t *self, bool revoke)
{
    const char *const *names;
    size_t n = tmq_registry_names(self->reg, &names);
    const char *error = tmq_registry_error(self->reg);
    tmq_frame_hello_t h = {.version = TMQ_EXECUTOR_PROTOCOL,
                           .fns = error ? NULL : (char **)names,
                           .nfns = error ? 0 : n,
                           .revoke = revoke,
                           .error = (char *)error};
    size_t len;
    uint8_t *f = tmq_frame_hello_write(&h, &len);
    int rc = s_write_frame(self, f, len);
    free(f);
    return rc;
}

static int s_builtins(tmq_plugin_t *plugin, void *o)
{
    return tmq_builtins_register(plugin, o);
}

/* The built-in functions, then each plugin in order; stops at the first that fails (the
 * registry keeps why, for HELLO). */
static tmq_registry_t *s_functions(const tmq_worker_opts_t *o)
{
    tmq_registry_t *reg = tmq_registry_new();
    if (tmq_registry_add(reg, "built-in", s_builtins, (void *)o) != 0) return reg;
    for (size_t i = 0; i < o->nplugins; i++) {
        if (tmq_registry_load(reg, o->plugins[i]) != 0) break;
        tmq_debug("plugin %s loaded", o->plugins[i]);
    }
    return reg;
}

/* SIGTERM (the daemon stopping us) between jobs ends the loop so exit hooks run; during a
 * job it kills at once, as the default action would: the job's state is unknown. */
static void s_on_term(int sig)
{
    if (s_in_job) {
        signal(SIGTERM, SIG_DFL);
        raise(SIGTERM); /* delivered when this handler returns */
        return;
    }
    int saved = errno;
    s_stop = 1;
    ssize_t w = write(s_wake_fd, "", 1);
    (void)w;
    errno = saved;
}

_Static_assert(TMQ_WORKER_MAX_RESULT_LIMIT + 64 <= TMQ_FRAME_MAX,
               "the largest --max-result must fit a RESULT frame");

/* The daemon died (the parent-death signal): everything in our process group goes now, with
 * us — exec jobs' commands and what they started, which SIGKILL to us alone would orphan. */
static void s_on_orphaned(int sig)
{
    (void)sig;
    kill(0, SIGKILL);
}

int tmq_executor_run(int fd, int ctl, const tmq_worker_opts_t *o)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* the daemon started us with SIGKILL as parent-death signal: take our group along instead
     * (had the daemon died before this, that SIGKILL would have come already) */
    signal(TMQ_EXECUTOR_ORPHAN_SIGNAL, s_on_orphaned);
    prctl(PR_SET_PDEATHSIG, TMQ_EXECUTOR_ORPHAN_SIGNAL);
    size_t max_result = o->max_result && o->max_result <= TMQ_WORKER_MAX_RESULT_LIMIT
                            ? o->max_result
                            : TMQ_WORKER_MAX_RESULT_LIMIT;
    s_executor_t self = {.fd = fd, .ctl = ctl, .max_result = max_result};
    if (pipe2(self.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        tmq_error("cannot make a pipe: %s", strerror(errno));
        return -1;
    }
    self.reg = s_functions(o); /* plugins' init runs here, before our threads and handlers */
    s_wake_fd = self.wake[1];
    struct sigaction sa = {.sa_handler = s_on_term, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    pthread_mutex_init(&self.mu, NULL);
    pthread_mutex_init(&self.wmu, NULL);
    tmq_list_init(&self.queue);
    tmq_frame_reader_init(&self.rd);
    msgpack_sbuffer_init(&self.result);
    /* the helper never takes SIGTERM: the handler must see the main thread's s_in_job */
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old);
    pthread_t helper;
    bool helped = ctl >= 0 && pthread_create(&helper, NULL, s_helper, &self) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* without the helper no REVOKE would ever be answered: better a restart */
    int rc = ctl >= 0 && !helped ? -1 : s_hello(&self, helped);
    if (rc == 0) rc = s_serve(&self);
    if (ctl >= 0 && !helped) tmq_error("cannot start the REVOKE thread");
    if (helped) {
        shutdown(ctl, SHUT_RDWR); /* wakes the helper */
        pthread_join(helper, NULL);
    }
    tmq_registry_exit(self.reg); /* the plugins' exit hooks */
    signal(SIGTERM, SIG_DFL);    /* before the pipe the handler writes to goes */
    close(self.wake[0]);
    close(self.wake[1]);
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&self.queue)))
        free(TMQ_LIST_ENTRY(l, s_job_t, link));
    tmq_frame_reader_destroy(&self.rd);
    msgpack_sbuffer_destroy(&self.result);
    free(self.frame);
    pthread_mutex_destroy(&self.mu);
    pthread_mutex_destroy(&self.wmu);
    tmq_registry_destroy(&self.reg);
    return rc;
}
