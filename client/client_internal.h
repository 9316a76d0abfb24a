/* client/client_internal.h — the client object shared by libtaskmq's files (not public).
 *
 * Job ids count up from 0. Every submitted id is in `inflight` from tmq_submit until its
 * result arrives (or its rejection is turned into a failed result), so the window is
 * inflight.count and a result whose id is not there is a duplicate. SUBMIT bodies are kept
 * in send order until their ACK (the broker ACKs every SUBMIT, in order): a "queue full"
 * rejection is resubmitted from that copy.
 */
#ifndef TMQ_CLIENT_INTERNAL_H
#define TMQ_CLIENT_INTERNAL_H

#include "idset.h"
#include "link.h"
#include "proto.h"
#include "result.h"
#include "taskmq/client.h"

#include <czmq.h>

#define TMQ_CLIENT_BATCH_JOBS 512           /* flush a SUBMIT at this many jobs */
#define TMQ_CLIENT_BATCH_BYTES (256u << 10) /* ... or at this many bytes */
#define TMQ_CLIENT_WINDOW 20000             /* jobs awaiting a result from the broker */
#define TMQ_CLIENT_RETRY_MIN_MS 5           /* first delay before resubmitting "queue full" */
#define TMQ_CLIENT_RETRY_MAX_MS 200
#define TMQ_CLIENT_BROKER_LIVENESS 5 /* heartbeats of broker silence before giving up */

typedef struct {
    void *body; /* a copy of a SUBMIT body awaiting its ACK */
    size_t len;
} tmq_sent_t;

typedef struct tmq_held_t tmq_held_t; /* a job refused with "queue full", waiting to resubmit */

struct tmq_client_t {
    zactor_t *link;           /* owns the DEALER (link.c) */
    tmq_link_shared_t shared; /* with the link: when the broker was last heard */
    void *pipe;               /* raw handle of the link's pipe, this thread's end */
    uint64_t next_id;
    uint64_t returned;   /* results handed out by tmq_next */
    uint32_t timeout_ms; /* defaults for later submissions */
    int32_t retries;
    bool fail_when_full;
    bool welcomed;
    bool hello_sent;       /* a HELLO is out (the link sends the first) and unanswered */
    uint32_t max_payload;  /* from WELCOME; 0 until then */
    uint32_t heartbeat_ms; /* from WELCOME */
    size_t window;
    tmq_batch_t batch; /* submitted, not yet sent */
    tmq_idset_t inflight;
    tmq_sent_t *sent; /* ring of SUBMIT copies awaiting ACK, oldest at sent_head */
    size_t sent_head, sent_count, sent_cap;
    tmq_held_t *held_head, *held_tail;
    size_t held_count;
    int64_t retry_at; /* when to resubmit held jobs (INT64_MAX: after the next ACK) */
    int retry_delay_ms;
    size_t drained;     /* results received since the last resubmission */
    tmq_resq_t results; /* arrived, not yet returned by tmq_next */
    uint32_t status_asked, status_answered;
    void *status_body; /* the answer to the latest STATUS, once it arrived */
    size_t status_len;
};

/* Appends one job to the current batch, flushing by count and size. */
void tmq_client_enqueue(tmq_client_t *c, const tmq_submit_item_t *it);
/* Sends the current batch, if any, as one SUBMIT. */
void tmq_client_send_batch(tmq_client_t *c);
/* A failed result for id (if it is still in flight) with error text. */
void tmq_client_fail(tmq_client_t *c, uint64_t id, const char *text, size_t len);

/* acks.c: remember a sent SUBMIT body (copied) until its ACK. */
void tmq_acks_sent(tmq_client_t *c, const void *body, size_t len);
/* Handles an ACK: failed results for rejected jobs, "queue full" ones held for retry. */
void tmq_acks_on_ack(tmq_client_t *c, const tmq_msg_t *m);
/* Resubmits held jobs when their retry time has come. */
void tmq_acks_retry(tmq_client_t *c, int64_t now);
/* Frees every sent copy and held job. */
void tmq_acks_destroy(tmq_client_t *c);

#endif
