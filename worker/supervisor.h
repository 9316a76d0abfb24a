/* worker/supervisor.h — the daemon's pool of executor processes.
 *
 * The supervisor starts `procs` executors (fork+exec of argv, a socketpair end as fd 3),
 * hands them jobs from the daemon's local queue, reads their results and notices at once
 * when one dies (end of file on its socket). Every job it takes ends in exactly one way:
 * a result (reported), a crash (reported DIED), a time-limit kill (reported TIMEOUT), a
 * cancel kill (not reported), or, for jobs an executor had not started, a return to the front
 * of the local queue. A dead or killed executor is replaced at once (with a backoff when
 * executors die right after starting, e.g. a broken binary).
 */
#ifndef TMQ_SUPERVISOR_H
#define TMQ_SUPERVISOR_H

#include "job.h"
#include "pace.h"

#include <stdint.h>
#include <sys/types.h>
#include <zmq.h>

typedef struct tmq_sup_t tmq_sup_t;

/* Called once per finished job: status is a tmq_status_t, data its result bytes or error
 * text (valid only during the call), pid the executor, ms its run time. */
typedef void(tmq_sup_result_fn)(void *arg, const tmq_job_t *job, int status, const void *data,
                                size_t len, pid_t pid, double ms);

/* A pool of procs executors started from argv (copied). queue (the daemon's local FIFO) and
 * pace are borrowed: jobs are taken from and returned to queue; run times feed pace. Starts
 * nothing yet. Returns NULL on out-of-memory. */
tmq_sup_t *tmq_sup_new(size_t procs, char *const argv[], tmq_jobq_t *queue, tmq_pace_t *pace,
                       tmq_sup_result_fn *on_result, void *arg);
/* Stops every executor (SIGTERM, up to ~1 s grace, then SIGKILL), reaps them, frees every job
 * they held without reporting it, and nulls *self_p. Safe on NULL. */
void tmq_sup_destroy(tmq_sup_t **self_p);

/* Starts every executor. Returns 0, or -1 when none could be started. */
int tmq_sup_start(tmq_sup_t *self);

/* Fills items (room for procs entries) with one entry per live executor and returns how many. */
size_t tmq_sup_pollitems(tmq_sup_t *self, zmq_pollitem_t *items);
/* Handles the poll outcome for the items from tmq_sup_pollitems (reads results, writes queued
 * bytes, detects deaths), then enforces time limits, restarts due executors and reaps. */
void tmq_sup_service(tmq_sup_t *self, const zmq_pollitem_t *items, size_t n);
/* Hands jobs from the local queue to executors (see pace.h) and writes them. */
void tmq_sup_dispatch(tmq_sup_t *self);
/* Cancels the listed jobs (refs sorted) wherever an executor holds them: a waiting one is
 * marked so its result is dropped; a running one is killed with its executor, unreported. */
void tmq_sup_cancel(tmq_sup_t *self, const tmq_job_ref_t *refs, size_t n);
/* Microseconds (tmq_clock_us) of the next time limit, restart or reap; INT64_MAX when none. */
int64_t tmq_sup_next_us(const tmq_sup_t *self);
/* The pid of the executor in slot i (0 <= i < procs), or 0 while that slot is restarting. */
pid_t tmq_sup_pid(const tmq_sup_t *self, size_t i);
/* Number of jobs the executors hold. */
size_t tmq_sup_held(const tmq_sup_t *self);

#endif
