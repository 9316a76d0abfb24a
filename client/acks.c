/* client/acks.c — from SUBMIT to ACK: the copies of sent batches, rejections, and the jobs
 * held after "queue full".
 *
 * The broker answers every SUBMIT with one ACK, in order, naming only the rejected jobs, so
 * the oldest kept body belongs to the next ACK. A rejected job becomes a failed result,
 * except "queue full" (unless fail_when_full): that job waits here and is resubmitted after
 * a short delay that doubles while the queue stays full, a few hundred jobs at a time, more
 * when results show the queue draining.
 */
#include "client_internal.h"
#include "log.h"
#include "platform.h"

#include <stdlib.h>
#include <string.h>

struct tmq_held_t {
    tmq_held_t *next;
    uint64_t cid;
    uint32_t timeout_ms;
    int32_t retries;
    size_t fn_len, arg_len;
    char data[]; /* fn bytes, then arg bytes */
};

void tmq_acks_sent(tmq_client_t *c, const void *body, size_t len)
{
    if (c->sent_count == c->sent_cap) {
        size_t cap = c->sent_cap ? c->sent_cap * 2 : 64;
        tmq_sent_t *ring = malloc(cap * sizeof *ring);
        if (!ring) abort();
        for (size_t i = 0; i < c->sent_count; i++)
            ring[i] = c->sent[(c->sent_head + i) % c->sent_cap];
        free(c->sent);
        c->sent = ring;
        c->sent_cap = cap;
        c->sent_head = 0;
    }
    void *copy = malloc(len);
    if (!copy) abort();
    memcpy(copy, body, len);
    c->sent[(c->sent_head + c->sent_count) % c->sent_cap] = (tmq_sent_t){copy, len};
    c->sent_count++;
}

static void s_hold(tmq_client_t *c, const tmq_submit_item_t *it)
{
    tmq_held_t *h = malloc(sizeof *h + it->fn_len + it->arg_len);
    if (!h) abort();
    h->next = NULL;
    h->cid = it->cid;
    h->timeout_ms = it->timeout_ms;
    h->retries = it->retries;
    h->fn_len = it->fn_len;
    h->arg_len = it->arg_len;
    memcpy(h->data, it->fn, it->fn_len);
    memcpy(h->data + it->fn_len, it->arg, it->arg_len);
    if (c->held_tail)
        c->held_tail->next = h;
    else
        c->held_head = h;
    c->held_tail = h;
    c->held_count++;
}

/* Finds the job cid in the kept body, scanning forward from *cursor (rejections come in
 * submission order). Returns 0 with *it filled, or -1. */
static int s_find(const tmq_msg_t *body, size_t *cursor, uint64_t cid, tmq_submit_item_t *it)
{
    size_t n = tmq_msg_count(body);
    for (; *cursor < n; (*cursor)++) {
        if (tmq_msg_submit_item(body, *cursor, it) == 0 && it->cid == cid) {
            (*cursor)++;
            return 0;
        }
    }
    return -1;
}

/* Holds a "queue full" job for resubmission. Returns -1 when it cannot be found in the
 * kept body (then it is reported failed instead). */
static int s_hold_rejected(tmq_client_t *c, const tmq_sent_t *sent, tmq_msg_t *body, bool *decoded,
                           size_t *cursor, uint64_t cid)
{
    if (!sent) return -1; /* no copy to resubmit from */
    if (!*decoded) {
        uint8_t hdr[TMQ_PROTO_HDR_LEN];
        tmq_proto_header(hdr, TMQ_CMD_SUBMIT);
        if (tmq_proto_decode(body, hdr, sizeof hdr, sent->body, sent->len, NULL) != 0) return -1;
        *decoded = true;
    }
    tmq_submit_item_t it;
    if (s_find(body, cursor, cid, &it) != 0) return -1;
    s_hold(c, &it);
    return 0;
}

void tmq_acks_on_ack(tmq_client_t *c, const tmq_msg_t *m)
{
    /* An ACK with no SUBMIT awaiting one (a stalled broker's late ACK after we gave up on
     * it) still has its rejections honoured: a job is failed rather than left waiting. */
    tmq_sent_t none = {0}, sent = none;
    if (c->sent_count) {
        sent = c->sent[c->sent_head];
        c->sent_head = (c->sent_head + 1) % c->sent_cap;
        c->sent_count--;
    }

    tmq_msg_t body;
    bool decoded = false;
    size_t cursor = 0, full = 0, n = tmq_msg_count(m);
    for (size_t i = 0; i < n; i++) {
        tmq_reject_item_t rj;
        if (tmq_msg_reject_item(m, i, &rj) != 0) continue;
        if (rj.code == TMQ_REJ_QUEUE_FULL && !c->fail_when_full &&
            tmq_idset_has(&c->inflight, rj.cid) &&
            s_hold_rejected(c, sent.body ? &sent : NULL, &body, &decoded, &cursor, rj.cid) == 0) {
            full++;
            continue;
        }
        tmq_client_fail(c, rj.cid, rj.reason, rj.reason_len);
    }
    if (decoded) tmq_msg_release(&body);
    free(sent.body);

    if (full > 0) {
        c->retry_at = tmq_clock_ms() + c->retry_delay_ms;
        c->retry_delay_ms *= 2;
        if (c->retry_delay_ms > TMQ_CLIENT_RETRY_MAX_MS)
            c->retry_delay_ms = TMQ_CLIENT_RETRY_MAX_MS;
    } else {
        c->retry_delay_ms = TMQ_CLIENT_RETRY_MIN_MS;
        if (c->held_count > 0) c->retry_at = tmq_clock_ms();
    }
}

void tmq_acks_retry(tmq_client_t *c, int64_t now)
{
    if (c->held_count == 0 || now < c->retry_at) return;
    size_t cap = c->drained > TMQ_CLIENT_BATCH_JOBS ? c->drained : TMQ_CLIENT_BATCH_JOBS;
    c->drained = 0;
    c->retry_at = INT64_MAX; /* the ACK for this resubmission sets the next time */
    tmq_client_send_batch(c);
    for (size_t i = 0; i < cap && c->held_head; i++) {
        tmq_held_t *h = c->held_head;
        c->held_head = h->next;
        if (!c->held_head) c->held_tail = NULL;
        c->held_count--;
        tmq_submit_item_t it = {.cid = h->cid,
                                .fn = h->data,
                                .fn_len = h->fn_len,
                                .arg = h->data + h->fn_len,
                                .arg_len = h->arg_len,
                                .timeout_ms = h->timeout_ms,
                                .retries = h->retries};
        tmq_client_enqueue(c, &it);
        free(h);
    }
    tmq_client_send_batch(c);
}

void tmq_acks_destroy(tmq_client_t *c)
{
    while (c->sent_count > 0) {
        free(c->sent[c->sent_head].body);
        c->sent_head = (c->sent_head + 1) % c->sent_cap;
        c->sent_count--;
    }
    free(c->sent);
    c->sent = NULL;
    c->sent_cap = 0;
    while (c->held_head) {
        tmq_held_t *h = c->held_head;
        c->held_head = h->next;
        free(h);
    }
    c->held_tail = NULL;
    c->held_count = 0;
}
