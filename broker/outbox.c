/* broker/outbox.c — see outbox.h. The first segment of each batch kind is embedded and
 * reused turn after turn, so a steady stream costs no allocation beyond the finished body.
 *
 * Byte count: `bytes` holds the control bodies plus every batch segment that is no longer
 * the one items are appended to (sealed); the segment still growing (the last overflow
 * segment, else the embedded one) is added on demand, so appending costs nothing extra. */
#include "outbox.h"

#include <xalloc.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct tmq_outmsg_t {
    tmq_outmsg_t *next;
    uint64_t hold; /* journal append it waits for (0: none) */
    int cmd;
    size_t len;
    void *body;
};

struct tmq_outseg_t {
    tmq_outseg_t *next;
    tmq_batch_t batch;
};

void tmq_outbox_init(tmq_outbox_t *ob, int side, const void *rid, size_t rid_len, int cmd0,
                     int cmd1)
{
    memset(ob, 0, sizeof *ob);
    if (rid_len > TMQ_WIRE_MAX_RID) rid_len = TMQ_WIRE_MAX_RID;
    memcpy(ob->rid, rid, rid_len);
    ob->rid_len = (uint8_t)rid_len;
    ob->side = (uint8_t)side;
    ob->kind[0].cmd = cmd0;
    ob->kind[1].cmd = cmd1;
    ob->open_to = UINT64_MAX;
    for (int k = 0; k < TMQ_OUTBOX_KINDS; k++)
        tmq_batch_init(&ob->kind[k].batch);
}

static void s_drop_pending(tmq_outbox_t *ob)
{
    while (ob->ctl_head) {
        tmq_outmsg_t *m = ob->ctl_head;
        ob->ctl_head = m->next;
        free(m->body);
        free(m);
    }
    ob->ctl_tail = NULL;
    ob->nheld = 0;
    for (int k = 0; k < TMQ_OUTBOX_KINDS; k++) {
        while (ob->kind[k].more_head) {
            tmq_outseg_t *s = ob->kind[k].more_head;
            ob->kind[k].more_head = s->next;
            tmq_batch_destroy(&s->batch);
            free(s);
        }
        ob->kind[k].more_tail = NULL;
        tmq_batch_reset(&ob->kind[k].batch);
    }
    ob->bytes = 0;
}

void tmq_outbox_fini(tmq_outbox_t *ob)
{
    s_drop_pending(ob);
    for (int k = 0; k < TMQ_OUTBOX_KINDS; k++)
        tmq_batch_destroy(&ob->kind[k].batch);
}

void tmq_outbox_clear(tmq_outbox_t *ob)
{
    s_drop_pending(ob);
}

void tmq_outbox_control(tmq_outbox_t *ob, int cmd, void **body_p, size_t len)
{
    tmq_outbox_control_held(ob, cmd, body_p, len, 0);
}

void tmq_outbox_control_held(tmq_outbox_t *ob, int cmd, void **body_p, size_t len, uint64_t hold)
{
    tmq_outmsg_t *m = tmq_xcalloc(1, sizeof *m);
    m->hold = hold;
    if (hold) ob->nheld++;
    m->cmd = cmd;
    m->len = len;
    m->body = *body_p;
    *body_p = NULL;
    ob->bytes += len;
    if (ob->ctl_tail)
        ob->ctl_tail->next = m;
    else
        ob->ctl_head = m;
    ob->ctl_tail = m;
}

void tmq_outbox_signal(tmq_outbox_t *ob, int cmd)
{
    size_t len;
    void *body = tmq_proto_empty_body(&len);
    tmq_outbox_control(ob, cmd, &body, len);
}

tmq_batch_t *tmq_outbox_batch(tmq_outbox_t *ob, int k)
{
    tmq_batch_t *cur = ob->kind[k].more_tail ? &ob->kind[k].more_tail->batch : &ob->kind[k].batch;
    if (cur->count == 0 || cur->buf.size < TMQ_OUTBOX_SPLIT) return cur;
    ob->bytes += cur->buf.size; /* sealed: nothing more goes into cur */
    tmq_outseg_t *s = tmq_xcalloc(1, sizeof *s);
    tmq_batch_init(&s->batch);
    if (ob->kind[k].more_tail)
        ob->kind[k].more_tail->next = s;
    else
        ob->kind[k].more_head = s;
    ob->kind[k].more_tail = s;
    return &s->batch;
}

static bool s_batches(const tmq_outbox_t *ob)
{
    for (int k = 0; k < TMQ_OUTBOX_KINDS; k++)
        if (ob->kind[k].batch.count || ob->kind[k].more_head) return true;
    return false;
}

bool tmq_outbox_any(const tmq_outbox_t *ob)
{
    return ob->ctl_head || s_batches(ob);
}

/* The first control message that may go, and the link that points at it. */
static tmq_outmsg_t **s_ready_ctl(tmq_outbox_t *ob)
{
    tmq_outmsg_t **p = &ob->ctl_head;
    if (ob->nheld) /* rare: only while the journal is slow or failed */
        while (*p && (*p)->hold > ob->open_to)
            p = &(*p)->next;
    return p;
}

bool tmq_outbox_pending(const tmq_outbox_t *ob)
{
    return *s_ready_ctl((tmq_outbox_t *)ob) || s_batches(ob);
}

/* The segment items of kind k are appended to. */
static const tmq_batch_t *s_growing(const tmq_outbox_t *ob, int k)
{
    return ob->kind[k].more_tail ? &ob->kind[k].more_tail->batch : &ob->kind[k].batch;
}

size_t tmq_outbox_bytes(const tmq_outbox_t *ob)
{
    size_t n = ob->bytes;
    for (int k = 0; k < TMQ_OUTBOX_KINDS; k++)
        n += s_growing(ob, k)->buf.size;
    return n;
}

/* Takes the next segment of kind k (the embedded one first); NULL when the kind is empty. */
static void *s_take_batch(tmq_outbox_t *ob, int k, size_t *len)
{
    tmq_batch_t *b = &ob->kind[k].batch;
    tmq_cmd_t cmd = (tmq_cmd_t)ob->kind[k].cmd;
    if (b->count) {
        if (b != s_growing(ob, k)) ob->bytes -= b->buf.size;
        void *body = tmq_batch_finish(b, cmd, 0, len);
        if (b->buf.alloc > TMQ_OUTBOX_KEEP) { /* a burst: give the memory back */
            tmq_batch_destroy(b);
            tmq_batch_init(b);
        }
        return body;
    }
    tmq_outseg_t *s = ob->kind[k].more_head;
    if (!s) return NULL;
    if (s->next) ob->bytes -= s->batch.buf.size; /* sealed; the last one is still growing */
    ob->kind[k].more_head = s->next;
    if (!s->next) ob->kind[k].more_tail = NULL;
    void *body = tmq_batch_finish(&s->batch, cmd, 0, len);
    tmq_batch_destroy(&s->batch);
    free(s);
    return body;
}

static void s_batches_to_control(tmq_outbox_t *ob)
{
    for (int k = 0; k < TMQ_OUTBOX_KINDS; k++) {
        size_t len;
        void *body;
        while ((body = s_take_batch(ob, k, &len)) != NULL)
            tmq_outbox_control(ob, ob->kind[k].cmd, &body, len);
    }
}

void tmq_outbox_signal_last(tmq_outbox_t *ob, int cmd)
{
    s_batches_to_control(ob);
    tmq_outbox_signal(ob, cmd);
}

void tmq_outbox_control_last(tmq_outbox_t *ob, int cmd, void **body_p, size_t len)
{
    s_batches_to_control(ob);
    tmq_outbox_control(ob, cmd, body_p, len);
}

void *tmq_outbox_take(tmq_outbox_t *ob, int *cmd, size_t *len)
{
    tmq_outmsg_t **p = s_ready_ctl(ob);
    if (*p) {
        tmq_outmsg_t *m = *p, *prev = NULL;
        if (p != &ob->ctl_head) prev = (tmq_outmsg_t *)((char *)p - offsetof(tmq_outmsg_t, next));
        *p = m->next;
        if (ob->ctl_tail == m) ob->ctl_tail = prev;
        if (m->hold) ob->nheld--;
        void *body = m->body;
        *cmd = m->cmd;
        *len = m->len;
        ob->bytes -= m->len;
        free(m);
        return body;
    }
    for (int k = 0; k < TMQ_OUTBOX_KINDS; k++) {
        *cmd = ob->kind[k].cmd;
        void *body = s_take_batch(ob, k, len);
        if (body) return body;
    }
    return NULL;
}
