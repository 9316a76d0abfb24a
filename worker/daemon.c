/* worker/daemon.c — see daemon.h.
 *
 * The daemon owns the local queue of jobs not yet given to an executor; the supervisor takes
 * from it and puts unstarted jobs back at its front. Results reach the DONE batch through
 * s_on_result; the batch goes out once per turn, or early when it grows large. A broker's
 * REVOKE is answered from the local queue and, when that holds too few, from jobs the
 * executors have not started: the daemon asks them (tmq_sup_reclaim) and sends RETURNED once
 * they answered (or S_RECLAIM_WAIT_MS passed). Nothing is logged per job above debug level.
 *
 * SIGTERM or SIGINT drains: DRAIN tells the broker to send nothing more, every job not started
 * (here or behind a running one in an executor) goes back in RETURNED, and so does any JOBS
 * that crossed the DRAIN; once the running jobs' results are out, or --drain-timeout passed,
 * BYE (the broker requeues what is still held) and exit. A second signal skips the wait.
 */
#include "daemon.h"
#include "curve.h"

#include "endpoint.h"
#include "exits.h"
#include "log.h"
#include "platform.h"
#include "python.h"
#include "supervisor.h"
#include "uplink.h"
#include "xalloc.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_DONE_FLUSH_BYTES (16u << 20) /* send a DONE early past this size */
#define S_MAX_WAIT_MS 1000
#define S_RECLAIM_WAIT_MS 100 /* longest a RETURNED waits for executors to hand jobs back */
#define S_HELLO_WAIT_MS 10000 /* longest the first executor may take to say what it serves */
#define S_PYTHON_HELLO_WAIT_MS 120000 /* ... a Python one, which imports its modules first */

typedef struct {
    const tmq_worker_opts_t *opts;
    tmq_uplink_t *link;
    tmq_sup_t *sup;
    tmq_memcg_t *cg;  /* the executors' memory cgroups, or NULL (RLIMIT_AS) */
    char limit[96];   /* how --mem-limit is enforced, for the start message ("" when none) */
    tmq_list_t queue; /* received, not yet given to an executor */
    tmq_pace_t pace;
    const char *const *names; /* the functions the executors announced (the supervisor's) */
    size_t nnames;
    char **argv;   /* an --executor-cmd split, or the --python command */
    char *program; /* the built-in or Python executors' words for messages */
    tmq_batch_t done;
    tmq_batch_t returned;
    bool returned_due;  /* a REVOKE awaits its RETURNED (possibly empty) */
    size_t owed;        /* jobs the broker asked back that executors are handing back */
    int64_t owed_until; /* when RETURNED goes out regardless */
    uint64_t next_tag;
    uint64_t ndone, nfailed; /* results reported (ok / not ok), carried in READY */
    zmq_pollitem_t *items;
    tmq_rate_t rate;
    bool draining;
    int64_t drain_until; /* tmq_clock_ms when the running jobs are handed back regardless */
} s_daemon_t;

static volatile sig_atomic_t s_stops;   /* SIGTERM/SIGINT received */
static volatile sig_atomic_t s_hangups; /* SIGHUP received (ignored, but said) */

/* The SIGINT/SIGTERM handler (installed by zsys_handler_set in place of czmq's own, which
 * would set zsys_interrupted): counts, so a second signal can stop at once. */
static void s_on_stop(int sig)
{
    (void)sig;
    s_stops++;
}

static void s_on_hangup(int sig)
{
    (void)sig;
    s_hangups++;
}

static void s_flush(s_daemon_t *self)
{
    size_t len;
    if (self->done.count && tmq_uplink_writable(self->link)) {
        void *body = tmq_batch_finish(&self->done, TMQ_CMD_DONE, 0, &len);
        tmq_uplink_send(self->link, TMQ_CMD_DONE, &body, len);
    }
    if (self->returned_due && tmq_uplink_writable(self->link)) {
        void *body = tmq_batch_finish(&self->returned, TMQ_CMD_RETURNED, 0, &len);
        tmq_uplink_send(self->link, TMQ_CMD_RETURNED, &body, len);
        self->returned_due = false;
    }
}

static void s_on_result(void *arg, const tmq_wjob_t *job, int status, const void *data, size_t len,
                        pid_t pid, double ms)
{
    s_daemon_t *self = arg;
    /* --max-result binds every executor (the built-in one checks it itself), the broker's
     * payload limit every worker */
    size_t limit = tmq_uplink_max_payload(self->link);
    if (self->opts->max_result < limit) limit = self->opts->max_result;
    char text[128];
    if (status == TMQ_ST_OK && len > limit) {
        snprintf(text, sizeof text, "result too large: %zu bytes (limit %zu)", len, limit);
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
    if (status == TMQ_ST_OK)
        self->ndone++;
    else
        self->nfailed++;
    tmq_debug("job %llu/%u done: status %d, %.3f ms on %d", (unsigned long long)job->jid,
              job->attempt, status, ms, (int)pid);
    if (self->done.buf.size >= S_DONE_FLUSH_BYTES) s_flush(self);
}

/* tmq_uplink_ready_fn: READY with this daemon's identity, functions and counts. */
static void *s_ready_body(void *arg, size_t *len)
{
    s_daemon_t *self = arg;
    const tmq_worker_opts_t *o = self->opts;
    tmq_ready_t r = {.name = o->name,
                     .name_len = strlen(o->name),
                     .procs = (uint32_t)o->procs,
                     .pid = (uint32_t)getpid(),
                     .version = TMQ_VERSION,
                     .version_len = strlen(TMQ_VERSION),
                     .done = self->ndone,
                     .failed = self->nfailed,
                     .job_options = true,
                     .python = tmq_sup_python(self->sup)};
    if (r.python) r.python_len = strlen(r.python);
    return tmq_proto_ready_body(&r, self->names, self->nnames, len);
}

static void s_bad_item(s_daemon_t *self, const char *cmd, size_t i)
{
    tmq_log_limited(TMQ_LOG_WARN, &self->rate, 5, "malformed %s item %zu from the broker (ignored)",
                    cmd, i);
}

static void s_on_jobs(s_daemon_t *self, const tmq_msg_t *m)
{
    size_t n = tmq_msg_count(m);
    const char *last = NULL; /* a batch is mostly one function: look it up once */
    size_t last_len = 0;
    int fn = -1;
    for (size_t i = 0; i < n; i++) {
        tmq_job_item_t it;
        if (tmq_msg_job_item(m, i, &it) != 0) {
            s_bad_item(self, "JOBS", i);
            continue;
        }
        if (!last || last_len != it.fn_len || memcmp(last, it.fn, it.fn_len) != 0) {
            fn = tmq_pace_index(&self->pace, it.fn, it.fn_len);
            last = it.fn;
            last_len = it.fn_len;
        }
        tmq_list_push_back(&self->queue, &tmq_wjob_new(&it, ++self->next_tag, fn)->link);
    }
}

static void s_on_cancel(s_daemon_t *self, const tmq_msg_t *m)
{
    size_t n = tmq_msg_count(m), k = 0;
    tmq_wjob_ref_t *refs = tmq_xmalloc((n ? n : 1) * sizeof *refs);
    for (size_t i = 0; i < n; i++) {
        if (tmq_msg_ref_item(m, i, &refs[k].jid, &refs[k].attempt) == 0)
            k++;
        else
            s_bad_item(self, "CANCEL", i);
    }
    tmq_wjob_refs_sort(refs, k);
    tmq_wjob_t *j = tmq_wjob_first(&self->queue);
    while (j) {
        tmq_wjob_t *next = tmq_wjob_next(j);
        if (tmq_wjob_refs_has(refs, k, j->jid, j->attempt)) {
            tmq_list_remove(&self->queue, &j->link);
            tmq_wjob_destroy(&j);
        }
        j = next;
    }
    tmq_sup_cancel(self->sup, refs, k);
    free(refs);
}

/* Moves up to n jobs from the tail of the local queue (those that would run last) into the
 * RETURNED batch, listed in queue order. Returns how many. */
static size_t s_give_back(s_daemon_t *self, size_t n)
{
    size_t k = n < self->queue.size ? n : self->queue.size;
    tmq_list_link_t *l = self->queue.tail;
    for (size_t i = 1; i < k; i++)
        l = l->prev;
    for (size_t i = 0; i < k; i++) {
        tmq_wjob_t *j = TMQ_WJOB(l);
        l = l->next;
        tmq_batch_add_ref(&self->returned, j->jid, j->attempt);
        tmq_list_remove(&self->queue, &j->link);
        tmq_wjob_destroy(&j);
    }
    return k;
}

/* REVOKE n: hand back up to n jobs not started here; ask the executors when the local queue
 * holds fewer. */
static void s_on_revoke(s_daemon_t *self, const tmq_msg_t *m)
{
    uint64_t n;
    if (tmq_msg_get_uint(m, "n", &n) != 0) {
        s_bad_item(self, "REVOKE", 0);
        return;
    }
    size_t want = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
    size_t given = s_give_back(self, want);
    if (given < want && self->owed == 0 && tmq_sup_reclaim(self->sup, want - given) > 0) {
        self->owed = want - given;
        self->owed_until = tmq_clock_ms() + S_RECLAIM_WAIT_MS;
        return;
    }
    if (self->owed == 0) self->returned_due = true;
}

/* Gives the broker what executors handed back for its REVOKE; RETURNED goes out once they
 * all answered, the debt is paid, or the wait is over. */
static void s_settle(s_daemon_t *self)
{
    if (self->owed == 0) return;
    self->owed -= s_give_back(self, self->owed);
    if (self->owed == 0 || tmq_sup_reclaiming(self->sup) == 0 ||
        tmq_clock_ms() >= self->owed_until) {
        self->owed = 0;
        self->returned_due = true;
    }
}

/* The broker's view of this worker was lost (RECONNECT, BYE, silence): the jobs it had sent
 * and any REVOKE being answered belong to a registration that is gone. */
static void s_reset(s_daemon_t *self)
{
    tmq_wjob_clear(&self->queue);
    self->owed = 0;
    self->returned_due = false;
    tmq_batch_reset(&self->returned);
}

/* Handles what the broker sent; returns true when its view of this worker was lost
 * (RECONNECT, BYE). */
static bool s_drain_link(s_daemon_t *self)
{
    tmq_wire_in_t in;
    bool reset = false, lost = false;
    while (tmq_uplink_recv(self->link, &in, &reset) == 1) {
        if (reset) { /* RECONNECT arrived before this message: old jobs are void */
            s_reset(self);
            reset = false;
            lost = true;
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
    if (reset) s_reset(self);
    return lost || reset;
}

static long s_timeout(s_daemon_t *self)
{
    int64_t wait = tmq_uplink_next_ms(self->link) - tmq_clock_ms();
    if (self->draining && self->drain_until - tmq_clock_ms() < wait)
        wait = self->drain_until - tmq_clock_ms();
    if (self->owed && self->owed_until - tmq_clock_ms() < wait)
        wait = self->owed_until - tmq_clock_ms();
    int64_t next_us = tmq_sup_next_us(self->sup);
    if (next_us != INT64_MAX) {
        int64_t w = (next_us - tmq_clock_us() + 999) / 1000;
        if (w < wait) wait = w;
    }
    if (wait < 0) wait = 0;
    return wait > S_MAX_WAIT_MS ? S_MAX_WAIT_MS : (long)wait;
}

/* Jobs the executors run or hold, and results and hand-backs not yet sent. */
static size_t s_unsettled(const s_daemon_t *self)
{
    return tmq_sup_held(self->sup) + self->queue.size + self->done.count + self->owed +
           self->returned_due;
}

static void s_drain_begin(s_daemon_t *self)
{
    const tmq_worker_opts_t *o = self->opts;
    self->draining = true;
    self->drain_until = tmq_clock_ms() + o->drain_timeout_s * 1000;
    tmq_info("draining: taking no new jobs, handing back those not started, letting the running "
             "ones finish (at most %ld s: --drain-timeout); signal again to stop at once",
             o->drain_timeout_s);
    tmq_uplink_drain(self->link);
    if (tmq_sup_held(self->sup))
        tmq_sup_reclaim(self->sup, SIZE_MAX); /* those not started come back to queue */
}

/* While draining, every job not given to an executor goes back to the broker. */
static void s_drain_turn(s_daemon_t *self)
{
    tmq_uplink_drain(self->link); /* once per registration: after a late WELCOME too */
    if (self->queue.size && s_give_back(self, self->queue.size)) self->returned_due = true;
}

/* Returns 0 when stopped by a signal or drained, TMQ_EXIT_NO_BROKER when the broker refused
 * us, -1 on error. */
static int s_loop(s_daemon_t *self)
{
    for (;;) {
        if (self->draining && tmq_uplink_drain_refused(self->link)) {
            tmq_info("stopping now: the broker cannot be told to send no more jobs; %zu running "
                     "jobs handed back with BYE, to run elsewhere",
                     tmq_sup_held(self->sup));
            return 0;
        }
        if (s_stops > 1 || (s_stops && self->opts->drain_timeout_s == 0)) {
            if (tmq_sup_held(self->sup))
                tmq_info("stopping now: %zu jobs handed back with BYE, to run elsewhere",
                         tmq_sup_held(self->sup));
            return 0;
        }
        if (s_stops && !self->draining) s_drain_begin(self);
        if (self->draining && s_unsettled(self) == 0) {
            tmq_info("drained: every job finished or handed back");
            return 0;
        }
        if (self->draining && tmq_clock_ms() >= self->drain_until) {
            tmq_info("--drain-timeout (%ld s) passed: %zu running jobs handed back with BYE, to "
                     "run elsewhere",
                     self->opts->drain_timeout_s, tmq_sup_held(self->sup));
            return 0;
        }
        if (s_hangups) {
            s_hangups = 0;
            tmq_info("SIGHUP ignored: the worker has nothing to read again (restart it to change "
                     "its flags)");
        }
        size_t n = 0;
        zsock_t *sock = tmq_uplink_socket(self->link);
        if (sock) {
            short ev = ZMQ_POLLIN;
            if ((self->done.count || self->returned_due) && !tmq_uplink_writable(self->link))
                ev |= ZMQ_POLLOUT;
            self->items[n++] = (zmq_pollitem_t){.socket = zsock_resolve(sock), .events = ev};
        }
        size_t base = n;
        n += tmq_sup_pollitems(self->sup, self->items + n);
        if (zmq_poll(self->items, (int)n, s_timeout(self)) < 0 && errno != EINTR) {
            tmq_error("poll failed: %s", zmq_strerror(errno));
            return -1;
        }
        if (s_stops > 1) continue;
        bool lost = s_drain_link(self);
        if (tmq_uplink_refused(self->link)) {
            tmq_error("--broker %s: %s", self->opts->broker, tmq_uplink_refused(self->link));
            return TMQ_EXIT_NO_BROKER;
        }
        tmq_sup_service(self->sup, self->items + base, n - base);
        if (tmq_uplink_tick(self->link)) {
            s_reset(self);
            lost = true;
        }
        if (self->draining && (lost || !tmq_uplink_registered(self->link))) {
            tmq_info("no broker holds this worker's jobs now (it let go of them, or is not "
                     "reachable): nothing is left to finish");
            return 0;
        }
        s_settle(self);
        if (self->draining) s_drain_turn(self);
        tmq_sup_dispatch(self->sup);
        s_flush(self);
    }
}

#define S_EXECUTOR_ARGS (16 + 2 * TMQ_WORKER_MAX_PLUGINS)

/* The built-in executor's command line: this very program in executor mode, with the
 * settings it applies to jobs (sizes written into nums) and the plugins it loads in order. */
static void s_executor_argv(const tmq_worker_opts_t *o, char *argv[S_EXECUTOR_ARGS],
                            char nums[2][24])
{
    int i = 0;
    argv[i++] = "taskmq-worker";
    argv[i++] = "--executor";
    argv[i++] = "--name";
    argv[i++] = (char *)o->name;
    if (o->test_functions) argv[i++] = "--test-functions";
    snprintf(nums[0], sizeof nums[0], "%zu", o->max_result);
    argv[i++] = "--max-result";
    argv[i++] = nums[0];
    if (o->allow_exec) {
        snprintf(nums[1], sizeof nums[1], "%zu", o->max_exec_output);
        argv[i++] = "--allow-exec";
        argv[i++] = "--max-exec-output";
        argv[i++] = nums[1];
    }
    if (o->verbose) argv[i++] = "-v";
    for (size_t k = 0; k < o->nplugins; k++) {
        argv[i++] = "--plugin";
        argv[i++] = (char *)o->plugins[k];
    }
    argv[i] = NULL;
}

/* Whether prog can be run as execvp would find it: 0, or -1 with the reason in why. */
static int s_runnable(const char *prog, char *why, size_t len)
{
    struct stat st;
    if (strchr(prog, '/')) {
        if (stat(prog, &st) == 0 && !S_ISREG(st.st_mode)) {
            snprintf(why, len, "not a file");
            return -1;
        }
        if (access(prog, X_OK) == 0) return 0;
        snprintf(why, len, "%s", strerror(errno));
        return -1;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    int err = ENOENT;
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char full[4096];
        snprintf(full, sizeof full, "%.*s%s%s", (int)n, p, n ? "/" : "", prog);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) return 0;
        if (errno == EACCES) err = EACCES;
        if (!end) break;
        p = end;
    }
    snprintf(why, len, "%s (not found in PATH)", strerror(err));
    return -1;
}

/* Memory limits: the executors' cgroups when one can be made (for --mem-limit, and for jobs
 * that bring their own limit), else RLIMIT_AS. */
static void s_memory(s_daemon_t *self, const tmq_worker_opts_t *o)
{
    char why[512], size[32];
    self->cg = tmq_memcg_new((size_t)o->procs, why, sizeof why);
    tmq_sup_set_memory(self->sup, self->cg, o->mem_limit);
    tmq_format_size(o->mem_limit, size, sizeof size);
    if (self->cg) {
        tmq_debug("executors' memory cgroups: %s/e*", tmq_memcg_path(self->cg));
        if (o->mem_limit)
            snprintf(self->limit, sizeof self->limit, ", memory limit %s per executor (cgroup)",
                     size);
        return;
    }
    tmq_debug("no memory cgroup (%s): memory limits are RLIMIT_AS", why);
    if (!o->mem_limit) return;
    snprintf(self->limit, sizeof self->limit, ", memory limit %s per executor (RLIMIT_AS)", size);
    tmq_warn("--mem-limit: no memory cgroup could be made (%s); using RLIMIT_AS instead: an "
             "allocation past %s fails, and a job that fails for it is not reported as out of "
             "memory",
             why, size);
}

/* Logs a HELLO error one line per line of its text (the log shows control characters as '?'):
 * a Python traceback stays readable. */
static void s_log_lines(const char *prefix, const char *text)
{
    for (bool first = true; text && *text; first = false) {
        size_t n = strcspn(text, "\n");
        tmq_error("%s%.*s", first ? prefix : "  ", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

/* Serves the executors until one has said which functions it serves. Returns 0, or the exit
 * status when none will: the executors said they cannot (2), or the program cannot run or
 * said nothing within S_HELLO_WAIT_MS (S_PYTHON_HELLO_WAIT_MS for --python: importing numpy
 * or torch takes a while) (1), or we were interrupted (0, run is false). */
static int s_await_functions(s_daemon_t *self, const char *program, bool *run)
{
    int wait_ms = self->opts->npython ? S_PYTHON_HELLO_WAIT_MS : S_HELLO_WAIT_MS;
    int64_t until = tmq_clock_ms() + wait_ms;
    *run = true;
    while (!tmq_sup_announced(self->sup)) {
        const char *how;
        if (tmq_sup_fatal(self->sup)) {
            s_log_lines("the executor cannot serve: ", tmq_sup_fatal(self->sup));
            return TMQ_EXIT_USAGE;
        }
        if (tmq_sup_unready_deaths(self->sup, &how) > 0) {
            tmq_error("cannot start executors: '%s' ended before it said what it serves (%s)",
                      program, how);
            return TMQ_EXIT_FAILED;
        }
        if (s_stops) {
            *run = false;
            return TMQ_EXIT_OK;
        }
        if (tmq_clock_ms() >= until) {
            tmq_error("cannot start executors: '%s' said nothing within %d ms (an executor "
                      "speaks first: see docs/EXECUTOR.md)",
                      program, wait_ms);
            return TMQ_EXIT_FAILED;
        }
        size_t n = tmq_sup_pollitems(self->sup, self->items);
        if (zmq_poll(self->items, (int)n, 20) < 0 && errno != EINTR) return TMQ_EXIT_FAILED;
        tmq_sup_service(self->sup, self->items, n);
    }
    self->nnames = tmq_sup_functions(self->sup, &self->names);
    return TMQ_EXIT_OK;
}

/* Starts the executors, learns their functions, then connects to the broker. Returns 0, or
 * the exit status; *run says whether to serve (false after Ctrl-C during the start). */
static int s_start(s_daemon_t *self, const tmq_worker_opts_t *o, bool *run)
{
    char err[512];
    *run = false;
    if (tmq_endpoint_connectable(o->broker, err, sizeof err) != TMQ_EP_OK) {
        tmq_error("--broker: %s", err);
        return TMQ_EXIT_NO_BROKER;
    }
    char *builtin[S_EXECUTOR_ARGS], nums[2][24];
    const char *path = NULL, *program;
    char *const *argv;
    if (o->executor_cmd || o->npython) {
        /* --python is an --executor-cmd whose words are ours (worker/python.h) */
        const char *flag = o->npython ? "--python" : "--executor-cmd";
        if (o->npython) {
            tmq_python_argv(o, &self->argv, &self->program);
            program = self->program;
            if (tmq_python_setenv() != 0) {
                tmq_error("--python: cannot set PYTHONPATH: %s", strerror(errno));
                return TMQ_EXIT_FAILED;
            }
            tmq_debug("--python: PYTHONPATH=%s", getenv("PYTHONPATH"));
        } else {
            if (tmq_worker_split_cmd(o->executor_cmd, &self->argv, err, sizeof err) != 0) {
                tmq_error("--executor-cmd: %s", err);
                return TMQ_EXIT_USAGE;
            }
            program = o->executor_cmd;
        }
        argv = self->argv;
        if (s_runnable(self->argv[0], err, sizeof err) != 0) {
            tmq_error("%s: cannot run '%s': %s%s", flag, self->argv[0], err,
                      o->npython ? " (set TASKMQ_PYTHON to the interpreter)" : "");
            return TMQ_EXIT_FAILED;
        }
    } else {
        s_executor_argv(o, builtin, nums);
        argv = builtin;
        path = tmq_self_exe();
        self->program = tmq_xstrdup("taskmq-worker --executor");
        for (size_t i = 0; i < o->nplugins; i++) {
            char *more;
            if (asprintf(&more, "%s --plugin %s", self->program, o->plugins[i]) < 0) tmq_oom();
            free(self->program);
            self->program = more;
        }
        program = self->program;
    }
    self->sup =
        tmq_sup_new((size_t)o->procs, path, argv, &self->queue, &self->pace, s_on_result, self);
    s_memory(self, o);
    self->items = tmq_xcalloc((size_t)o->procs + 1, sizeof *self->items);
    if (tmq_sup_start(self->sup) != 0) {
        tmq_error("could not start any executor process");
        return TMQ_EXIT_FAILED;
    }
    int rc = s_await_functions(self, program, run);
    if (rc != TMQ_EXIT_OK || !*run) return rc;
    tmq_pace_init(&self->pace, self->names, self->nnames);
    zcert_t *mine = NULL, *broker = NULL;
    if (o->curve_cert) {
        mine = tmq_curve_load(o->curve_cert, true, err, sizeof err);
        broker = mine ? tmq_curve_load(o->broker_cert, false, err, sizeof err) : NULL;
        if (!broker) {
            tmq_error("%s: %s", mine ? "--broker-cert" : "--curve-cert", err);
            zcert_destroy(&mine);
            *run = false;
            return TMQ_EXIT_USAGE;
        }
    }
    self->link = tmq_uplink_new(o->broker, &mine, &broker, s_ready_body, self);
    zcert_destroy(&mine);
    zcert_destroy(&broker);
    if (!self->link) {
        tmq_error("invalid broker endpoint '%s': %s", o->broker, zmq_strerror(errno));
        *run = false;
        return TMQ_EXIT_USAGE;
    }
    tmq_info("worker '%s' (pid %d, taskmq %s): %d executor%s (%s) serving %zu function%s, broker "
             "%s%s%s%s",
             o->name, (int)getpid(), TMQ_VERSION, o->procs, o->procs == 1 ? "" : "s", program,
             self->nnames, self->nnames == 1 ? "" : "s", o->broker,
             o->test_functions ? ", test functions on" : "", o->allow_exec ? ", exec allowed" : "",
             self->limit);
    return TMQ_EXIT_OK;
}

int tmq_daemon_run(const tmq_worker_opts_t *o)
{
    tmq_log_init("worker", o->verbose ? TMQ_LOG_DEBUG : TMQ_LOG_INFO);
    signal(SIGPIPE, SIG_IGN);
    zsys_init(); /* first: starting, czmq takes SIGINT and SIGTERM for itself */
    zsys_handler_set(s_on_stop);
    struct sigaction hup = {.sa_handler = s_on_hangup}; /* a handler, not SIG_IGN: executors
                                                           exec'd from here get the default */
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    s_daemon_t self = {.opts = o};
    tmq_list_init(&self.queue);
    tmq_batch_init(&self.done);
    tmq_batch_init(&self.returned);

    bool run;
    int rc = s_start(&self, o, &run);
    if (rc == TMQ_EXIT_OK && run) {
        int lrc = s_loop(&self);
        rc = lrc == 0 ? TMQ_EXIT_OK : lrc > 0 ? lrc : TMQ_EXIT_FAILED;
        if (lrc == 0) {
            tmq_info("stopping: saying BYE to the broker and stopping executors");
            s_flush(&self);
            tmq_uplink_bye(self.link);
        }
    }
    tmq_sup_destroy(&self.sup);
    tmq_memcg_destroy(&self.cg); /* after the executors are reaped */
    tmq_uplink_destroy(&self.link);
    tmq_wjob_clear(&self.queue);
    tmq_batch_destroy(&self.done);
    tmq_batch_destroy(&self.returned);
    free(self.items);
    free(self.program);
    for (size_t i = 0; self.argv && self.argv[i]; i++)
        free(self.argv[i]);
    free(self.argv);
    return rc;
}
