/* broker/workers.h — the worker registry: one record per connected worker daemon.
 *
 * A record knows the daemon's name, pid, process count and functions, the jobs it holds
 * (LEASED, in dispatch order) and its liveness. Holding and releasing go through this module
 * so the counts dispatch relies on stay exact: `held`, `nlong` (jobs leased without
 * prefetch), `idle_since` (held fell below procs) and the registry's counts of workers
 * holding more jobs than processes and fewer. It also keeps, per function, the serving workers
 * that idle (oldest idle first) and the revocation candidates: workers holding jobs beyond
 * max(procs, jobs known started) with no REVOKE outstanding. Both lists change only when a
 * worker crosses those bounds, so dispatch and revocation never walk every worker.
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
    int64_t idle_since;    /* when held last fell below procs (meaningful while it is) */
    int64_t revoke_at;     /* when the unanswered REVOKE went out; 0 = none */
    tmq_bserve_t *serves;  /* serves[i] links it into fns[i]'s idle and candidate lists */
    tmq_list_link_t plink; /* the registry's list of REVOKEs outstanding, oldest first */
    uint32_t nstarted;     /* held jobs flagged TMQ_JOB_STARTED (its RETURNED kept them) */
    bool idling;           /* on its functions' idle lists: held < procs, not draining */
    bool cand;             /* on their candidate lists (see tmq_bworker_revocable) */
    bool pending;          /* on the outstanding list: no candidate until answered or stale */
    tmq_fn_t *revoke_fn;   /* the function whose idle workers its outstanding REVOKE is for */
    uint32_t revoke_n;     /* ... and the jobs it asked, counted in revoke_fn->revoking */
    bool dirty;            /* on the dispatcher's list */
    bool job_options;      /* its READY said it takes JOBS items with options (0.3 and later) */
    bool told_options;     /* we logged that jobs' memory limits do not reach it */
    bool draining;         /* it said DRAIN: it takes nothing now, and finishes what it holds */
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

/* A REVOKE for n jobs went out to w at now, for fn's idle workers: its held jobs not known
 * started are flagged TMQ_JOB_ASKED, n is counted in fn->revoking, and w is no candidate
 * until it answers (tmq_bworkers_answered) or retry_ms pass (tmq_bworkers_retry). fn must be
 * one of w's functions. */
void tmq_bworkers_revoked(tmq_bworkers_t *self, tmq_bworker_t *w, int64_t now, tmq_fn_t *fn,
                          uint32_t n);
/* w answered (RETURNED, or it registered again or left): the asked jobs it kept have started
 * (TMQ_JOB_STARTED), its REVOKE is no longer outstanding. */
void tmq_bworkers_answered(tmq_bworkers_t *self, tmq_bworker_t *w);
/* Outstanding REVOKEs older than retry_ms may be repeated: their workers become candidates
 * again. Returns when the next one will be old enough (INT64_MAX: none is outstanding). */
int64_t tmq_bworkers_retry(tmq_bworkers_t *self, int64_t now, int64_t retry_ms);
/* Jobs w holds that may wait unstarted: beyond its processes and beyond the jobs it has said
 * are started. w is a revocation candidate while this is > 0 and no REVOKE is outstanding. */
static inline uint32_t tmq_bworker_revocable(const tmq_bworker_t *w)
{
    size_t floor = w->nstarted > w->procs ? w->nstarted : w->procs;
    return w->held.size > floor ? (uint32_t)(w->held.size - floor) : 0;
}
/* Workers on candidate lists. */
size_t tmq_bworkers_candidates(const tmq_bworkers_t *self);
/* Workers on idle lists: holding fewer jobs than processes, not draining. */
size_t tmq_bworkers_idling(const tmq_bworkers_t *self);
/* Workers with a REVOKE outstanding. */
size_t tmq_bworkers_outstanding(const tmq_bworkers_t *self);

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
/* Changes whenever a worker arrives, leaves, registers again, starts idling or becomes a
 * revocation candidate: the events that can make a REVOKE due sooner. */
uint64_t tmq_bworkers_gen(const tmq_bworkers_t *self);

#endif
