/* broker/outbox.h — everything waiting to be sent to one peer, in send order.
 *
 * Control messages (WELCOME, ACK, STATUS_REPLY, HEARTBEAT, REVOKE, ERROR, BYE) are kept
 * finished, in arrival order, and go first. Then come up to two batch kinds (RESULTS for a
 * client; JOBS then CANCEL for a worker), each normally one message per flush; a batch that
 * passes TMQ_OUTBOX_SPLIT bytes continues in a new segment so no body nears the size limit.
 * The outbox owns nothing but its buffers; the core decides when it is flushed.
 *
 * The outbox counts the body bytes it holds (tmq_outbox_bytes). Output waits here only while
 * the peer would block, so a client that keeps its connection alive but never reads lets it
 * grow; the core bounds that at TMQ_OUTBOX_MAX_PENDING bytes per client: past the bound the
 * client's new SUBMIT jobs are rejected "queue full" and its STATUS goes unanswered, while
 * results it is already owed (and the one ACK per SUBMIT) are still queued, never dropped.
 */
#ifndef TMQ_BROKER_OUTBOX_H
#define TMQ_BROKER_OUTBOX_H

#include <proto.h>
#include <wire.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_SIDE_FRONTEND 0 /* clients */
#define TMQ_SIDE_BACKEND 1  /* workers */

#define TMQ_OUTBOX_KINDS 2
#define TMQ_OUTBOX_SPLIT (1u << 20)  /* a batch this large starts a new message */
#define TMQ_OUTBOX_KEEP (256u << 10) /* batch buffers larger than this are released after use */
#define TMQ_OUTBOX_MAX_PENDING (64u << 20) /* bytes a client may be owed (see above) */

typedef struct tmq_outmsg_t tmq_outmsg_t;
typedef struct tmq_outseg_t tmq_outseg_t;

typedef struct tmq_outbox_t {
    uint8_t rid[TMQ_WIRE_MAX_RID];
    uint8_t rid_len;
    uint8_t side;      /* TMQ_SIDE_* */
    bool dirty;        /* on the core's flush list */
    bool transient;    /* a one-off reply to an unregistered peer, freed once flushed */
    void *owner;       /* the tmq_bclient_t or tmq_bworker_t; NULL when transient */
    size_t index;      /* slot in the peer registry */
    int64_t last_sent; /* when a message last left for this peer */
    uint64_t hold_seq; /* the latest journal append made for this peer (session.c; kept while
                          a session is detached) */
    uint64_t open_to;  /* control messages held for a journal append above this wait; the core
                          sets it before each send (UINT64_MAX, the initial value: none wait) */
    size_t bytes;      /* control bodies plus batch segments no longer appended to */
    tmq_outmsg_t *ctl_head, *ctl_tail;
    size_t nheld; /* control messages with a hold */
    struct {
        int cmd; /* 0 = kind unused */
        tmq_batch_t batch;
        tmq_outseg_t *more_head, *more_tail; /* overflow segments, in order */
    } kind[TMQ_OUTBOX_KINDS];
} tmq_outbox_t;

/* Prepares ob for the peer rid (at most TMQ_WIRE_MAX_RID bytes) with batch kinds cmd0 and
 * cmd1 (0 for none). ob must not move afterwards (the batches point into it). */
void tmq_outbox_init(tmq_outbox_t *ob, int side, const void *rid, size_t rid_len, int cmd0,
                     int cmd1);
/* Frees everything pending and the buffers. */
void tmq_outbox_fini(tmq_outbox_t *ob);
/* Drops everything pending, keeping ob usable. */
void tmq_outbox_clear(tmq_outbox_t *ob);

/* Appends a finished control message; takes the malloc'd body and nulls *body_p. */
void tmq_outbox_control(tmq_outbox_t *ob, int cmd, void **body_p, size_t len);
/* The same for a message that may go only once journal append `hold` is durable (open_to >=
 * hold): an ACK promising jobs. Later messages may overtake it (a session matches ACKs by seq,
 * PROTOCOL.md 5.7); 0 = no hold. */
void tmq_outbox_control_held(tmq_outbox_t *ob, int cmd, void **body_p, size_t len, uint64_t hold);
/* Appends a control message with an empty map body (HEARTBEAT, BYE, RECONNECT ...). */
void tmq_outbox_signal(tmq_outbox_t *ob, int cmd);
/* Like tmq_outbox_signal, but the message goes after everything pending, batches included
 * (they are finished into control messages first): BYE to a client at shutdown. */
void tmq_outbox_signal_last(tmq_outbox_t *ob, int cmd);

/* Like tmq_outbox_control, but the message goes after everything pending, batches included
 * (they are finished into control messages first): a BATCH saying the results are complete. */
void tmq_outbox_control_last(tmq_outbox_t *ob, int cmd, void **body_p, size_t len);

/* The batch of kind k to append one item to (a fresh segment when the current one is full). */
tmq_batch_t *tmq_outbox_batch(tmq_outbox_t *ob, int k);

/* Something may be sent now (a held message whose append is not durable does not count). */
bool tmq_outbox_pending(const tmq_outbox_t *ob);
/* Something waits, sendable now or held. */
bool tmq_outbox_any(const tmq_outbox_t *ob);
/* Body bytes pending: control messages and every batch item not yet taken. O(1). */
size_t tmq_outbox_bytes(const tmq_outbox_t *ob);
/* Removes the next message that may go (held ones are skipped): returns its malloc'd body
 * (caller frees) with *cmd and *len set, or NULL when nothing is pending. */
void *tmq_outbox_take(tmq_outbox_t *ob, int *cmd, size_t *len);

#endif
