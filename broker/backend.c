/* broker/backend.c — what the core does with each worker command.
 *
 * READY (re)registers a worker, with the address its connection comes from and the result
 * counts and version it brings; anything else from an unknown routing id gets RECONNECT, and a
 * client's command here gets ERROR "wrong port".
 * ERROR (a worker refusing something we sent) is logged, never answered or counted.
 * DONE and RETURNED items are fenced by (jid, attempt, holder): a result for another attempt
 * or from a worker that no longer holds the job is counted stale and dropped, so a client
 * sees exactly one result per job. Results go into the client's outbox in the same turn.
 * An executor death is retried up to the job's retries; out of memory is final unless the
 * client asked retry_oom, then it is retried as a death is; ERROR and TIMEOUT are final.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

#define TMQ_CAUSE_MAX 128 /* bytes of a death cause quoted in the error text */

/* Logs a registration: who, from where, what it serves (the list cut short when long). */
static void s_log_ready(const tmq_bworker_t *w, bool again)
{
    if (tmq_log_level < TMQ_LOG_INFO) return;
    char fns[400];
    size_t off = 0;
    fns[0] = '\0';
    for (size_t i = 0; i < w->nfns; i++) {
        int n = snprintf(fns + off, sizeof fns - off, "%s%s", i ? ", " : "", w->fns[i]->name);
        if (n < 0 || (size_t)n >= sizeof fns - off) {
            snprintf(fns + off, sizeof fns - off, " ...");
            break;
        }
        off += (size_t)n;
    }
    tmq_info("worker %s%s%s (pid %u, %u procs, version %s) %s: %zu functions: %s", w->name,
             w->addr[0] ? " at " : "", w->addr, w->pid, w->procs,
             w->version[0] ? w->version : "unknown", again ? "registered again" : "ready", w->nfns,
             w->nfns ? fns : "none");
}

static void s_ready(tmq_core_t *self, tmq_bworker_t *w, const void *rid, size_t rid_len,
                    const char *addr, const tmq_msg_t *msg)
{
    tmq_ready_t r;
    const char *fns[TMQ_READY_MAX_FNS];
    size_t lens[TMQ_READY_MAX_FNS];
    if (tmq_msg_ready(msg, &r, fns, lens, TMQ_READY_MAX_FNS) != 0) {
        tmq_core_bad_input(self, TMQ_SIDE_BACKEND, "READY", "missing or mistyped fields");
        tmq_core_reply_error(self, TMQ_SIDE_BACKEND, rid, rid_len, TMQ_ERR_MALFORMED, "bad READY");
        return;
    }
    size_t nfns = r.nfns < TMQ_READY_MAX_FNS ? r.nfns : TMQ_READY_MAX_FNS;
    bool again = w != NULL;
    if (tmq_bworkers_serving(self->workers) == 0) self->workers_since = self->now; /* the first */
    if (w) { /* re-registration: whatever it held is gone on its side */
        tmq_core_requeue_held(self, w);
        tmq_core_detaching(self, w); /* it may no longer serve some of them */
        tmq_outbox_clear(&w->out);
    } else {
        w = tmq_bworkers_add(self->workers, rid, rid_len, self->now);
    }
    w->last_seen = self->now;
    snprintf(w->addr, sizeof w->addr, "%s", addr ? addr : "");
    tmq_bworkers_setup(self->workers, w, &r, fns, lens, nfns, self->now);
    w->job_options = r.job_options;
    size_t len;
    void *body = tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = self->cfg.heartbeat_ms,
                                                         .max_payload = self->cfg.max_payload},
                                        &len);
    tmq_core_send(self, &w->out, TMQ_CMD_WELCOME, &body, len);
    tmq_core_worker_dirty(self, w);
    s_log_ready(w, again);
}

/* Counts a death (or a retried out-of-memory end) and requeues the job at the front while it
 * has died at most `retries` times; returns false when it is out of retries. */
static bool s_retry(tmq_core_t *self, tmq_bjob_t *job)
{
    if (job->died < UINT16_MAX) job->died++;
    if (job->died > job->retries) return false;
    job->fn->n.retried++;
    tmq_core_requeue(self, job, true);
    return true;
}

/* Out of memory: final with the worker's text ("out of memory (limit 512 MiB)"), unless the
 * client asked retry_oom: then retried exactly as a death, and final OOM once out of retries. */
static void s_oom(tmq_core_t *self, tmq_bjob_t *job, const tmq_done_item_t *d, const char *worker,
                  size_t worker_len)
{
    if ((job->flags & TMQ_JOB_RETRY_OOM) && s_retry(self, job)) return;
    size_t len = d->data_len < TMQ_CAUSE_MAX ? d->data_len : TMQ_CAUSE_MAX; /* as a death's */
    tmq_core_finish(self, job, TMQ_ST_OOM, d->data, len, worker, worker_len, d->ms);
}

/* A death: retried while the job has died at most `retries` times, else failed. */
static void s_died(tmq_core_t *self, tmq_bjob_t *job, const tmq_done_item_t *d, const char *worker,
                   size_t worker_len)
{
    if (s_retry(self, job)) return;
    char text[TMQ_CAUSE_MAX + TMQ_BWORKER_NAME + 64];
    int cause_len = d->data_len < TMQ_CAUSE_MAX ? (int)d->data_len : TMQ_CAUSE_MAX;
    int n;
    if (cause_len > 0) /* the worker's text already names the death ("executor died: SIGSEGV") */
        n = snprintf(text, sizeof text, "%.*s (%u attempt%s, last on %.*s)", cause_len,
                     (const char *)d->data, (unsigned)job->died, job->died == 1 ? "" : "s",
                     (int)worker_len, worker);
    else
        n = snprintf(text, sizeof text, "executor died (%u attempt%s, last on %.*s)",
                     (unsigned)job->died, job->died == 1 ? "" : "s", (int)worker_len, worker);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    tmq_core_finish(self, job, TMQ_ST_DIED, text, len, worker, worker_len, d->ms);
}

/* Writes v in decimal (no NUL); returns its length. Per result, so no printf. */
static size_t s_utoa(char *out, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* The job w holds as (jid, attempt), or NULL (counted stale): another attempt's, another
 * worker's, or one no longer known. */
static tmq_bjob_t *s_fenced(tmq_core_t *self, tmq_bworker_t *w, uint64_t jid, uint32_t attempt)
{
    tmq_bjob_t *job = tmq_jobtab_find(self->jobs, jid);
    if (!job || job->state != TMQ_JOB_LEASED || job->worker != w || job->attempt != attempt) {
        self->stats.stale++;
        return NULL;
    }
    return job;
}

static void s_done_item(tmq_core_t *self, tmq_bworker_t *w, const tmq_done_item_t *d, char *worker,
                        size_t prefix)
{
    tmq_bjob_t *job = s_fenced(self, w, d->jid, d->attempt);
    if (!job) return;
    if (d->status == TMQ_ST_OK && d->data_len <= self->cfg.max_payload)
        w->done++;
    else
        w->failed++; /* an error, a timeout, a death (retried or not), a result too large */
    size_t worker_len = prefix + s_utoa(worker + prefix, d->pid);
    if (d->status == TMQ_ST_DIED) {
        s_died(self, job, d, worker, worker_len);
        return;
    }
    if (d->status == TMQ_ST_OOM) { /* like a death, its run time says nothing of the function */
        s_oom(self, job, d, worker, worker_len);
        return;
    }
    tmq_fn_observe(job->fn, d->ms);
    if (d->data_len > self->cfg.max_payload) {
        char text[96];
        int n = snprintf(text, sizeof text, "result too large: %zu bytes (limit %u)", d->data_len,
                         self->cfg.max_payload);
        tmq_core_finish(self, job, TMQ_ST_ERROR, text, (size_t)n, worker, worker_len, d->ms);
        return;
    }
    tmq_core_finish(self, job, d->status, d->data, d->data_len, worker, worker_len, d->ms);
}

static void s_done(tmq_core_t *self, tmq_bworker_t *w, const tmq_msg_t *msg)
{
    char worker[TMQ_BWORKER_NAME + 16]; /* "name:" then the executor pid per item */
    size_t prefix = strlen(w->name);
    memcpy(worker, w->name, prefix);
    worker[prefix++] = ':';
    size_t n = tmq_msg_count(msg);
    for (size_t i = 0; i < n; i++) {
        tmq_done_item_t d;
        if (tmq_msg_done_item(msg, i, &d) != 0) {
            tmq_core_bad_input(self, TMQ_SIDE_BACKEND, "DONE item", "wrong fields");
            continue;
        }
        s_done_item(self, w, &d, worker, prefix);
    }
}

/* DRAIN: w takes no more jobs; what it holds stays leased to it until its DONE, RETURNED or
 * BYE. Its functions count as served until it leaves (a drained host usually comes back at
 * once: a restart), so their jobs are accepted and wait; the grace for a function nobody
 * serves starts when it leaves (tmq_core_detaching in tmq_core_drop_worker). */
static void s_drain(tmq_core_t *self, tmq_bworker_t *w)
{
    if (w->draining) return;
    tmq_bworkers_drain(self->workers, w);
    tmq_info("worker %s (pid %u) is draining: it takes no more jobs and finishes the %zu it "
             "holds",
             w->name, w->pid, w->held.size);
}

static void s_returned(tmq_core_t *self, tmq_bworker_t *w, const tmq_msg_t *msg)
{
    self->next_revoke = self->now; /* it may be asked again at once should some still idle */
    /* last first, each to the front: the returned jobs keep their order */
    for (size_t i = tmq_msg_count(msg); i-- > 0;) {
        uint64_t jid;
        uint32_t attempt;
        if (tmq_msg_ref_item(msg, i, &jid, &attempt) != 0) {
            tmq_core_bad_input(self, TMQ_SIDE_BACKEND, "RETURNED item", "wrong fields");
            continue;
        }
        tmq_bjob_t *job = s_fenced(self, w, jid, attempt);
        if (!job) continue;
        job->flags |= TMQ_JOB_KEEP_ATTEMPT; /* never started: same attempt next time */
        tmq_core_requeue(self, job, true);
    }
    /* what it kept of the jobs asked has started: it is asked again only about newer ones */
    tmq_bworkers_answered(self->workers, w);
}

void tmq_core_backend(tmq_core_t *self, int64_t now, const void *rid, size_t rid_len,
                      const char *addr, const tmq_msg_t *msg)
{
    self->now = now;
    tmq_bworker_t *w = tmq_bworkers_find(self->workers, rid, rid_len);
    switch (msg->cmd) {
    case TMQ_CMD_READY:
        s_ready(self, w, rid, rid_len, addr, msg);
        return;
    case TMQ_CMD_ERROR:
        if (w) w->last_seen = now;
        tmq_core_peer_error(self, TMQ_SIDE_BACKEND, msg);
        return;
    case TMQ_CMD_DONE:
    case TMQ_CMD_RETURNED:
    case TMQ_CMD_HEARTBEAT:
    case TMQ_CMD_BYE:
    case TMQ_CMD_DRAIN:
        break;
    default:
        if (w) w->last_seen = now;
        if (tmq_core_wrong_side(TMQ_SIDE_BACKEND, msg->cmd)) {
            tmq_core_wrong_port(self, TMQ_SIDE_BACKEND, rid, rid_len, msg->cmd);
            return;
        }
        tmq_core_bad_input(self, TMQ_SIDE_BACKEND, tmq_cmd_name(msg->cmd),
                           "command not allowed on the backend");
        tmq_core_reply_error(self, TMQ_SIDE_BACKEND, rid, rid_len, TMQ_ERR_COMMAND,
                             "command not allowed from a worker");
        return;
    }
    if (!w) { /* we do not know it (expired, or the broker restarted): start over */
        if (msg->cmd != TMQ_CMD_BYE && msg->cmd != TMQ_CMD_DRAIN) { /* both mean it leaves */
            size_t len;
            void *body = tmq_proto_empty_body(&len);
            tmq_core_reply(self, TMQ_SIDE_BACKEND, rid, rid_len, TMQ_CMD_RECONNECT, &body, len);
        }
        return;
    }
    w->last_seen = now;
    if (msg->cmd == TMQ_CMD_DONE) {
        s_done(self, w, msg);
    } else if (msg->cmd == TMQ_CMD_RETURNED) {
        s_returned(self, w, msg);
    } else if (msg->cmd == TMQ_CMD_DRAIN) {
        s_drain(self, w);
    } else if (msg->cmd == TMQ_CMD_BYE) {
        tmq_info("worker %s (pid %u) left; %zu jobs requeued", w->name, w->pid, w->held.size);
        tmq_core_drop_worker(self, &w);
    }
}
