/* common/idmap.c — see idmap.h. */
#include "idmap.h"

#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

#define S_INITIAL_BITS 10

static size_t s_home(const tmq_idmap_t *m, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> m->shift);
}

static void s_alloc(tmq_idmap_t *m, unsigned bits)
{
    size_t cap = (size_t)1 << bits;
    m->slots = tmq_xmalloc(cap * sizeof *m->slots);
    for (size_t i = 0; i < cap; i++)
        m->slots[i] = (tmq_idmap_slot_t){TMQ_IDMAP_NONE, NULL};
    m->mask = cap - 1;
    m->shift = 64 - bits;
}

void tmq_idmap_init(tmq_idmap_t *m)
{
    m->count = 0;
    s_alloc(m, S_INITIAL_BITS);
}

void tmq_idmap_destroy(tmq_idmap_t *m)
{
    free(m->slots);
    m->slots = NULL;
    m->count = 0;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t s_probe(const tmq_idmap_t *m, uint64_t id)
{
    size_t i = s_home(m, id);
    while (m->slots[i].key != id && m->slots[i].key != TMQ_IDMAP_NONE)
        i = (i + 1) & m->mask;
    return i;
}

static void s_grow(tmq_idmap_t *m)
{
    tmq_idmap_slot_t *old = m->slots;
    size_t old_cap = m->mask + 1;
    s_alloc(m, 64 - m->shift + 1);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key != TMQ_IDMAP_NONE) m->slots[s_probe(m, old[i].key)] = old[i];
    free(old);
}

bool tmq_idmap_put(tmq_idmap_t *m, uint64_t id, void *value)
{
    if (2 * (m->count + 1) > m->mask + 1) s_grow(m);
    size_t i = s_probe(m, id);
    bool fresh = m->slots[i].key == TMQ_IDMAP_NONE;
    m->slots[i] = (tmq_idmap_slot_t){id, value};
    if (fresh) m->count++;
    return fresh;
}

void *tmq_idmap_get(const tmq_idmap_t *m, uint64_t id)
{
    size_t i = s_probe(m, id);
    return m->slots[i].key == id && id != TMQ_IDMAP_NONE ? m->slots[i].value : NULL;
}

bool tmq_idmap_has(const tmq_idmap_t *m, uint64_t id)
{
    return id != TMQ_IDMAP_NONE && m->slots[s_probe(m, id)].key == id;
}

bool tmq_idmap_remove(tmq_idmap_t *m, uint64_t id, void **value)
{
    if (id == TMQ_IDMAP_NONE) return false;
    size_t i = s_probe(m, id);
    if (m->slots[i].key != id) return false;
    if (value) *value = m->slots[i].value;
    /* Backward shift: a later member of the probe run moves into the hole unless its home
     * lies cyclically within (hole, j]. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j].key != TMQ_IDMAP_NONE; j = (j + 1) & m->mask) {
        size_t home = s_home(m, m->slots[j].key);
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = (tmq_idmap_slot_t){TMQ_IDMAP_NONE, NULL};
    m->count--;
    return true;
}

void tmq_idmap_drain(tmq_idmap_t *m, void (*fn)(uint64_t id, void *value, void *arg), void *arg)
{
    for (size_t i = 0; i <= m->mask; i++) {
        tmq_idmap_slot_t s = m->slots[i];
        if (s.key == TMQ_IDMAP_NONE) continue;
        m->slots[i] = (tmq_idmap_slot_t){TMQ_IDMAP_NONE, NULL};
        if (fn) fn(s.key, s.value, arg);
    }
    m->count = 0;
}
