/* client/reorder.c — see reorder.h. Slot i of the ring holds index next + ((i - head) mod
 * capacity); an empty slot has line == NULL. */
#include "reorder.h"
#include "xalloc.h"

#include <stdlib.h>

typedef struct {
    char *line;
    size_t len;
} s_slot_t;

struct tmq_reorder_t {
    s_slot_t *ring;
    size_t cap;  /* power of two */
    size_t head; /* slot of index `next` */
    uint64_t next;
    size_t count;
};

tmq_reorder_t *tmq_reorder_new(void)
{
    tmq_reorder_t *self = tmq_xcalloc(1, sizeof *self);
    self->cap = 64;
    self->ring = tmq_xcalloc(self->cap, sizeof *self->ring);
    return self;
}

void tmq_reorder_destroy(tmq_reorder_t **pself)
{
    if (!pself || !*pself) return;
    tmq_reorder_t *self = *pself;
    for (size_t i = 0; i < self->cap; i++)
        free(self->ring[i].line);
    free(self->ring);
    free(self);
    *pself = NULL;
}

static void s_grow(tmq_reorder_t *self, uint64_t span)
{
    size_t cap = self->cap;
    while (cap <= span)
        cap *= 2;
    s_slot_t *ring = tmq_xcalloc(cap, sizeof *ring);
    for (size_t i = 0; i < self->cap; i++)
        ring[i] = self->ring[(self->head + i) & (self->cap - 1)];
    free(self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
}

int tmq_reorder_put(tmq_reorder_t *self, uint64_t index, char *line, size_t len)
{
    if (index < self->next) {
        free(line);
        return -1;
    }
    uint64_t span = index - self->next;
    if (span >= self->cap) s_grow(self, span);
    s_slot_t *s = &self->ring[(self->head + span) & (self->cap - 1)];
    if (s->line) {
        free(line);
        return -1;
    }
    s->line = line;
    s->len = len;
    self->count++;
    return 0;
}

char *tmq_reorder_pop(tmq_reorder_t *self, size_t *len)
{
    s_slot_t *s = &self->ring[self->head];
    if (!s->line) return NULL;
    char *line = s->line;
    if (len) *len = s->len;
    s->line = NULL;
    self->head = (self->head + 1) & (self->cap - 1);
    self->next++;
    self->count--;
    return line;
}

int tmq_reorder_skip(tmq_reorder_t *self)
{
    if (self->ring[self->head].line) return -1;
    self->head = (self->head + 1) & (self->cap - 1);
    self->next++;
    return 0;
}

uint64_t tmq_reorder_next(const tmq_reorder_t *self)
{
    return self->next;
}

size_t tmq_reorder_size(const tmq_reorder_t *self)
{
    return self->count;
}
