/* broker/batches.h — named batches (PROTOCOL.md 5.8): results a user can reattach to.
 *
 * A batch is named by its submitter (SUBMIT `batch`); its jobs carry its id (tmq_bjob_t.batch).
 * It keeps a copy of every result in the order they finished, by cid (the input index), the
 * counts, and the connections attached to it (ATTACH), which get every result once: those it
 * holds at once, the rest as they finish, then BATCH {complete: true}. Its jobs outlive a
 * submitter that vanishes (the core keeps that client's record as a *keeper* until they end).
 * A complete batch is forgotten batch_ttl_ms after it completed once every result was sent to
 * some client (at the latest TMQ_PROTO_BATCH_TTL_MAX after). With a journal, the batch's
 * results stay in it until then (the batch, not the session's RACK, forgets its jobs).
 */
#ifndef TMQ_BROKER_BATCHES_H
#define TMQ_BROKER_BATCHES_H

#include <idmap.h>
#include <list.h>
#include <proto.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_BATCHES_LISTED 1000 /* batches STATUS_REPLY lists at most */
#define TMQ_BATCHES_MAX 10000   /* batches a broker holds at most (a SUBMIT naming one more is
                                   refused) */

typedef struct tmq_bres_t tmq_bres_t;

typedef struct tmq_bbatch_t {
    uint32_t id;
    char name[TMQ_PROTO_MAX_BATCH_NAME + 1];
    size_t name_len;
    uint64_t total, done, failed, running; /* cids; with a result OK / not OK; unfinished jobs */
    uint64_t cancelled; /* cids whose job was cancelled before any result: inputs it lacks
                           (until a resume runs them again) */
    bool closed;
    uint32_t ttl_ms;
    int64_t created, complete_at; /* complete_at 0 while not complete */
    tmq_idmap_t by_cid;           /* cid -> its latest result, or S_NO_RESULT_YET */
    tmq_bres_t **results;         /* in the order they finished (superseded ones too) */
    size_t nresults, results_cap;
    size_t undelivered; /* results not yet sent to any client */
    size_t submitters;  /* connected clients that submitted to it and have not left */
    tmq_list_t attachers;
    uint64_t end_jid; /* the journal record of its batch_end (0: none) */
} tmq_bbatch_t;

#endif
