/* broker/fnreg.h — the function registry: one record per job function name.
 *
 * A record holds the function's FIFO of queued jobs, the workers serving it and the EWMA of
 * its observed run time, from which the dispatch prefetch is derived. A record lives while
 * something refers to it (a serving worker or a live job) and, once a run was timed, for
 * good, so the learned run time survives workers reconnecting.
 */
#ifndef TMQ_BROKER_FNREG_H
#define TMQ_BROKER_FNREG_H

#include <list.h>
#include <proto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tmq_bworker_t;

typedef struct tmq_fn_t {
    char name[TMQ_PROTO_MAX_FNAME + 1];
    size_t name_len;
    tmq_list_t queue;               /* QUEUED jobs, oldest first */
    struct tmq_bworker_t **workers; /* connected workers serving it */
    size_t nworkers, workers_cap;
    size_t refs;      /* serving workers + live jobs */
    size_t rr;        /* rotates the first worker offered prefetch */
    double ewma_ms;   /* run time, valid when `timed` */
    uint64_t ack_seq; /* the SUBMIT whose ACK last named it unserved (tmq_core_t.submit_seq) */
    bool timed;
    bool dirty; /* on the dispatcher's list */
} tmq_fn_t;

typedef struct tmq_fnreg_t tmq_fnreg_t;

tmq_fnreg_t *tmq_fnreg_new(void);
void tmq_fnreg_destroy(tmq_fnreg_t **self_p);

/* The record for name (len bytes, no NUL inside), or NULL when none exists. */
tmq_fn_t *tmq_fnreg_find(tmq_fnreg_t *self, const char *name, size_t len);
/* The record for name, created when missing, with one more reference. len must be
 * 1..TMQ_PROTO_MAX_FNAME with no NUL byte inside. */
tmq_fn_t *tmq_fnreg_ref(tmq_fnreg_t *self, const char *name, size_t len);
/* Drops one reference and nulls *fn_p; frees an untimed record when none remain. */
void tmq_fnreg_unref(tmq_fnreg_t *self, tmq_fn_t **fn_p);

/* One more reference to an existing record. */
static inline void tmq_fn_hold(tmq_fn_t *fn)
{
    fn->refs++;
}

/* Links w as serving fn (takes a reference) / unlinks it (drops it; may free fn). */
void tmq_fnreg_attach(tmq_fnreg_t *self, tmq_fn_t *fn, struct tmq_bworker_t *w);
void tmq_fnreg_detach(tmq_fnreg_t *self, tmq_fn_t *fn, struct tmq_bworker_t *w);

/* Folds one observed run time into the EWMA (tmq_pace_ewma: non-finite or negative ignored). */
void tmq_fn_observe(tmq_fn_t *fn, double ms);
/* Jobs each process may hold beyond the one it runs: TMQ_PACE_HORIZON_MS / ewma, at most
 * TMQ_PACE_MAX_BATCH (common/pacing.h), and 0 for a function never timed, so a long or
 * unknown job is never queued behind another. */
uint32_t tmq_fn_prefetch(const tmq_fn_t *fn);

size_t tmq_fnreg_size(const tmq_fnreg_t *self);
/* Walks every record in no particular order: first, then next until NULL. The registry must
 * not change during the walk. */
tmq_fn_t *tmq_fnreg_first(tmq_fnreg_t *self);
tmq_fn_t *tmq_fnreg_next(tmq_fnreg_t *self);

#endif
