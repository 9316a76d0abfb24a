/* broker/queue.h — an intrusive doubly linked FIFO.
 *
 * Records embed a tmq_fifo_link_t and are linked without any allocation, so pushing,
 * popping and unlinking a job are O(1) pointer moves. A link is in at most one FIFO at a
 * time; the broker uses one link for "queued on a function or held by a worker" and a second
 * for "owned by a client". TMQ_FIFO_ENTRY recovers the record from its link.
 */
#ifndef TMQ_BROKER_QUEUE_H
#define TMQ_BROKER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tmq_fifo_link_t {
    struct tmq_fifo_link_t *next, *prev;
} tmq_fifo_link_t;

typedef struct {
    tmq_fifo_link_t *head, *tail;
    size_t size;
} tmq_fifo_t;

#define TMQ_FIFO_ENTRY(link, type, member) ((type *)((char *)(link)-offsetof(type, member)))

void tmq_fifo_init(tmq_fifo_t *q);
void tmq_fifo_push_back(tmq_fifo_t *q, tmq_fifo_link_t *l);
void tmq_fifo_push_front(tmq_fifo_t *q, tmq_fifo_link_t *l);
/* Unlinks and returns the head, or NULL when empty. */
tmq_fifo_link_t *tmq_fifo_pop_front(tmq_fifo_t *q);
/* Unlinks l, which must be in q. */
void tmq_fifo_remove(tmq_fifo_t *q, tmq_fifo_link_t *l);

static inline bool tmq_fifo_empty(const tmq_fifo_t *q)
{
    return q->head == NULL;
}

#endif
