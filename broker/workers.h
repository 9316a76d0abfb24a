/* broker/workers.h — the worker registry: one record per connected worker daemon.
 *
 * A record knows the daemon's name, pid, process count and functions, the jobs it holds
 * (LEASED, in dispatch order) and its liveness. Holding and releasing go through this module
 * so the counts dispatch relies on stay exact: `held`, `nlong` (jobs leased without
 * prefetch), `idle_since` (held fell below procs) and the registry's counts of workers
 * holding more jobs than processes and fewer (so revocation is only considered when both
 * exist).
 */
#ifndef TMQ_BROKER_WORKERS_H
#define TMQ_BROKER_WORKERS_H

#include "fnreg.h"
#include "jobtab.h"
#include "outbox.h"
#include "ridmap.h"

#include <stdbool.h>
#include <stdint.h>

#define TMQ_BWORKER_NAME 64    /* longer READY names are cut */
#define TMQ_BWORKER_VERSION 32 /* ... and versions */
#define TMQ_BWORKER_ADDR 64    /* "IP:PORT" or "[IPv6]:PORT" */

typedef struct tmq_bworker_t {
    tmq_outbox_t out; /* first member: the registry stores &out */
    char name[TMQ_BWORKER_NAME + 1];
    uint32_t procs;
    uint32_t pid;   /* the daemon's pid */
    tmq_fn_t **fns; /* functions it serves */
    size_t nfns;
    size_t fn_rr;    /* rotates which function it is offered first */
    tmq_list_t held; /* LEASED jobs, oldest first */
    uint32_t nlong;  /* held jobs leased as TMQ_JOB_LONG */
    uint64_t done;   /* OK results it reported, counted from READY's `done` */
    uint64_t failed; /* results not OK (error, timeout, death), from READY's `failed` */
    char version[TMQ_BWORKER_VERSION + 1]; /* its software version; "" when it did not say */
    char python[TMQ_BWORKER_VERSION + 1];  /* its executors' Python version; "" when none */
    char addr[TMQ_BWORKER_ADDR];           /* its connection's peer address; "" when unknown */
    int64_t last_seen;
    int64_t idle_since; /* when held last fell below procs (meaningful while it is) */
    int64_t revoke_at;  /* when the unanswered REVOKE went out; 0 = none */
    bool dirty;         /* on the dispatcher's list */
    bool job_options;   /* its READY said it takes JOBS items with options (0.3 and later) */
    bool told_options;  /* we logged that jobs' memory limits do not reach it */
    bool draining;      /* it said DRAIN: it takes nothing now, and finishes what it holds */
} tmq_bworker_t;

typedef struct tmq_bworkers_t tmq_bworkers_t;

tmq_bworkers_t *tmq_bworkers_new(tmq_fnreg_t *fns);
/* Frees every record (their held lists must be empty or the jobs table already gone). */
void tmq_bworkers_destroy(tmq_bworkers_t **self_p);

tmq_bworker_t *tmq_bworkers_find(tmq_bworkers_t *self, const void *rid, size_t rid_len);
/* A new record for rid, serving nothing, with procs 1 until tmq_bworkers_setup. */
tmq_bworker_t *tmq_bworkers_add(tmq_bworkers_t *self, const void *rid, size_t rid_len, int64_t now);
/* Sets identity (name, pid, procs, version), the result counts READY brought and the served
 * functions (replacing any previous set). w holds no jobs. */
void tmq_bworkers_setup(tmq_bworkers_t *self, tmq_bworker_t *w, const tmq_ready_t *ready,
                        const char **fns, const size_t *fn_lens, size_t nfns, int64_t now);
/* w said DRAIN: it leaves its functions' worker lists (nothing more is dispatched to it, nor
 * taken from other workers for it) and is counted in their `ndraining` instead, so they still
 * count as served until it leaves; w->fns keeps them. It keeps the jobs it holds until they come
 * back. A later READY (tmq_bworkers_setup) makes it serve again. */
void tmq_bworkers_drain(tmq_bworkers_t *self, tmq_bworker_t *w);
/* Detaches its functions, frees the record, nulls *w_p. It must hold no jobs. */
void tmq_bworkers_remove(tmq_bworkers_t *self, tmq_bworker_t **w_p);

/* w takes job / gives it back (job->worker is set / cleared). */
void tmq_bworkers_hold(tmq_bworkers_t *self, tmq_bworker_t *w, tmq_bjob_t *job);
void tmq_bworkers_release(tmq_bworkers_t *self, tmq_bworker_t *w, tmq_bjob_t *job, int64_t now);

/* Jobs w may still take of a function with this prefetch. Without prefetch that is its idle
 * processes; with it, each process not occupied by a long job may hold 1 + prefetch. */
uint32_t tmq_bworker_credit(const tmq_bworker_t *w, uint32_t prefetch);
static inline uint32_t tmq_bworker_busy(const tmq_bworker_t *w)
{
    return w->held.size < w->procs ? (uint32_t)w->held.size : w->procs;
}
bool tmq_bworker_serves(const tmq_bworker_t *w, const tmq_fn_t *fn);

size_t tmq_bworkers_size(const tmq_bworkers_t *self);
/* Workers that serve: connected and not draining. A function is unknown, and jobs wait for a
 * worker without a deadline, by this count. */
size_t tmq_bworkers_serving(const tmq_bworkers_t *self);
tmq_bworker_t *tmq_bworkers_at(const tmq_bworkers_t *self, size_t i);
/* Workers holding more jobs than processes (so some prefetched jobs wait unstarted). */
size_t tmq_bworkers_overfull(const tmq_bworkers_t *self);
/* Workers holding fewer jobs than processes (so some process idles). */
size_t tmq_bworkers_idle(const tmq_bworkers_t *self);
/* Changes whenever a worker arrives, leaves, registers again, or its held count crosses its
 * process count either way (starts or stops idling, becomes or stops being overfull). */
uint64_t tmq_bworkers_gen(const tmq_bworkers_t *self);

#endif
