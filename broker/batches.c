/* broker/batches.c — named batches in the core (see batches.h, PROTOCOL.md 5.8).
 *
 * Hooks: the frontend puts accepted jobs in a batch (tmq_batches_join) and hands ATTACH here;
 * tmq_core_finish and the cancel path report each job's end (tmq_batches_ended); a client
 * leaving is tmq_batches_left. Completion is checked where counts change; expiry in the scan.
 */
#include "batches.h"
#include "core.h"
#include "journal.h"
#include "kept.h"

#include <xalloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tmq_bres_t {
    bool superseded; /* a later result for the same cid replaced it */
    tmq_kept_t k;    /* k.jid: forgotten with the batch (0: not journaled) */
    char bytes[];
};

#define S_NO_RESULT_YET ((void *)1)
#define S_CANCELLED ((void *)2) /* its job was cancelled before any result: an input it lacks */

void tmq_batches_setup(tmq_core_t *self)
{
    self->batches = zhashx_new();
    if (!self->batches) tmq_oom();
    tmq_idmap_init(&self->batch_ids);
    self->next_batch = 1;
}

static void s_free(tmq_bbatch_t *b)
{
    for (size_t i = 0; i < b->nresults; i++)
        free(b->results[i]);
    free(b->results);
    tmq_idmap_destroy(&b->by_cid);
    free(b);
}

void tmq_batches_teardown(tmq_core_t *self)
{
    for (tmq_bbatch_t *b = zhashx_first(self->batches); b; b = zhashx_next(self->batches))
        s_free(b);
    zhashx_destroy(&self->batches);
    tmq_idmap_destroy(&self->batch_ids);
}

static void s_key(char *key, const char *name, size_t len)
{
    memcpy(key, name, len);
    key[len] = '\0';
}

tmq_bbatch_t *tmq_batches_find(tmq_core_t *self, const char *name, size_t len)
{
    char key[TMQ_PROTO_MAX_BATCH_NAME + 1];
    if (len > TMQ_PROTO_MAX_BATCH_NAME) return NULL;
    s_key(key, name, len);
    return zhashx_lookup(self->batches, key);
}

tmq_bbatch_t *tmq_batches_by_id(const tmq_core_t *self, uint32_t id)
{
    return id ? tmq_idmap_get(&self->batch_ids, id) : NULL;
}

tmq_bbatch_t *tmq_batches_get(tmq_core_t *self, const char *name, size_t len)
{
    tmq_bbatch_t *b = tmq_batches_find(self, name, len);
    if (b) return b;
    b = tmq_xcalloc(1, sizeof *b);
    b->id = self->next_batch++;
    if (self->next_batch == 0) self->next_batch = 1; /* 4 billion batches later */
    memcpy(b->name, name, len);
    b->name_len = len;
    b->ttl_ms = TMQ_PROTO_BATCH_TTL_DEFAULT;
    b->created = self->now;
    tmq_idmap_init(&b->by_cid);
    tmq_list_init(&b->attachers);
    zhashx_insert(self->batches, b->name, b);
    tmq_idmap_put(&self->batch_ids, b->id, b);
    tmq_debug("batch '%s' started", b->name);
    return b;
}

/* ---- output to attached connections ---- */

/* BATCH to c. last: after the results queued before it, and `complete` as the batch is (this
 * connection then has every result); else `complete` only for a resume's answer (results, if
 * any, follow this one, and a later BATCH says complete). */
static void s_send_info(tmq_core_t *self, tmq_bclient_t *c, const tmq_bbatch_t *b, bool last,
                        const uint64_t *ok, size_t nok, bool with_ok)
{
    tmq_batch_info_t info = {.name = b ? b->name : "",
                             .name_len = b ? b->name_len : 0,
                             .known = b != NULL,
                             .total = b ? b->total : 0,
                             .done = b ? b->done : 0,
                             .failed = b ? b->failed : 0,
                             .running = b ? b->running : 0,
                             .cancelled = b ? b->cancelled : 0,
                             .closed = b && b->closed,
                             .complete = b && b->complete_at != 0 && (last || with_ok),
                             .ok = with_ok ? (ok ? ok : (const uint64_t *)"") : NULL,
                             .nok = nok};
    size_t len;
    void *body = tmq_proto_batch_body(&info, &len);
    if (last) /* after the results queued before it */
        tmq_outbox_control_last(&c->out, TMQ_CMD_BATCH, &body, len);
    else
        tmq_outbox_control(&c->out, TMQ_CMD_BATCH, &body, len);
    tmq_core_mark(self, &c->out);
}

/* Queues r to c (an attached connection) as one RESULTS item. */
static void s_send_result(tmq_core_t *self, tmq_bclient_t *c, const tmq_bres_t *r)
{
    tmq_result_item_t it = tmq_kept_item(&r->k, r->bytes, c->oom);
    tmq_batch_add_result(tmq_outbox_batch(&c->out, 0), &it);
    if (c->has_session) c->sent++; /* it counts in the connection's RACK (5.7) */
    tmq_core_mark(self, &c->out);
}

/* Sends c every result of b it has not had yet (each cid once: superseded ones are skipped). */
static void s_catch_up(tmq_core_t *self, tmq_bclient_t *c, tmq_bbatch_t *b)
{
    for (; c->attach_next < b->nresults; c->attach_next++) {
        tmq_bres_t *r = b->results[c->attach_next];
        if (!r->superseded) s_send_result(self, c, r);
    }
}

/* ---- completion ---- */

static void s_check_complete(tmq_core_t *self, tmq_bbatch_t *b)
{
    bool complete = b->running == 0 && (b->closed || b->submitters == 0);
    if (complete == (b->complete_at != 0)) return;
    if (!complete) {
        b->complete_at = 0;
        return;
    }
    b->complete_at = self->now;
    tmq_debug("batch '%s' complete: %llu done, %llu failed", b->name, (unsigned long long)b->done,
              (unsigned long long)b->failed);
    for (tmq_list_link_t *l = b->attachers.head; l; l = l->next)
        s_send_info(self, TMQ_LIST_ENTRY(l, tmq_bclient_t, alink), b, true, NULL, 0, false);
}

/* ---- joining, ending ---- */

static void s_add_submitter(tmq_bbatch_t *b, tmq_bclient_t *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (c->subs[i] == b->id) return;
    if (c->nsubs == c->subs_cap) {
        c->subs_cap = c->subs_cap ? 2 * c->subs_cap : 4;
        c->subs = tmq_xrealloc(c->subs, c->subs_cap * sizeof *c->subs);
    }
    c->subs[c->nsubs++] = b->id;
    b->submitters++;
}

void tmq_batches_ttl(tmq_bbatch_t *b, uint64_t ttl_ms)
{
    if (ttl_ms)
        b->ttl_ms = ttl_ms > TMQ_PROTO_BATCH_TTL_MAX ? TMQ_PROTO_BATCH_TTL_MAX : (uint32_t)ttl_ms;
}

void tmq_batches_submit(tmq_core_t *self, tmq_bbatch_t *b, tmq_bclient_t *c, bool end)
{
    if (c->attached) s_add_submitter(b, c);
    if (end && !b->closed) {
        b->closed = true;
        b->end_jid = tmq_session_batch_end(self, c, b);
    }
    s_check_complete(self, b);
}

void tmq_batches_join(tmq_core_t *self, tmq_bbatch_t *b, tmq_bjob_t *job)
{
    tmq_bjob_set_batch(job, b->id);
    b->running++;
    void *v = tmq_idmap_get(&b->by_cid, job->cid);
    if (!v || v == S_CANCELLED) {
        if (v) b->cancelled--; /* a resume runs it again */
        tmq_idmap_put(&b->by_cid, job->cid, S_NO_RESULT_YET);
        b->total++;
    }
    if (b->closed && b->end_jid) { /* a resume opens it again */
        tmq_session_forget_id(self, b->end_jid);
        b->end_jid = 0;
    }
    b->closed = false;
    s_check_complete(self, b);
}

static tmq_bres_t *s_res_new(uint64_t jid, const tmq_result_item_t *it)
{
    tmq_bres_t *r = tmq_xmalloc(sizeof *r + tmq_kept_bytes(it));
    r->superseded = false;
    tmq_kept_set(&r->k, r->bytes, jid, it);
    return r;
}

/* Keeps a result of b (cid it->cid): it replaces the cid's earlier one. */
static void s_store(tmq_core_t *self, tmq_bbatch_t *b, uint64_t jid, const tmq_result_item_t *it,
                    bool delivered)
{
    tmq_bres_t *r = s_res_new(jid, it);
    void *old = tmq_idmap_get(&b->by_cid, it->cid);
    if (!old || old == S_CANCELLED) {
        if (old) b->cancelled--;
        b->total++; /* replayed: the ACCEPT made no marker */
    } else if (old != S_NO_RESULT_YET) {
        tmq_bres_t *o = old;
        o->superseded = true;
        if (o->k.status == TMQ_ST_OK)
            b->done--;
        else
            b->failed--;
        if (o->k.jid) tmq_session_forget_id(self, o->k.jid); /* after the replay, in one */
        o->k.jid = 0;
    }
    tmq_idmap_put(&b->by_cid, it->cid, r);
    if (it->status == TMQ_ST_OK)
        b->done++;
    else
        b->failed++;
    if (b->nresults == b->results_cap) {
        b->results_cap = b->results_cap ? 2 * b->results_cap : 64;
        b->results = tmq_xrealloc(b->results, b->results_cap * sizeof *b->results);
    }
    b->results[b->nresults++] = r;
    bool sent = delivered;
    for (tmq_list_link_t *l = b->attachers.head; l; l = l->next) {
        s_catch_up(self, TMQ_LIST_ENTRY(l, tmq_bclient_t, alink), b);
        sent = true;
    }
    if (!sent) b->undelivered++;
}

void tmq_batches_ended(tmq_core_t *self, tmq_bjob_t *job, const tmq_result_item_t *it,
                       bool delivered)
{
    tmq_bbatch_t *b = tmq_batches_by_id(self, tmq_bjob_batch(job));
    if (!b) return;
    b->running--;
    if (it) {
        /* the journal holds a session's job (and forgets it with the batch); others are not
           in it */
        uint64_t jid = job->client->has_session && self->cfg.journal ? job->jid : 0;
        s_store(self, b, jid, it, delivered);
    } else if (tmq_idmap_get(&b->by_cid, job->cid) == S_NO_RESULT_YET) {
        tmq_idmap_put(&b->by_cid, job->cid, S_CANCELLED); /* cancelled before any result */
        b->total--;
        b->cancelled++;
    } /* else its earlier result stays: the input is whole */
    s_check_complete(self, b);
}

void tmq_batches_replayed(tmq_core_t *self, tmq_bbatch_t *b, uint64_t jid,
                          const tmq_result_item_t *it)
{
    s_store(self, b, jid, it, true); /* it may well have been delivered before: no 7-day wait */
}

void tmq_batches_replayed_end(tmq_core_t *self, tmq_bbatch_t *b, uint64_t jid)
{
    if (b->end_jid) tmq_session_forget_id(self, b->end_jid); /* a second: one is enough */
    b->closed = true;
    b->end_jid = jid;
}

void tmq_batches_rewind(tmq_core_t *self, tmq_bclient_t *c)
{
    tmq_bbatch_t *b = tmq_batches_by_id(self, c->attach);
    if (!b) return;
    c->attach_next = 0;
    s_catch_up(self, c, b);
    if (b->complete_at) s_send_info(self, c, b, true, NULL, 0, false);
}

void tmq_batches_after_replay(tmq_core_t *self)
{
    for (tmq_bbatch_t *b = zhashx_first(self->batches); b; b = zhashx_next(self->batches))
        s_check_complete(self, b);
}

static void s_detach(tmq_core_t *self, tmq_bclient_t *c)
{
    tmq_bbatch_t *b = tmq_batches_by_id(self, c->attach);
    if (b) tmq_list_remove(&b->attachers, &c->alink);
    c->attach = 0;
    c->attach_next = 0;
}

void tmq_batches_left(tmq_core_t *self, tmq_bclient_t *c)
{
    s_detach(self, c);
    for (size_t i = 0; i < c->nsubs; i++) {
        tmq_bbatch_t *b = tmq_batches_by_id(self, c->subs[i]);
        if (!b) continue;
        b->submitters--;
        s_check_complete(self, b);
    }
    c->nsubs = 0;
}

/* ---- ATTACH ---- */

void tmq_batches_attach(tmq_core_t *self, tmq_bclient_t *c, const tmq_msg_t *msg)
{
    const char *name;
    size_t len;
    if (tmq_msg_batch_name(msg, &name, &len) != 0) {
        tmq_core_bad_input(self, TMQ_SIDE_FRONTEND, "ATTACH", "no valid batch name");
        tmq_core_reply_error(self, TMQ_SIDE_FRONTEND, c->out.rid, c->out.rid_len, TMQ_ERR_MALFORMED,
                             "ATTACH needs `batch`: a name of 1..128 bytes, no space or control "
                             "byte");
        return;
    }
    if (tmq_outbox_bytes(&c->out) > self->cfg.max_pending) { /* it does not read: no more */
        tmq_debug("ATTACH not answered: the client is owed %zu bytes", tmq_outbox_bytes(&c->out));
        return;
    }
    tmq_bbatch_t *b = tmq_batches_find(self, name, len);
    if (!b) {
        s_detach(self, c);
        tmq_batch_info_t info = {.name = name, .name_len = len, .known = false};
        size_t blen;
        void *body = tmq_proto_batch_body(&info, &blen);
        tmq_core_send(self, &c->out, TMQ_CMD_BATCH, &body, blen);
        return;
    }
    if (tmq_msg_get_true(msg, "resume")) {
        uint64_t *ok = tmq_xmalloc((b->nresults + 1) * sizeof *ok);
        size_t n = 0;
        for (size_t i = 0; i < b->nresults; i++)
            if (!b->results[i]->superseded && b->results[i]->k.status == TMQ_ST_OK)
                ok[n++] = b->results[i]->k.cid;
        s_send_info(self, c, b, false, ok, n, true);
        free(ok);
        return; /* it only asks: an attachment stays */
    }
    s_send_info(self, c, b, false, NULL, 0, false);
    /* the same batch again restarts its stream too: a client that asks again has dropped
       what came before its answer (the owed bound above keeps repeats from piling up) */
    s_detach(self, c);
    c->attach = b->id;
    c->attach_next = 0;
    tmq_list_push_back(&b->attachers, &c->alink);
    if (b->undelivered) b->undelivered = 0; /* this connection gets them all */
    s_catch_up(self, c, b);
    if (b->complete_at) s_send_info(self, c, b, true, NULL, 0, false);
}

/* ---- expiry and listing ---- */

void tmq_batches_scan(tmq_core_t *self)
{
    tmq_bbatch_t **gone = NULL;
    size_t n = 0, cap = 0;
    for (tmq_bbatch_t *b = zhashx_first(self->batches); b; b = zhashx_next(self->batches)) {
        if (!b->complete_at) continue;
        int64_t age = self->now - b->complete_at;
        if (age < (int64_t)b->ttl_ms || (b->undelivered && age < (int64_t)TMQ_PROTO_BATCH_TTL_MAX))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            gone = tmq_xrealloc(gone, cap * sizeof *gone);
        }
        gone[n++] = b;
    }
    for (size_t i = 0; i < n; i++) {
        tmq_bbatch_t *b = gone[i];
        tmq_info("batch '%s' forgotten (%llu results, kept %u s after it completed)", b->name,
                 (unsigned long long)(b->done + b->failed), b->ttl_ms / 1000);
        while (b->attachers.head)
            s_detach(self, TMQ_LIST_ENTRY(b->attachers.head, tmq_bclient_t, alink));
        for (size_t k = 0; k < b->nresults; k++)
            if (b->results[k]->k.jid) tmq_session_forget_id(self, b->results[k]->k.jid);
        if (b->end_jid) tmq_session_forget_id(self, b->end_jid);
        zhashx_delete(self->batches, b->name);
        tmq_idmap_remove(&self->batch_ids, b->id, NULL);
        s_free(b);
    }
    free(gone);
}

static int s_by_name(const void *a, const void *b)
{
    return strcmp((*(const tmq_bbatch_t *const *)a)->name, (*(const tmq_bbatch_t *const *)b)->name);
}

static void s_pack_flag(msgpack_packer *pk, const char *key, bool v)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void tmq_batches_pack(tmq_core_t *self, msgpack_packer *pk)
{
    size_t n = zhashx_size(self->batches);
    tmq_bbatch_t **list = tmq_xmalloc((n + 1) * sizeof *list);
    size_t k = 0;
    for (tmq_bbatch_t *b = zhashx_first(self->batches); b; b = zhashx_next(self->batches))
        list[k++] = b;
    qsort(list, k, sizeof *list, s_by_name);
    if (k > TMQ_BATCHES_LISTED) k = TMQ_BATCHES_LISTED;
    msgpack_pack_array(pk, (uint32_t)k);
    for (size_t i = 0; i < k; i++) {
        const tmq_bbatch_t *b = list[i];
        msgpack_pack_map(pk, 9);
        msgpack_pack_str_with_body(pk, "name", 4);
        msgpack_pack_str_with_body(pk, b->name, b->name_len);
        msgpack_pack_str_with_body(pk, "total", 5);
        msgpack_pack_uint64(pk, b->total);
        msgpack_pack_str_with_body(pk, "done", 4);
        msgpack_pack_uint64(pk, b->done);
        msgpack_pack_str_with_body(pk, "failed", 6);
        msgpack_pack_uint64(pk, b->failed);
        msgpack_pack_str_with_body(pk, "running", 7);
        msgpack_pack_uint64(pk, b->running);
        msgpack_pack_str_with_body(pk, "cancelled", 9);
        msgpack_pack_uint64(pk, b->cancelled);
        s_pack_flag(pk, "closed", b->closed);
        s_pack_flag(pk, "complete", b->complete_at != 0);
        msgpack_pack_str_with_body(pk, "age_ms", 6);
        msgpack_pack_uint64(pk, (uint64_t)(self->now - b->created));
    }
    free(list);
}
