/* worker/daemon.c — see daemon.h.
 *
 * The daemon owns the local FIFO of jobs not yet given to an executor; the supervisor takes
 * from it and puts unstarted jobs back at its front. Results reach the DONE batch through
 * s_on_result; the batch goes out once per turn, or early when it grows large. Nothing is
 * logged per job above debug level.
 */
#include "daemon.h"

#include "builtins.h"
#include "link.h"
#include "log.h"
#include "platform.h"
#include "supervisor.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_DONE_FLUSH_BYTES (16u << 20) /* send a DONE early past this size */
#define S_MAX_WAIT_MS 1000

typedef struct {
    const tmq_worker_opts_t *opts;
    tmq_link_t *link;
    tmq_sup_t *sup;
    tmq_jobq_t queue; /* received, not yet given to an executor */
    tmq_pace_t pace;
    tmq_batch_t done;
    tmq_batch_t returned;
    bool returned_due; /* a REVOKE awaits its RETURNED (possibly empty) */
    uint64_t next_tag;
    zmq_pollitem_t *items;
    tmq_rate_t rate;
} s_daemon_t;

static void s_flush(s_daemon_t *self)
{
    size_t len;
    if (self->done.count && tmq_link_writable(self->link)) {
        void *body = tmq_batch_finish(&self->done, TMQ_CMD_DONE, 0, &len);
        tmq_link_send(self->link, TMQ_CMD_DONE, &body, len);
    }
    if (self->returned_due && tmq_link_writable(self->link)) {
        void *body = tmq_batch_finish(&self->returned, TMQ_CMD_RETURNED, 0, &len);
        tmq_link_send(self->link, TMQ_CMD_RETURNED, &body, len);
        self->returned_due = false;
    }
}

static void s_on_result(void *arg, const tmq_job_t *job, int status, const void *data, size_t len,
                        pid_t pid, double ms)
{
    s_daemon_t *self = arg;
    uint32_t limit = tmq_link_max_payload(self->link);
    char text[128];
    if (status == TMQ_ST_OK && len > limit) {
        snprintf(text, sizeof text, "result too large: %zu bytes (limit %u)", len, limit);
        status = TMQ_ST_ERROR;
        data = text;
        len = strlen(text);
    } else if (status != TMQ_ST_OK && len > limit) {
        len = limit; /* error text: keep its start */
    }
    tmq_done_item_t it = {.jid = job->jid,
                          .attempt = job->attempt,
                          .status = status,
                          .data = data,
                          .data_len = len,
                          .pid = (uint32_t)pid,
                          .ms = ms};
    tmq_batch_add_done(&self->done, &it);
    tmq_debug("job %llu/%u done: status %d, %.3f ms on %d", (unsigned long long)job->jid,
              job->attempt, status, ms, (int)pid);
    if (self->done.buf.size >= S_DONE_FLUSH_BYTES) s_flush(self);
}

static void s_bad_item(s_daemon_t *self, const char *cmd, size_t i)
{
    uint32_t suppressed;
    if (tmq_rate_ok(&self->rate, 5, &suppressed))
        tmq_warn("malformed %s item %zu from the broker (ignored)%s", cmd, i,
                 suppressed ? "; similar lines suppressed" : "");
}

static void s_on_jobs(s_daemon_t *self, const tmq_msg_t *m)
{
    size_t n = tmq_msg_count(m);
    for (size_t i = 0; i < n; i++) {
        tmq_job_item_t it;
        if (tmq_msg_job_item(m, i, &it) != 0) {
            s_bad_item(self, "JOBS", i);
            continue;
        }
        int fn = tmq_pace_index(&self->pace, it.fn, it.fn_len);
        tmq_jobq_push_back(&self->queue, tmq_job_new(&it, ++self->next_tag, fn));
    }
}

static void s_on_cancel(s_daemon_t *self, const tmq_msg_t *m)
{
    size_t n = tmq_msg_count(m), k = 0;
    tmq_job_ref_t *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs) abort();
    for (size_t i = 0; i < n; i++) {
        if (tmq_msg_ref_item(m, i, &refs[k].jid, &refs[k].attempt) == 0)
            k++;
        else
            s_bad_item(self, "CANCEL", i);
    }
    tmq_job_refs_sort(refs, k);
    tmq_job_t *j = self->queue.head;
    while (j) {
        tmq_job_t *next = j->next;
        if (tmq_job_refs_has(refs, k, j->jid, j->attempt)) {
            tmq_jobq_remove(&self->queue, j);
            tmq_job_destroy(&j);
        }
        j = next;
    }
    tmq_sup_cancel(self->sup, refs, k);
    free(refs);
}

/* Hands back up to n jobs from the tail of the local queue (those that would run last),
 * listed in queue order. */
static void s_on_revoke(s_daemon_t *self, const tmq_msg_t *m)
{
    uint64_t n;
    if (tmq_msg_get_uint(m, "n", &n) != 0) {
        s_bad_item(self, "REVOKE", 0);
        return;
    }
    size_t k = n < self->queue.count ? (size_t)n : self->queue.count;
    tmq_job_t *j = self->queue.tail;
    for (size_t i = 1; i < k; i++)
        j = j->prev;
    while (k-- > 0) {
        tmq_job_t *next = j->next;
        tmq_batch_add_ref(&self->returned, j->jid, j->attempt);
        tmq_jobq_remove(&self->queue, j);
        tmq_job_destroy(&j);
        j = next;
    }
    self->returned_due = true;
}

static void s_drain_link(s_daemon_t *self)
{
    tmq_wire_in_t in;
    bool reset = false;
    while (tmq_link_recv(self->link, &in, &reset) == 1) {
        if (reset) { /* RECONNECT arrived before this message: old jobs are void */
            tmq_jobq_clear(&self->queue);
            reset = false;
        }
        switch (in.msg.cmd) {
        case TMQ_CMD_JOBS:
            s_on_jobs(self, &in.msg);
            break;
        case TMQ_CMD_CANCEL:
            s_on_cancel(self, &in.msg);
            break;
        case TMQ_CMD_REVOKE:
            s_on_revoke(self, &in.msg);
            break;
        default:
            break;
        }
        tmq_wire_in_release(&in);
    }
    if (reset) tmq_jobq_clear(&self->queue);
}

static long s_timeout(s_daemon_t *self)
{
    int64_t wait = tmq_link_next_ms(self->link) - tmq_clock_ms();
    int64_t next_us = tmq_sup_next_us(self->sup);
    if (next_us != INT64_MAX) {
        int64_t w = (next_us - tmq_clock_us() + 999) / 1000;
        if (w < wait) wait = w;
    }
    if (wait < 0) wait = 0;
    return wait > S_MAX_WAIT_MS ? S_MAX_WAIT_MS : (long)wait;
}

static int s_loop(s_daemon_t *self)
{
    while (!zsys_interrupted) {
        size_t n = 0;
        zsock_t *sock = tmq_link_socket(self->link);
        if (sock) {
            short ev = ZMQ_POLLIN;
            if ((self->done.count || self->returned_due) && !tmq_link_writable(self->link))
                ev |= ZMQ_POLLOUT;
            self->items[n++] = (zmq_pollitem_t){.socket = zsock_resolve(sock), .events = ev};
        }
        size_t base = n;
        n += tmq_sup_pollitems(self->sup, self->items + n);
        if (zmq_poll(self->items, (int)n, s_timeout(self)) < 0 && errno != EINTR) {
            tmq_error("poll failed: %s", zmq_strerror(errno));
            return -1;
        }
        if (zsys_interrupted) break;
        s_drain_link(self);
        tmq_sup_service(self->sup, self->items + base, n - base);
        if (tmq_link_tick(self->link)) tmq_jobq_clear(&self->queue);
        tmq_sup_dispatch(self->sup);
        s_flush(self);
    }
    return 0;
}

/* The executor command line: this very program in executor mode. */
static void s_executor_argv(const tmq_worker_opts_t *o, char *argv[5])
{
    int i = 0;
    argv[i++] = (char *)tmq_self_exe();
    argv[i++] = "--executor";
    if (o->test_functions) argv[i++] = "--test-functions";
    if (o->verbose) argv[i++] = "-v";
    argv[i] = NULL;
}

static int s_start(s_daemon_t *self, const tmq_worker_opts_t *o)
{
    const char *names[TMQ_BUILTINS_MAX];
    size_t nfn = tmq_builtins_names(o->test_functions, names, TMQ_BUILTINS_MAX);
    tmq_pace_init(&self->pace, names, nfn);
    size_t len;
    tmq_ready_t r = {.name = o->name,
                     .name_len = strlen(o->name),
                     .procs = (uint32_t)o->procs,
                     .pid = (uint32_t)getpid(),
                     .version = TMQ_VERSION,
                     .version_len = strlen(TMQ_VERSION)};
    void *ready = tmq_proto_ready_body(&r, names, nfn, &len);
    self->link = tmq_link_new(o->broker, ready, len);
    free(ready);
    if (!self->link) {
        tmq_error("invalid broker endpoint '%s': %s", o->broker, zmq_strerror(errno));
        return 2;
    }
    char *argv[5];
    s_executor_argv(o, argv);
    self->sup = tmq_sup_new((size_t)o->procs, argv, &self->queue, &self->pace, s_on_result, self);
    self->items = calloc((size_t)o->procs + 1, sizeof *self->items);
    if (!self->sup || !self->items) abort();
    if (tmq_sup_start(self->sup) != 0) {
        tmq_error("could not start any executor process");
        return 1;
    }
    tmq_info("worker '%s' (pid %d): %d executor%s, broker %s%s", o->name, (int)getpid(), o->procs,
             o->procs == 1 ? "" : "s", o->broker, o->test_functions ? ", test functions on" : "");
    return 0;
}

int tmq_daemon_run(const tmq_worker_opts_t *o)
{
    tmq_log_init("worker", o->verbose ? TMQ_LOG_DEBUG : TMQ_LOG_INFO);
    signal(SIGPIPE, SIG_IGN);
    s_daemon_t self = {.opts = o};
    tmq_jobq_init(&self.queue);
    tmq_batch_init(&self.done);
    tmq_batch_init(&self.returned);

    int rc = s_start(&self, o);
    if (rc == 0) {
        rc = s_loop(&self) == 0 ? 0 : 1;
        tmq_info("stopping: saying BYE to the broker and stopping executors");
        s_flush(&self);
        tmq_link_bye(self.link);
    }
    tmq_sup_destroy(&self.sup);
    tmq_link_destroy(&self.link);
    tmq_jobq_clear(&self.queue);
    tmq_batch_destroy(&self.done);
    tmq_batch_destroy(&self.returned);
    free(self.items);
    return rc;
}
