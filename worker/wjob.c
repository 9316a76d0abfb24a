/* worker/wjob.c — see wjob.h. */
#include "wjob.h"

#include "frame.h"
#include "xalloc.h"

#include <stdlib.h>

tmq_wjob_t *tmq_wjob_new(const tmq_job_item_t *it, uint64_t tag, int fn)
{
    size_t flen = tmq_frame_job_size(it->fn_len, it->arg_len);
    tmq_wjob_t *job = tmq_xmalloc(sizeof *job + flen);
    job->link.next = job->link.prev = NULL;
    job->jid = it->jid;
    job->tag = tag;
    job->attempt = it->attempt;
    job->timeout_ms = it->timeout_ms;
    job->fn = fn;
    job->cancelled = false;
    job->recycled = false;
    job->est_ms = -1;
    job->mem_limit = it->mem_limit;
    job->start_us = 0;
    job->frame_len = tmq_frame_job_write(job->frame, tag, it->fn, it->fn_len, it->arg, it->arg_len);
    return job;
}

void tmq_wjob_destroy(tmq_wjob_t **self_p)
{
    if (!self_p || !*self_p) return;
    free(*self_p);
    *self_p = NULL;
}

tmq_wjob_t *tmq_wjob_pop(tmq_list_t *q)
{
    tmq_list_link_t *l = tmq_list_pop_front(q);
    return l ? TMQ_WJOB(l) : NULL;
}

void tmq_wjob_clear(tmq_list_t *q)
{
    tmq_wjob_t *job;
    while ((job = tmq_wjob_pop(q)))
        tmq_wjob_destroy(&job);
}

static int s_ref_cmp(const void *a, const void *b)
{
    const tmq_wjob_ref_t *x = a, *y = b;
    if (x->jid != y->jid) return x->jid < y->jid ? -1 : 1;
    if (x->attempt != y->attempt) return x->attempt < y->attempt ? -1 : 1;
    return 0;
}

void tmq_wjob_refs_sort(tmq_wjob_ref_t *refs, size_t n)
{
    if (n > 1) qsort(refs, n, sizeof *refs, s_ref_cmp);
}

bool tmq_wjob_refs_has(const tmq_wjob_ref_t *refs, size_t n, uint64_t jid, uint32_t attempt)
{
    tmq_wjob_ref_t key = {jid, attempt};
    return n && bsearch(&key, refs, n, sizeof *refs, s_ref_cmp) != NULL;
}
