/* common/idmap.h — the integer-id hash of taskmq: uint64 ids to pointers.
 *
 * Open addressing with linear probing and backward-shift deletion (no tombstones, so probes
 * stay short under churn), Fibonacci hashing (consecutive ids, the common case, spread
 * evenly), power-of-two capacity kept at most half full; it grows and never shrinks.
 * UINT64_MAX marks an empty slot and cannot be stored. Values are borrowed pointers (NULL is
 * a value like any other: use tmq_idmap_has to tell it from absence). The client library's
 * set of jobs in flight is this map; the broker's job table keeps the same scheme with 4-byte
 * slots of its own (broker/jobtab.c says why).
 */
#ifndef TMQ_IDMAP_H
#define TMQ_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_IDMAP_NONE UINT64_MAX /* the id that cannot be stored */

typedef struct {
    uint64_t key;
    void *value;
} tmq_idmap_slot_t;

typedef struct {
    tmq_idmap_slot_t *slots;
    size_t mask;    /* capacity - 1 */
    unsigned shift; /* 64 - log2(capacity) */
    size_t count;
} tmq_idmap_t;

void tmq_idmap_init(tmq_idmap_t *m);
/* Frees the table (not the values). Safe twice. */
void tmq_idmap_destroy(tmq_idmap_t *m);
/* Adds id -> value, or replaces the value of a present id. Returns true when id was new.
 * id must not be TMQ_IDMAP_NONE. Aborts on out-of-memory. */
bool tmq_idmap_put(tmq_idmap_t *m, uint64_t id, void *value);
/* The value for id, or NULL when absent. */
void *tmq_idmap_get(const tmq_idmap_t *m, uint64_t id);
bool tmq_idmap_has(const tmq_idmap_t *m, uint64_t id);
/* Removes id; returns false when it was absent. *value (if non-NULL) gets its value. */
bool tmq_idmap_remove(tmq_idmap_t *m, uint64_t id, void **value);
/* Calls fn for every entry (in no particular order), then empties the map; fn must not
 * change the map. */
void tmq_idmap_drain(tmq_idmap_t *m, void (*fn)(uint64_t id, void *value, void *arg), void *arg);

static inline size_t tmq_idmap_count(const tmq_idmap_t *m)
{
    return m->count;
}

#endif
