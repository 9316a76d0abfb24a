/* broker/dispatch.c — who gets which queued job: credit, adaptive prefetch, revocation.
 *
 * A worker may hold one job per process plus, for short functions, a prefetch per process
 * (tmq_fn_prefetch: TMQ_PACE_HORIZON_MS of work, at most TMQ_PACE_MAX_BATCH jobs). A long
 * function (timed, no prefetch) gets one job of lookahead per worker daemon, which the daemon
 * hands to whichever of its processes frees first, so no process waits a broker round trip
 * between long jobs; a never-timed function gets none. A function whose queue grew is offered
 * first to idle processes, round robin, then its prefetch credit is shared in proportion; a
 * worker whose credit grew pulls from its functions' queues. When a process has idled for
 * TMQ_REVOKE_AFTER_MS while another worker holds unstarted prefetched jobs of a function it
 * serves, that worker is asked (REVOKE) to hand them back. The revocation scan runs only when
 * some worker's load crossed its process count or when a REVOKE it found pending comes due:
 * an idle worker that serves none of an overfull worker's functions schedules nothing.
 */
#include "core.h"

/* Leases up to n jobs from fn's queue to w; returns how many. */
static uint32_t s_give(tmq_core_t *self, tmq_fn_t *fn, tmq_bworker_t *w, uint32_t n, bool is_long)
{
    uint32_t given = 0;
    while (given < n) {
        tmq_list_link_t *l = tmq_list_pop_front(&fn->queue);
        if (!l) break;
        tmq_core_lease(self, TMQ_LIST_ENTRY(l, tmq_bjob_t, link), w, is_long);
        given++;
    }
    return given;
}

/* One job of lookahead for a long function to a worker whose processes are all busy: it
 * waits in that daemon, not behind any one job, and REVOKE takes it back should another
 * worker's process idle meanwhile. */
static void s_lookahead(tmq_core_t *self, tmq_fn_t *fn, tmq_bworker_t *w, uint32_t pf)
{
    if (pf == 0 && fn->timed && w->held.size == w->procs) s_give(self, fn, w, 1, true);
}

static void s_dispatch_fn(tmq_core_t *self, tmq_fn_t *fn)
{
    size_t nw = fn->nworkers;
    if (nw == 0 || tmq_list_empty(&fn->queue)) return;
    uint32_t pf = tmq_fn_prefetch(fn);
    size_t start = fn->rr++ % nw;
    for (size_t k = 0; k < nw && !tmq_list_empty(&fn->queue); k++) {
        tmq_bworker_t *w = fn->workers[(start + k) % nw];
        uint32_t idle = tmq_bworker_credit(w, 0);
        if (idle) s_give(self, fn, w, idle, pf == 0);
    }
    for (size_t k = 0; k < nw && !tmq_list_empty(&fn->queue); k++)
        s_lookahead(self, fn, fn->workers[(start + k) % nw], pf);
    if (pf == 0 || tmq_list_empty(&fn->queue)) return;
    uint64_t total = 0;
    for (size_t k = 0; k < nw; k++)
        total += tmq_bworker_credit(fn->workers[k], pf);
    if (total == 0) return;
    uint64_t queued = fn->queue.size;
    for (size_t k = 0; k < nw && !tmq_list_empty(&fn->queue); k++) {
        tmq_bworker_t *w = fn->workers[(start + k) % nw];
        uint64_t credit = tmq_bworker_credit(w, pf);
        uint64_t share = total <= queued ? credit : (queued * credit + total - 1) / total;
        if (share) s_give(self, fn, w, (uint32_t)share, false);
    }
}

static void s_dispatch_worker(tmq_core_t *self, tmq_bworker_t *w)
{
    size_t nf = w->nfns;
    if (nf == 0 || w->draining) return; /* a draining one keeps its list, takes nothing */
    size_t start = w->fn_rr++ % nf;
    for (size_t k = 0; k < nf; k++) {
        tmq_fn_t *fn = w->fns[(start + k) % nf];
        if (tmq_list_empty(&fn->queue)) continue;
        uint32_t pf = tmq_fn_prefetch(fn);
        uint32_t credit = tmq_bworker_credit(w, pf);
        if (credit) s_give(self, fn, w, credit, pf == 0);
        if (!tmq_list_empty(&fn->queue)) s_lookahead(self, fn, w, pf);
    }
}

void tmq_dispatch_run(tmq_core_t *self)
{
    for (size_t i = 0; i < self->ndfns; i++) {
        tmq_fn_t *fn = self->dfns[i];
        fn->dirty = false;
        s_dispatch_fn(self, fn);
        tmq_fnreg_unref(self->fns, &fn);
    }
    self->ndfns = 0;
    for (size_t i = 0; i < self->ndworkers; i++) {
        tmq_bworker_t *w = self->dworkers[i];
        w->dirty = false;
        s_dispatch_worker(self, w);
    }
    self->ndworkers = 0;
}

/* When w may be asked for its unstarted jobs: the earliest time another worker serving one
 * of its functions will have idled TMQ_REVOKE_AFTER_MS (not before an unanswered REVOKE may
 * be repeated), or INT64_MAX when none of them idles. */
static int64_t s_revoke_due(const tmq_bworker_t *w)
{
    int64_t due = INT64_MAX;
    for (size_t f = 0; f < w->nfns; f++) {
        const tmq_fn_t *fn = w->fns[f];
        for (size_t k = 0; k < fn->nworkers; k++) {
            const tmq_bworker_t *v = fn->workers[k];
            if (v != w && v->held.size < v->procs && v->idle_since + TMQ_REVOKE_AFTER_MS < due)
                due = v->idle_since + TMQ_REVOKE_AFTER_MS;
        }
    }
    if (due != INT64_MAX && w->revoke_at && w->revoke_at + TMQ_REVOKE_RETRY_MS > due)
        due = w->revoke_at + TMQ_REVOKE_RETRY_MS;
    return due;
}

int64_t tmq_dispatch_revoke(tmq_core_t *self)
{
    int64_t next = INT64_MAX;
    size_t n = tmq_bworkers_size(self->workers);
    for (size_t i = 0; i < n; i++) {
        tmq_bworker_t *w = tmq_bworkers_at(self->workers, i);
        if (w->held.size <= w->procs) continue;
        int64_t due = s_revoke_due(w);
        if (due > self->now) {
            if (due < next) next = due;
            continue;
        }
        size_t len;
        void *body = tmq_proto_revoke_body((uint32_t)(w->held.size - w->procs), &len);
        tmq_core_send(self, &w->out, TMQ_CMD_REVOKE, &body, len);
        w->revoke_at = self->now;
        if (self->now + TMQ_REVOKE_RETRY_MS < next) next = self->now + TMQ_REVOKE_RETRY_MS;
        tmq_debug("REVOKE %zu jobs from worker %s", w->held.size - w->procs, w->name);
    }
    return next;
}
