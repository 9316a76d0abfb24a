/* broker/ridmap.c — see ridmap.h. Routing ids are binary, so the hash key is their hex form
 * (a default 5-byte id costs a 10-character key); lookups happen once per message. */
#include "ridmap.h"

#include <xalloc.h>

#include <czmq.h>
#include <stdlib.h>

struct tmq_ridmap_t {
    zhashx_t *map; /* hex(rid) -> tmq_outbox_t* */
    tmq_outbox_t **items;
    size_t size, cap;
};

void tmq_ridmap_hex(char *out, size_t outlen, const void *rid, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = rid;
    if (outlen == 0) return;
    if (len > (outlen - 1) / 2) len = (outlen - 1) / 2;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

tmq_ridmap_t *tmq_ridmap_new(void)
{
    tmq_ridmap_t *self = tmq_xcalloc(1, sizeof *self);
    self->map = zhashx_new();
    if (!self->map) tmq_oom();
    return self;
}

void tmq_ridmap_destroy(tmq_ridmap_t **self_p)
{
    tmq_ridmap_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    zhashx_destroy(&self->map);
    free(self->items);
    free(self);
    *self_p = NULL;
}

tmq_outbox_t *tmq_ridmap_find(tmq_ridmap_t *self, const void *rid, size_t rid_len)
{
    char key[2 * TMQ_WIRE_MAX_RID + 1];
    tmq_ridmap_hex(key, sizeof key, rid, rid_len);
    return zhashx_lookup(self->map, key);
}

void tmq_ridmap_insert(tmq_ridmap_t *self, tmq_outbox_t *ob)
{
    char key[2 * TMQ_WIRE_MAX_RID + 1];
    tmq_ridmap_hex(key, sizeof key, ob->rid, ob->rid_len);
    zhashx_insert(self->map, key, ob);
    if (self->size == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 16;
        self->items = tmq_xrealloc(self->items, self->cap * sizeof *self->items);
    }
    ob->index = self->size;
    self->items[self->size++] = ob;
}

void tmq_ridmap_remove(tmq_ridmap_t *self, tmq_outbox_t *ob)
{
    char key[2 * TMQ_WIRE_MAX_RID + 1];
    tmq_ridmap_hex(key, sizeof key, ob->rid, ob->rid_len);
    zhashx_delete(self->map, key);
    tmq_outbox_t *last = self->items[--self->size];
    self->items[ob->index] = last;
    last->index = ob->index;
}

size_t tmq_ridmap_size(const tmq_ridmap_t *self)
{
    return self->size;
}

tmq_outbox_t *tmq_ridmap_at(const tmq_ridmap_t *self, size_t i)
{
    return self->items[i];
}
