/* client/idset.c — see idset.h. The hash is Fibonacci hashing of the id, which spreads
 * consecutive ids (the common case: ids count up from 0) evenly over the table. */
#include "idset.h"

#include <stdlib.h>
#include <string.h>

#define S_EMPTY UINT64_MAX
#define S_INITIAL 1024

static size_t s_hash(uint64_t id, size_t mask)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static uint64_t *s_alloc(size_t cap)
{
    uint64_t *p = malloc(cap * sizeof *p);
    if (!p) abort();
    memset(p, 0xff, cap * sizeof *p); /* every slot S_EMPTY */
    return p;
}

void tmq_idset_init(tmq_idset_t *s)
{
    s->slots = s_alloc(S_INITIAL);
    s->mask = S_INITIAL - 1;
    s->count = 0;
}

void tmq_idset_destroy(tmq_idset_t *s)
{
    free(s->slots);
    s->slots = NULL;
    s->count = 0;
}

static void s_grow(tmq_idset_t *s)
{
    size_t old_cap = s->mask + 1;
    uint64_t *old = s->slots;
    s->slots = s_alloc(old_cap * 2);
    s->mask = old_cap * 2 - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i] == S_EMPTY) continue;
        size_t j = s_hash(old[i], s->mask);
        while (s->slots[j] != S_EMPTY)
            j = (j + 1) & s->mask;
        s->slots[j] = old[i];
    }
    free(old);
}

bool tmq_idset_add(tmq_idset_t *s, uint64_t id)
{
    if ((s->count + 1) * 2 > s->mask + 1) s_grow(s);
    size_t i = s_hash(id, s->mask);
    while (s->slots[i] != S_EMPTY) {
        if (s->slots[i] == id) return false;
        i = (i + 1) & s->mask;
    }
    s->slots[i] = id;
    s->count++;
    return true;
}

bool tmq_idset_has(const tmq_idset_t *s, uint64_t id)
{
    size_t i = s_hash(id, s->mask);
    while (s->slots[i] != S_EMPTY) {
        if (s->slots[i] == id) return true;
        i = (i + 1) & s->mask;
    }
    return false;
}

bool tmq_idset_remove(tmq_idset_t *s, uint64_t id)
{
    size_t i = s_hash(id, s->mask);
    while (s->slots[i] != id) {
        if (s->slots[i] == S_EMPTY) return false;
        i = (i + 1) & s->mask;
    }
    /* Backward shift: pull later members of the probe run into the hole when their home
     * slot does not lie strictly between the hole and their position. */
    size_t hole = i;
    size_t j = i;
    for (;;) {
        j = (j + 1) & s->mask;
        if (s->slots[j] == S_EMPTY) break;
        size_t home = s_hash(s->slots[j], s->mask);
        if (((j - home) & s->mask) >= ((j - hole) & s->mask)) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole] = S_EMPTY;
    s->count--;
    return true;
}

void tmq_idset_drain(tmq_idset_t *s, void (*fn)(uint64_t id, void *arg), void *arg)
{
    for (size_t i = 0; i <= s->mask; i++) {
        if (s->slots[i] == S_EMPTY) continue;
        fn(s->slots[i], arg);
        s->slots[i] = S_EMPTY;
    }
    s->count = 0;
}
