/* broker/queue.c — see queue.h. Unlinked links are left with NULL neighbours so a stale
 * pointer shows up quickly in a debugger instead of silently walking another list. */
#include "queue.h"

#include <assert.h>

void tmq_fifo_init(tmq_fifo_t *q)
{
    q->head = q->tail = NULL;
    q->size = 0;
}

void tmq_fifo_push_back(tmq_fifo_t *q, tmq_fifo_link_t *l)
{
    l->next = NULL;
    l->prev = q->tail;
    if (q->tail)
        q->tail->next = l;
    else
        q->head = l;
    q->tail = l;
    q->size++;
}

void tmq_fifo_push_front(tmq_fifo_t *q, tmq_fifo_link_t *l)
{
    l->prev = NULL;
    l->next = q->head;
    if (q->head)
        q->head->prev = l;
    else
        q->tail = l;
    q->head = l;
    q->size++;
}

tmq_fifo_link_t *tmq_fifo_pop_front(tmq_fifo_t *q)
{
    tmq_fifo_link_t *l = q->head;
    if (l) tmq_fifo_remove(q, l);
    return l;
}

void tmq_fifo_remove(tmq_fifo_t *q, tmq_fifo_link_t *l)
{
    assert(q->size > 0);
    if (l->prev)
        l->prev->next = l->next;
    else
        q->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        q->tail = l->prev;
    l->next = l->prev = NULL;
    q->size--;
}
