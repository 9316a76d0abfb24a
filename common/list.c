/* common/list.c — see list.h. Unlinked links are left with NULL neighbours so a stale
 * pointer shows up quickly in a debugger instead of silently walking another list. */
#include "list.h"

#include <assert.h>

void tmq_list_init(tmq_list_t *l)
{
    l->head = l->tail = NULL;
    l->size = 0;
}

void tmq_list_push_back(tmq_list_t *l, tmq_list_link_t *link)
{
    link->next = NULL;
    link->prev = l->tail;
    if (l->tail)
        l->tail->next = link;
    else
        l->head = link;
    l->tail = link;
    l->size++;
}

void tmq_list_push_front(tmq_list_t *l, tmq_list_link_t *link)
{
    link->prev = NULL;
    link->next = l->head;
    if (l->head)
        l->head->prev = link;
    else
        l->tail = link;
    l->head = link;
    l->size++;
}

tmq_list_link_t *tmq_list_pop_front(tmq_list_t *l)
{
    tmq_list_link_t *link = l->head;
    if (link) tmq_list_remove(l, link);
    return link;
}

void tmq_list_remove(tmq_list_t *l, tmq_list_link_t *link)
{
    assert(l->size > 0);
    if (link->prev)
        link->prev->next = link->next;
    else
        l->head = link->next;
    if (link->next)
        link->next->prev = link->prev;
    else
        l->tail = link->prev;
    link->next = link->prev = NULL;
    l->size--;
}

void tmq_list_prepend(tmq_list_t *dst, tmq_list_t *src)
{
    if (!src->head) return;
    src->tail->next = dst->head;
    if (dst->head)
        dst->head->prev = src->tail;
    else
        dst->tail = src->tail;
    dst->head = src->head;
    dst->size += src->size;
    tmq_list_init(src);
}
