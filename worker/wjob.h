/* worker/wjob.h — a job held by the worker daemon (tmq_wjob_t), and the refs that name jobs.
 *
 * A record is allocated once when JOBS arrives and carries its executor frame already
 * encoded, so handing it to an executor is a copy of bytes. It lives on exactly one list
 * (common/list.h, through `link`) at a time: the daemon's local queue (not yet given to an
 * executor) or one executor's in-flight list (head = running). Refs name jobs in CANCEL and
 * RETURNED as (jid, attempt).
 */
#ifndef TMQ_WJOB_H
#define TMQ_WJOB_H

#include "list.h"
#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tmq_wjob_t {
    tmq_list_link_t link;
    uint64_t jid; /* broker job id */
    uint64_t tag; /* local number, echoed by the executor */
    uint32_t attempt;
    uint32_t timeout_ms; /* 0 = none */
    int fn;              /* pace index, -1 when the daemon keeps no timing for the function */
    bool cancelled;      /* cancelled while waiting inside an executor: drop its result */
    bool recycled;       /* an executor was replaced to take its memory limit (once per job) */
    double est_ms;       /* run-time estimate charged to its executor, < 0 unknown */
    int64_t start_us;    /* when it began running (became its executor's head) */
    uint64_t mem_limit;  /* the job's own memory limit in bytes (JOBS options); 0 = none */
    size_t frame_len;
    uint8_t frame[]; /* the executor frame */
} tmq_wjob_t;

#define TMQ_WJOB(l) TMQ_LIST_ENTRY(l, tmq_wjob_t, link)

/* A new record for a JOBS item; aborts on out-of-memory. */
tmq_wjob_t *tmq_wjob_new(const tmq_job_item_t *it, uint64_t tag, int fn);
void tmq_wjob_destroy(tmq_wjob_t **self_p);

/* The first job of q, the one after job, or NULL. */
static inline tmq_wjob_t *tmq_wjob_first(const tmq_list_t *q)
{
    return q->head ? TMQ_WJOB(q->head) : NULL;
}
static inline tmq_wjob_t *tmq_wjob_next(const tmq_wjob_t *job)
{
    return job->link.next ? TMQ_WJOB(job->link.next) : NULL;
}
/* Unlinks and returns the first job of q, or NULL. */
tmq_wjob_t *tmq_wjob_pop(tmq_list_t *q);
/* Destroys every job on q. */
void tmq_wjob_clear(tmq_list_t *q);

typedef struct {
    uint64_t jid;
    uint32_t attempt;
} tmq_wjob_ref_t;

void tmq_wjob_refs_sort(tmq_wjob_ref_t *refs, size_t n);
/* True when (jid, attempt) is in refs, which must be sorted. */
bool tmq_wjob_refs_has(const tmq_wjob_ref_t *refs, size_t n, uint64_t jid, uint32_t attempt);

#endif
