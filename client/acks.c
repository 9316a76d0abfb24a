/* client/acks.c — see acks.h. A kept SUBMIT is one allocation: its jobs' ids, then the body.
 * A held job is one allocation (its link, settings, function name and argument bytes),
 * copied out of the kept SUBMIT body its rejection points at; rejections come in submission
 * order, so one forward scan of that body finds them all.
 */
#include "acks.h"
#include "platform.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    tmq_list_link_t link;
    uint64_t cid;
    uint32_t timeout_ms;
    int32_t retries;
    uint64_t mem_limit; /* the job's options, resubmitted as they were sent */
    bool retry_oom;
    size_t fn_len, arg_len;
    char data[]; /* fn bytes, then arg bytes */
} s_held_t;

void tmq_acks_init(tmq_acks_t *a)
{
    memset(a, 0, sizeof *a);
    tmq_list_init(&a->held);
    a->retry_at = INT64_MAX;
    a->retry_delay_ms = TMQ_ACKS_RETRY_MIN_MS;
}

static void s_forget_unserved(tmq_acks_t *a)
{
    for (size_t i = 0; i < a->nunserved; i++)
        free(a->unserved[i]);
    free(a->unserved);
    a->unserved = NULL;
    a->nunserved = 0;
}

void tmq_acks_reset(tmq_acks_t *a)
{
    while (a->sent_count > 0) {
        free(a->sent[a->sent_head].cids); /* and the body after them */
        a->sent_head = (a->sent_head + 1) % a->sent_cap;
        a->sent_count--;
    }
    tmq_list_link_t *l;
    while ((l = tmq_list_pop_front(&a->held)))
        free(TMQ_LIST_ENTRY(l, s_held_t, link));
    free(a->taken);
    a->taken = NULL;
    a->due_left = 0;
    a->retry_at = INT64_MAX;
    a->retry_delay_ms = TMQ_ACKS_RETRY_MIN_MS;
    a->drained = 0;
    s_forget_unserved(a);
}

void tmq_acks_destroy(tmq_acks_t *a)
{
    tmq_acks_reset(a);
    free(a->sent);
    a->sent = NULL;
    a->sent_cap = 0;
}

void tmq_acks_sent(tmq_acks_t *a, const void *body, size_t len, const uint64_t *cids, size_t ncids,
                   uint64_t seq)
{
    if (a->sent_count == a->sent_cap) {
        size_t cap = a->sent_cap ? a->sent_cap * 2 : 64;
        tmq_acks_sent_t *ring = tmq_xmalloc(cap * sizeof *ring);
        for (size_t i = 0; i < a->sent_count; i++)
            ring[i] = a->sent[(a->sent_head + i) % a->sent_cap];
        free(a->sent);
        a->sent = ring;
        a->sent_cap = cap;
        a->sent_head = 0;
    }
    uint64_t *copy = tmq_xmalloc(ncids * sizeof *cids + len + 1);
    if (ncids) memcpy(copy, cids, ncids * sizeof *cids);
    memcpy(copy + ncids, body, len);
    a->sent[(a->sent_head + a->sent_count) % a->sent_cap] =
        (tmq_acks_sent_t){copy, ncids, copy + ncids, len, seq};
    a->sent_count++;
}

size_t tmq_acks_each_sent(const tmq_acks_t *a, void (*fn)(void *arg, const tmq_acks_sent_t *s),
                          void *arg)
{
    for (size_t i = 0; i < a->sent_count; i++)
        fn(arg, &a->sent[(a->sent_head + i) % a->sent_cap]);
    return a->sent_count;
}

/* Re-encodes one copy's body with seq and session (its items as they were). */
static void s_number(tmq_acks_sent_t *s, uint64_t seq, const uint8_t *session)
{
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, TMQ_CMD_SUBMIT);
    tmq_msg_t m;
    if (tmq_proto_decode(&m, hdr, sizeof hdr, s->body, s->len, NULL) != 0) return; /* not ours */
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < tmq_msg_count(&m); i++) {
        tmq_submit_item_t it;
        if (tmq_msg_submit_item(&m, i, &it) == 0) tmq_batch_add_submit(&b, &it);
    }
    size_t len;
    void *body = tmq_proto_submit_body(&b, seq, session, &len);
    tmq_msg_release(&m);
    tmq_batch_destroy(&b);
    uint64_t *copy = tmq_xmalloc(s->ncids * sizeof *copy + len + 1);
    if (s->ncids) memcpy(copy, s->cids, s->ncids * sizeof *copy);
    memcpy(copy + s->ncids, body, len);
    free(body);
    free(s->cids); /* and the old body after them */
    *s = (tmq_acks_sent_t){copy, s->ncids, copy + s->ncids, len, seq};
}

void tmq_acks_number(tmq_acks_t *a, uint64_t *seq, const uint8_t *session)
{
    for (size_t i = 0; i < a->sent_count; i++) {
        tmq_acks_sent_t *s = &a->sent[(a->sent_head + i) % a->sent_cap];
        if (s->seq == 0) s_number(s, ++*seq, session);
    }
}

/* Takes the kept copy an ACK answers out of the ring into *out: the one with seq (seq 0: the
 * oldest). False when there is none (no copy kept, or none has that seq). The copies before
 * it move up one place, so the ring stays in send order. */
static bool s_take_copy(tmq_acks_t *a, uint64_t seq, tmq_acks_sent_t *out)
{
    if (a->sent_count == 0) return false;
    size_t i = 0;
    if (seq) {
        while (i < a->sent_count && a->sent[(a->sent_head + i) % a->sent_cap].seq != seq)
            i++;
        if (i == a->sent_count) return false;
    }
    *out = a->sent[(a->sent_head + i) % a->sent_cap];
    for (; i > 0; i--)
        a->sent[(a->sent_head + i) % a->sent_cap] = a->sent[(a->sent_head + i - 1) % a->sent_cap];
    a->sent_head = (a->sent_head + 1) % a->sent_cap;
    a->sent_count--;
    return true;
}

static void s_hold(tmq_acks_t *a, const tmq_submit_item_t *it)
{
    s_held_t *h = tmq_xmalloc(sizeof *h + it->fn_len + it->arg_len);
    h->cid = it->cid;
    h->timeout_ms = it->timeout_ms;
    h->retries = it->retries;
    h->mem_limit = it->mem_limit;
    h->retry_oom = it->retry_oom;
    h->fn_len = it->fn_len;
    h->arg_len = it->arg_len;
    memcpy(h->data, it->fn, it->fn_len);
    memcpy(h->data + it->fn_len, it->arg, it->arg_len);
    tmq_list_push_back(&a->held, &h->link);
}

/* The SUBMIT copy an ACK answers, decoded once on first need. */
typedef struct {
    tmq_acks_sent_t copy; /* body NULL: no SUBMIT awaited this ACK */
    tmq_msg_t msg;
    bool decoded;
    size_t cursor; /* rejections come in submission order: scan forward only */
} s_answered_t;

static int s_decode(s_answered_t *s)
{
    if (!s->copy.body) return -1;
    if (!s->decoded) {
        uint8_t hdr[TMQ_PROTO_HDR_LEN];
        tmq_proto_header(hdr, TMQ_CMD_SUBMIT);
        if (tmq_proto_decode(&s->msg, hdr, sizeof hdr, s->copy.body, s->copy.len, NULL) != 0)
            return -1;
        s->decoded = true;
    }
    return 0;
}

/* Holds the "queue full" job cid from the answered copy. Returns -1 when it cannot be found
 * there (then it is reported failed instead). */
static int s_hold_rejected(tmq_acks_t *a, s_answered_t *s, uint64_t cid)
{
    if (s_decode(s) != 0) return -1;
    size_t n = tmq_msg_count(&s->msg);
    for (; s->cursor < n; s->cursor++) {
        tmq_submit_item_t it;
        if (tmq_msg_submit_item(&s->msg, s->cursor, &it) == 0 && it.cid == cid) {
            s->cursor++;
            s_hold(a, &it);
            return 0;
        }
    }
    return -1;
}

/* ACK {error}: the broker refused the whole SUBMIT; every job of it fails, found by the ids
 * kept beside the copy, so nothing depends on reading the body back. */
static void s_refused_whole(tmq_acks_t *a, const s_answered_t *s, const char *why, size_t why_len,
                            const tmq_idmap_t *inflight, tmq_acks_fail_fn fail, void *arg)
{
    char text[512];
    int n = snprintf(text, sizeof text, "bad SUBMIT: %.*s", (int)why_len, why);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    if (!s->copy.body) {
        tmq_log_limited(TMQ_LOG_WARN, &a->log_rate, 5,
                        "client: the broker refused a SUBMIT we no longer hold: %.*s", (int)why_len,
                        why);
        return;
    }
    for (size_t i = 0; i < s->copy.ncids; i++)
        if (tmq_idmap_has(inflight, s->copy.cids[i]))
            fail(arg, s->copy.cids[i], TMQ_RESULT_REJECTED, text, len);
}

static bool s_said(const tmq_acks_t *a, const char *fn, size_t len)
{
    for (size_t i = 0; i < a->nunserved; i++)
        if (strlen(a->unserved[i]) == len && memcmp(a->unserved[i], fn, len) == 0) return true;
    return false;
}

/* ACK {unserved}: why jobs wait, said once per function while it lasts. */
static void s_unserved(tmq_acks_t *a, const tmq_msg_t *ack)
{
    const msgpack_object *list = tmq_msg_get(ack, "unserved");
    size_t n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    if (n == 0) {
        s_forget_unserved(a);
        return;
    }
    for (size_t i = 0; i < n && a->nunserved < 64; i++) {
        const char *fn;
        size_t len;
        if (tmq_msg_str_at(list, i, &fn, &len) != 0 || len > TMQ_PROTO_MAX_FNAME ||
            s_said(a, fn, len))
            continue;
        a->unserved = tmq_xrealloc(a->unserved, (a->nunserved + 1) * sizeof *a->unserved);
        char *copy = tmq_xmalloc(len + 1);
        memcpy(copy, fn, len);
        copy[len] = '\0';
        a->unserved[a->nunserved++] = copy;
        /* A warning, not info: without it a user sees nothing at all while jobs wait. */
        tmq_log_limited(TMQ_LOG_WARN, &a->log_rate, 5,
                        "client: jobs for '%s' wait at the broker: no worker is connected yet",
                        copy);
    }
}

/* The next retry time after an ACK: soon while the queue takes jobs, later while it stays
 * full. */
static void s_pace(tmq_acks_t *a, size_t newly_held)
{
    if (newly_held > 0) {
        a->retry_at = tmq_clock_ms() + a->retry_delay_ms;
        a->retry_delay_ms *= 2;
        if (a->retry_delay_ms > TMQ_ACKS_RETRY_MAX_MS) a->retry_delay_ms = TMQ_ACKS_RETRY_MAX_MS;
    } else {
        a->retry_delay_ms = TMQ_ACKS_RETRY_MIN_MS;
        if (!tmq_list_empty(&a->held)) a->retry_at = tmq_clock_ms();
    }
}

bool tmq_acks_on_ack(tmq_acks_t *a, const tmq_msg_t *ack, const tmq_idmap_t *inflight,
                     bool hold_full, tmq_acks_fail_fn fail, void *arg)
{
    /* An ACK with no SUBMIT awaiting one (a stalled broker's late ACK after we gave up on
     * it) still has its rejections honoured: a job is failed rather than left waiting. One
     * with a seq no copy has answers a resubmission of a SUBMIT already ACKed: its twin said
     * everything (a journaled broker counts resubmitted jobs accepted), so it is dropped. */
    s_answered_t s;
    memset(&s, 0, sizeof s);
    uint64_t seq = 0;
    if (tmq_msg_get_uint(ack, "seq", &seq) != 0) seq = 0;
    if (!s_take_copy(a, seq, &s.copy) && seq) {
        tmq_debug("client: dropped a duplicate ACK (seq %llu)", (unsigned long long)seq);
        return false;
    }
    s_unserved(a, ack);

    const char *why;
    size_t why_len;
    size_t was_held = a->held.size, full = 0;
    if (tmq_msg_get_str(ack, "error", &why, &why_len) == 0) {
        s_refused_whole(a, &s, why, why_len, inflight, fail, arg);
    } else {
        size_t n = tmq_msg_count(ack);
        for (size_t i = 0; i < n; i++) {
            tmq_reject_item_t rj;
            if (tmq_msg_reject_item(ack, i, &rj) != 0 || !tmq_idmap_has(inflight, rj.cid)) continue;
            if (rj.code == TMQ_REJ_QUEUE_FULL && hold_full && s_hold_rejected(a, &s, rj.cid) == 0) {
                full++;
                continue;
            }
            fail(arg, rj.cid,
                 rj.code == TMQ_REJ_UNKNOWN_FUNCTION ? TMQ_RESULT_UNKNOWN_FUNCTION
                                                     : TMQ_RESULT_REJECTED,
                 rj.reason, rj.reason_len);
        }
    }
    if (s.decoded) tmq_msg_release(&s.msg);
    free(s.copy.cids); /* and the body after them */
    if (was_held == 0 && full > 0)
        tmq_info("client: queue full: holding %zu jobs (resubmitted as the broker's queue "
                 "drains)",
                 full);
    s_pace(a, full);
    return true;
}

void tmq_acks_drained(tmq_acks_t *a, size_t n)
{
    a->drained += n;
}

int64_t tmq_acks_retry_at(const tmq_acks_t *a)
{
    return tmq_list_empty(&a->held) ? INT64_MAX : a->retry_at;
}

bool tmq_acks_next_due(tmq_acks_t *a, int64_t now, tmq_submit_item_t *it)
{
    free(a->taken);
    a->taken = NULL;
    if (tmq_list_empty(&a->held)) {
        a->due_left = 0;
        return false;
    }
    if (a->due_left == 0) {
        if (now < a->retry_at) return false;
        /* A new round: more at once when results show the queue draining. */
        a->due_left = a->drained > TMQ_ACKS_RESUBMIT_MIN ? a->drained : TMQ_ACKS_RESUBMIT_MIN;
        a->drained = 0;
        a->retry_at = INT64_MAX; /* the ACK for this resubmission sets the next time */
    }
    s_held_t *h = TMQ_LIST_ENTRY(tmq_list_pop_front(&a->held), s_held_t, link);
    a->due_left--;
    a->taken = h;
    *it = (tmq_submit_item_t){.cid = h->cid,
                              .fn = h->data,
                              .fn_len = h->fn_len,
                              .arg = h->data + h->fn_len,
                              .arg_len = h->arg_len,
                              .timeout_ms = h->timeout_ms,
                              .retries = h->retries,
                              .mem_limit = h->mem_limit,
                              .retry_oom = h->retry_oom};
    return true;
}

void tmq_acks_round_void(tmq_acks_t *a, int64_t now)
{
    if (a->retry_at == INT64_MAX) a->retry_at = now;
}

size_t tmq_acks_unanswered(const tmq_acks_t *a)
{
    return a->sent_count;
}

void tmq_acks_each_held(const tmq_acks_t *a, void (*fn)(void *arg, uint64_t cid), void *arg)
{
    for (tmq_list_link_t *l = a->held.head; l; l = l->next)
        fn(arg, TMQ_LIST_ENTRY(l, s_held_t, link)->cid);
}

bool tmq_acks_drop_held(tmq_acks_t *a, uint64_t cid)
{
    for (tmq_list_link_t *l = a->held.head; l; l = l->next) {
        s_held_t *h = TMQ_LIST_ENTRY(l, s_held_t, link);
        if (h->cid != cid) continue;
        tmq_list_remove(&a->held, l);
        free(h);
        return true;
    }
    return false;
}

size_t tmq_acks_held(const tmq_acks_t *a)
{
    return a->held.size;
}
