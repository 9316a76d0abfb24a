/* broker/ridmap.h — a registry of peers keyed by ZeroMQ routing id.
 *
 * Holds tmq_outbox_t pointers (the first member of every client and worker record) in a
 * hash by routing id plus a dense array for iteration; removal swaps the last entry into the
 * hole and fixes its `index`. The registry never owns or frees the peers.
 */
#ifndef TMQ_BROKER_RIDMAP_H
#define TMQ_BROKER_RIDMAP_H

#include "outbox.h"

#include <stddef.h>

typedef struct tmq_ridmap_t tmq_ridmap_t;

tmq_ridmap_t *tmq_ridmap_new(void);
void tmq_ridmap_destroy(tmq_ridmap_t **self_p);

/* The peer with this routing id, or NULL. */
tmq_outbox_t *tmq_ridmap_find(tmq_ridmap_t *self, const void *rid, size_t rid_len);
/* Adds ob under its own rid (which must not be present). */
void tmq_ridmap_insert(tmq_ridmap_t *self, tmq_outbox_t *ob);
void tmq_ridmap_remove(tmq_ridmap_t *self, tmq_outbox_t *ob);

size_t tmq_ridmap_size(const tmq_ridmap_t *self);
/* Entry i, 0 <= i < size, in no particular order. */
tmq_outbox_t *tmq_ridmap_at(const tmq_ridmap_t *self, size_t i);

/* The hex form of rid into out, NUL-terminated, as many bytes as fit (the registry's key, and
 * how log lines name a peer). */
void tmq_ridmap_hex(char *out, size_t outlen, const void *rid, size_t len);

#endif
