/* broker/clients.h — the client registry: one record per client connection (routing id).
 *
 * A record is its outbox (WELCOME, ACK, STATUS_REPLY, HEARTBEAT, then one RESULTS batch per
 * flush), the list of its live jobs (so BYE or expiry can drop or cancel them) and its
 * liveness. Any valid frontend message from an unknown routing id creates one.
 */
#ifndef TMQ_BROKER_CLIENTS_H
#define TMQ_BROKER_CLIENTS_H

#include "outbox.h"
#include "ridmap.h"

#include <list.h>
#include <stdint.h>

typedef struct tmq_bclient_t {
    tmq_outbox_t out; /* first member: the registry stores &out */
    tmq_list_t jobs;  /* live jobs, linked through job->clink */
    int64_t last_seen;
    bool oom; /* its HELLO said it knows status OOM; to others an OOM is an ERROR */
} tmq_bclient_t;

typedef struct tmq_bclients_t tmq_bclients_t;

tmq_bclients_t *tmq_bclients_new(void);
void tmq_bclients_destroy(tmq_bclients_t **self_p);

tmq_bclient_t *tmq_bclients_find(tmq_bclients_t *self, const void *rid, size_t rid_len);
tmq_bclient_t *tmq_bclients_add(tmq_bclients_t *self, const void *rid, size_t rid_len, int64_t now);
/* Frees the record and anything still in its outbox; it must own no jobs. Nulls *c_p. */
void tmq_bclients_remove(tmq_bclients_t *self, tmq_bclient_t **c_p);

size_t tmq_bclients_size(const tmq_bclients_t *self);
tmq_bclient_t *tmq_bclients_at(const tmq_bclients_t *self, size_t i);

#endif
