/* worker/supervisor.h — the daemon's pool of executor processes.
 *
 * The supervisor starts `procs` executors (fork+exec of argv, a socketpair end as fd 3),
 * hands them jobs from the daemon's local queue, reads their results and notices at once
 * when one dies (end of file on its socket). Every job it takes ends in exactly one way:
 * a result (reported), a crash (reported DIED), a time-limit kill (reported TIMEOUT), a
 * cancel kill (not reported), or, for jobs an executor had not started, a return to the front
 * of the local queue (on its death, or handed back on REVOKE). A dead or killed executor is
 * replaced at once (with a backoff when executors die right after starting, e.g. a broken
 * binary).
 *
 * No job waits behind a long one while a process idles: a job joins a busy executor only
 * within the pacing horizon (pace.h), nothing joins behind a running job that overran its
 * estimate, and when some executor idles with the local queue empty, the jobs waiting behind
 * an overdue one are taken back (REVOKE) and handed out again.
 */
#ifndef TMQ_SUPERVISOR_H
#define TMQ_SUPERVISOR_H

#include "memlimit.h"
#include "pace.h"
#include "wjob.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zmq.h>

typedef struct tmq_sup_t tmq_sup_t;

/* Called once per finished job: status is a tmq_status_t, data its result bytes or error
 * text (valid only during the call), pid the executor, ms its run time. */
typedef void(tmq_sup_result_fn)(void *arg, const tmq_wjob_t *job, int status, const void *data,
                                size_t len, pid_t pid, double ms);

/* A pool of procs executors started from path with argv (both copied; path NULL: argv[0]).
 * queue (the daemon's local queue) and pace are borrowed: jobs are taken from and returned
 * to queue; run times feed pace. Starts nothing yet. */
tmq_sup_t *tmq_sup_new(size_t procs, const char *path, char *const argv[], tmq_list_t *queue,
                       tmq_pace_t *pace, tmq_sup_result_fn *on_result, void *arg);
/* Stops every executor (SIGTERM, up to ~1 s grace, then SIGKILL), reaps them, frees every job
 * they held without reporting it, and nulls *self_p. Safe on NULL. */
void tmq_sup_destroy(tmq_sup_t **self_p);

/* Memory limits (before tmq_sup_start): every executor runs under limit bytes (0: none), or
 * under a job's own smaller limit while it runs that job; cg (borrowed, may be NULL) holds the
 * slots' cgroups (memlimit.h), else limits are RLIMIT_AS. A job during which the kernel killed
 * a process of its executor's cgroup for memory is reported TMQ_ST_OOM ("out of memory (limit
 * 512 MiB)") and the executor is replaced. */
void tmq_sup_set_memory(tmq_sup_t *self, tmq_memcg_t *cg, uint64_t limit);

/* Starts every executor. Returns 0, or -1 when none could be started. */
int tmq_sup_start(tmq_sup_t *self);

/* Fills items (room for procs entries) with one entry per live executor and returns how many. */
size_t tmq_sup_pollitems(tmq_sup_t *self, zmq_pollitem_t *items);
/* Handles the poll outcome for the items from tmq_sup_pollitems (reads results and handed-back
 * jobs, writes queued bytes, detects deaths), then enforces time limits, restarts due
 * executors and reaps. */
void tmq_sup_service(tmq_sup_t *self, const zmq_pollitem_t *items, size_t n);
/* Hands jobs from the local queue to executors (see pace.h), takes back jobs stranded behind
 * an overdue one when an executor idles, and writes. */
void tmq_sup_dispatch(tmq_sup_t *self);
/* Asks executors holding jobs they have not started to hand up to `want` of them back, from
 * the longest backlogs first (they return to the front of the local queue, for the daemon to
 * answer a broker's REVOKE from). Returns how many executors are being asked;
 * tmq_sup_reclaiming tells when all have answered. */
size_t tmq_sup_reclaim(tmq_sup_t *self, size_t want);
/* Executors asked to hand jobs back that have not answered yet. */
size_t tmq_sup_reclaiming(const tmq_sup_t *self);
/* Cancels the listed jobs (refs sorted) wherever an executor holds them: a waiting one is
 * marked so its result is dropped; a running one is killed with its executor, unreported. */
void tmq_sup_cancel(tmq_sup_t *self, const tmq_wjob_ref_t *refs, size_t n);
/* Microseconds (tmq_clock_us) of the next time limit, overdue check, restart or reap;
 * INT64_MAX when none. */
int64_t tmq_sup_next_us(const tmq_sup_t *self);
/* The pid of the executor in slot i (0 <= i < procs), or 0 while that slot is restarting. */
pid_t tmq_sup_pid(const tmq_sup_t *self, size_t i);
/* Number of jobs the executors hold. */
size_t tmq_sup_held(const tmq_sup_t *self);
/* Jobs executors handed back so far (taken back for an idle executor or reclaimed). */
uint64_t tmq_sup_returned(const tmq_sup_t *self);

/* Executors start by announcing their functions (HELLO, docs/EXECUTOR.md); the first to do so
 * fixes the pool's functions, and an executor that announces others is retired. True once
 * one did; tmq_sup_functions then gives them (borrowed, *fns set) and their count. */
bool tmq_sup_announced(const tmq_sup_t *self);
/* Live executors that have said HELLO. */
size_t tmq_sup_ready(const tmq_sup_t *self);
size_t tmq_sup_functions(const tmq_sup_t *self, const char *const **fns);
/* The Python version the first HELLO said (an executor in Python), else NULL. Borrowed. */
const char *tmq_sup_python(const tmq_sup_t *self);
/* Why the executors cannot serve at all (a HELLO that says it could not start, a protocol
 * version this worker does not speak, a malformed HELLO), else NULL. Printable text, at most
 * 8 KiB, possibly several lines (a Python traceback). */
const char *tmq_sup_fatal(const tmq_sup_t *self);
/* Executors that ended before saying HELLO, and (*how) how the latest ended ("executor died:
 * exit 127"): a program that cannot run at all shows here at once. */
uint64_t tmq_sup_unready_deaths(const tmq_sup_t *self, const char **how);

#endif
