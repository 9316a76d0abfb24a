/* client/idset.h — a set of 64-bit job ids (the jobs awaiting a result from the broker).
 *
 * Open addressing with linear probing and backward-shift deletion, so removal leaves no
 * tombstones and lookups stay short however many ids pass through. UINT64_MAX marks an
 * empty slot and can never be stored. Grows at 50% load; never shrinks.
 */
#ifndef TMQ_IDSET_H
#define TMQ_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *slots;
    size_t mask; /* capacity - 1 (capacity is a power of two) */
    size_t count;
} tmq_idset_t;

void tmq_idset_init(tmq_idset_t *s);
void tmq_idset_destroy(tmq_idset_t *s);
/* Adds id; returns false when it was already present. Aborts on out-of-memory. */
bool tmq_idset_add(tmq_idset_t *s, uint64_t id);
/* Removes id; returns false when it was not present. */
bool tmq_idset_remove(tmq_idset_t *s, uint64_t id);
bool tmq_idset_has(const tmq_idset_t *s, uint64_t id);
/* Calls fn for every id (in no particular order) and empties the set. */
void tmq_idset_drain(tmq_idset_t *s, void (*fn)(uint64_t id, void *arg), void *arg);

#endif
