/* broker/clients.h — the client registry: one record per client connection (routing id).
 *
 * A record is its outbox (WELCOME, ACK, STATUS_REPLY, HEARTBEAT, then one RESULTS batch per
 * flush), the list of its live jobs (so BYE or expiry can drop or cancel them) and its
 * liveness. Any valid frontend message from an unknown routing id creates one.
 *
 * At a journaled broker a record may be a *session* (PROTOCOL.md 5.7): it outlives its
 * connection. Detached (no connection holds it: it expired, or was replayed from the journal)
 * it is out of the routing-id registry, keeps its jobs and results, and is attached again to
 * the connection that claims it (session.c).
 */
#ifndef TMQ_BROKER_CLIENTS_H
#define TMQ_BROKER_CLIENTS_H

#include "outbox.h"
#include "ridmap.h"

#include <list.h>
#include <stdint.h>

#include <idmap.h>
#include <proto.h>

typedef struct tmq_bclient_t {
    tmq_outbox_t out; /* first member: the registry stores &out */
    tmq_list_t jobs;  /* live jobs, linked through job->clink */
    int64_t last_seen;
    bool oom;      /* its HELLO said it knows status OOM; to others an OOM is an ERROR */
    bool attached; /* a connection holds it: it is in the routing-id registry */
    /* ---- sessions only (has_session) ---- */
    bool has_session;
    uint8_t session[TMQ_PROTO_SESSION_LEN];
    uint32_t linger_ms;     /* kept this long detached */
    int64_t detached_at;    /* when it lost its connection (while detached) */
    tmq_list_link_t dlink;  /* the core's list of detached sessions */
    tmq_idmap_t cids;       /* cid -> its live job, or its held result (session.c tags it) */
    tmq_list_t held;        /* results queued or sent and not acknowledged, in send order */
    size_t held_bytes;      /* their size: counts as owed (it is bounded like the outbox) */
    uint64_t sent;          /* RESULTS items queued on this connection since its WELCOME */
    uint64_t epoch;         /* WELCOMEs the session got (RACK names the one it counts from) */
    /* ---- named batches (batches.c) ---- */
    uint32_t *subs;         /* ids of the batches it submitted to while connected */
    size_t nsubs, subs_cap;
    uint32_t attach;        /* the batch it is attached to (ATTACH), 0: none */
    size_t attach_next;     /* results of that batch queued to it so far */
    tmq_list_link_t alink;  /* that batch's attachers */
    bool keeper;            /* gone, kept only for its batch jobs (freed once they end) */
    bool parked;            /* on the core's list of detached records (dlink) */
} tmq_bclient_t;

typedef struct tmq_bclients_t tmq_bclients_t;

tmq_bclients_t *tmq_bclients_new(void);
void tmq_bclients_destroy(tmq_bclients_t **self_p);

tmq_bclient_t *tmq_bclients_find(tmq_bclients_t *self, const void *rid, size_t rid_len);
tmq_bclient_t *tmq_bclients_add(tmq_bclients_t *self, const void *rid, size_t rid_len, int64_t now);
/* A session record with no connection (a replayed one): not in the registry until attached. */
tmq_bclient_t *tmq_bclients_add_detached(tmq_bclients_t *self, int64_t now);
/* Takes c out of the registry (its connection is gone); its outbox is cleared. */
void tmq_bclients_detach(tmq_bclients_t *self, tmq_bclient_t *c);
/* Puts a detached c in the registry under rid (which must not be present). */
void tmq_bclients_attach(tmq_bclients_t *self, tmq_bclient_t *c, const void *rid, size_t rid_len);
/* Frees the record and anything still in its outbox; it must own no jobs and hold no results.
 * Nulls *c_p. */
void tmq_bclients_remove(tmq_bclients_t *self, tmq_bclient_t **c_p);

/* Attached clients (connections). */
size_t tmq_bclients_size(const tmq_bclients_t *self);
tmq_bclient_t *tmq_bclients_at(const tmq_bclients_t *self, size_t i);

#endif
