/* client/result.h — job results inside libtaskmq: construction and a FIFO of them.
 *
 * A result is one allocation: the struct, its data bytes and its NUL-terminated worker name;
 * its status says how the job ended (ok, function error, died, timeout, rejected, unknown
 * function, broker lost).
 * The FIFO is a growable ring of result pointers holding the results that arrived from the
 * broker and were not yet returned by tmq_next, in arrival (= completion) order.
 */
#ifndef TMQ_RESULT_H
#define TMQ_RESULT_H

#include "taskmq/client.h"

/* A new result; data and worker are copied. Aborts on out-of-memory. */
tmq_result_t *tmq_result_new(uint64_t id, tmq_result_status_t status, const void *data, size_t len,
                             const char *worker, size_t worker_len, double ms, unsigned attempts);
/* A failed result that never ran (no worker, no time, no attempts). */
tmq_result_t *tmq_result_failed(uint64_t id, tmq_result_status_t status, const char *text,
                                size_t len);

/* Marks r as a result of an attached batch (PROTOCOL.md 5.8), not of the client's own jobs:
 * tmq_next does not count it against tmq_pending. */
void tmq_result_set_batch(tmq_result_t *r);
bool tmq_result_is_batch(const tmq_result_t *r);

/* The result status for a RESULTS item's wire status (tmq_status_t) and text: a REJECTED
 * one saying "unknown function: ..." is TMQ_RESULT_UNKNOWN_FUNCTION. */
tmq_result_status_t tmq_result_status_of(int wire_status, const void *text, size_t len);

typedef struct {
    tmq_result_t **ring;
    size_t mask; /* capacity - 1 */
    size_t head; /* index of the oldest */
    size_t count;
} tmq_resq_t;

void tmq_resq_init(tmq_resq_t *q);
/* Destroys every result still queued. */
void tmq_resq_destroy(tmq_resq_t *q);
/* Appends r, taking ownership. */
void tmq_resq_push(tmq_resq_t *q, tmq_result_t *r);
/* The oldest result (caller owns it), or NULL when empty. */
tmq_result_t *tmq_resq_pop(tmq_resq_t *q);

#endif
