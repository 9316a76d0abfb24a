/* broker/session.c — client sessions at a journaled broker (PROTOCOL.md 5.7).
 *
 * A session is a client record that outlives its connection: its jobs are journaled
 * (journal.h) before they are acknowledged, its results are kept until the client's RACK
 * covers them, and a new connection (after a broker restart, or a client reconnect) claims it
 * by its 16-byte id and gets every result not yet acknowledged again. Without cfg.journal
 * nothing here runs and clients are connections, as in 5.1-5.6.
 *
 * Journal records: ACCEPT [session, cid, fn, arg, timeout_ms, retries, mem_limit, flags,
 * linger_ms, oom], START (the attempt), RESULT [status, data, worker, ms, attempts] and FORGET
 * when the client acknowledged the result (a CANCELLED one too) or the job was cancelled
 * unwithdrawn (BYE, linger). An ACK that accepts jobs waits in its outbox until the client's
 * latest append is durable — hold_seq, kept while the session is detached, so a resubmission's
 * ACK waits for the same records — and no job is acknowledged before its record (results need
 * not wait: a result whose RESULT record is lost in a crash is produced again, and the client
 * drops the repeat). A named batch's result record is held by the batch and the session both
 * (self->jrefs counts them): whichever lets go last forgets it.
 *
 * A session's cid map holds its live jobs (tmq_bjob_t *) and its held results (tmq_held_t *
 * with the low bit set), so a resubmitted SUBMIT item is recognised whatever became of the job.
 */
#include "batches.h"
#include "core.h"
#include "journal.h"
#include "kept.h"

#include <xalloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One result kept for a session until acknowledged. */
typedef struct {
    tmq_list_link_t link; /* the client's held list */
    uint64_t ordinal;     /* its place in the connection's RESULTS items (tmq_bclient_t.sent) */
    tmq_kept_t k;         /* k.jid: 0 when the journal holds nothing of it (or its batch does) */
    char bytes[];
} s_held_t;

#define S_HELD_TAG ((uintptr_t)1)

static void *s_tag(s_held_t *h)
{
    return (void *)((uintptr_t)h | S_HELD_TAG);
}

static void s_key(char key[2 * TMQ_PROTO_SESSION_LEN + 1], const uint8_t *sid)
{
    tmq_ridmap_hex(key, 2 * TMQ_PROTO_SESSION_LEN + 1, sid, TMQ_PROTO_SESSION_LEN);
}

static bool s_on(const tmq_core_t *self)
{
    return self->cfg.journal != NULL;
}

void tmq_session_setup(tmq_core_t *self)
{
    tmq_idmap_init(&self->jrefs);
    self->sessions = zhashx_new();
    if (!self->sessions) tmq_oom();
    tmq_list_init(&self->detached);
    msgpack_sbuffer_init(&self->jbuf);
}

static void s_free_held(tmq_bclient_t *c)
{
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&c->held)) != NULL)
        free(TMQ_LIST_ENTRY(l, s_held_t, link));
}

void tmq_session_teardown(tmq_core_t *self)
{
    /* the attached ones are freed with the registry: their held results here */
    for (size_t i = 0; i < tmq_bclients_size(self->clients); i++)
        s_free_held(tmq_bclients_at(self->clients, i));
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&self->detached)) != NULL) {
        tmq_bclient_t *c = TMQ_LIST_ENTRY(l, tmq_bclient_t, dlink);
        tmq_list_init(&c->jobs); /* freed with the jobs table */
        s_free_held(c);
        tmq_bclients_remove(self->clients, &c);
    }
    zhashx_destroy(&self->sessions);
    msgpack_sbuffer_destroy(&self->jbuf);
    tmq_idmap_destroy(&self->jrefs);
    free(self->deferred);
}

/* ---- output ---- */

/* Queues h to c's RESULTS batch as the connection's next item. */
static void s_queue_held(tmq_core_t *self, tmq_bclient_t *c, s_held_t *h)
{
    h->ordinal = c->sent++;
    if (!c->attached) return; /* sent when a connection claims the session */
    tmq_result_item_t it = tmq_kept_item(&h->k, h->bytes, c->oom);
    tmq_batch_add_result(tmq_outbox_batch(&c->out, 0), &it);
    tmq_core_mark(self, &c->out);
}

static void s_hold_for(tmq_bclient_t *c, uint64_t seq)
{
    if (seq > c->out.hold_seq) c->out.hold_seq = seq;
}

bool tmq_session_may_send(const tmq_core_t *self, tmq_outbox_t *ob)
{
    if (!s_on(self) || !ob->nheld) return true;
    ob->open_to = tmq_journal_durable_seq(self->cfg.journal);
    return tmq_outbox_pending(ob);
}

uint64_t tmq_session_ack_hold(const tmq_core_t *self, const tmq_bclient_t *c, uint64_t accepted,
                              bool numbered)
{
    /* an ACK without seq is matched by order: it waits as long as the ones before it */
    return s_on(self) && c->has_session && (accepted || !numbered) ? c->out.hold_seq : 0;
}

/* ---- claiming ---- */

static uint64_t s_resumed(const tmq_bclient_t *c)
{
    return c->jobs.size + c->held.size;
}

/* A connection now holds c: WELCOME, then every held result again, counted from 0. */
static void s_welcome(tmq_core_t *self, tmq_bclient_t *c)
{
    tmq_outbox_clear(&c->out); /* what the last connection was owed goes again below */
    tmq_welcome_t w = {.heartbeat_ms = self->cfg.heartbeat_ms,
                       .max_payload = self->cfg.max_payload,
                       .journal = true,
                       .has_resumed = true,
                       .resumed = s_resumed(c),
                       .epoch = ++c->epoch};
    size_t len;
    void *body = tmq_proto_welcome_body(&w, &len);
    tmq_core_send(self, &c->out, TMQ_CMD_WELCOME, &body, len);
    c->sent = 0;
    for (tmq_list_link_t *l = c->held.head; l; l = l->next)
        s_queue_held(self, c, TMQ_LIST_ENTRY(l, s_held_t, link));
    tmq_batches_rewind(self, c); /* an attachment's stream starts again too */
}

static tmq_bclient_t *s_find(tmq_core_t *self, const uint8_t *sid)
{
    char key[2 * TMQ_PROTO_SESSION_LEN + 1];
    s_key(key, sid);
    return zhashx_lookup(self->sessions, key);
}

static void s_register(tmq_core_t *self, tmq_bclient_t *c, const uint8_t *sid, uint32_t linger)
{
    char key[2 * TMQ_PROTO_SESSION_LEN + 1];
    c->has_session = true;
    memcpy(c->session, sid, TMQ_PROTO_SESSION_LEN);
    c->linger_ms = linger;
    s_key(key, sid);
    zhashx_insert(self->sessions, key, c);
}

static uint32_t s_linger(uint32_t ms)
{
    return ms > TMQ_PROTO_LINGER_MAX ? TMQ_PROTO_LINGER_MAX : ms;
}

tmq_bclient_t *tmq_session_claim(tmq_core_t *self, const void *rid, size_t rid_len,
                                 tmq_bclient_t *c, const uint8_t *sid, uint32_t linger_ms)
{
    if (!s_on(self)) return c;
    linger_ms = s_linger(linger_ms);
    tmq_bclient_t *s = s_find(self, sid);
    if (c && c == s) { /* a HELLO again on the connection that holds it */
        c->linger_ms = linger_ms;
        s_welcome(self, c);
        return c;
    }
    if (c) {
        if (c->has_session || !tmq_list_empty(&c->jobs))
            return c; /* another session, or jobs of its own: it stays what it is */
        tmq_core_drop_client(self, &c); /* a bare record (STATUS first): the session takes over */
    }
    if (s) {
        if (s->attached) {
            tmq_debug("client session moved from %s to a new connection",
                      tmq_core_peer_id(&s->out).s);
            tmq_bclients_detach(self->clients, s);
        } else {
            tmq_list_remove(&self->detached, &s->dlink);
            s->parked = false;
            s->keeper = false;
        }
        tmq_bclients_attach(self->clients, s, rid, rid_len);
        s->linger_ms = linger_ms;
        s->last_seen = self->now;
        tmq_info("client session claimed: %zu jobs and %zu results waiting", s->jobs.size,
                 s->held.size);
    } else {
        s = tmq_bclients_add(self->clients, rid, rid_len, self->now);
        s_register(self, s, sid, linger_ms);
    }
    s_welcome(self, s);
    return s;
}

void tmq_session_lose(tmq_core_t *self, tmq_bclient_t **c_p)
{
    tmq_bclient_t *c = *c_p;
    if (!s_on(self) || !c->has_session) {
        tmq_core_release_client(self, c_p);
        return;
    }
    if (tmq_list_empty(&c->jobs) && tmq_list_empty(&c->held)) {
        tmq_core_drop_client(self, c_p); /* nothing to keep: its next HELLO makes it again */
        return;
    }
    tmq_batches_left(self, c); /* no connection submits for it now */
    tmq_core_unmark(self, &c->out);
    tmq_bclients_detach(self->clients, c);
    c->detached_at = self->now;
    /* hold_seq stays: an ACK of a resubmission waits for the same records */
    c->parked = true;
    tmq_list_push_back(&self->detached, &c->dlink);
    tmq_debug("client session detached: %zu jobs and %zu results kept for %u ms", c->jobs.size,
              c->held.size, c->linger_ms);
    *c_p = NULL;
}

void tmq_session_scan(tmq_core_t *self)
{
    for (tmq_list_link_t *l = self->detached.head, *next; l; l = next) {
        next = l->next;
        tmq_bclient_t *c = TMQ_LIST_ENTRY(l, tmq_bclient_t, dlink);
        if (c->keeper) { /* kept for its batch jobs: until they end */
            if (tmq_list_empty(&c->jobs)) tmq_core_drop_client(self, &c);
            continue;
        }
        if (self->now - c->detached_at < (int64_t)c->linger_ms) continue;
        tmq_info("client session unclaimed for %u ms: %zu jobs cancelled (but those in named "
                 "batches), %zu results dropped",
                 c->linger_ms, c->jobs.size, c->held.size);
        tmq_session_drop_held(self, c);
        tmq_core_release_client(self, &c);
    }
}

bool tmq_session_holds(const tmq_bclient_t *c, uint64_t cid)
{
    return c->has_session && cid != TMQ_IDMAP_NONE && tmq_idmap_has(&c->cids, cid);
}

/* ---- journal records ---- */

static msgpack_packer s_packer(tmq_core_t *self)
{
    msgpack_sbuffer_clear(&self->jbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->jbuf, msgpack_sbuffer_write);
    return pk;
}

const char *tmq_session_refusal(const tmq_core_t *self)
{
    const char *why = tmq_journal_failed(self->cfg.journal);
    return why ? why : tmq_journal_last_error(self->cfg.journal);
}

int tmq_session_accept(tmq_core_t *self, tmq_bclient_t *c, tmq_bjob_t *job)
{
    if (!s_on(self) || !c->has_session) return 0;
    msgpack_packer pk = s_packer(self);
    const tmq_bbatch_t *b = tmq_batches_by_id(self, tmq_bjob_batch(job));
    msgpack_pack_array(&pk, b ? 12 : 10);
    msgpack_pack_bin(&pk, TMQ_PROTO_SESSION_LEN);
    msgpack_pack_bin_body(&pk, c->session, TMQ_PROTO_SESSION_LEN);
    msgpack_pack_uint64(&pk, job->cid);
    msgpack_pack_str(&pk, job->fn->name_len);
    msgpack_pack_str_body(&pk, job->fn->name, job->fn->name_len);
    msgpack_pack_bin(&pk, job->arg_len);
    msgpack_pack_bin_body(&pk, tmq_bjob_arg(job), job->arg_len);
    msgpack_pack_uint32(&pk, job->timeout_ms);
    msgpack_pack_int32(&pk, job->retries);
    msgpack_pack_uint64(&pk, tmq_bjob_mem_limit(job));
    msgpack_pack_uint8(&pk, job->flags & TMQ_JOB_RETRY_OOM);
    msgpack_pack_uint32(&pk, c->linger_ms);
    if (c->oom)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    if (b) {
        msgpack_pack_str_with_body(&pk, b->name, b->name_len);
        msgpack_pack_uint32(&pk, b->ttl_ms);
    }
    uint64_t seq;
    if (tmq_journal_accept(self->cfg.journal, job->jid, self->jbuf.data, self->jbuf.size, &seq))
        return -1;
    s_hold_for(c, seq);
    if (job->cid != TMQ_IDMAP_NONE) tmq_idmap_put(&c->cids, job->cid, job);
    return 0;
}

uint64_t tmq_session_batch_end(tmq_core_t *self, tmq_bclient_t *c, const tmq_bbatch_t *b)
{
    if (!s_on(self) || !c->has_session) return 0;
    uint64_t jid = tmq_jobtab_take_id(self->jobs);
    msgpack_packer pk = s_packer(self);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_str_with_body(&pk, "batch_end", 9);
    msgpack_pack_str_with_body(&pk, b->name, b->name_len);
    msgpack_pack_uint32(&pk, b->ttl_ms);
    uint64_t seq;
    if (tmq_journal_accept(self->cfg.journal, jid, self->jbuf.data, self->jbuf.size, &seq) != 0)
        return 0; /* a restart then completes it once its jobs end: its submitter is gone */
    s_hold_for(c, seq);
    return jid;
}

void tmq_session_forget_id(tmq_core_t *self, uint64_t jid)
{
    if (!s_on(self) || !jid) return;
    void *v;
    if (tmq_idmap_remove(&self->jrefs, jid, &v) && (uintptr_t)v > 1) {
        tmq_idmap_put(&self->jrefs, jid, (void *)((uintptr_t)v - 1)); /* another still holds it */
        return;
    }
    if (self->replaying) { /* no append before the replay ends: after it */
        if (self->ndeferred == self->deferred_cap) {
            self->deferred_cap = self->deferred_cap ? 2 * self->deferred_cap : 16;
            self->deferred =
                tmq_xrealloc(self->deferred, self->deferred_cap * sizeof *self->deferred);
        }
        self->deferred[self->ndeferred++] = jid;
        return;
    }
    tmq_journal_forget(self->cfg.journal, jid, NULL);
}

void tmq_session_started(tmq_core_t *self, tmq_bjob_t *job)
{
    if (!s_on(self) || !job->client->has_session) return;
    /* a START lost (journal failed) only lowers the attempt count a replay reports */
    (void)tmq_journal_start(self->cfg.journal, job->jid, job->attempt, NULL);
}

static s_held_t *s_held_new(uint64_t jid, const tmq_result_item_t *it)
{
    s_held_t *h = tmq_xmalloc(sizeof *h + tmq_kept_bytes(it)); /* held_bytes: s_keep */
    h->ordinal = 0;
    tmq_kept_set(&h->k, h->bytes, jid, it);
    return h;
}

/* Keeps h for c: in its cid map and its held list, queued as the connection's next item. */
static void s_keep(tmq_core_t *self, tmq_bclient_t *c, s_held_t *h)
{
    c->held_bytes += sizeof *h + h->k.data_len + h->k.worker_len;
    if (h->k.cid != TMQ_IDMAP_NONE) tmq_idmap_put(&c->cids, h->k.cid, s_tag(h));
    tmq_list_push_back(&c->held, &h->link);
    s_queue_held(self, c, h);
}

void tmq_session_result(tmq_core_t *self, tmq_bjob_t *job, const tmq_result_item_t *it,
                        bool batch_keeps)
{
    tmq_bclient_t *c = job->client;
    if (s_on(self)) {
        msgpack_packer pk = s_packer(self);
        msgpack_pack_array(&pk, 5);
        msgpack_pack_uint8(&pk, (uint8_t)it->status);
        msgpack_pack_bin(&pk, it->data_len);
        msgpack_pack_bin_body(&pk, it->data, it->data_len);
        msgpack_pack_str(&pk, it->worker_len);
        msgpack_pack_str_body(&pk, it->worker, it->worker_len);
        msgpack_pack_double(&pk, it->ms);
        msgpack_pack_uint32(&pk, it->attempts);
        uint64_t seq;
        if (tmq_journal_result(self->cfg.journal, job->jid, self->jbuf.data, self->jbuf.size,
                               &seq) == 0)
            s_hold_for(c, seq);
        /* else: the journal keeps the job without its result; a replay runs it again and the
           client drops the repeat (it has the cid already) */
    }
    if (c->keeper) return; /* nobody will claim it: the batch keeps the result */
    /* the record goes once the client acknowledged the result and, for a batch's, once the
       batch is forgotten too: whichever lets go last forgets it (tmq_session_forget_id) */
    uint64_t jid = s_on(self) ? job->jid : 0;
    if (jid && batch_keeps) tmq_idmap_put(&self->jrefs, jid, (void *)(uintptr_t)2);
    s_keep(self, c, s_held_new(jid, it));
}

void tmq_session_forget(tmq_core_t *self, tmq_bjob_t *job)
{
    tmq_bclient_t *c = job->client;
    if (!s_on(self) || !c->has_session) return;
    if (job->cid != TMQ_IDMAP_NONE && tmq_idmap_get(&c->cids, job->cid) != job)
        return; /* withdrawn: its CANCELLED result holds the record until acknowledged */
    tmq_session_forget_id(self, job->jid);
    if (job->cid != TMQ_IDMAP_NONE) tmq_idmap_remove(&c->cids, job->cid, NULL);
}

/* The client has h: the journal forgets its job, the record goes. */
static void s_done_with(tmq_core_t *self, tmq_bclient_t *c, s_held_t *h)
{
    c->held_bytes -= sizeof *h + h->k.data_len + h->k.worker_len;
    tmq_session_forget_id(self, h->k.jid);
    if (h->k.cid != TMQ_IDMAP_NONE && tmq_idmap_get(&c->cids, h->k.cid) == s_tag(h))
        tmq_idmap_remove(&c->cids, h->k.cid, NULL);
    free(h);
}

void tmq_session_drop_held(tmq_core_t *self, tmq_bclient_t *c)
{
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&c->held)) != NULL)
        s_done_with(self, c, TMQ_LIST_ENTRY(l, s_held_t, link));
}

void tmq_session_release(tmq_core_t *self, tmq_bclient_t *c)
{
    if (c->parked) {
        tmq_list_remove(&self->detached, &c->dlink);
        c->parked = false;
    }
    if (!c->has_session) return;
    tmq_session_drop_held(self, c);
    char key[2 * TMQ_PROTO_SESSION_LEN + 1];
    s_key(key, c->session);
    if (zhashx_lookup(self->sessions, key) == c) zhashx_delete(self->sessions, key);
}

void tmq_session_rack(tmq_core_t *self, tmq_bclient_t *c, const tmq_msg_t *msg)
{
    uint64_t n;
    if (tmq_msg_get_uint(msg, "received", &n) != 0) {
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "RACK", "no uint `received`");
        return;
    }
    if (!c->has_session) return;
    uint64_t epoch;
    if (tmq_msg_get_uint(msg, "epoch", &epoch) == 0 && epoch != c->epoch)
        return; /* counted from an earlier WELCOME: it says nothing of this count */
    if (n > c->sent) {
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "RACK", "more received than were sent");
        n = c->sent;
    }
    while (c->held.head) {
        s_held_t *h = TMQ_LIST_ENTRY(c->held.head, s_held_t, link);
        if (h->ordinal >= n) break;
        tmq_list_pop_front(&c->held);
        s_done_with(self, c, h);
    }
}

/* ---- the journal's turn ---- */

void tmq_session_commit(tmq_core_t *self, int64_t now)
{
    tmq_journal_t *j = self->cfg.journal;
    if (!j) return;
    int rc = tmq_journal_commit(j, now);
    const char *failed = tmq_journal_failed(j);
    if (failed && !self->journal_down) {
        tmq_error("%s: new jobs are refused; accepted ones are kept and served (retrying)", failed);
        self->journal_down = true;
    } else if (!failed && self->journal_down) {
        tmq_info("the journal is writable again: taking new jobs");
        self->journal_down = false;
    }
    if (rc == 0 || failed) (void)tmq_journal_maintain(j, now, 0);
}

int64_t tmq_session_due(const tmq_core_t *self, int64_t now)
{
    if (!self->cfg.journal) return INT64_MAX;
    int64_t ms = tmq_journal_next_sync_ms(self->cfg.journal, now);
    return ms < 0 ? INT64_MAX : now + ms;
}

/* ---- replay ---- */

typedef struct {
    tmq_core_t *core;
    uint64_t *bad; /* jobs whose records do not decode: forgotten after the replay */
    size_t nbad, bad_cap;
} s_replay_t;

static bool s_obj_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return false;
    *v = o->via.u64;
    return true;
}

static bool s_obj_bytes(const msgpack_object *o, const void **p, size_t *len)
{
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *len = o->via.bin.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *len = o->via.str.size;
        return true;
    }
    return false;
}

/* The session record for sid, made (detached) if the replay meets it first. */
static tmq_bclient_t *s_replayed_session(tmq_core_t *self, const uint8_t *sid, uint32_t linger,
                                         bool oom)
{
    tmq_bclient_t *c = s_find(self, sid);
    if (c) return c;
    c = tmq_bclients_add_detached(self->clients, self->now);
    s_register(self, c, sid, s_linger(linger));
    c->oom = oom;
    c->detached_at = self->now;
    c->parked = true;
    tmq_list_push_back(&self->detached, &c->dlink);
    return c;
}

/* Decodes a RESULT body into *it (pointing into the object); false when it is not one. */
static bool s_result_of(const msgpack_object *o, uint64_t cid, tmq_result_item_t *it)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 5) return false;
    const msgpack_object *f = o->via.array.ptr;
    uint64_t st, att;
    const void *data, *worker;
    size_t dlen, wlen;
    if (!s_obj_uint(&f[0], &st) || st > TMQ_ST_CANCELLED || !s_obj_bytes(&f[1], &data, &dlen) ||
        !s_obj_bytes(&f[2], &worker, &wlen) ||
        (f[3].type != MSGPACK_OBJECT_FLOAT64 && f[3].type != MSGPACK_OBJECT_FLOAT32) ||
        !s_obj_uint(&f[4], &att) || att > UINT32_MAX)
        return false;
    *it = (tmq_result_item_t){.cid = cid,
                              .status = (int)st,
                              .data = data,
                              .data_len = dlen,
                              .worker = worker,
                              .worker_len = wlen,
                              .ms = f[3].via.f64,
                              .attempts = (uint32_t)att};
    return true;
}

static int s_replay_one(const tmq_journal_job_t *jj, void *arg)
{
    s_replay_t *r = arg;
    tmq_core_t *self = r->core;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    bool ok = msgpack_unpack_next(&up, jj->accept, jj->accept_len, NULL) == MSGPACK_UNPACK_SUCCESS;
    const msgpack_object *f = up.data.via.array.ptr;
    uint64_t cid, timeout, mem, flags, linger, ttl = 0;
    const void *sid, *fn, *argp, *bname = NULL;
    size_t sid_len, fn_len, arg_len, blen = 0;
    size_t nf = ok && up.data.type == MSGPACK_OBJECT_ARRAY ? up.data.via.array.size : 0;
    if (nf == 3 && s_obj_bytes(&f[0], &fn, &fn_len) && fn_len == 9 &&
        memcmp(fn, "batch_end", 9) == 0 && s_obj_bytes(&f[1], &bname, &blen) &&
        tmq_proto_batch_name_ok(bname, blen) && s_obj_uint(&f[2], &ttl)) {
        tmq_bbatch_t *b = tmq_batches_get(self, bname, blen);
        tmq_batches_ttl(b, ttl);
        tmq_batches_replayed_end(self, b, jj->jid);
        msgpack_unpacked_destroy(&up);
        return 0;
    }
    if (nf == 12) { /* a job of a named batch */
        ok = s_obj_bytes(&f[10], &bname, &blen) && tmq_proto_batch_name_ok(bname, blen) &&
             s_obj_uint(&f[11], &ttl);
        nf = 10;
    }
    ok = ok && nf == 10 && s_obj_bytes(&f[0], &sid, &sid_len) && sid_len == TMQ_PROTO_SESSION_LEN &&
         s_obj_uint(&f[1], &cid) && s_obj_bytes(&f[2], &fn, &fn_len) && fn_len > 0 &&
         fn_len <= TMQ_PROTO_MAX_FNAME && s_obj_bytes(&f[3], &argp, &arg_len) &&
         s_obj_uint(&f[4], &timeout) && timeout <= UINT32_MAX &&
         (f[5].type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
          f[5].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) &&
         s_obj_uint(&f[6], &mem) && s_obj_uint(&f[7], &flags) && s_obj_uint(&f[8], &linger) &&
         f[9].type == MSGPACK_OBJECT_BOOLEAN;
    tmq_bjob_t *job = NULL;
    if (ok) {
        tmq_bclient_t *c = s_replayed_session(
            self, sid, (uint32_t)(linger > UINT32_MAX ? UINT32_MAX : linger), f[9].via.boolean);
        tmq_bbatch_t *b = bname ? tmq_batches_get(self, bname, blen) : NULL;
        if (b) tmq_batches_ttl(b, ttl);
        if (jj->result) {
            msgpack_unpacked ur;
            msgpack_unpacked_init(&ur);
            tmq_result_item_t it;
            ok = msgpack_unpack_next(&ur, jj->result, jj->result_len, NULL) ==
                     MSGPACK_UNPACK_SUCCESS &&
                 s_result_of(&ur.data, cid, &it);
            if (ok) {
                s_keep(self, c, s_held_new(jj->jid, &it));
                if (b) { /* the batch holds the record too */
                    tmq_idmap_put(&self->jrefs, jj->jid, (void *)(uintptr_t)2);
                    tmq_batches_replayed(self, b, jj->jid, &it);
                }
                self->replayed_results++;
            }
            msgpack_unpacked_destroy(&ur);
        } else if ((job = tmq_jobtab_adopt(self->jobs, jj->jid, argp, arg_len)) != NULL) {
            job->cid = cid;
            job->client = c;
            job->fn = tmq_fnreg_ref(self->fns, fn, fn_len);
            job->fn->n.submitted++;
            job->timeout_ms = (uint32_t)timeout;
            job->retries = tmq_core_retries(self, f[5].via.i64);
            tmq_bjob_set_mem_limit(job, mem);
            if (flags & TMQ_JOB_RETRY_OOM) job->flags |= TMQ_JOB_RETRY_OOM;
            job->attempt = jj->attempt; /* the next lease is the attempt after it */
            tmq_jobtab_transition(self->jobs, job, TMQ_JOB_QUEUED);
            if (tmq_list_empty(&job->fn->queue)) tmq_core_unserved(self, job->fn);
            tmq_list_push_back(&job->fn->queue, &job->link);
            tmq_list_push_back(&c->jobs, &job->clink);
            if (cid != TMQ_IDMAP_NONE) tmq_idmap_put(&c->cids, cid, job);
            if (b) tmq_batches_join(self, b, job);
            tmq_core_fn_dirty(self, job->fn);
            self->replayed_jobs++;
        } else {
            ok = false;
        }
    }
    msgpack_unpacked_destroy(&up);
    if (!ok) {
        /* a record that passed its checksum but does not decode: written by another version?
           Its job cannot be run: the journal forgets it, and it is said */
        if (r->nbad == r->bad_cap) {
            r->bad_cap = r->bad_cap ? 2 * r->bad_cap : 16;
            r->bad = tmq_xrealloc(r->bad, r->bad_cap * sizeof *r->bad);
        }
        r->bad[r->nbad++] = jj->jid;
    }
    return 0;
}

long tmq_session_replay(tmq_core_t *self)
{
    tmq_journal_t *j = self->cfg.journal;
    if (!j) return 0;
    s_replay_t r = {.core = self};
    int64_t t0 = zclock_mono();
    self->replaying = true;
    long n = tmq_journal_replay(j, s_replay_one, &r);
    self->replaying = false;
    if (n < 0) {
        free(r.bad);
        tmq_error("journal replay failed: %s", tmq_journal_last_error(j));
        return -1;
    }
    tmq_jobtab_skip_to(self->jobs, tmq_journal_max_jid(j) + 1);
    tmq_batches_after_replay(self);
    for (size_t i = 0; i < r.nbad; i++) /* no append may come before the replay ends */
        tmq_journal_forget(j, r.bad[i], NULL);
    for (size_t i = 0; i < self->ndeferred; i++) /* superseded batch results, ends */
        tmq_journal_forget(j, self->deferred[i], NULL);
    free(self->deferred);
    self->deferred = NULL;
    self->ndeferred = self->deferred_cap = 0;
    if (r.nbad) tmq_warn("journal: %zu jobs whose records do not decode were dropped", r.nbad);
    free(r.bad);
    tmq_info("journal replayed: %llu jobs queued again and %llu results held for %zu sessions "
             "in %lld ms",
             (unsigned long long)self->replayed_jobs, (unsigned long long)self->replayed_results,
             zhashx_size(self->sessions), (long long)(zclock_mono() - t0));
    return n;
}
