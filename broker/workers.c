/* broker/workers.c — see workers.h. */
#include "workers.h"

#include <log.h>
#include <xalloc.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct tmq_bworkers_t {
    tmq_ridmap_t *map;
    tmq_fnreg_t *fns;       /* borrowed */
    size_t overfull;        /* workers holding more jobs than processes */
    size_t idle;            /* workers holding fewer jobs than processes */
    size_t draining;        /* workers that said DRAIN */
    size_t ncands;          /* workers on candidate lists */
    size_t nidling;         /* workers on idle lists (idle and not draining) */
    tmq_list_t outstanding; /* workers with a REVOKE unanswered, by revoke_at (plink) */
    uint64_t gen;           /* see tmq_bworkers_gen */
};

tmq_bworkers_t *tmq_bworkers_new(tmq_fnreg_t *fns)
{
    tmq_bworkers_t *self = tmq_xcalloc(1, sizeof *self);
    self->map = tmq_ridmap_new();
    self->fns = fns;
    tmq_list_init(&self->outstanding);
    return self;
}

/* Moves w on or off its functions' lists: O(its functions), only when it crossed a bound. */
static void s_relist(tmq_bworkers_t *self, tmq_bworker_t *w, bool idle, bool cand)
{
    if (idle != w->idling) {
        w->idling = idle;
        /* idle_since was just set to now: pushed at the back, each list stays by idle_since */
        for (size_t i = 0; i < w->nfns; i++) {
            if (idle)
                tmq_list_push_back(&w->fns[i]->idle, &w->serves[i].ilink);
            else
                tmq_list_remove(&w->fns[i]->idle, &w->serves[i].ilink);
        }
        if (idle) {
            self->nidling++;
            self->gen++;
        } else {
            self->nidling--;
        }
    }
    if (cand != w->cand) {
        w->cand = cand;
        for (size_t i = 0; i < w->nfns; i++) {
            if (cand)
                tmq_list_push_back(&w->fns[i]->cands, &w->serves[i].clink);
            else
                tmq_list_remove(&w->fns[i]->cands, &w->serves[i].clink);
        }
        if (cand) {
            self->ncands++;
            self->gen++;
        } else {
            self->ncands--;
        }
    }
}

/* Puts w on or takes it off its functions' idle and candidate lists as its counts now say:
 * a few compares per job held or released, the lists touched only on a crossing. */
static inline void s_update(tmq_bworkers_t *self, tmq_bworker_t *w)
{
    bool idle = !w->draining && w->held.size < w->procs;
    bool cand = !w->pending && tmq_bworker_revocable(w) > 0;
    if (idle != w->idling || cand != w->cand) s_relist(self, w, idle, cand);
}

/* Takes w off every function list (before its functions change or it goes). */
static void s_unlist(tmq_bworkers_t *self, tmq_bworker_t *w)
{
    bool draining = w->draining, pending = w->pending;
    w->draining = true; /* not idle */
    w->pending = true;  /* no candidate */
    s_update(self, w);
    w->draining = draining;
    w->pending = pending;
}

/* Its REVOKE is no longer outstanding (answered, stale, or w goes). */
static void s_unpend(tmq_bworkers_t *self, tmq_bworker_t *w)
{
    if (!w->pending) return;
    tmq_list_remove(&self->outstanding, &w->plink);
    w->pending = false;
    w->revoke_fn->revoking -= w->revoke_n;
    w->revoke_fn = NULL;
    w->revoke_n = 0;
}

static void s_detach_all(tmq_bworkers_t *self, tmq_bworker_t *w)
{
    s_unlist(self, w);
    for (size_t i = 0; i < w->nfns; i++) {
        if (w->draining) { /* no longer in its worker list: held by the drain instead */
            w->fns[i]->ndraining--;
            tmq_fnreg_unref(self->fns, &w->fns[i]);
        } else {
            tmq_fnreg_detach(self->fns, w->fns[i], w);
        }
    }
    free(w->fns);
    free(w->serves);
    w->fns = NULL;
    w->serves = NULL;
    w->nfns = 0;
}

void tmq_bworkers_destroy(tmq_bworkers_t **self_p)
{
    tmq_bworkers_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    while (tmq_ridmap_size(self->map)) {
        tmq_bworker_t *w = (tmq_bworker_t *)tmq_ridmap_at(self->map, 0);
        while (!tmq_list_empty(&w->held))
            tmq_list_pop_front(&w->held); /* jobs freed elsewhere */
        tmq_bworkers_remove(self, &w);
    }
    tmq_ridmap_destroy(&self->map);
    free(self);
    *self_p = NULL;
}

tmq_bworker_t *tmq_bworkers_find(tmq_bworkers_t *self, const void *rid, size_t rid_len)
{
    return (tmq_bworker_t *)tmq_ridmap_find(self->map, rid, rid_len);
}

tmq_bworker_t *tmq_bworkers_add(tmq_bworkers_t *self, const void *rid, size_t rid_len, int64_t now)
{
    tmq_bworker_t *w = tmq_xcalloc(1, sizeof *w);
    tmq_outbox_init(&w->out, TMQ_SIDE_BACKEND, rid, rid_len, TMQ_CMD_JOBS, TMQ_CMD_CANCEL);
    w->out.owner = w;
    w->out.last_sent = now;
    w->procs = 1;
    w->last_seen = now;
    w->idle_since = now;
    tmq_list_init(&w->held);
    tmq_ridmap_insert(self->map, &w->out);
    self->idle++; /* holds 0 < procs */
    self->gen++;
    return w;
}

void tmq_bworkers_setup(tmq_bworkers_t *self, tmq_bworker_t *w, const tmq_ready_t *ready,
                        const char **fns, const size_t *fn_lens, size_t nfns, int64_t now)
{
    assert(tmq_list_empty(&w->held));
    size_t n = ready->name_len < TMQ_BWORKER_NAME ? ready->name_len : TMQ_BWORKER_NAME;
    memcpy(w->name, ready->name, n);
    w->name[n] = '\0';
    w->procs = ready->procs;
    w->pid = ready->pid;
    /* the peer's words: printable or '?' */
    tmq_printable(w->version, sizeof w->version, ready->version, ready->version_len);
    tmq_printable(w->python, sizeof w->python, ready->python, ready->python_len);
    w->done = ready->done;
    w->failed = ready->failed;
    w->idle_since = now;
    w->revoke_at = 0;
    w->nstarted = 0; /* it holds nothing */
    s_unpend(self, w);
    self->gen++;
    s_detach_all(self, w);
    if (w->draining) { /* registered again: it serves */
        w->draining = false;
        self->draining--;
    }
    w->fns = tmq_xcalloc(nfns ? nfns : 1, sizeof *w->fns);
    w->serves = tmq_xcalloc(nfns ? nfns : 1, sizeof *w->serves);
    for (size_t i = 0; i < nfns; i++) {
        if (memchr(fns[i], '\0', fn_lens[i])) continue; /* unusable name */
        tmq_fn_t *fn = tmq_fnreg_ref(self->fns, fns[i], fn_lens[i]);
        if (!tmq_bworker_serves(w, fn)) { /* listed twice: serve once */
            tmq_fnreg_attach(self->fns, fn, w);
            w->serves[w->nfns].w = w;
            w->fns[w->nfns++] = fn;
        }
        tmq_fnreg_unref(self->fns, &fn); /* attach holds the reference */
    }
    s_update(self, w);
}

void tmq_bworkers_remove(tmq_bworkers_t *self, tmq_bworker_t **w_p)
{
    tmq_bworker_t *w = *w_p;
    assert(tmq_list_empty(&w->held));
    self->idle--;
    self->gen++;
    s_unpend(self, w);
    s_detach_all(self, w);
    if (w->draining) self->draining--;
    tmq_ridmap_remove(self->map, &w->out);
    tmq_outbox_fini(&w->out);
    free(w);
    *w_p = NULL;
}

void tmq_bworkers_drain(tmq_bworkers_t *self, tmq_bworker_t *w)
{
    if (w->draining) return;
    for (size_t i = 0; i < w->nfns; i++) {
        tmq_fn_t *fn = w->fns[i];
        tmq_fn_hold(fn); /* w->fns keeps it after the detach */
        fn->ndraining++;
        tmq_fnreg_detach(self->fns, fn, w);
    }
    w->draining = true;
    self->draining++;
    self->gen++;
    s_update(self, w); /* it idles no more; it may still be asked for unstarted jobs */
}

void tmq_bworkers_hold(tmq_bworkers_t *self, tmq_bworker_t *w, tmq_bjob_t *job)
{
    tmq_list_push_back(&w->held, &job->link);
    job->worker = w;
    job->fn->leased++;
    if (job->flags & TMQ_JOB_LONG) w->nlong++;
    if (w->held.size == w->procs) self->idle--;
    if (w->held.size == (size_t)w->procs + 1) self->overfull++;
    /* one more can only end its idling or make it a candidate (per job: no more compares) */
    if (w->held.size == w->procs || !w->cand) s_update(self, w);
}

void tmq_bworkers_release(tmq_bworkers_t *self, tmq_bworker_t *w, tmq_bjob_t *job, int64_t now)
{
    assert(job->worker == w);
    if (w->held.size == (size_t)w->procs + 1) self->overfull--;
    if (w->held.size == w->procs) {
        w->idle_since = now;
        self->idle++;
    }
    tmq_list_remove(&w->held, &job->link);
    job->worker = NULL;
    job->fn->leased--;
    if (job->flags & TMQ_JOB_LONG) w->nlong--;
    if (job->flags & TMQ_JOB_STARTED) w->nstarted--;
    job->flags &= (uint8_t) ~(TMQ_JOB_LONG | TMQ_JOB_ASKED | TMQ_JOB_STARTED);
    /* one fewer can only start its idling or end its candidacy */
    if (w->held.size + 1 == w->procs || (w->cand && tmq_bworker_revocable(w) == 0))
        s_update(self, w);
}

void tmq_bworkers_revoked(tmq_bworkers_t *self, tmq_bworker_t *w, int64_t now, tmq_fn_t *fn,
                          uint32_t n)
{
    for (tmq_list_link_t *l = w->held.head; l; l = l->next) {
        tmq_bjob_t *job = TMQ_LIST_ENTRY(l, tmq_bjob_t, link);
        if (!(job->flags & TMQ_JOB_STARTED)) job->flags |= TMQ_JOB_ASKED;
    }
    w->revoke_at = now;
    s_unpend(self, w); /* a repeat: to the back */
    tmq_list_push_back(&self->outstanding, &w->plink);
    w->pending = true;
    w->revoke_fn = fn;
    w->revoke_n = n;
    fn->revoking += n;
    s_update(self, w);
}

void tmq_bworkers_answered(tmq_bworkers_t *self, tmq_bworker_t *w)
{
    /* it listed every asked job it had not started (up to the count asked): the rest run or
     * ran, and asking about them again would only bring another empty RETURNED */
    for (tmq_list_link_t *l = w->held.head; l; l = l->next) {
        tmq_bjob_t *job = TMQ_LIST_ENTRY(l, tmq_bjob_t, link);
        if (job->flags & TMQ_JOB_ASKED) {
            job->flags = (uint8_t)((job->flags & ~TMQ_JOB_ASKED) | TMQ_JOB_STARTED);
            w->nstarted++;
        }
    }
    w->revoke_at = 0;
    s_unpend(self, w);
    s_update(self, w);
}

int64_t tmq_bworkers_retry(tmq_bworkers_t *self, int64_t now, int64_t retry_ms)
{
    while (self->outstanding.head) {
        tmq_bworker_t *w = TMQ_LIST_ENTRY(self->outstanding.head, tmq_bworker_t, plink);
        if (w->revoke_at + retry_ms > now) return w->revoke_at + retry_ms;
        s_unpend(self, w); /* revoke_at stays: it is still unanswered */
        s_update(self, w);
    }
    return INT64_MAX;
}

size_t tmq_bworkers_candidates(const tmq_bworkers_t *self)
{
    return self->ncands;
}

size_t tmq_bworkers_idling(const tmq_bworkers_t *self)
{
    return self->nidling;
}

size_t tmq_bworkers_outstanding(const tmq_bworkers_t *self)
{
    return self->outstanding.size;
}

uint32_t tmq_bworker_credit(const tmq_bworker_t *w, uint32_t prefetch)
{
    uint64_t held = w->held.size, limit;
    if (prefetch == 0) {
        limit = w->procs;
    } else {
        uint64_t nlong = w->nlong < w->procs ? w->nlong : w->procs;
        limit = (w->procs - nlong) * (1 + (uint64_t)prefetch) + nlong;
    }
    if (limit <= held) return 0;
    return limit - held > UINT32_MAX ? UINT32_MAX : (uint32_t)(limit - held);
}

bool tmq_bworker_serves(const tmq_bworker_t *w, const tmq_fn_t *fn)
{
    for (size_t i = 0; i < w->nfns; i++)
        if (w->fns[i] == fn) return true;
    return false;
}

size_t tmq_bworkers_size(const tmq_bworkers_t *self)
{
    return tmq_ridmap_size(self->map);
}

size_t tmq_bworkers_serving(const tmq_bworkers_t *self)
{
    return tmq_ridmap_size(self->map) - self->draining;
}

tmq_bworker_t *tmq_bworkers_at(const tmq_bworkers_t *self, size_t i)
{
    return (tmq_bworker_t *)tmq_ridmap_at(self->map, i);
}

size_t tmq_bworkers_overfull(const tmq_bworkers_t *self)
{
    return self->overfull;
}

size_t tmq_bworkers_idle(const tmq_bworkers_t *self)
{
    return self->idle;
}

uint64_t tmq_bworkers_gen(const tmq_bworkers_t *self)
{
    return self->gen;
}
