/* broker/core.c — the core's shared machinery: lifetime, flush list, replies, the job
 * lifecycle helpers, peer removal, and the per-turn tick (heartbeats, expiry, dispatch,
 * failing the jobs of functions no worker serves, revocation).
 *
 * Invariants: a job is in exactly one place (its function's queue while QUEUED, its
 * worker's held list while LEASED) and always on its client's list; an outbox is on the
 * flush list iff its `dirty` flag is set; a function on the dispatch list holds a reference.
 */
#include "core.h"
#include "batches.h"

#include <endpoint.h>
#include <xalloc.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A function being watched: it may have queued jobs and no worker serving it. */
typedef struct {
    tmq_fn_t *fn;  /* holds a reference */
    int64_t since; /* when it last lost its workers (or got jobs without any) */
    int said;      /* the reason last logged for its jobs' wait (S_WAIT_*), 0 = none yet */
} s_unserved_t;

#define S_WAIT_NO_WORKER 1 /* no worker at all is connected: they wait for good */
#define S_WAIT_UNSERVED 2  /* workers are connected, none serves it: they fail after a grace */

static void s_push(void ***arr, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *arr = tmq_xrealloc(*arr, *cap * sizeof **arr);
    }
    (*arr)[(*n)++] = p;
}

/* Removes p from an unordered pointer array (the last entry takes its slot); no-op if absent. */
static void s_pull(void **arr, size_t *n, const void *p)
{
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == p) {
            arr[i] = arr[--*n];
            return;
        }
    }
}

static int64_t s_scan_every(const tmq_core_t *self)
{
    int64_t ms = self->cfg.heartbeat_ms / 4;
    return ms > 0 ? ms : 1;
}

/* What names an endpoint in a "wrong port" reason: its port, or the whole endpoint when it is
 * not tcp. */
static void s_port_text(const char *ep, char *out, size_t len)
{
    tmq_endpoint_port(ep, out, len);
    if (!out[0]) snprintf(out, len, "%s", ep);
}

static void s_wrong_port_reasons(tmq_core_t *self, const char *fe, const char *be)
{
    char fp[TMQ_CORE_REASON_MAX / 2 - 64], bp[TMQ_CORE_REASON_MAX / 2 - 64];
    s_port_text(fe ? fe : "tcp://*:5555", fp, sizeof fp);
    s_port_text(be ? be : "tcp://*:5556", bp, sizeof bp);
    snprintf(self->wrong_port[TMQ_SIDE_FRONTEND], sizeof self->wrong_port[0],
             "this is a broker's client port (%s); workers connect to %s", fp, bp);
    snprintf(self->wrong_port[TMQ_SIDE_BACKEND], sizeof self->wrong_port[0],
             "this is a broker's worker port (%s); clients connect to %s", bp, fp);
}

tmq_core_t *tmq_core_new(const tmq_core_config_t *cfg, int64_t now)
{
    tmq_core_t *self = tmq_xcalloc(1, sizeof *self);
    self->cfg = *cfg;
    s_wrong_port_reasons(self, cfg->frontend, cfg->backend);
    self->cfg.frontend = self->cfg.backend = NULL; /* borrowed: not kept */
    if (self->cfg.heartbeat_ms == 0) self->cfg.heartbeat_ms = 1000;
    self->jobs = tmq_jobtab_new();
    self->fns = tmq_fnreg_new();
    self->workers = tmq_bworkers_new(self->fns);
    self->clients = tmq_bclients_new();
    self->unserved = zhashx_new();
    if (!self->unserved) tmq_oom();
    if (self->cfg.max_pending == 0) self->cfg.max_pending = TMQ_OUTBOX_MAX_PENDING;
    tmq_bstats_init(&self->stats, now);
    tmq_batch_init(&self->scratch);
    tmq_session_setup(self);
    tmq_batches_setup(self);
    msgpack_sbuffer_init(&self->listing);
    self->now = now;
    self->next_scan = now + s_scan_every(self);
    return self;
}

static void s_free_transient(tmq_core_t *self, tmq_outbox_t *ob)
{
    tmq_outbox_fini(ob);
    free(ob);
    self->ntransient--;
}

void tmq_core_destroy(tmq_core_t **self_p)
{
    tmq_core_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    for (size_t i = 0; i < self->nflush; i++)
        if (self->flush[i]->transient) s_free_transient(self, self->flush[i]);
    tmq_bworkers_destroy(&self->workers);
    for (size_t i = 0; i < self->ndfns; i++) {
        self->dfns[i]->dirty = false;
        tmq_fnreg_unref(self->fns, &self->dfns[i]);
    }
    for (s_unserved_t *u = zhashx_first(self->unserved); u; u = zhashx_next(self->unserved)) {
        tmq_fnreg_unref(self->fns, &u->fn);
        free(u);
    }
    zhashx_destroy(&self->unserved);
    tmq_session_teardown(self);
    tmq_bclients_destroy(&self->clients);
    tmq_batches_teardown(self);
    msgpack_sbuffer_destroy(&self->listing);
    tmq_jobtab_destroy(&self->jobs);
    tmq_fnreg_destroy(&self->fns);
    tmq_batch_destroy(&self->scratch);
    free(self->flush);
    free(self->gone);
    free(self->dfns);
    free(self->dworkers);
    free(self->ack_unserved);
    free(self);
    *self_p = NULL;
}

/* ---- output ---- */

void tmq_core_mark(tmq_core_t *self, tmq_outbox_t *ob)
{
    if (ob->dirty) return;
    ob->dirty = true;
    s_push((void ***)&self->flush, &self->nflush, &self->flush_cap, ob);
}

void tmq_core_unmark(tmq_core_t *self, tmq_outbox_t *ob)
{
    if (!ob->dirty) return;
    s_pull((void **)self->flush, &self->nflush, ob);
    ob->dirty = false;
}

void tmq_core_send(tmq_core_t *self, tmq_outbox_t *ob, int cmd, void **body_p, size_t len)
{
    tmq_outbox_control(ob, cmd, body_p, len);
    tmq_core_mark(self, ob);
}

void tmq_core_reply(tmq_core_t *self, int side, const void *rid, size_t rid_len, int cmd,
                    void **body_p, size_t len)
{
    tmq_outbox_t *ob = side == TMQ_SIDE_FRONTEND
                           ? (tmq_outbox_t *)tmq_bclients_find(self->clients, rid, rid_len)
                           : (tmq_outbox_t *)tmq_bworkers_find(self->workers, rid, rid_len);
    if (!ob) {
        if (self->ntransient >= TMQ_MAX_TRANSIENT) { /* a flood of strangers: stay quiet */
            free(*body_p);
            *body_p = NULL;
            return;
        }
        ob = tmq_xmalloc(sizeof *ob);
        tmq_outbox_init(ob, side, rid, rid_len, 0, 0);
        ob->transient = true;
        self->ntransient++;
    }
    tmq_core_send(self, ob, cmd, body_p, len);
}

void tmq_core_reply_error(tmq_core_t *self, int side, const void *rid, size_t rid_len, int code,
                          const char *reason)
{
    size_t len;
    void *body = tmq_proto_error_body(code, reason, &len);
    tmq_core_reply(self, side, rid, rid_len, TMQ_CMD_ERROR, &body, len);
}

static const char *s_peer(int side)
{
    return side == TMQ_SIDE_FRONTEND ? "client" : "worker";
}

void tmq_core_bad_input(tmq_core_t *self, int side, const char *what, const char *why)
{
    self->stats.malformed[side == TMQ_SIDE_FRONTEND ? 0 : 1]++;
    tmq_log_limited(TMQ_LOG_WARN, &self->log_rate, 10, "bad %s from a %s: %s", what, s_peer(side),
                    why);
}

void tmq_core_peer_error(tmq_core_t *self, int side, const tmq_msg_t *msg)
{
    if (tmq_log_level < TMQ_LOG_WARN) return; /* nothing to format */
    uint64_t code = 0;
    const char *reason = NULL;
    size_t len = 0;
    (void)tmq_msg_get_uint(msg, "code", &code);
    if (tmq_msg_get_str(msg, "reason", &reason, &len) != 0) len = 0;
    char text[121]; /* the peer's words, cut short and made printable */
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    for (size_t i = 0; i < n; i++)
        text[i] = isprint((unsigned char)reason[i]) ? reason[i] : '?';
    text[n] = '\0';
    tmq_log_limited(TMQ_LOG_WARN, &self->err_rate, 10, "a %s sent ERROR %llu: %s", s_peer(side),
                    (unsigned long long)code, text);
}

bool tmq_core_wrong_side(int side, int cmd)
{
    if (side == TMQ_SIDE_FRONTEND)
        return cmd == TMQ_CMD_READY || cmd == TMQ_CMD_DONE || cmd == TMQ_CMD_RETURNED ||
               cmd == TMQ_CMD_DRAIN;
    return cmd == TMQ_CMD_HELLO || cmd == TMQ_CMD_SUBMIT || cmd == TMQ_CMD_STATUS ||
           cmd == TMQ_CMD_WITHDRAW || cmd == TMQ_CMD_RACK || cmd == TMQ_CMD_ATTACH;
}

void tmq_core_wrong_port(tmq_core_t *self, int side, const void *rid, size_t rid_len, int cmd)
{
    self->stats.malformed[side == TMQ_SIDE_FRONTEND ? 0 : 1]++;
    const char *reason = self->wrong_port[side == TMQ_SIDE_FRONTEND ? 0 : 1];
    tmq_log_limited(TMQ_LOG_WARN, &self->log_rate, 10, "%s on the %s port: told \"%s\"",
                    tmq_cmd_name(cmd), s_peer(side), reason);
    tmq_core_reply_error(self, side, rid, rid_len, TMQ_ERR_WRONG_PORT, reason);
}

void tmq_core_malformed(tmq_core_t *self, int64_t now, int side, const void *rid, size_t rid_len,
                        int cmd, int errcode, const char *why)
{
    self->now = now;
    if (!why) why = "malformed";
    if (rid_len > 0 && tmq_core_wrong_side(side, cmd)) {
        tmq_core_wrong_port(self, side, rid, rid_len, cmd);
        return;
    }
    tmq_core_bad_input(self, side, cmd ? tmq_cmd_name(cmd) : "message", why);
    if (rid_len == 0) return;
    if (side == TMQ_SIDE_FRONTEND && cmd == TMQ_CMD_SUBMIT)
        tmq_core_bad_submit(self, rid, rid_len, why);
    else
        tmq_core_reply_error(self, side, rid, rid_len, errcode, why);
}

/* ---- dispatch bookkeeping ---- */

void tmq_core_fn_dirty(tmq_core_t *self, tmq_fn_t *fn)
{
    if (fn->dirty) return;
    fn->dirty = true;
    tmq_fn_hold(fn);
    s_push((void ***)&self->dfns, &self->ndfns, &self->dfns_cap, fn);
}

void tmq_core_worker_dirty(tmq_core_t *self, tmq_bworker_t *w)
{
    if (w->dirty) return;
    w->dirty = true;
    s_push((void ***)&self->dworkers, &self->ndworkers, &self->dworkers_cap, w);
}

/* ---- job lifecycle ---- */

void tmq_core_lease(tmq_core_t *self, tmq_bjob_t *job, tmq_bworker_t *w, bool is_long)
{
    tmq_jobtab_transition(self->jobs, job, TMQ_JOB_LEASED);
    if (is_long) job->flags |= TMQ_JOB_LONG;
    tmq_bworkers_hold(self->workers, w, job);
    tmq_job_item_t it = {.jid = job->jid,
                         .attempt = job->attempt,
                         .fn = job->fn->name,
                         .fn_len = job->fn->name_len,
                         .arg = tmq_bjob_arg(job),
                         .arg_len = job->arg_len,
                         .timeout_ms = job->timeout_ms,
                         .mem_limit = tmq_bjob_mem_limit(job)}; /* packed only when set */
    if (it.mem_limit && !w->job_options) { /* a worker before 0.3 would drop the whole item */
        it.mem_limit = 0;
        if (!w->told_options)
            tmq_warn("worker %s (taskmq %s) takes no job options: jobs' own memory limits do "
                     "not reach it (upgrade it)",
                     w->name, w->version[0] ? w->version : "0.2 or older");
        w->told_options = true;
    }
    tmq_batch_add_job(tmq_outbox_batch(&w->out, 0), &it);
    tmq_core_mark(self, &w->out);
    tmq_session_started(self, job);
}

void tmq_core_requeue(tmq_core_t *self, tmq_bjob_t *job, bool front)
{
    tmq_bworker_t *w = job->worker;
    tmq_bworkers_release(self->workers, w, job, self->now);
    tmq_core_worker_dirty(self, w);
    tmq_jobtab_transition(self->jobs, job, TMQ_JOB_QUEUED);
    if (front)
        tmq_list_push_front(&job->fn->queue, &job->link);
    else
        tmq_list_push_back(&job->fn->queue, &job->link);
    tmq_core_fn_dirty(self, job->fn);
}

/* Unlinks a terminal job from its client and returns the record to the pool. */
static void s_job_free(tmq_core_t *self, tmq_bjob_t *job)
{
    tmq_list_remove(&job->client->jobs, &job->clink);
    tmq_fnreg_unref(self->fns, &job->fn);
    tmq_jobtab_free(self->jobs, &job);
}

void tmq_core_finish(tmq_core_t *self, tmq_bjob_t *job, int status, const void *data, size_t len,
                     const char *worker, size_t worker_len, double ms)
{
    if (job->worker) {
        tmq_bworker_t *w = job->worker;
        tmq_bworkers_release(self->workers, w, job, self->now);
        tmq_core_worker_dirty(self, w);
    }
    tmq_result_item_t it = {.cid = job->cid,
                            /* a client before 0.3 would drop an OOM item: an ERROR to it */
                            .status =
                                status == TMQ_ST_OOM && !job->client->oom ? TMQ_ST_ERROR : status,
                            .data = data,
                            .data_len = len,
                            .worker = worker,
                            .worker_len = worker_len,
                            .ms = ms,
                            .attempts = job->attempt};
    if (job->client->has_session) {
        it.status = status; /* held raw: told as ERROR to a client without `oom` when sent */
        tmq_session_result(self, job, &it, tmq_bjob_batch(job) != 0);
    } else if (job->client->attached) { /* else a keeper: its batch has the result */
        tmq_batch_add_result(tmq_outbox_batch(&job->client->out, 0), &it);
        tmq_core_mark(self, &job->client->out);
    }
    if (tmq_bjob_batch(job)) {
        it.status = status;
        tmq_batches_ended(self, job, &it, job->client->attached);
    }
    if (status == TMQ_ST_OK)
        job->fn->n.done++;
    else
        job->fn->n.failed++;
    tmq_jobtab_transition(self->jobs, job, status == TMQ_ST_OK ? TMQ_JOB_DONE : TMQ_JOB_FAILED);
    s_job_free(self, job);
}

/* ---- peers leaving ---- */

/* Ends a live job without a result: queued, it leaves its queue; leased, its worker is told
 * to stop it (CANCEL: it kills the job's executor and reports nothing). */
static void s_cancel(tmq_core_t *self, tmq_bjob_t *job)
{
    if (job->state == TMQ_JOB_QUEUED) {
        tmq_list_remove(&job->fn->queue, &job->link);
    } else {
        tmq_bworker_t *w = job->worker;
        tmq_batch_add_ref(tmq_outbox_batch(&w->out, 1), job->jid, job->attempt);
        tmq_core_mark(self, &w->out);
        tmq_bworkers_release(self->workers, w, job, self->now);
        tmq_core_worker_dirty(self, w);
    }
    job->fn->n.cancelled++;
    if (tmq_bjob_batch(job)) tmq_batches_ended(self, job, NULL, false);
    tmq_session_forget(self, job);
    tmq_jobtab_transition(self->jobs, job, TMQ_JOB_CANCELLED);
    s_job_free(self, job);
}

void tmq_core_withdraw(tmq_core_t *self, tmq_bjob_t *job)
{
    static const char why[] = TMQ_CANCELLED_TEXT;
    tmq_result_item_t it = {.cid = job->cid,
                            .status = TMQ_ST_CANCELLED,
                            .data = why,
                            .data_len = sizeof why - 1,
                            .worker = "",
                            /* a queued job handed back unstarted keeps its next attempt */
                            .attempts = job->attempt - (job->state == TMQ_JOB_QUEUED &&
                                                        (job->flags & TMQ_JOB_KEEP_ATTEMPT))};
    if (job->client->has_session) { /* journaled and held until acknowledged, as any result */
        tmq_session_result(self, job, &it, false);
    } else if (job->client->attached) {
        tmq_batch_add_result(tmq_outbox_batch(&job->client->out, 0), &it);
        tmq_core_mark(self, &job->client->out);
    }
    s_cancel(self, job);
}

void tmq_core_drop_client(tmq_core_t *self, tmq_bclient_t **c_p)
{
    tmq_bclient_t *c = *c_p;
    while (c->jobs.head)
        s_cancel(self, TMQ_LIST_ENTRY(c->jobs.head, tmq_bjob_t, clink));
    tmq_batches_left(self, c);
    tmq_session_release(self, c);
    tmq_core_unmark(self, &c->out);
    tmq_bclients_remove(self->clients, c_p);
}

void tmq_core_release_client(tmq_core_t *self, tmq_bclient_t **c_p)
{
    tmq_bclient_t *c = *c_p;
    for (tmq_list_link_t *l = c->jobs.head, *next; l; l = next) {
        next = l->next;
        tmq_bjob_t *job = TMQ_LIST_ENTRY(l, tmq_bjob_t, clink);
        if (!tmq_bjob_batch(job)) s_cancel(self, job);
    }
    if (tmq_list_empty(&c->jobs)) {
        tmq_core_drop_client(self, c_p);
        return;
    }
    /* its batch jobs run on: the record stays, without a connection, until they end */
    tmq_batches_left(self, c);
    tmq_core_unmark(self, &c->out);
    tmq_bclients_detach(self->clients, c);
    c->keeper = true;
    if (!c->parked) {
        c->parked = true;
        tmq_list_push_back(&self->detached, &c->dlink);
    }
    tmq_debug("client gone; its %zu jobs in named batches run on", c->jobs.size);
    *c_p = NULL;
}

void tmq_core_requeue_held(tmq_core_t *self, tmq_bworker_t *w)
{
    /* newest first, each to the front: the queue front ends up in the original order */
    while (w->held.tail) {
        tmq_bjob_t *job = TMQ_LIST_ENTRY(w->held.tail, tmq_bjob_t, link);
        job->fn->n.requeued++;
        tmq_core_requeue(self, job, true);
    }
    tmq_bworkers_answered(self->workers, w); /* nothing held: nothing outstanding */
}

void tmq_core_drop_worker(tmq_core_t *self, tmq_bworker_t **w_p)
{
    tmq_bworker_t *w = *w_p;
    tmq_core_requeue_held(self, w);
    tmq_core_detaching(self, w);
    if (w->dirty) s_pull((void **)self->dworkers, &self->ndworkers, w);
    tmq_core_unmark(self, &w->out);
    tmq_bworkers_remove(self->workers, w_p);
}

/* ---- functions no worker serves ---- */

void tmq_core_unserved(tmq_core_t *self, tmq_fn_t *fn)
{
    s_unserved_t *u = zhashx_lookup(self->unserved, fn->name);
    if (!u) {
        u = tmq_xmalloc(sizeof *u);
        tmq_fn_hold(fn);
        u->fn = fn;
        zhashx_insert(self->unserved, fn->name, u);
    }
    u->since = self->now;
    u->said = 0; /* a new wait: say why again */
}

void tmq_core_detaching(tmq_core_t *self, tmq_bworker_t *w)
{
    for (size_t i = 0; i < w->nfns; i++) {
        tmq_fn_t *fn = w->fns[i];
        /* w is the last worker that serves it or drains from it */
        if (fn->nworkers + fn->ndraining == 1 && !tmq_list_empty(&fn->queue))
            tmq_core_unserved(self, fn);
    }
}

/* Fails every queued job of fn: one REJECTED result to each client, counted as failed. */
static void s_fail_queued(tmq_core_t *self, tmq_fn_t *fn)
{
    char reason[TMQ_PROTO_MAX_FNAME + 32];
    int n = snprintf(reason, sizeof reason, "unknown function: %s", fn->name);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof reason ? (size_t)n : sizeof reason - 1;
    tmq_warn("no connected worker serves %s: %zu queued jobs failed", fn->name, fn->queue.size);
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&fn->queue)) != NULL)
        tmq_core_finish(self, TMQ_LIST_ENTRY(l, tmq_bjob_t, link), TMQ_ST_REJECTED, reason, len, "",
                        0, 0.0);
}

/* Logs, once per function and reason, why its queued jobs wait (debug: what `-v` shows a
 * person whose jobs do not run). */
static void s_say_why(s_unserved_t *u, int why, int64_t left_ms)
{
    if (u->said == why) return;
    u->said = why;
    if (why == S_WAIT_NO_WORKER)
        tmq_debug("jobs for '%s' wait: no worker is connected yet", u->fn->name);
    else
        tmq_debug("jobs for '%s' wait: no connected worker serves it (they fail in %g s unless "
                  "one arrives)",
                  u->fn->name, (double)left_ms / 1000.0);
}

/* Whether the watch on u ends now: fn is served again or has nothing queued, or its grace ran
 * out with some worker connected (its jobs are failed). Grace counts from when fn lost its
 * workers or, later, from when a worker arrived while none was connected; while no worker at
 * all is connected it does not run. */
static bool s_unserved_over(tmq_core_t *self, s_unserved_t *u)
{
    tmq_fn_t *fn = u->fn;
    if (fn->nworkers + fn->ndraining > 0 || tmq_list_empty(&fn->queue)) return true;
    if (tmq_bworkers_serving(self->workers) == 0) {
        s_say_why(u, S_WAIT_NO_WORKER, 0);
        return false;
    }
    int64_t start = u->since > self->workers_since ? u->since : self->workers_since;
    int64_t left = start + (int64_t)TMQ_UNSERVED_GRACE * self->cfg.heartbeat_ms - self->now;
    if (left > 0) {
        s_say_why(u, S_WAIT_UNSERVED, left);
        return false;
    }
    s_fail_queued(self, fn);
    return true;
}

/* Ends the watches that are over (zhashx may not change while it is walked: collect first). */
static void s_unserved_scan(tmq_core_t *self)
{
    if (zhashx_size(self->unserved) == 0) return;
    s_unserved_t **over = NULL;
    size_t n = 0, cap = 0;
    for (s_unserved_t *u = zhashx_first(self->unserved); u; u = zhashx_next(self->unserved))
        if (s_unserved_over(self, u)) s_push((void ***)&over, &n, &cap, u);
    for (size_t i = 0; i < n; i++) {
        zhashx_delete(self->unserved, over[i]->fn->name);
        tmq_fnreg_unref(self->fns, &over[i]->fn);
        free(over[i]);
    }
    free(over);
}

/* ---- timed work ---- */

/* Expires silent peers and heartbeats quiet ones. Walks downwards: removal moves the last
 * entry into the current slot, which has then already been visited. */
static void s_scan(tmq_core_t *self)
{
    int64_t now = self->now, hb = self->cfg.heartbeat_ms;
    for (size_t i = tmq_bclients_size(self->clients); i-- > 0;) {
        tmq_bclient_t *c = tmq_bclients_at(self->clients, i);
        if (now - c->last_seen > TMQ_CLIENT_LIVENESS * hb) {
            tmq_info("client %s expired after %lld ms of silence; %zu jobs %s",
                     tmq_core_peer_id(&c->out).s, (long long)(now - c->last_seen), c->jobs.size,
                     c->has_session && self->cfg.journal ? "kept for its session" : "cancelled");
            tmq_session_lose(self, &c);
        } else if (now - c->out.last_sent >= hb && !tmq_outbox_pending(&c->out)) {
            tmq_outbox_signal(&c->out, TMQ_CMD_HEARTBEAT);
            tmq_core_mark(self, &c->out);
        }
    }
    for (size_t i = tmq_bworkers_size(self->workers); i-- > 0;) {
        tmq_bworker_t *w = tmq_bworkers_at(self->workers, i);
        if (now - w->last_seen > TMQ_WORKER_LIVENESS * hb) {
            tmq_warn("worker %s (pid %u) expired; %zu jobs requeued", w->name, w->pid,
                     w->held.size);
            tmq_core_drop_worker(self, &w);
        } else if (now - w->out.last_sent >= hb && !tmq_outbox_pending(&w->out)) {
            tmq_outbox_signal(&w->out, TMQ_CMD_HEARTBEAT);
            tmq_core_mark(self, &w->out);
        }
    }
    s_unserved_scan(self);
    tmq_session_scan(self);
    tmq_batches_scan(self);
}

int64_t tmq_core_tick(tmq_core_t *self, int64_t now)
{
    self->now = now;
    if (now >= self->next_scan) {
        s_scan(self);
        self->next_scan = now + s_scan_every(self);
    }
    tmq_dispatch_run(self);
    int64_t next = self->next_scan;
    /* revocation: rescanned when a worker became a candidate or started idling, else only
     * when a REVOKE the last scan found could come due (an idle worker ripens, an unanswered
     * REVOKE may be repeated); never while no worker could be asked */
    const tmq_bworkers_t *ws = self->workers;
    if ((tmq_bworkers_candidates(ws) > 0 && tmq_bworkers_idling(ws) > 0) ||
        tmq_bworkers_outstanding(ws) > 0) {
        uint64_t gen = tmq_bworkers_gen(self->workers);
        if (gen != self->revoke_gen || now >= self->next_revoke) {
            self->revoke_gen = gen;
            self->next_revoke = tmq_dispatch_revoke(self);
        }
        if (self->next_revoke < next) next = self->next_revoke;
    }
    uint64_t completed = tmq_jobtab_entered(self->jobs, TMQ_JOB_DONE) +
                         tmq_jobtab_entered(self->jobs, TMQ_JOB_FAILED);
    tmq_bstats_tick(&self->stats, now, completed);
    if (self->stats.next_sample < next) next = self->stats.next_sample;
    int64_t due = tmq_session_due(self, now);
    if (due < next) next = due;
    return next;
}

void tmq_core_flush(tmq_core_t *self, int64_t now, tmq_core_send_fn *send, void *ctx)
{
    self->now = now;
    size_t keep = 0;
    for (size_t i = 0; i < self->nflush; i++) {
        tmq_outbox_t *ob = self->flush[i];
        if (!tmq_session_may_send(self, ob)) { /* an ACK waits for the journal */
            self->flush[keep++] = ob;
            continue;
        }
        int rc = send(ctx, ob);
        if (rc == 0 && ob->nheld) rc = 1; /* sent what may go; an ACK still waits */
        if (rc >= 0) ob->last_sent = now;
        if (ob->transient) {
            s_free_transient(self, ob);
        } else if (rc == 1) {
            self->flush[keep++] = ob; /* would block: try again next turn */
        } else {
            ob->dirty = false;
            if (rc < 0) {
                tmq_outbox_clear(ob);
                s_push((void ***)&self->gone, &self->ngone, &self->gone_cap, ob);
            }
        }
    }
    self->nflush = keep;
    for (size_t i = 0; i < self->ngone; i++) {
        tmq_outbox_t *ob = self->gone[i];
        if (ob->side == TMQ_SIDE_FRONTEND) {
            tmq_bclient_t *c = ob->owner;
            tmq_debug("client %s unreachable; %zu jobs %s", tmq_core_peer_id(&c->out).s,
                      c->jobs.size, c->has_session && self->cfg.journal ? "kept" : "cancelled");
            tmq_session_lose(self, &c);
        } else {
            tmq_bworker_t *w = ob->owner;
            tmq_log(self->closing ? TMQ_LOG_DEBUG : TMQ_LOG_WARN,
                    "worker %s (pid %u) unreachable; %zu jobs requeued", w->name, w->pid,
                    w->held.size);
            tmq_core_drop_worker(self, &w);
        }
    }
    self->ngone = 0;
}

bool tmq_core_pending(const tmq_core_t *self)
{
    return self->nflush > 0 || tmq_core_ready(self);
}

bool tmq_core_ready(const tmq_core_t *self)
{
    return self->ndfns > 0 || self->ndworkers > 0;
}

void tmq_core_shutdown(tmq_core_t *self)
{
    self->closing = true;
    for (size_t i = 0; i < tmq_bworkers_size(self->workers); i++) {
        tmq_bworker_t *w = tmq_bworkers_at(self->workers, i);
        tmq_outbox_clear(&w->out); /* jobs it has not seen yet would only be dropped */
        tmq_outbox_signal(&w->out, TMQ_CMD_BYE);
        tmq_core_mark(self, &w->out);
    }
    /* a client keeps what it is owed (results first), then learns the broker is gone, so it
     * fails its outstanding jobs at once instead of waiting out the heartbeat */
    for (size_t i = 0; i < tmq_bclients_size(self->clients); i++) {
        tmq_bclient_t *c = tmq_bclients_at(self->clients, i);
        tmq_outbox_signal_last(&c->out, TMQ_CMD_BYE);
        tmq_core_mark(self, &c->out);
    }
}

tmq_bclient_t *tmq_core_client(tmq_core_t *self, const void *rid, size_t rid_len)
{
    return tmq_bclients_find(self->clients, rid, rid_len);
}

tmq_bworker_t *tmq_core_worker(tmq_core_t *self, const void *rid, size_t rid_len)
{
    return tmq_bworkers_find(self->workers, rid, rid_len);
}
