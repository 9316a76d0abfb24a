/* worker/job.c — see job.h. */
#include "job.h"

#include "frame.h"

#include <stdlib.h>

tmq_job_t *tmq_job_new(const tmq_job_item_t *it, uint64_t tag, int fn)
{
    size_t flen = tmq_frame_job_size(it->fn_len, it->arg_len);
    tmq_job_t *job = malloc(sizeof *job + flen);
    if (!job) abort();
    job->prev = job->next = NULL;
    job->jid = it->jid;
    job->tag = tag;
    job->attempt = it->attempt;
    job->timeout_ms = it->timeout_ms;
    job->fn = fn;
    job->cancelled = false;
    job->est_ms = -1;
    job->start_us = 0;
    job->frame_len = tmq_frame_job_write(job->frame, tag, it->fn, it->fn_len, it->arg, it->arg_len);
    return job;
}

void tmq_job_destroy(tmq_job_t **self_p)
{
    if (!self_p || !*self_p) return;
    free(*self_p);
    *self_p = NULL;
}

void tmq_jobq_init(tmq_jobq_t *q)
{
    q->head = q->tail = NULL;
    q->count = 0;
}

void tmq_jobq_push_back(tmq_jobq_t *q, tmq_job_t *job)
{
    job->next = NULL;
    job->prev = q->tail;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->count++;
}

void tmq_jobq_push_front(tmq_jobq_t *q, tmq_job_t *job)
{
    job->prev = NULL;
    job->next = q->head;
    if (q->head)
        q->head->prev = job;
    else
        q->tail = job;
    q->head = job;
    q->count++;
}

void tmq_jobq_remove(tmq_jobq_t *q, tmq_job_t *job)
{
    if (job->prev)
        job->prev->next = job->next;
    else
        q->head = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        q->tail = job->prev;
    job->prev = job->next = NULL;
    q->count--;
}

tmq_job_t *tmq_jobq_pop_front(tmq_jobq_t *q)
{
    tmq_job_t *job = q->head;
    if (job) tmq_jobq_remove(q, job);
    return job;
}

void tmq_jobq_prepend(tmq_jobq_t *dst, tmq_jobq_t *src)
{
    if (!src->head) return;
    src->tail->next = dst->head;
    if (dst->head)
        dst->head->prev = src->tail;
    else
        dst->tail = src->tail;
    dst->head = src->head;
    dst->count += src->count;
    tmq_jobq_init(src);
}

void tmq_jobq_clear(tmq_jobq_t *q)
{
    tmq_job_t *job;
    while ((job = tmq_jobq_pop_front(q)))
        tmq_job_destroy(&job);
}

static int s_ref_cmp(const void *a, const void *b)
{
    const tmq_job_ref_t *x = a, *y = b;
    if (x->jid != y->jid) return x->jid < y->jid ? -1 : 1;
    if (x->attempt != y->attempt) return x->attempt < y->attempt ? -1 : 1;
    return 0;
}

void tmq_job_refs_sort(tmq_job_ref_t *refs, size_t n)
{
    if (n > 1) qsort(refs, n, sizeof *refs, s_ref_cmp);
}

bool tmq_job_refs_has(const tmq_job_ref_t *refs, size_t n, uint64_t jid, uint32_t attempt)
{
    tmq_job_ref_t key = {jid, attempt};
    return n && bsearch(&key, refs, n, sizeof *refs, s_ref_cmp) != NULL;
}
