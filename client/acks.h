/* client/acks.h — from SUBMIT to ACK: the copies of sent batches, rejections, and the jobs
 * held after "queue full".
 *
 * The broker answers every SUBMIT with one ACK, in order, so the oldest kept copy belongs to
 * the next ACK — unless the ACK carries `seq` (a journaled broker, PROTOCOL.md 5.7): then it
 * belongs to the copy with that seq, and an ACK whose seq no copy has answers a resubmission
 * already answered (a duplicate: ignored). Copies stay in send order (= seq order), so the
 * ones not yet ACKed can be resubmitted as they were when a journaled broker comes back. Each copy
 * keeps the client ids of its jobs beside the body, so an ACK that refuses the whole SUBMIT fails
 * exactly those jobs without reading the body back. A rejected job is reported through the caller's
 * fail callback, except a "queue full" one the caller wants held: it waits here and is handed back
 * for resubmission (tmq_acks_next_due) after a short delay that doubles while the queue stays full,
 * a few hundred jobs at a time, more when results show the queue draining. Knows nothing of the
 * client object: it sees the in-flight set read-only and reports through the callback.
 */
#ifndef TMQ_CLIENT_ACKS_H
#define TMQ_CLIENT_ACKS_H

#include "idmap.h"
#include "list.h"
#include "log.h"
#include "proto.h"
#include "taskmq/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_ACKS_RESUBMIT_MIN 512 /* held jobs resubmitted per round, at least */
#define TMQ_ACKS_RETRY_MIN_MS 5   /* first delay before resubmitting "queue full" */
#define TMQ_ACKS_RETRY_MAX_MS 200

typedef struct {
    uint64_t *cids; /* its jobs' client ids, in order; one allocation with the body */
    size_t ncids;
    void *body; /* a copy of a SUBMIT body awaiting its ACK (after the cids) */
    size_t len;
    uint64_t seq; /* its `seq` (5.7), 0 when it has none */
} tmq_acks_sent_t;

typedef struct {
    tmq_acks_sent_t *sent; /* ring of SUBMIT copies awaiting an ACK, oldest at sent_head */
    size_t sent_head, sent_count, sent_cap;
    tmq_list_t held;  /* jobs refused "queue full", oldest first */
    void *taken;      /* the held job last handed out by tmq_acks_next_due */
    size_t due_left;  /* jobs the current resubmission round may still take */
    int64_t retry_at; /* when to resubmit held jobs (INT64_MAX: after the next ACK) */
    int retry_delay_ms;
    size_t drained;  /* results received since the last resubmission round */
    char **unserved; /* functions already said to wait for a worker */
    size_t nunserved;
    tmq_rate_t log_rate;
} tmq_acks_t;

/* A job the broker refused: the caller fails it with this status and text (not
 * NUL-terminated; valid during the call). */
typedef void (*tmq_acks_fail_fn)(void *arg, uint64_t cid, tmq_result_status_t status,
                                 const char *text, size_t len);

void tmq_acks_init(tmq_acks_t *a);
/* Forgets every kept copy and held job (the broker is gone: their ACKs will not come; the
 * caller fails those jobs). a stays usable. */
void tmq_acks_reset(tmq_acks_t *a);
/* Frees everything. Safe twice. */
void tmq_acks_destroy(tmq_acks_t *a);

/* Remembers a sent SUBMIT body and the client ids of its ncids jobs (both copied) until its
 * ACK. seq: the SUBMIT's `seq`, 0 when it has none. */
void tmq_acks_sent(tmq_acks_t *a, const void *body, size_t len, const uint64_t *cids, size_t ncids,
                   uint64_t seq);

/* Calls fn for every kept copy awaiting its ACK, oldest (lowest seq) first; fn must not change
 * a. Returns the number of copies. */
size_t tmq_acks_each_sent(const tmq_acks_t *a, void (*fn)(void *arg, const tmq_acks_sent_t *s),
                          void *arg);

/* Gives every kept copy without a seq (sent before a WELCOME said the broker journals) the
 * next seq from *seq and a body with it and session, so it can be resubmitted to a journaled
 * broker, which dedups it by its cids. Its ACK, should the first sending still be answered
 * (without seq), finds it as the oldest, as before. */
void tmq_acks_number(tmq_acks_t *a, uint64_t *seq, const uint8_t *session);

/* Handles an ACK: the copy it answers is the one with its `seq` (none: a duplicate ACK, which
 * is ignored and returns false), or the oldest when it has no seq. Each rejected job still in
 * `inflight` is reported to fail(), except those
 * refused "queue full" when hold_full: they are held for resubmission (or, should the kept
 * body not show the job, failed). An ACK with `error` fails every job of the SUBMIT it
 * answers (by the kept ids) with "bad SUBMIT: <why>" (status REJECTED).
 * Code 5 (journal unavailable) is final like every code but 1: REJECTED with the broker's
 * reason. Functions named in `unserved` are logged as a warning (shown by default, by the tool
 * and the shared library alike), once each until an ACK without them. Returns true when the ACK
 * answered a kept copy, or had no seq. */
bool tmq_acks_on_ack(tmq_acks_t *a, const tmq_msg_t *ack, const tmq_idmap_t *inflight,
                     bool hold_full, tmq_acks_fail_fn fail, void *arg);

/* n results arrived (the broker's queue drains: resubmit more at once). */
void tmq_acks_drained(tmq_acks_t *a, size_t n);

/* When held jobs are due for resubmission; INT64_MAX when none are held or the next ACK
 * decides. */
int64_t tmq_acks_retry_at(const tmq_acks_t *a);

/* The next held job to resubmit at now, into *it (valid until the next call), or false when
 * none is due. Call until false: each round takes a bounded number of jobs. */
bool tmq_acks_next_due(tmq_acks_t *a, int64_t now, tmq_submit_item_t *it);

/* The resubmission round just taken sent nothing (the caller ended every job it handed
 * out): no ACK will come to set the next one, so the held jobs left are due again at now. */
void tmq_acks_round_void(tmq_acks_t *a, int64_t now);

/* Forgets the held job cid (its client cancelled it); false when cid is not held. */
bool tmq_acks_drop_held(tmq_acks_t *a, uint64_t cid);

/* Calls fn with the client id of every held job. */
void tmq_acks_each_held(const tmq_acks_t *a, void (*fn)(void *arg, uint64_t cid), void *arg);

/* SUBMIT copies awaiting their ACK. */
size_t tmq_acks_unanswered(const tmq_acks_t *a);

/* Jobs held for resubmission. */
size_t tmq_acks_held(const tmq_acks_t *a);

#endif
