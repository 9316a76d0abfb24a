/* client/result.c — results and their FIFO (see result.h), plus the public tmq_result_*
 * accessors. A result never changes after construction. */
#include "result.h"

#include "proto.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

struct tmq_result_t {
    uint64_t id;
    tmq_result_status_t status;
    unsigned attempts;
    double ms;
    size_t len;
    bool batch;         /* a result of an attached batch, not of the client's own jobs */
    const char *worker; /* points into data[], after the data bytes */
    uint8_t data[];
};

tmq_result_t *tmq_result_new(uint64_t id, tmq_result_status_t status, const void *data, size_t len,
                             const char *worker, size_t worker_len, double ms, unsigned attempts)
{
    tmq_result_t *r = tmq_xmalloc(sizeof *r + len + worker_len + 1);
    r->id = id;
    r->status = status;
    r->attempts = attempts;
    r->ms = ms;
    r->len = len;
    r->batch = false;
    if (len) memcpy(r->data, data, len);
    char *w = (char *)r->data + len;
    if (worker_len) memcpy(w, worker, worker_len);
    w[worker_len] = '\0';
    r->worker = w;
    return r;
}

void tmq_result_set_batch(tmq_result_t *r)
{
    r->batch = true;
}

bool tmq_result_is_batch(const tmq_result_t *r)
{
    return r->batch;
}

tmq_result_t *tmq_result_failed(uint64_t id, tmq_result_status_t status, const char *text,
                                size_t len)
{
    return tmq_result_new(id, status, text, len, "", 0, 0.0, 0);
}

tmq_result_status_t tmq_result_status_of(int wire_status, const void *text, size_t len)
{
    /* The one place the client recognises this prefix of a REJECTED text (docs/PROTOCOL.md
     * makes it normative); everything else asks for TMQ_RESULT_UNKNOWN_FUNCTION. */
    static const char unknown[] = "unknown function: ";
    switch (wire_status) {
    case TMQ_ST_OK:
        return TMQ_RESULT_OK;
    case TMQ_ST_DIED:
        return TMQ_RESULT_DIED;
    case TMQ_ST_TIMEOUT:
        return TMQ_RESULT_TIMEOUT;
    case TMQ_ST_OOM:
        return TMQ_RESULT_OUT_OF_MEMORY;
    case TMQ_ST_CANCELLED:
        return TMQ_RESULT_CANCELLED;
    case TMQ_ST_REJECTED:
        if (len >= sizeof unknown - 1 && memcmp(text, unknown, sizeof unknown - 1) == 0)
            return TMQ_RESULT_UNKNOWN_FUNCTION;
        return TMQ_RESULT_REJECTED;
    default: /* TMQ_ST_ERROR, or a status this client does not know: a failure */
        return TMQ_RESULT_ERROR;
    }
}

uint64_t tmq_result_id(const tmq_result_t *r)
{
    return r->id;
}

bool tmq_result_ok(const tmq_result_t *r)
{
    return r->status == TMQ_RESULT_OK;
}

tmq_result_status_t tmq_result_status(const tmq_result_t *r)
{
    return r->status;
}

const void *tmq_result_data(const tmq_result_t *r, size_t *len)
{
    if (len) *len = r->len;
    return r->data;
}

const char *tmq_result_worker(const tmq_result_t *r)
{
    return r->worker;
}

double tmq_result_ms(const tmq_result_t *r)
{
    return r->ms;
}

unsigned tmq_result_attempts(const tmq_result_t *r)
{
    return r->attempts;
}

void tmq_result_destroy(tmq_result_t **r)
{
    if (!r || !*r) return;
    free(*r);
    *r = NULL;
}

/* ---- FIFO ---- */

void tmq_resq_init(tmq_resq_t *q)
{
    q->ring = NULL;
    q->mask = (size_t)-1; /* capacity 0 */
    q->head = 0;
    q->count = 0;
}

void tmq_resq_destroy(tmq_resq_t *q)
{
    tmq_result_t *r;
    while ((r = tmq_resq_pop(q)))
        free(r);
    free(q->ring);
    tmq_resq_init(q);
}

static void s_grow(tmq_resq_t *q)
{
    size_t cap = q->ring ? (q->mask + 1) * 2 : 256;
    tmq_result_t **ring = tmq_xmalloc(cap * sizeof *ring);
    for (size_t i = 0; i < q->count; i++)
        ring[i] = q->ring[(q->head + i) & q->mask];
    free(q->ring);
    q->ring = ring;
    q->mask = cap - 1;
    q->head = 0;
}

void tmq_resq_push(tmq_resq_t *q, tmq_result_t *r)
{
    if (!q->ring || q->count == q->mask + 1) s_grow(q);
    q->ring[(q->head + q->count) & q->mask] = r;
    q->count++;
}

tmq_result_t *tmq_resq_pop(tmq_resq_t *q)
{
    if (q->count == 0) return NULL;
    tmq_result_t *r = q->ring[q->head];
    q->head = (q->head + 1) & q->mask;
    q->count--;
    return r;
}
