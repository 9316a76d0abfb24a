/* worker/supervisor.c — see supervisor.h.
 *
 * Each slot holds one executor: its pid, the daemon's end of the socketpair (non-blocking),
 * the jobs handed to it in order (head = running), bytes still to write and a frame reader.
 * Results come back in order, so the head is always the running job and its start time is
 * the moment the previous result arrived. Jobs handed back (RETURNED) are a tail of the
 * list the executor had not started: they leave the slot for the front of the local queue.
 * s_retire is the single place a slot's jobs leave it because the executor is gone: it
 * reports the head according to the cause and puts the rest back at the front of the local
 * queue, so no job is reported twice.
 */
#include "supervisor.h"

#include "frame.h"
#include "log.h"
#include "memlimit.h"
#include "platform.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_BACKOFF_MIN_US 100000LL /* first restart delay after an early death */
#define S_BACKOFF_MAX_US 5000000LL
#define S_EARLY_US 1000000LL      /* a death this soon after start, idle, backs off */
#define S_EXIT_WAIT_US 200000LL   /* how long an executor that closed its end may take to exit */
#define S_STOP_GRACE_US 1000000LL /* SIGTERM to SIGKILL at shutdown */

/* Why an executor goes: it died, its job ran past its time limit, its job was cancelled, its
 * job ran out of memory, or it must be replaced to change its memory limit (idle). */
typedef enum { S_CRASH, S_TIMEOUT, S_CANCEL, S_OOM, S_RECYCLE } s_cause_t;

typedef struct {
    pid_t pid;       /* 0 when the slot is empty */
    int fd;          /* the job stream; -1 when the slot is empty */
    int ctl;         /* the control stream (REVOKE); -1 when the slot is empty */
    tmq_list_t jobs; /* handed over, in order; head is running */
    double load_ms;  /* sum of the jobs' estimates; INFINITY when one is unknown */
    tmq_frame_reader_t rd;
    uint8_t *out; /* frames not yet written */
    size_t out_len, out_off, out_cap;
    int64_t spawned_us;
    uint64_t results;   /* results received from this process */
    bool exec_failed;   /* exited 127 (tmq_spawn's exec failure) */
    bool revoking;      /* a REVOKE is out, its RETURNED not yet in */
    bool hello;         /* its HELLO arrived: it may be given jobs */
    bool revocable;     /* it answers REVOKE, so it may be handed jobs ahead of time */
    int64_t restart_us; /* when an empty slot is due to start again */
    int64_t backoff_us;
    uint64_t limit;    /* the memory limit in force on it, bytes; 0 = none */
    bool in_cg;        /* it is in its slot's cgroup (else limits are RLIMIT_AS) */
    bool joining;      /* it was started to join its slot's cgroup, set to the worker's limit */
    uint64_t oom_seen; /* its slot's oom_kill counter when we last looked */
} s_exec_t;

struct tmq_sup_t {
    s_exec_t *ex;
    size_t n;
    char *path;
    char **argv;
    tmq_list_t *queue;
    tmq_pace_t *pace;
    tmq_sup_result_fn *on_result;
    void *arg;
    size_t *pollmap; /* poll item i belongs to slot pollmap[i] */
    pid_t *reap;     /* killed processes not yet waited for */
    size_t nreap, reap_cap;
    uint64_t retired;  /* executors retired so far (lets dispatch notice a death) */
    uint64_t returned; /* jobs handed back by executors */
    uint64_t *tags;    /* scratch for RETURNED frames */
    char **fns;        /* the functions the first HELLO announced (NULL until then) */
    char *python;      /* the Python version the first HELLO said, if it said one */
    size_t nfns;
    char *fatal;             /* why executors cannot serve at all (a HELLO error or version) */
    uint64_t unready_deaths; /* executors that ended before their HELLO */
    char last_death[96];     /* how the latest of them ended ("exit 127") */
    tmq_rate_t rate;
    tmq_memcg_t *cg;    /* the slots' memory cgroups (borrowed), or NULL */
    uint64_t mem_limit; /* --mem-limit, bytes; 0 = none */
};

static void s_retire(tmq_sup_t *self, s_exec_t *e, s_cause_t cause, bool reaped, const char *why,
                     int64_t now);

static tmq_wjob_t *s_head(const s_exec_t *e)
{
    return tmq_wjob_first(&e->jobs);
}

/* ---- lifecycle ---- */

static char **s_argv_dup(char *const argv[])
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **copy = tmq_xcalloc(n + 1, sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = tmq_xstrdup(argv[i]);
    return copy;
}

tmq_sup_t *tmq_sup_new(size_t procs, const char *path, char *const argv[], tmq_list_t *queue,
                       tmq_pace_t *pace, tmq_sup_result_fn *on_result, void *arg)
{
    tmq_sup_t *self = tmq_xcalloc(1, sizeof *self);
    self->n = procs;
    self->ex = tmq_xcalloc(procs, sizeof *self->ex);
    self->pollmap = tmq_xcalloc(procs, sizeof *self->pollmap);
    self->path = path ? tmq_xstrdup(path) : NULL;
    self->argv = s_argv_dup(argv);
    self->tags = tmq_xmalloc(TMQ_FRAME_MAX_TAGS * sizeof *self->tags);
    for (size_t i = 0; i < procs; i++) {
        self->ex[i].fd = self->ex[i].ctl = -1;
        tmq_list_init(&self->ex[i].jobs);
        tmq_frame_reader_init(&self->ex[i].rd);
    }
    self->queue = queue;
    self->pace = pace;
    self->on_result = on_result;
    self->arg = arg;
    return self;
}

static void s_reap_add(tmq_sup_t *self, pid_t pid)
{
    if (self->nreap == self->reap_cap) {
        self->reap_cap = self->reap_cap ? 2 * self->reap_cap : 8;
        self->reap = tmq_xrealloc(self->reap, self->reap_cap * sizeof *self->reap);
    }
    self->reap[self->nreap++] = pid;
}

/* Waits (without blocking) for killed processes. */
static void s_reap(tmq_sup_t *self)
{
    size_t keep = 0;
    for (size_t i = 0; i < self->nreap; i++) {
        int st;
        pid_t r = waitpid(self->reap[i], &st, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) self->reap[keep++] = self->reap[i];
    }
    self->nreap = keep;
}

/* Frees the slot's descriptor and buffers; the process is handled by the caller. */
static void s_slot_clear(s_exec_t *e)
{
    if (e->fd >= 0) close(e->fd);
    if (e->ctl >= 0) close(e->ctl);
    e->fd = e->ctl = -1;
    e->pid = 0;
    e->load_ms = 0;
    e->results = 0;
    e->exec_failed = false;
    e->revoking = false;
    e->hello = e->revocable = false;
    free(e->out); /* a large job may have grown these: do not keep them for the next process */
    e->out = NULL;
    e->out_len = e->out_off = e->out_cap = 0;
    tmq_frame_reader_destroy(&e->rd);
}

/* Signals an executor and everything it started (it leads its own process group: exec
 * jobs' commands and their children go with it). */
static void s_kill(pid_t pid, int sig)
{
    if (kill(-pid, sig) != 0) kill(pid, sig);
}

/* Waits up to grace_us for pids[0..n) to exit, then SIGKILLs and waits for the rest. */
static void s_wait_all(pid_t *pids, size_t n, int64_t grace_us)
{
    int64_t until = tmq_clock_us() + grace_us;
    size_t left = n;
    while (left > 0 && tmq_clock_us() < until) {
        left = 0;
        for (size_t i = 0; i < n; i++) {
            if (pids[i] <= 0) continue;
            pid_t r = waitpid(pids[i], NULL, WNOHANG);
            if (r == pids[i] || (r < 0 && errno == ECHILD))
                pids[i] = 0;
            else
                left++;
        }
        if (left) nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (pids[i] <= 0) continue;
        s_kill(pids[i], SIGKILL);
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {
        }
    }
}

void tmq_sup_destroy(tmq_sup_t **self_p)
{
    if (!self_p || !*self_p) return;
    tmq_sup_t *self = *self_p;
    pid_t *pids = tmq_xcalloc(self->n + 1, sizeof *pids);
    size_t np = 0;
    for (size_t i = 0; i < self->n; i++) {
        s_exec_t *e = &self->ex[i];
        if (e->pid > 0) {
            s_kill(e->pid, SIGTERM);
            pids[np++] = e->pid;
        }
        e->pid = 0; /* pids[] now owns the wait */
        s_slot_clear(e);
        tmq_wjob_clear(&e->jobs);
    }
    pid_t *groups = tmq_xmemdup(pids, (np + 1) * sizeof *pids);
    s_wait_all(pids, np, S_STOP_GRACE_US);
    s_wait_all(self->reap, self->nreap, 0);
    for (size_t i = 0; i < np; i++) /* what ignored SIGTERM outlives its executor: not us */
        kill(-groups[i], SIGKILL);
    free(groups);
    free(pids);
    free(self->reap);
    free(self->ex);
    free(self->pollmap);
    free(self->tags);
    for (size_t i = 0; i < self->nfns; i++)
        free(self->fns[i]);
    free(self->fns);
    free(self->python);
    free(self->fatal);
    for (size_t i = 0; self->argv[i]; i++)
        free(self->argv[i]);
    free(self->argv);
    free(self->path);
    free(self);
    *self_p = NULL;
}

/* Schedules the empty slot's next start, the delay doubling from S_BACKOFF_MIN_US up to
 * S_BACKOFF_MAX_US while starts keep failing. */
static void s_back_off(s_exec_t *e, int64_t now)
{
    e->backoff_us = e->backoff_us ? e->backoff_us * 2 : S_BACKOFF_MIN_US;
    if (e->backoff_us > S_BACKOFF_MAX_US) e->backoff_us = S_BACKOFF_MAX_US;
    e->restart_us = now + e->backoff_us;
}

/* Before an executor starts: its slot's cgroup gets the worker's limit (the slot is empty
 * now, so the write cannot fail for what it holds), and the child is to join it. Returns the
 * descriptor the child joins through, or -1 (no cgroup: RLIMIT_AS after the start). */
static int s_limit_prepare(tmq_sup_t *self, s_exec_t *e)
{
    e->joining = false;
    if (!self->cg) return -1;
    size_t slot = (size_t)(e - self->ex);
    if (tmq_memcg_set_limit(self->cg, slot, self->mem_limit) != 0) return -1;
    int fd = tmq_memcg_procs_fd(self->cg, slot);
    e->joining = fd >= 0;
    return fd;
}

/* Puts a new executor under the worker's memory limit: it is in its slot's cgroup (it joined
 * before it exec'd; writing its pid again checks that), or else gets RLIMIT_AS. Before its
 * HELLO no job can run. */
static void s_limit_start(tmq_sup_t *self, s_exec_t *e)
{
    size_t slot = (size_t)(e - self->ex);
    e->in_cg = false;
    e->limit = 0;
    if (self->cg) {
        if (e->joining && tmq_memcg_attach(self->cg, slot, e->pid) == 0 &&
            tmq_memcg_oom_kills(self->cg, slot, &e->oom_seen) == 0) {
            e->in_cg = true;
            e->limit = self->mem_limit;
            return;
        }
        tmq_log_limited(TMQ_LOG_WARN, &self->rate, 5,
                        "executor %d: cannot use its memory cgroup in %s (%s): RLIMIT_AS instead",
                        (int)e->pid, tmq_memcg_path(self->cg), strerror(errno));
    }
    if (self->mem_limit && tmq_memlimit_rlimit(e->pid, self->mem_limit) != 0)
        tmq_log_limited(TMQ_LOG_WARN, &self->rate, 5, "executor %d: cannot limit its memory: %s",
                        (int)e->pid, strerror(errno));
    else
        e->limit = self->mem_limit;
}

/* Puts limit (0: none) on e, which runs nothing. Returns 0 or -1. */
static int s_set_limit(tmq_sup_t *self, s_exec_t *e, uint64_t limit)
{
    int rc = e->in_cg ? tmq_memcg_set_limit(self->cg, (size_t)(e - self->ex), limit)
                      : tmq_memlimit_rlimit(e->pid, limit);
    if (rc == 0) e->limit = limit;
    return rc;
}

/* Under a limit an executor holds one job at a time, and its slot's oom_kill counter is read
 * as each starts: a kill the counter shows afterwards is that job's (none can be another's). */
static void s_oom_baseline(tmq_sup_t *self, s_exec_t *e)
{
    if (e->in_cg && e->limit &&
        tmq_memcg_oom_kills(self->cg, (size_t)(e - self->ex), &e->oom_seen) != 0)
        e->in_cg = false; /* cannot tell any more: no job is blamed on this executor */
}

/* The limit job runs under here: its own when smaller than the worker's. */
static uint64_t s_job_limit(const tmq_sup_t *self, const tmq_wjob_t *job)
{
    uint64_t w = self->mem_limit, j = job->mem_limit;
    return j && (!w || j < w) ? j : w;
}

/* True when, while a limit is in force on e, the kernel has killed a process of its cgroup
 * for memory since its job started (then the text for it is in why). Without a limit a kill
 * (by a limit above ours, or the host's OOM killer) is left to show as what it did: a death. */
static bool s_out_of_memory(tmq_sup_t *self, s_exec_t *e, char *why, size_t len)
{
    uint64_t k;
    if (!e->in_cg || !e->limit || tmq_memcg_oom_kills(self->cg, (size_t)(e - self->ex), &k) != 0 ||
        k == e->oom_seen)
        return false;
    e->oom_seen = k;
    char size[32];
    tmq_format_size(e->limit, size, sizeof size);
    snprintf(why, len, "out of memory (limit %s)", size);
    return true;
}

/* Starts the slot's executor; on failure schedules a retry with backoff. */
static int s_spawn(tmq_sup_t *self, s_exec_t *e, int64_t now)
{
    int sv[2], cv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) goto fail;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv) != 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        errno = err;
        goto fail;
    }
    int child[2] = {sv[1], cv[1]};
    int join = s_limit_prepare(self, e); /* the child joins its cgroup before it execs */
    pid_t pid = tmq_spawn_fds_ex(self->path, self->argv, child, 2,
                                 TMQ_SPAWN_DIE_WITH_PARENT | TMQ_SPAWN_OWN_GROUP, join);
    int err = errno;
    if (join >= 0) close(join);
    close(sv[1]);
    close(cv[1]);
    if (pid < 0) {
        close(sv[0]);
        close(cv[0]);
        errno = err;
        goto fail;
    }
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    fcntl(cv[0], F_SETFL, fcntl(cv[0], F_GETFL) | O_NONBLOCK);
    e->pid = pid;
    e->fd = sv[0];
    e->ctl = cv[0];
    s_limit_start(self, e);
    e->spawned_us = now;
    e->results = 0;
    e->load_ms = 0;
    e->restart_us = 0;
    tmq_debug("executor %d started", (int)pid);
    return 0;
fail:
    s_back_off(e, now);
    tmq_error("cannot start an executor: %s (retry in %lld ms)", strerror(errno),
              (long long)(e->backoff_us / 1000));
    return -1;
}

int tmq_sup_start(tmq_sup_t *self)
{
    int64_t now = tmq_clock_us();
    size_t ok = 0;
    for (size_t i = 0; i < self->n; i++)
        ok += s_spawn(self, &self->ex[i], now) == 0;
    return ok ? 0 : -1;
}

/* ---- results, handed-back jobs and deaths ---- */

static void s_report(tmq_sup_t *self, const tmq_wjob_t *job, int status, const void *data,
                     size_t len, pid_t pid, double ms)
{
    if (!job->cancelled) self->on_result(self->arg, job, status, data, len, pid, ms);
}

static void s_load_recount(s_exec_t *e)
{
    e->load_ms = 0;
    for (tmq_wjob_t *j = s_head(e); j; j = tmq_wjob_next(j))
        e->load_ms += j->est_ms < 0 ? INFINITY : j->est_ms;
}

static int s_on_result(tmq_sup_t *self, s_exec_t *e, const uint8_t *p, size_t n, int64_t now)
{
    tmq_frame_result_t r;
    tmq_wjob_t *job = s_head(e);
    if (tmq_frame_result_decode(p, n, &r) != 0 || !job || r.tag != job->tag ||
        r.status > TMQ_ST_ERROR) {
        s_retire(self, e, S_CRASH, false,
                 "executor died: protocol error (a RESULT malformed or not for its running job)",
                 now);
        return -1;
    }
    char why[96];
    if (s_out_of_memory(self, e, why, sizeof why)) { /* what it ran was killed */
        s_retire(self, e, S_OOM, false, why, now);
        return -1;
    }
    tmq_list_remove(&e->jobs, &job->link);
    e->results++;
    tmq_pace_record(self->pace, job->fn, r.ms);
    s_report(self, job, r.status, r.data, r.data_len, e->pid, r.ms);
    if (tmq_list_empty(&e->jobs))
        e->load_ms = 0;
    else if (job->est_ms < 0)
        s_load_recount(e);
    else
        e->load_ms -= job->est_ms;
    if (s_head(e)) s_head(e)->start_us = now;
    tmq_wjob_destroy(&job);
    return 0;
}

/* The job of e with this tag, searched from the tail (handed-back jobs are its tail). */
static tmq_wjob_t *s_find_tag(const s_exec_t *e, uint64_t tag)
{
    for (tmq_list_link_t *l = e->jobs.tail; l; l = l->prev)
        if (TMQ_WJOB(l)->tag == tag) return TMQ_WJOB(l);
    return NULL;
}

/* RETURNED: the listed jobs, never started, go to the front of the local queue in order. */
static int s_on_returned(tmq_sup_t *self, s_exec_t *e, const uint8_t *p, size_t n, int64_t now)
{
    size_t k;
    if (tmq_frame_returned_decode(p, n, self->tags, TMQ_FRAME_MAX_TAGS, &k) != 0) {
        s_retire(self, e, S_CRASH, false, "executor died: protocol error", now);
        return -1;
    }
    e->revoking = false;
    tmq_list_t back;
    tmq_list_init(&back);
    tmq_wjob_t *head = s_head(e);
    for (size_t i = 0; i < k; i++) {
        tmq_wjob_t *job = s_find_tag(e, self->tags[i]);
        if (!job) { /* not ours, or listed twice: nothing it says can be trusted */
            tmq_wjob_t *b;
            while ((b = tmq_wjob_pop(&back)))
                tmq_list_push_back(&e->jobs, &b->link);
            s_retire(self, e, S_CRASH, false, "executor died: protocol error", now);
            return -1;
        }
        tmq_list_remove(&e->jobs, &job->link);
        tmq_list_push_back(&back, &job->link);
    }
    /* The head leaves only when the daemon asked for more jobs than it knew the executor had
     * queued (never with the built-in executor, which keeps its running job): the new head
     * starts now. */
    if (s_head(e) && s_head(e) != head) s_head(e)->start_us = now;
    s_load_recount(e);
    self->returned += k;
    /* cancelled ones are dropped here; the rest run elsewhere */
    tmq_list_t keep;
    tmq_list_init(&keep);
    tmq_wjob_t *job;
    while ((job = tmq_wjob_pop(&back))) {
        if (job->cancelled)
            tmq_wjob_destroy(&job);
        else
            tmq_list_push_back(&keep, &job->link);
    }
    tmq_list_prepend(self->queue, &keep);
    if (k) tmq_debug("executor %d handed back %zu jobs", (int)e->pid, k);
    return 0;
}

/* True when the two sets of names are the same (order aside). */
static bool s_same_fns(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i], b[j]) != 0)
            j++;
        if (j == nb) return false;
    }
    return true;
}

#define S_FATAL_MAX 8192 /* the most of a HELLO error kept (a traceback of a failed import) */

/* Records why no executor can serve, once; the daemon stops (tmq_sup_fatal). */
static void s_fatal(tmq_sup_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_fatal(tmq_sup_t *self, const char *fmt, ...)
{
    if (self->fatal) return;
    char text[S_FATAL_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof text ? sizeof text - 1 : (size_t)n;
    /* an executor's own words (its HELLO error) go to our log: no control characters but
     * its line breaks (a Python traceback), which the daemon logs as lines of their own */
    char *shown = tmq_xmalloc(len + 1), *out = shown;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t line = nl ? (size_t)(nl - (text + i)) : len - i;
        tmq_printable(out, line + 1, text + i, line);
        out += line;
        if (nl) *out++ = '\n';
        i += line + (nl != NULL);
    }
    *out = '\0';
    self->fatal = shown;
}

/* HELLO, an executor's first frame: the first fixes the pool's functions, the others must
 * announce the same. Returns 0, or -1 when e was retired. */
static int s_on_hello(tmq_sup_t *self, s_exec_t *e, const uint8_t *p, size_t n, int64_t now)
{
    tmq_frame_hello_t h;
    char why[256];
    if (tmq_frame_hello_decode(p, n, &h, why, sizeof why) != 0) {
        s_fatal(self, "the executor's HELLO is malformed: %s", why);
        s_retire(self, e, S_CRASH, false, "executor died: protocol error", now);
        return -1;
    }
    const char *bad = NULL;
    char text[96];
    if (h.error) {
        s_fatal(self, "%s", h.error);
        bad = "executor could not start";
    } else if (h.version != TMQ_EXECUTOR_PROTOCOL) {
        snprintf(text, sizeof text, "%u (this worker speaks %d)", h.version, TMQ_EXECUTOR_PROTOCOL);
        s_fatal(self, "the executor speaks executor protocol %s", text);
        bad = "executor died: protocol version";
    } else if (self->fns && !s_same_fns(self->fns, self->nfns, h.fns, h.nfns)) {
        bad = "executor died: it announced other functions than the first";
    }
    if (bad) {
        tmq_frame_hello_free(&h);
        s_retire(self, e, S_CRASH, false, bad, now);
        return -1;
    }
    e->hello = true;
    e->revocable = h.revoke;
    if (!self->fns) { /* the pool's functions (and Python version): kept */
        self->fns = h.fns;
        self->nfns = h.nfns;
        h.fns = NULL;
        h.nfns = 0;
        self->python = h.python;
        h.python = NULL;
    }
    tmq_frame_hello_free(&h);
    return 0;
}

/* One frame from e. Returns 0, or -1 when e was retired. */
static int s_on_frame(tmq_sup_t *self, s_exec_t *e, const uint8_t *p, size_t n, int64_t now)
{
    int kind = tmq_frame_kind(p, n);
    if (!e->hello && kind != TMQ_FRAME_HELLO) kind = -1; /* HELLO comes first */
    switch (kind) {
    case TMQ_FRAME_HELLO:
        if (e->hello) break;
        return s_on_hello(self, e, p, n, now);
    case TMQ_FRAME_RESULT:
        return s_on_result(self, e, p, n, now);
    case TMQ_FRAME_RETURNED:
        return s_on_returned(self, e, p, n, now);
    default:
        break;
    }
    s_retire(self, e, S_CRASH, false,
             e->hello ? "executor died: protocol error (a frame of an unknown kind)"
                      : "executor died: protocol error (its first frame was not a HELLO)",
             now);
    return -1;
}

/* The executor closed its end (or the socket failed): find out how it ended and retire it. */
static void s_on_exit(tmq_sup_t *self, s_exec_t *e, int64_t now)
{
    int st = 0;
    pid_t r = 0;
    int64_t until = tmq_clock_us() + S_EXIT_WAIT_US;
    while ((r = waitpid(e->pid, &st, WNOHANG)) == 0 && tmq_clock_us() < until)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    if (r == 0) { /* closed its end but lives on: not an executor we can trust */
        s_kill(e->pid, SIGKILL);
        while ((r = waitpid(e->pid, &st, 0)) < 0 && errno == EINTR) {
        }
    }
    char how[64], why[96];
    if (r < 0)
        snprintf(how, sizeof how, "lost");
    else
        tmq_describe_status(st, how, sizeof how);
    e->exec_failed = r > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127;
    if (s_out_of_memory(self, e, why, sizeof why)) {
        s_retire(self, e, S_OOM, r > 0, why, now);
        return;
    }
    snprintf(why, sizeof why, "executor died: %s", how);
    s_retire(self, e, S_CRASH, r > 0, why, now);
}

/* Reads everything e has written. Returns -1 when e was retired. */
static int s_read(tmq_sup_t *self, s_exec_t *e, int64_t now)
{
    for (;;) {
        ssize_t got = tmq_frame_reader_fill(&e->rd, e->fd);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        const uint8_t *p;
        size_t n;
        int more;
        /* Bytes read before the end of file are results that count. */
        while ((more = tmq_frame_reader_next(&e->rd, &p, &n)) == 1)
            if (s_on_frame(self, e, p, n, now) != 0) return -1;
        if (more < 0) {
            s_retire(self, e, S_CRASH, false, "executor died: protocol error (a frame over 64 MiB)",
                     now);
            return -1;
        }
        if (got <= 0) {
            s_on_exit(self, e, now);
            return -1;
        }
    }
}

/* Writes e's pending bytes. Returns -1 when e was retired (its socket failed). */
static int s_write(tmq_sup_t *self, s_exec_t *e, int64_t now)
{
    while (e->out_off < e->out_len) {
        ssize_t w =
            send(e->fd, e->out + e->out_off, e->out_len - e->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            s_on_exit(self, e, now);
            return -1;
        }
        e->out_off += (size_t)w;
    }
    e->out_off = e->out_len = 0;
    return 0;
}

/* Reports the running job of a retired executor according to the cause. */
static void s_report_head(tmq_sup_t *self, tmq_wjob_t *run, s_cause_t cause, const char *why,
                          pid_t pid, int64_t now)
{
    double ms = (double)(now - run->start_us) / 1000.0;
    if (cause == S_CRASH) {
        tmq_log_limited(TMQ_LOG_WARN, &self->rate, 5, "%s (pid %d) running job %llu", why, (int)pid,
                        (unsigned long long)run->jid);
        s_report(self, run, TMQ_ST_DIED, why, strlen(why), pid, ms);
    } else if (cause == S_TIMEOUT) {
        char text[64];
        snprintf(text, sizeof text, "timeout after %u ms", run->timeout_ms);
        tmq_debug("job %llu: %s", (unsigned long long)run->jid, text);
        tmq_pace_record(self->pace, run->fn, ms);
        s_report(self, run, TMQ_ST_TIMEOUT, text, strlen(text), pid, ms);
    } else if (cause == S_OOM) {
        tmq_log_limited(TMQ_LOG_WARN, &self->rate, 5,
                        "job %llu ran %s on executor %d; replacing it",
                        (unsigned long long)run->jid, why, (int)pid);
        s_report(self, run, TMQ_ST_OOM, why, strlen(why), pid, ms);
    } else {
        tmq_debug("job %llu cancelled while running", (unsigned long long)run->jid);
    }
}

/* The single exit for jobs of an executor that is gone (see the file header). reaped says
 * the process was already waited for; otherwise it is killed here and reaped later. */
static void s_retire(tmq_sup_t *self, s_exec_t *e, s_cause_t cause, bool reaped, const char *why,
                     int64_t now)
{
    if (!reaped) {
        s_kill(e->pid, SIGKILL);
        s_reap_add(self, e->pid);
    } else {
        kill(-e->pid, SIGKILL); /* whatever it started dies with it (the group outlives it) */
    }
    if (e->in_cg) tmq_memcg_kill(self->cg, (size_t)(e - self->ex)); /* and what left the group */
    self->retired++;
    if (!e->hello) {
        self->unready_deaths++;
        snprintf(self->last_death, sizeof self->last_death, "%s", why);
    }
    tmq_wjob_t *run = tmq_wjob_pop(&e->jobs);
    bool ran = run != NULL;
    if (run) {
        s_report_head(self, run, cause, why, e->pid, now);
        tmq_wjob_destroy(&run);
    }
    tmq_list_t back;
    tmq_list_init(&back);
    tmq_wjob_t *j;
    while ((j = tmq_wjob_pop(&e->jobs))) {
        if (j->cancelled)
            tmq_wjob_destroy(&j);
        else
            tmq_list_push_back(&back, &j->link);
    }
    tmq_list_prepend(self->queue, &back);

    /* An executor that dies at once, before any job ran or because exec failed, would die
     * again: restart it with a backoff instead of forking in a tight loop. */
    bool early = (cause == S_CRASH || cause == S_OOM) && (!ran || e->exec_failed) &&
                 e->results == 0 && now - e->spawned_us < S_EARLY_US;
    s_slot_clear(e);
    if (early) {
        s_back_off(e, now);
        if (self->fatal || !self->fns) /* at start the daemon says why, once, if none can serve */
            tmq_debug("%s; restarting it in %lld ms", why, (long long)(e->backoff_us / 1000));
        else
            tmq_error("%s right after starting; restarting it in %lld ms", why,
                      (long long)(e->backoff_us / 1000));
    } else {
        if ((cause == S_CRASH || cause == S_OOM) && !ran) tmq_warn("%s while idle", why);
        e->backoff_us = 0;
        s_spawn(self, e, now);
    }
}

/* ---- the loop's entry points ---- */

size_t tmq_sup_pollitems(tmq_sup_t *self, zmq_pollitem_t *items)
{
    size_t k = 0;
    for (size_t i = 0; i < self->n; i++) {
        s_exec_t *e = &self->ex[i];
        if (e->fd < 0) continue;
        short events = ZMQ_POLLIN;
        if (e->out_off < e->out_len) events |= ZMQ_POLLOUT;
        items[k] = (zmq_pollitem_t){.socket = NULL, .fd = e->fd, .events = events};
        self->pollmap[k++] = i;
    }
    return k;
}

static void s_check_deadlines(tmq_sup_t *self, int64_t now)
{
    for (size_t i = 0; i < self->n; i++) {
        s_exec_t *e = &self->ex[i];
        tmq_wjob_t *run = s_head(e);
        if (e->fd < 0 || !run || !run->timeout_ms) continue;
        if (now - run->start_us >= (int64_t)run->timeout_ms * 1000)
            s_retire(self, e, S_TIMEOUT, false, "timeout", now);
    }
}

void tmq_sup_service(tmq_sup_t *self, const zmq_pollitem_t *items, size_t n)
{
    int64_t now = tmq_clock_us();
    for (size_t k = 0; k < n; k++) {
        s_exec_t *e = &self->ex[self->pollmap[k]];
        if (e->fd != items[k].fd || !items[k].revents) continue;
        if (items[k].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            if (s_read(self, e, now) != 0) continue;
        if (items[k].revents & ZMQ_POLLOUT) s_write(self, e, now);
    }
    now = tmq_clock_us();
    s_check_deadlines(self, now);
    for (size_t i = 0; i < self->n; i++) {
        s_exec_t *e = &self->ex[i];
        if (e->fd < 0 && now >= e->restart_us) s_spawn(self, e, now);
    }
    if (self->nreap) s_reap(self);
}

/* Appends n bytes to e's output. */
static void s_out(s_exec_t *e, const uint8_t *p, size_t n)
{
    if (e->out_len + n > e->out_cap) {
        size_t cap = e->out_cap ? e->out_cap : 4096;
        while (cap < e->out_len + n)
            cap *= 2;
        e->out = tmq_xrealloc(e->out, cap);
        e->out_cap = cap;
    }
    memcpy(e->out + e->out_len, p, n);
    e->out_len += n;
}

/* Appends job's frame to e's output and makes it e's. */
static void s_hand(tmq_sup_t *self, s_exec_t *e, tmq_wjob_t *job, int64_t now)
{
    s_out(e, job->frame, job->frame_len);
    job->est_ms = tmq_pace_estimate(self->pace, job->fn);
    job->cancelled = false;
    if (tmq_list_empty(&e->jobs)) {
        job->start_us = now;
        s_oom_baseline(self, e);
    }
    tmq_list_push_back(&e->jobs, &job->link);
    e->load_ms += job->est_ms < 0 ? INFINITY : job->est_ms;
}

/* Asks e, on its control stream, for up to n of the jobs it holds but has not started. */
static void s_revoke(s_exec_t *e, size_t n)
{
    uint8_t f[TMQ_FRAME_REVOKE_SIZE];
    size_t len = tmq_frame_revoke_write(f, (uint32_t)n);
    ssize_t w;
    while ((w = send(e->ctl, f, len, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    /* 11 bytes into an empty socket go whole; if not, the executor is dying (EOF tells) */
    e->revoking = w == (ssize_t)len;
}

/* True when e's running job has overrun its estimate (it may be long). */
static bool s_overdue(const s_exec_t *e, int64_t now)
{
    const tmq_wjob_t *run = s_head(e);
    return run && tmq_pace_overdue((double)(now - run->start_us) / 1000.0, run->est_ms);
}

/* May e be given one more job (estimated est, to run under memory limit lim) now? One that
 * cannot hand jobs back gets them one at a time only; so does one under a limit (each job's
 * out-of-memory kill is then its own), and a job under another limit waits until e runs
 * nothing (the limit is changed between jobs). */
static bool s_admits(const s_exec_t *e, double est, uint64_t lim, int64_t now)
{
    if (e->fd < 0 || !e->hello || e->revoking) return false;
    if ((lim != e->limit || (lim && e->in_cg)) && !tmq_list_empty(&e->jobs)) return false;
    if (!e->revocable) return tmq_list_empty(&e->jobs);
    if (!tmq_pace_admit(e->jobs.size, e->load_ms, est)) return false;
    return tmq_list_empty(&e->jobs) || !s_overdue(e, now);
}

/* e (idle) could not be put under the job's limit lim (errno says why; EBUSY: it holds more
 * already). A fresh executor that holds more than lim on its own cannot run the job at all,
 * which fails out of memory. Otherwise e is replaced, once per job: it is reaped first, so
 * that what it held has left the slot's cgroup before the fresh one starts there; the job
 * waits at the front for it, tried on the others meanwhile without replacing them too. Says
 * whether the job failed, may be tried on the next executor, or waits (one was replaced). */
typedef enum { S_REFUSED_FAILED, S_REFUSED_TRY_NEXT, S_REFUSED_RECYCLED } s_refused_t;

static s_refused_t s_limit_refused(tmq_sup_t *self, s_exec_t *e, tmq_wjob_t *job, uint64_t lim,
                                   int64_t now)
{
    int err = errno;
    char size[32], why[128];
    tmq_format_size(lim, size, sizeof size);
    bool fresh = e->results == 0 && err == EBUSY;
    if (!fresh) {
        tmq_list_push_front(self->queue, &job->link);
        if (job->recycled) return S_REFUSED_TRY_NEXT; /* a fresh executor is on its way */
        job->recycled = true;
        tmq_debug("executor %d cannot take %s (%s); replacing it for job %llu", (int)e->pid, size,
                  strerror(err), (unsigned long long)job->jid);
        s_kill(e->pid, SIGKILL);
        while (waitpid(e->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        s_retire(self, e, S_RECYCLE, true, "memory limit", now);
        return S_REFUSED_RECYCLED;
    }
    snprintf(why, sizeof why, "out of memory (limit %s): the executor alone holds more", size);
    tmq_log_limited(TMQ_LOG_WARN, &self->rate, 5, "job %llu: %s", (unsigned long long)job->jid,
                    why);
    s_report(self, job, TMQ_ST_OOM, why, strlen(why), e->pid, 0);
    tmq_wjob_destroy(&job);
    return S_REFUSED_FAILED;
}

/* Round robin, one job per executor per pass, so idle executors are served first and a batch
 * spreads over the pool instead of piling onto one process. */
static void s_assign(tmq_sup_t *self, int64_t now)
{
    bool progress = true;
    while (!tmq_list_empty(self->queue) && progress) {
        progress = false;
        for (size_t i = 0; i < self->n && !tmq_list_empty(self->queue); i++) {
            s_exec_t *e = &self->ex[i];
            tmq_wjob_t *job = tmq_wjob_first(self->queue);
            uint64_t lim = s_job_limit(self, job);
            if (!s_admits(e, tmq_pace_estimate(self->pace, job->fn), lim, now)) continue;
            if (lim != e->limit && s_set_limit(self, e, lim) != 0) {
                tmq_list_remove(self->queue, &job->link);
                s_refused_t r = s_limit_refused(self, e, job, lim, now);
                if (r == S_REFUSED_RECYCLED) return; /* the job waits for the fresh one */
                if (r == S_REFUSED_FAILED) progress = true;
                continue;
            }
            tmq_list_remove(self->queue, &job->link);
            s_hand(self, e, job, now);
            progress = true;
        }
    }
}

/* True when the local queue is empty and some live executor has nothing to run. */
static bool s_someone_idles(const tmq_sup_t *self)
{
    if (!tmq_list_empty(self->queue)) return false;
    for (size_t i = 0; i < self->n; i++)
        if (self->ex[i].fd >= 0 && self->ex[i].hello && tmq_list_empty(&self->ex[i].jobs))
            return true;
    return false;
}

/* Jobs stranded behind an overdue job while another executor idles are taken back. */
static void s_steal(tmq_sup_t *self, int64_t now)
{
    if (!s_someone_idles(self)) return;
    for (size_t i = 0; i < self->n; i++) {
        s_exec_t *e = &self->ex[i];
        if (e->fd >= 0 && e->revocable && !e->revoking && e->jobs.size >= 2 && s_overdue(e, now)) {
            tmq_debug("executor %d: job %llu overran its estimate; taking back %zu waiting jobs",
                      (int)e->pid, (unsigned long long)s_head(e)->jid, e->jobs.size - 1);
            s_revoke(e, e->jobs.size - 1);
        }
    }
}

void tmq_sup_set_memory(tmq_sup_t *self, tmq_memcg_t *cg, uint64_t limit)
{
    self->cg = cg;
    self->mem_limit = limit;
}

void tmq_sup_dispatch(tmq_sup_t *self)
{
    uint64_t retired;
    do { /* a death found while writing puts jobs back: hand them out again at once */
        int64_t now = tmq_clock_us();
        retired = self->retired;
        s_assign(self, now);
        s_steal(self, now);
        for (size_t i = 0; i < self->n; i++) {
            s_exec_t *e = &self->ex[i];
            if (e->fd >= 0 && e->out_off < e->out_len) s_write(self, e, now);
        }
    } while (retired != self->retired && !tmq_list_empty(self->queue));
}

size_t tmq_sup_reclaim(tmq_sup_t *self, size_t want)
{
    /* from the longest backlogs first, so few executors are disturbed */
    while (want > 0) {
        s_exec_t *best = NULL;
        for (size_t i = 0; i < self->n; i++) {
            s_exec_t *e = &self->ex[i];
            if (e->fd >= 0 && e->revocable && !e->revoking && e->jobs.size >= 2 &&
                (!best || e->jobs.size > best->jobs.size))
                best = e;
        }
        if (!best) break;
        size_t n = best->jobs.size - 1 < want ? best->jobs.size - 1 : want;
        s_revoke(best, n);
        if (!best->revoking) break; /* it is dying: its jobs come back anyway */
        want -= n;
    }
    return tmq_sup_reclaiming(self);
}

size_t tmq_sup_reclaiming(const tmq_sup_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++)
        n += self->ex[i].fd >= 0 && self->ex[i].revoking;
    return n;
}

void tmq_sup_cancel(tmq_sup_t *self, const tmq_wjob_ref_t *refs, size_t n)
{
    int64_t now = tmq_clock_us();
    for (size_t i = 0; i < self->n; i++) {
        s_exec_t *e = &self->ex[i];
        tmq_wjob_t *run = s_head(e);
        if (e->fd < 0 || !run) continue;
        for (tmq_wjob_t *j = tmq_wjob_next(run); j; j = tmq_wjob_next(j))
            if (tmq_wjob_refs_has(refs, n, j->jid, j->attempt)) j->cancelled = true;
        if (tmq_wjob_refs_has(refs, n, run->jid, run->attempt))
            s_retire(self, e, S_CANCEL, false, "cancelled", now);
    }
}

int64_t tmq_sup_next_us(const tmq_sup_t *self)
{
    int64_t next = INT64_MAX;
    bool idles = s_someone_idles(self);
    for (size_t i = 0; i < self->n; i++) {
        const s_exec_t *e = &self->ex[i];
        const tmq_wjob_t *run = s_head(e);
        int64_t t = INT64_MAX;
        if (e->fd < 0)
            t = e->restart_us;
        else if (run && run->timeout_ms)
            t = run->start_us + (int64_t)run->timeout_ms * 1000;
        if (idles && run && e->fd >= 0 && e->revocable && !e->revoking && e->jobs.size >= 2) {
            double after = tmq_pace_overdue_after(run->est_ms);
            if (isfinite(after)) { /* just past the moment it becomes overdue */
                int64_t due = run->start_us + (int64_t)(after * 1000.0) + 1;
                if (due < t) t = due;
            }
        }
        if (t < next) next = t;
    }
    if (self->nreap) {
        int64_t t = tmq_clock_us() + 20000;
        if (t < next) next = t;
    }
    return next;
}

size_t tmq_sup_held(const tmq_sup_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++)
        n += self->ex[i].jobs.size;
    return n;
}

uint64_t tmq_sup_returned(const tmq_sup_t *self)
{
    return self->returned;
}

size_t tmq_sup_functions(const tmq_sup_t *self, const char *const **fns)
{
    *fns = (const char *const *)self->fns;
    return self->fns ? self->nfns : 0;
}

const char *tmq_sup_python(const tmq_sup_t *self)
{
    return self->python;
}

bool tmq_sup_announced(const tmq_sup_t *self)
{
    return self->fns != NULL;
}

size_t tmq_sup_ready(const tmq_sup_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++)
        n += self->ex[i].fd >= 0 && self->ex[i].hello;
    return n;
}

const char *tmq_sup_fatal(const tmq_sup_t *self)
{
    return self->fatal;
}

uint64_t tmq_sup_unready_deaths(const tmq_sup_t *self, const char **how)
{
    if (how) *how = self->last_death;
    return self->unready_deaths;
}

pid_t tmq_sup_pid(const tmq_sup_t *self, size_t i)
{
    return i < self->n && self->ex[i].fd >= 0 ? self->ex[i].pid : 0;
}
