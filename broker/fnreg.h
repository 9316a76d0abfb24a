/* broker/fnreg.h — the function registry: one record per job function name.
 *
 * A record holds the function's FIFO of queued jobs, the workers serving it, the EWMA of its
 * observed run time (from which the dispatch prefetch is derived) and what the metrics count:
 * its jobs' fates since the broker started and a fixed-bucket run-time histogram, each a plain
 * increment on the job path. A record lives while something refers to it (a serving worker or
 * a live job) and for good once a run was timed or once some worker served it and a job of it
 * was accepted, so the learned run time survives workers reconnecting and counters never go
 * back. Both are bounded by what workers serve. A record freed otherwise (jobs for a name no
 * worker ever served) leaves its counts in the registry's `gone` tally.
 */
#ifndef TMQ_BROKER_FNREG_H
#define TMQ_BROKER_FNREG_H

#include <list.h>
#include <proto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tmq_bworker_t;

/* One (worker, function it serves) pair, kept by the worker registry: it links the worker into
 * the function's list of idle workers and of revocation candidates (broker/workers.h). */
typedef struct {
    tmq_list_link_t ilink; /* on the function's `idle` while the worker idles */
    tmq_list_link_t clink; /* on the function's `cands` while the worker is a candidate */
    struct tmq_bworker_t *w;
} tmq_bserve_t;

/* Upper bounds (ms, inclusive) of the run-time histogram's buckets, 0.5 ms to 60 s; one more
 * bucket counts what is above the last. */
#define TMQ_FN_BUCKETS 16
extern const double tmq_fn_bucket_ms[TMQ_FN_BUCKETS];

/* What became of a function's jobs since the broker started; every field only grows. A job
 * accepted is, at any moment, queued, leased, or counted once in done, failed or cancelled. */
typedef struct {
    uint64_t submitted; /* accepted into its queue */
    uint64_t done;      /* finished OK */
    uint64_t failed;    /* finished otherwise: error, timeout, out of retries, out of memory,
                           result too large, no worker serving it */
    uint64_t cancelled; /* its client left or withdrew it */
    uint64_t retried;   /* attempts that died (or ran out of memory under retry_oom) and were
                           queued again within the job's retries */
    uint64_t requeued;  /* jobs held by a worker that left or registered again, queued again */
} tmq_fn_counts_t;

/* Adds n's counts into *into (a tally of several records): the one place that lists them. */
static inline void tmq_fn_counts_add(tmq_fn_counts_t *into, const tmq_fn_counts_t *n)
{
    into->submitted += n->submitted;
    into->done += n->done;
    into->failed += n->failed;
    into->cancelled += n->cancelled;
    into->retried += n->retried;
    into->requeued += n->requeued;
}

/* Run times the workers reported (tmq_fn_observe), by bucket: count[i] holds those at most
 * tmq_fn_bucket_ms[i] and above the bound before (not cumulative); count[TMQ_FN_BUCKETS]
 * those above the last bound. */
typedef struct {
    uint64_t count[TMQ_FN_BUCKETS + 1];
    double sum_ms;
} tmq_fn_hist_t;

typedef struct tmq_fn_t {
    char name[TMQ_PROTO_MAX_FNAME + 1];
    size_t name_len;
    tmq_list_t queue;               /* QUEUED jobs, oldest first */
    struct tmq_bworker_t **workers; /* connected workers serving it */
    size_t nworkers, workers_cap;
    size_t ndraining;  /* draining workers that served it: it counts as served while they stay */
    tmq_list_t idle;   /* tmq_bserve_t of its serving workers holding fewer jobs than processes,
                          by idle_since, oldest first (the registry keeps it) */
    tmq_list_t cands;  /* tmq_bserve_t of workers serving it that REVOKE may ask (workers.h) */
    uint64_t revoking; /* jobs asked for its idle workers by REVOKEs still outstanding */
    size_t refs;       /* serving and draining workers + live jobs */
    size_t rr;         /* rotates the first worker offered prefetch */
    double ewma_ms;    /* run time, valid when `timed` */
    uint64_t ack_seq;  /* the SUBMIT whose ACK last named it unserved (tmq_core_t.submit_seq) */
    tmq_fn_counts_t n;
    tmq_fn_hist_t hist;
    size_t leased; /* its jobs workers hold (running, or prefetched and not started) */
    bool timed;
    bool served; /* some worker served it (tmq_fnreg_attach) */
    bool dirty;  /* on the dispatcher's list */
} tmq_fn_t;

typedef struct tmq_fnreg_t tmq_fnreg_t;

tmq_fnreg_t *tmq_fnreg_new(void);
void tmq_fnreg_destroy(tmq_fnreg_t **self_p);

/* The record for name (len bytes, no NUL inside), or NULL when none exists. */
tmq_fn_t *tmq_fnreg_find(tmq_fnreg_t *self, const char *name, size_t len);
/* The record for name, created when missing, with one more reference. len must be
 * 1..TMQ_PROTO_MAX_FNAME with no NUL byte inside. */
tmq_fn_t *tmq_fnreg_ref(tmq_fnreg_t *self, const char *name, size_t len);
/* Drops one reference and nulls *fn_p; frees the record when none remain, unless it is kept
 * for good (see above); a freed record's counts go to the `gone` tally. */
void tmq_fnreg_unref(tmq_fnreg_t *self, tmq_fn_t **fn_p);

/* One more reference to an existing record. */
static inline void tmq_fn_hold(tmq_fn_t *fn)
{
    fn->refs++;
}

/* Links w as serving fn (takes a reference) / unlinks it (drops it; may free fn). */
void tmq_fnreg_attach(tmq_fnreg_t *self, tmq_fn_t *fn, struct tmq_bworker_t *w);
void tmq_fnreg_detach(tmq_fnreg_t *self, tmq_fn_t *fn, struct tmq_bworker_t *w);

/* Folds one observed run time into the EWMA and the histogram (a non-finite or negative one
 * is a peer's lie: ignored). */
void tmq_fn_observe(tmq_fn_t *fn, double ms);
/* Jobs each process may hold beyond the one it runs: TMQ_PACE_HORIZON_MS / ewma, at most
 * TMQ_PACE_MAX_BATCH (common/pacing.h), and 0 for a function never timed, so a long or
 * unknown job is never queued behind another. */
uint32_t tmq_fn_prefetch(const tmq_fn_t *fn);

/* The counts of every record freed so far (only records no worker ever served are: their
 * jobs failed "unknown function" or were cancelled; their histograms are empty). */
const tmq_fn_counts_t *tmq_fnreg_gone(const tmq_fnreg_t *self);

size_t tmq_fnreg_size(const tmq_fnreg_t *self);
/* Walks every record in no particular order: first, then next until NULL. The registry must
 * not change during the walk. */
tmq_fn_t *tmq_fnreg_first(tmq_fnreg_t *self);
tmq_fn_t *tmq_fnreg_next(tmq_fnreg_t *self);

#endif
