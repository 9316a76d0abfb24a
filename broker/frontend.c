/* broker/frontend.c — what the core does with each client command.
 *
 * HELLO, SUBMIT and STATUS register an unknown routing id as a client; a HEARTBEAT from an
 * unknown one gets ERROR "unknown peer" (it was a client of an earlier broker); BYE removes one.
 * Every SUBMIT gets exactly one ACK, in order. It lists the items it rejected; a bad item whose
 * client id can be read is rejected alone and the rest of its batch is still accepted. A SUBMIT
 * that does not decode, or holds an item whose client id cannot be read, is refused whole: its
 * ACK accepts nothing, rejects nothing and says why (`error`), so no rejection is ever reported
 * under a cid that was not the one rejected. The ACK also names (`unserved`) the functions of
 * accepted jobs that wait because no worker at all is connected. WITHDRAW ends the client's
 * named live jobs, each with one CANCELLED result; cids it does not hold (finished, never
 * accepted, another client's) are ignored: their own outcome is or was on its way. A client
 * owed more than cfg.max_pending bytes (it does not read) gets every new job rejected "queue
 * full" and no STATUS_REPLY until it catches up. A worker's command here gets ERROR "wrong port".
 * ERROR from a client is logged, never answered.
 */
#include "batches.h"
#include "core.h"

#include "journal.h"
#include "zap.h"

#include <idmap.h>
#include <xalloc.h>

#include <stdio.h>
#include <string.h>

static void s_reject(tmq_core_t *self, uint64_t cid, int code, const char *reason)
{
    if (code > 0 && code < TMQ_BSTATS_REJECT_CODES) self->stats.rejected[code]++;
    tmq_reject_item_t r = {
        .cid = cid, .code = code, .reason = reason, .reason_len = strlen(reason)};
    tmq_batch_add_reject(&self->scratch, &r);
}

/* The cid of item i, which s_unreadable_cid found readable. */
static uint64_t s_item_cid(const tmq_msg_t *msg, size_t i)
{
    return msg->items->via.array.ptr[i].via.array.ptr[0].via.u64;
}

/* True when some item's client id cannot be read (not an array, or its first field not a
 * uint); why says which. */
static bool s_unreadable_cid(const tmq_msg_t *msg, char *why, size_t why_len)
{
    size_t n = tmq_msg_count(msg);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *it = &msg->items->via.array.ptr[i];
        if (it->type == MSGPACK_OBJECT_ARRAY && it->via.array.size > 0 &&
            it->via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            continue;
        snprintf(why, why_len,
                 "job %zu has no client id (a job is [cid, fn, arg, timeout_ms, retries], cid a "
                 "uint)",
                 i);
        return true;
    }
    return false;
}

/* One ACK refusing a whole SUBMIT: nothing accepted, nothing rejected, `error` says why. */
static void s_refuse(tmq_core_t *self, tmq_bclient_t *c, const char *why)
{
    tmq_batch_reset(&self->scratch);
    tmq_ack_info_t info = {.accepted = 0, .error = why};
    size_t len;
    void *body = tmq_proto_ack_body(&self->scratch, &info, &len);
    tmq_core_send(self, &c->out, TMQ_CMD_ACK, &body, len);
}

static tmq_bclient_t *s_add_client(tmq_core_t *self, const void *rid, size_t rid_len, int cmd)
{
    tmq_bclient_t *c = tmq_bclients_add(self->clients, rid, rid_len, self->now);
    tmq_debug("client %s connected (%s); %zu clients", tmq_core_peer_id(&c->out).s,
              tmq_cmd_name(cmd), tmq_bclients_size(self->clients));
    return c;
}

void tmq_core_bad_submit(tmq_core_t *self, const void *rid, size_t rid_len, const char *why)
{
    tmq_bclient_t *c = tmq_bclients_find(self->clients, rid, rid_len);
    if (!c) c = s_add_client(self, rid, rid_len, TMQ_CMD_SUBMIT); /* as a good SUBMIT would */
    c->last_seen = self->now;
    s_refuse(self, c, why);
}

/* Remembers fn (once per SUBMIT) as a function whose accepted jobs wait for any worker. */
static void s_note_unserved(tmq_core_t *self, tmq_fn_t *fn)
{
    if (fn->ack_seq == self->submit_seq) return;
    fn->ack_seq = self->submit_seq;
    if (self->nack_unserved == self->ack_unserved_cap) {
        self->ack_unserved_cap = self->ack_unserved_cap ? 2 * self->ack_unserved_cap : 16;
        self->ack_unserved =
            tmq_xrealloc(self->ack_unserved, self->ack_unserved_cap * sizeof *self->ack_unserved);
    }
    self->ack_unserved[self->nack_unserved++] = fn->name;
}

/* Creates the job and queues it; returns its function record. */
static tmq_fn_t *s_accept(tmq_core_t *self, tmq_bclient_t *c, const tmq_submit_item_t *it,
                          tmq_fn_t *fn)
{
    tmq_bjob_t *job = tmq_jobtab_create(self->jobs, it->arg, it->arg_len);
    job->cid = it->cid;
    job->client = c;
    if (fn) {
        tmq_fn_hold(fn);
        job->fn = fn;
    } else {
        job->fn = tmq_fnreg_ref(self->fns, it->fn, it->fn_len);
    }
    job->fn->n.submitted++;
    job->timeout_ms = it->timeout_ms;
    job->retries = tmq_core_retries(self, it->retries);
    tmq_bjob_set_mem_limit(job, it->mem_limit);
    if (it->retry_oom) job->flags |= TMQ_JOB_RETRY_OOM;
    if (self->submit_batch) tmq_bjob_set_batch(job, self->submit_batch->id); /* journaled */
    if (tmq_session_accept(self, c, job) != 0) { /* not written: not accepted */
        job->fn->n.submitted--;
        tmq_fnreg_unref(self->fns, &job->fn);
        tmq_jobtab_free(self->jobs, &job);
        return NULL;
    }
    tmq_jobtab_transition(self->jobs, job, TMQ_JOB_QUEUED);
    if (job->fn->nworkers + job->fn->ndraining == 0 && tmq_list_empty(&job->fn->queue))
        tmq_core_unserved(self, job->fn); /* waits for a worker, within limits */
    if (tmq_bworkers_serving(self->workers) == 0) s_note_unserved(self, job->fn);
    tmq_list_push_back(&job->fn->queue, &job->link);
    tmq_list_push_back(&c->jobs, &job->clink);
    if (self->submit_batch) tmq_batches_join(self, self->submit_batch, job);
    tmq_core_fn_dirty(self, job->fn);
    return job->fn;
}

/* A session's job the journal could not take: rejected code 5 with the journal's reason. */
static void s_reject_journal(tmq_core_t *self, uint64_t cid)
{
    char reason[TMQ_CORE_REASON_MAX];
    snprintf(reason, sizeof reason, "%s", tmq_session_refusal(self));
    s_reject(self, cid, TMQ_REJ_JOURNAL, reason);
}

/* True while c is owed more bytes than it may be (it is not reading what it gets). */
static bool s_owed_too_much(const tmq_core_t *self, const tmq_bclient_t *c)
{
    /* a session's results held until it acknowledges them count too */
    return tmq_outbox_bytes(&c->out) + c->held_bytes > self->cfg.max_pending;
}

/* Checks one item; returns 0 when it was accepted, else adds its rejection. */
static int s_submit_item(tmq_core_t *self, tmq_bclient_t *c, const tmq_msg_t *msg, size_t i,
                         tmq_fn_t **last)
{
    tmq_submit_item_t it;
    if (tmq_session_holds(c, s_item_cid(msg, i))) return 0; /* resubmitted: it is here */
    if (self->submit_batch && s_item_cid(msg, i) == TMQ_IDMAP_NONE) {
        s_reject(self, TMQ_IDMAP_NONE, TMQ_REJ_BAD_JOB,
                 "bad job: a batch's cids are its inputs' indices, and 2^64-1 is none");
        return -1;
    }
    if (tmq_msg_submit_item(msg, i, &it) != 0 || memchr(it.fn, '\0', it.fn_len)) {
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "SUBMIT item", "wrong fields");
        s_reject(self, s_item_cid(msg, i), TMQ_REJ_BAD_JOB,
                 "bad job: not [cid, fn, arg, timeout_ms, retries] (+ an options map: "
                 "mem_limit uint, retry_oom bool) with fn 1..64 bytes");
        return -1;
    }
    if (it.arg_len > self->cfg.max_payload) {
        char reason[80];
        snprintf(reason, sizeof reason, "payload too large: %zu bytes (limit %u)", it.arg_len,
                 self->cfg.max_payload);
        s_reject(self, it.cid, TMQ_REJ_TOO_LARGE, reason);
        return -1;
    }
    if (tmq_proto_check(it.arg, it.arg_len, TMQ_PROTO_MAX_DEPTH) != 0) {
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "SUBMIT item", "argument is not msgpack");
        s_reject(self, it.cid, TMQ_REJ_BAD_JOB,
                 "bad job: the argument is not one msgpack value nested at most 32 deep");
        return -1;
    }
    tmq_fn_t *fn = *last;
    if (!fn || fn->name_len != it.fn_len || memcmp(fn->name, it.fn, it.fn_len) != 0)
        fn = tmq_fnreg_find(self->fns, it.fn, it.fn_len);
    if ((!fn || fn->nworkers + fn->ndraining == 0) && tmq_bworkers_serving(self->workers) > 0) {
        char reason[TMQ_PROTO_MAX_FNAME + 32];
        snprintf(reason, sizeof reason, "unknown function: %.*s", (int)it.fn_len, it.fn);
        s_reject(self, it.cid, TMQ_REJ_UNKNOWN_FUNCTION, reason);
        return -1;
    }
    if (tmq_jobtab_count(self->jobs, TMQ_JOB_QUEUED) >= self->cfg.max_queue ||
        s_owed_too_much(self, c)) {
        s_reject(self, it.cid, TMQ_REJ_QUEUE_FULL, "queue full");
        return -1;
    }
    if (c->has_session && self->cfg.journal && tmq_journal_failed(self->cfg.journal)) {
        s_reject_journal(self, it.cid);
        return -1;
    }
    tmq_fn_t *accepted = s_accept(self, c, &it, fn);
    if (!accepted) {
        s_reject_journal(self, it.cid);
        return -1;
    }
    *last = accepted;
    return 0;
}

static void s_submit(tmq_core_t *self, tmq_bclient_t *c, const tmq_msg_t *msg)
{
    char why[128];
    if (s_unreadable_cid(msg, why, sizeof why)) {
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "SUBMIT", why);
        s_refuse(self, c, why);
        return;
    }
    const char *bname;
    size_t blen;
    int has_batch = tmq_msg_batch_name(msg, &bname, &blen);
    if (has_batch == -2) {
        static const char bad[] = "`batch` is not a batch name (1..128 bytes, no space or control "
                                  "byte)";
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "SUBMIT", bad);
        s_refuse(self, c, bad);
        return;
    }
    size_t n = tmq_msg_count(msg);
    tmq_ack_info_t info = {.accepted = 0};
    (void)tmq_msg_get_uint(msg, "seq", &info.seq); /* echoed (5.7) */
    tmq_fn_t *last = NULL;
    tmq_batch_reset(&self->scratch);
    self->submit_seq++;
    self->nack_unserved = 0;
    self->submit_batch = NULL;
    if (has_batch == 0) {
        uint64_t ttl = 0;
        (void)tmq_msg_get_uint(msg, "batch_ttl_ms", &ttl);
        if (!tmq_batches_find(self, bname, blen) && zhashx_size(self->batches) >= TMQ_BATCHES_MAX) {
            static const char full[] = "too many named batches at this broker (10000): wait for "
                                       "complete ones to be forgotten (batch_ttl_ms)";
            s_refuse(self, c, full);
            return;
        }
        self->submit_batch = tmq_batches_get(self, bname, blen);
        tmq_batches_ttl(self->submit_batch, ttl); /* before its jobs: they are journaled with it */
    }
    for (size_t i = 0; i < n; i++)
        if (s_submit_item(self, c, msg, i, &last) == 0) info.accepted++;
    if (self->submit_batch) {
        tmq_batches_submit(self, self->submit_batch, c, tmq_msg_get_true(msg, "batch_end"));
        self->submit_batch = NULL;
    }
    info.unserved = self->ack_unserved;
    info.nunserved = self->nack_unserved;
    size_t len;
    void *body = tmq_proto_ack_body(&self->scratch, &info, &len);
    /* a session's ACK waits until what it promises is in the journal */
    tmq_outbox_control_held(&c->out, TMQ_CMD_ACK, &body, len,
                            tmq_session_ack_hold(self, c, info.accepted, info.seq != 0));
    tmq_core_mark(self, &c->out);
}

/* Withdraws the client's live jobs named in msg: one pass over its jobs against the set of
 * cids (no per-job index on the submit path for a rare request). */
static void s_withdraw(tmq_core_t *self, tmq_bclient_t *c, const tmq_msg_t *msg)
{
    size_t n = tmq_msg_count(msg), bad = 0;
    bool max_cid = false; /* UINT64_MAX, the one id the map cannot hold */
    tmq_idmap_t cids;
    tmq_idmap_init(&cids);
    for (size_t i = 0; i < n; i++) {
        uint64_t cid;
        if (tmq_msg_cid_item(msg, i, &cid) != 0)
            bad++;
        else if (cid == TMQ_IDMAP_NONE)
            max_cid = true;
        else
            tmq_idmap_put(&cids, cid, NULL);
    }
    if (bad) tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "WITHDRAW item", "not a uint cid");
    size_t found = 0;
    /* until every cid named was found; withdrawing unlinks the job */
    for (tmq_list_link_t *l = c->jobs.head, *next; l && (max_cid || tmq_idmap_count(&cids));
         l = next) {
        next = l->next;
        tmq_bjob_t *job = TMQ_LIST_ENTRY(l, tmq_bjob_t, clink);
        if (job->cid == TMQ_IDMAP_NONE) {
            if (!max_cid) continue;
            max_cid = false;
        } else if (!tmq_idmap_remove(&cids, job->cid, NULL)) {
            continue;
        }
        tmq_core_withdraw(self, job); /* a cid two live jobs share (5.2): the older one */
        found++;
    }
    tmq_debug("client %s withdrew %zu of %zu jobs named", tmq_core_peer_id(&c->out).s, found, n);
    tmq_idmap_destroy(&cids);
}

/* Processes running a job, and jobs workers hold beyond them (prefetched, not started). */
static void s_running(const tmq_core_t *self, uint64_t *running, uint64_t *prefetched)
{
    *running = *prefetched = 0;
    for (size_t i = 0; i < tmq_bworkers_size(self->workers); i++) {
        const tmq_bworker_t *w = tmq_bworkers_at(self->workers, i);
        *running += tmq_bworker_busy(w);
        *prefetched += w->held.size - tmq_bworker_busy(w);
    }
}

static void s_status(tmq_core_t *self, tmq_bclient_t *c)
{
    if (s_owed_too_much(self, c)) {
        tmq_debug("STATUS not answered: the client is owed %zu bytes", tmq_outbox_bytes(&c->out));
        return;
    }
    tmq_bstats_view_t v = {
        .queued = tmq_jobtab_count(self->jobs, TMQ_JOB_QUEUED),
        .done = tmq_jobtab_entered(self->jobs, TMQ_JOB_DONE),
        .failed = tmq_jobtab_entered(self->jobs, TMQ_JOB_FAILED),
        .cancelled = tmq_jobtab_entered(self->jobs, TMQ_JOB_CANCELLED),
        .refused = tmq_zap_refused(self->cfg.zap),
        .insecure = self->cfg.insecure,
        .clients = tmq_bclients_size(self->clients),
        .max_queue = self->cfg.max_queue,
        .heartbeat_ms = self->cfg.heartbeat_ms,
    };
    s_running(self, &v.running, &v.prefetched);
    msgpack_sbuffer_clear(&self->listing);
    msgpack_packer lp;
    msgpack_packer_init(&lp, &self->listing, msgpack_sbuffer_write);
    tmq_batches_pack(self, &lp);
    v.batches = self->listing.data;
    v.batches_len = self->listing.size;
    if (self->cfg.journal) {
        tmq_journal_stats_t js;
        tmq_journal_stats(self->cfg.journal, &js);
        v.journal = true;
        v.journal_live = js.live_jobs;
        v.journal_bytes = js.bytes;
        v.sessions = zhashx_size(self->sessions);
        v.journal_failed = tmq_journal_failed(self->cfg.journal);
    }
    size_t len;
    void *body =
        tmq_bstats_status_body(&self->stats, self->now, &v, self->workers, self->fns, &len);
    tmq_core_send(self, &c->out, TMQ_CMD_STATUS_REPLY, &body, len);
}

void tmq_core_frontend(tmq_core_t *self, int64_t now, const void *rid, size_t rid_len,
                       const tmq_msg_t *msg)
{
    self->now = now;
    tmq_bclient_t *c = tmq_bclients_find(self->clients, rid, rid_len);
    switch (msg->cmd) {
    case TMQ_CMD_HEARTBEAT:
        if (!c) {
            /* a client of an earlier broker process: tell it, so it fails the jobs that
             * broker held instead of waiting for them forever, and says HELLO again */
            tmq_core_reply_error(self, TMQ_SIDE_FRONTEND, rid, rid_len, TMQ_ERR_UNKNOWN_PEER,
                                 "unknown client (the broker restarted?): say HELLO");
            return;
        }
        c->last_seen = now;
        break;
    case TMQ_CMD_HELLO:
    case TMQ_CMD_SUBMIT:
    case TMQ_CMD_STATUS:
        if (self->cfg.journal && msg->cmd != TMQ_CMD_STATUS && (msg->cmd == TMQ_CMD_HELLO || !c)) {
            uint8_t sid[TMQ_PROTO_SESSION_LEN];
            if (tmq_msg_session(msg, sid) == 0 && c && c->has_session &&
                memcmp(c->session, sid, sizeof sid) != 0) {
                tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, tmq_cmd_name(msg->cmd),
                                   "a second session on one connection");
                if (msg->cmd == TMQ_CMD_SUBMIT)
                    s_refuse(self, c, "this connection holds another session");
                else
                    tmq_core_reply_error(self, TMQ_SIDE_FRONTEND, rid, rid_len, TMQ_ERR_MALFORMED,
                                         "this connection holds another session");
                return;
            }
            if (tmq_msg_session(msg, sid) == 0) {
                uint64_t linger = TMQ_PROTO_LINGER_DEFAULT;
                (void)tmq_msg_get_uint(msg, "linger_ms", &linger);
                c = tmq_session_claim(self, rid, rid_len, c, sid,
                                      linger > UINT32_MAX ? UINT32_MAX : (uint32_t)linger);
                if (c->has_session) { /* claimed: WELCOME went with it */
                    c->oom = c->oom || tmq_msg_get_true(msg, "oom");
                    c->last_seen = now;
                    if (msg->cmd == TMQ_CMD_SUBMIT) s_submit(self, c, msg);
                    return;
                }
            }
        }
        if (!c) c = s_add_client(self, rid, rid_len, msg->cmd);
        c->last_seen = now;
        break;
    case TMQ_CMD_RACK:
        if (c) {
            c->last_seen = now;
            tmq_session_rack(self, c, msg);
        }
        return;
    case TMQ_CMD_ATTACH:
        if (!c) c = s_add_client(self, rid, rid_len, msg->cmd);
        c->last_seen = now;
        tmq_batches_attach(self, c, msg);
        return;
    case TMQ_CMD_WITHDRAW:
        if (c) {
            c->last_seen = now;
            s_withdraw(self, c, msg);
        }
        return;
    case TMQ_CMD_BYE:
        if (c) {
            tmq_debug("client %s left (BYE); %zu jobs cancelled", tmq_core_peer_id(&c->out).s,
                      c->jobs.size);
            tmq_core_drop_client(self, &c);
        }
        return;
    case TMQ_CMD_ERROR:
        if (c) c->last_seen = now;
        tmq_core_peer_error(self, TMQ_SIDE_FRONTEND, msg);
        return;
    default:
        if (c) c->last_seen = now;
        if (tmq_core_wrong_side(TMQ_SIDE_FRONTEND, msg->cmd)) {
            tmq_core_wrong_port(self, TMQ_SIDE_FRONTEND, rid, rid_len, msg->cmd);
            return;
        }
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, tmq_cmd_name(msg->cmd),
                           "command not allowed on the frontend");
        tmq_core_reply_error(self, TMQ_SIDE_FRONTEND, rid, rid_len, TMQ_ERR_COMMAND,
                             "command not allowed from a client");
        return;
    }
    if (msg->cmd == TMQ_CMD_HELLO) {
        c->oom = tmq_msg_get_true(msg, "oom");
        size_t len;
        void *body = tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = self->cfg.heartbeat_ms,
                                                             .max_payload = self->cfg.max_payload},
                                            &len);
        tmq_core_send(self, &c->out, TMQ_CMD_WELCOME, &body, len);
    } else if (msg->cmd == TMQ_CMD_SUBMIT) {
        if (tmq_msg_get_true(msg, "oom")) c->oom = true;
        s_submit(self, c, msg);
    } else if (msg->cmd == TMQ_CMD_STATUS) {
        s_status(self, c);
    }
}
