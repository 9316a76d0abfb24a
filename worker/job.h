/* worker/job.h — a job held by the worker daemon, and the intrusive queues that hold jobs.
 *
 * A job record is allocated once when JOBS arrives and carries its executor frame already
 * encoded, so handing it to an executor is a copy of bytes. It lives on exactly one queue at
 * a time: the daemon's local FIFO (not yet given to an executor) or one executor's in-flight
 * list (head = running). Refs name jobs in CANCEL/RETURNED as (jid, attempt).
 */
#ifndef TMQ_JOB_H
#define TMQ_JOB_H

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tmq_job_t tmq_job_t;
struct tmq_job_t {
    tmq_job_t *prev, *next;
    uint64_t jid; /* broker job id */
    uint64_t tag; /* local number, echoed by the executor */
    uint32_t attempt;
    uint32_t timeout_ms; /* 0 = none */
    int fn;              /* pace index, -1 when the daemon keeps no timing for the function */
    bool cancelled;      /* cancelled while waiting inside an executor: drop its result */
    double est_ms;       /* run-time estimate charged to its executor, < 0 unknown */
    int64_t start_us;    /* when it began running (became its executor's head) */
    size_t frame_len;
    uint8_t frame[]; /* the executor frame */
};

/* A new record for a JOBS item; aborts on out-of-memory. */
tmq_job_t *tmq_job_new(const tmq_job_item_t *it, uint64_t tag, int fn);
void tmq_job_destroy(tmq_job_t **self_p);

typedef struct {
    tmq_job_t *head, *tail;
    size_t count;
} tmq_jobq_t;

void tmq_jobq_init(tmq_jobq_t *q);
void tmq_jobq_push_back(tmq_jobq_t *q, tmq_job_t *job);
void tmq_jobq_push_front(tmq_jobq_t *q, tmq_job_t *job);
void tmq_jobq_remove(tmq_jobq_t *q, tmq_job_t *job); /* job must be on q */
tmq_job_t *tmq_jobq_pop_front(tmq_jobq_t *q);        /* NULL when empty */
/* Moves every job of src, in order, in front of dst's head; src ends empty. */
void tmq_jobq_prepend(tmq_jobq_t *dst, tmq_jobq_t *src);
void tmq_jobq_clear(tmq_jobq_t *q); /* destroys every job */

typedef struct {
    uint64_t jid;
    uint32_t attempt;
} tmq_job_ref_t;

void tmq_job_refs_sort(tmq_job_ref_t *refs, size_t n);
/* True when (jid, attempt) is in refs, which must be sorted. */
bool tmq_job_refs_has(const tmq_job_ref_t *refs, size_t n, uint64_t jid, uint32_t attempt);

#endif
