/* common/list.h — the one intrusive doubly linked list of taskmq.
 *
 * Records embed a tmq_list_link_t and are linked without allocating, so push, pop and unlink
 * are O(1) pointer moves. A link is on at most one list at a time (a record on two lists
 * embeds two links); an unlinked link has NULL neighbours. TMQ_LIST_ENTRY recovers the record
 * from its link. The broker's function queues, worker holdings and client job lists, the
 * worker daemon's job queues and the client library's held jobs are all this list.
 */
#ifndef TMQ_LIST_H
#define TMQ_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tmq_list_link_t {
    struct tmq_list_link_t *next, *prev;
} tmq_list_link_t;

typedef struct {
    tmq_list_link_t *head, *tail;
    size_t size;
} tmq_list_t;

#define TMQ_LIST_ENTRY(link, type, member) ((type *)((char *)(link)-offsetof(type, member)))

void tmq_list_init(tmq_list_t *l);
void tmq_list_push_back(tmq_list_t *l, tmq_list_link_t *link);
void tmq_list_push_front(tmq_list_t *l, tmq_list_link_t *link);
/* Unlinks and returns the head, or NULL when empty. */
tmq_list_link_t *tmq_list_pop_front(tmq_list_t *l);
/* Unlinks link, which must be on l. */
void tmq_list_remove(tmq_list_t *l, tmq_list_link_t *link);
/* Moves every link of src, in order, in front of dst's head; src ends empty. */
void tmq_list_prepend(tmq_list_t *dst, tmq_list_t *src);

static inline bool tmq_list_empty(const tmq_list_t *l)
{
    return l->head == NULL;
}

#endif
