/* broker/dispatch.c — who gets which queued job: credit, adaptive prefetch, revocation.
 *
 * A worker may hold one job per process plus, for short functions, a prefetch per process
 * (tmq_fn_prefetch: TMQ_PACE_HORIZON_MS of work, at most TMQ_PACE_MAX_BATCH jobs). A long
 * function (timed, no prefetch) gets one job of lookahead per worker daemon, which the daemon
 * hands to whichever of its processes frees first, so no process waits a broker round trip
 * between long jobs; a never-timed function gets none. A function whose queue grew is offered
 * first to idle processes, the longest idle first, then its prefetch credit is shared in
 * proportion, round robin; a worker whose credit grew pulls from its functions' queues. When a
 * process has idled for TMQ_REVOKE_AFTER_MS while another worker holds unstarted prefetched
 * jobs of a function it serves, that worker is asked (REVOKE) to hand them back: holders are
 * asked, oldest candidate first, until the jobs asked cover one job per such idle process, so
 * one idle process among a thousand busy 1-process workers brings one REVOKE, not a thousand
 * (the jobs handed back would only be shared out to the same workers again); an empty answer
 * brings the next holder's turn. A worker that answered keeps the jobs it did not return:
 * they have started, so it is asked again only about jobs leased to it since (else every
 * round trip would bring it another REVOKE and empty RETURNED while a process idles). The
 * registry keeps per function its idle workers, oldest first, and the workers that could be
 * asked, so dispatch and a revocation check cost the jobs given, the functions and the
 * REVOKEs sent, never a walk of every worker; the check runs only when a worker became a
 * candidate or started idling, or when a REVOKE it found pending comes due: an idle worker
 * that serves none of an overfull worker's functions schedules nothing.
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
    /* its idle workers are exactly those with credit without prefetch; a worker given all of
     * that leaves the list, the others stay where they are */
    for (tmq_list_link_t *l = fn->idle.head, *next; l && !tmq_list_empty(&fn->queue); l = next) {
        next = l->next;
        tmq_bworker_t *w = TMQ_LIST_ENTRY(l, tmq_bserve_t, ilink)->w;
        s_give(self, fn, w, tmq_bworker_credit(w, 0), pf == 0);
    }
    if (tmq_list_empty(&fn->queue)) return;
    if (pf == 0 && fn->timed)
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

/* Asks w, for fn's idle workers, for the jobs it may hold unstarted; returns how many. */
static uint32_t s_revoke(tmq_core_t *self, tmq_bworker_t *w, tmq_fn_t *fn)
{
    uint32_t n = tmq_bworker_revocable(w);
    size_t len;
    void *body = tmq_proto_revoke_body(n, &len);
    tmq_core_send(self, &w->out, TMQ_CMD_REVOKE, &body, len);
    tmq_debug("REVOKE %u jobs from worker %s", n, w->name);
    tmq_bworkers_revoked(self->workers, w, self->now, fn, n); /* off the candidate lists */
    return n;
}

/* Asks fn's candidates, oldest first, until the jobs asked (counting REVOKEs still
 * outstanding) cover one job for each idle process of fn's workers idle for
 * TMQ_REVOKE_AFTER_MS: enough that none of them idles, never every busy worker for one idle
 * process. Visits only the idle workers it counts. Returns when the next idle worker not
 * counted ripens (INT64_MAX: none). */
static int64_t s_revoke_fn(tmq_core_t *self, tmq_fn_t *fn)
{
    uint64_t need = 0, asked = fn->revoking;
    tmq_list_link_t *l = fn->idle.head; /* the first idle worker not counted */
    while (fn->cands.head) {
        for (; l && need <= asked; l = l->next) {
            const tmq_bworker_t *v = TMQ_LIST_ENTRY(l, tmq_bserve_t, ilink)->w;
            if (v->idle_since + TMQ_REVOKE_AFTER_MS > self->now) break; /* nor any after it */
            need += v->procs - v->held.size;
        }
        if (need <= asked) break;
        asked += s_revoke(self, TMQ_LIST_ENTRY(fn->cands.head, tmq_bserve_t, clink)->w, fn);
    }
    if (!l) return INT64_MAX;
    /* one not counted yet idle long enough waits for an answer (RETURNED rescans at once) */
    int64_t due = TMQ_LIST_ENTRY(l, tmq_bserve_t, ilink)->w->idle_since + TMQ_REVOKE_AFTER_MS;
    return due > self->now ? due : INT64_MAX;
}

int64_t tmq_dispatch_revoke(tmq_core_t *self)
{
    int64_t next = tmq_bworkers_retry(self->workers, self->now, TMQ_REVOKE_RETRY_MS);
    if (tmq_bworkers_candidates(self->workers) == 0 || tmq_bworkers_idling(self->workers) == 0)
        return next;
    for (tmq_fn_t *fn = tmq_fnreg_first(self->fns); fn; fn = tmq_fnreg_next(self->fns)) {
        if (tmq_list_empty(&fn->cands) || tmq_list_empty(&fn->idle)) continue;
        int64_t due = s_revoke_fn(self, fn);
        if (due < next) next = due;
    }
    return next;
}
