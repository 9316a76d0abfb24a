/* client/attach.h — a client's attachment to a named batch (docs/PROTOCOL.md 5.8) as plain data.
 *
 * ATTACH asks; the broker's first BATCH answers (counts, `known`), then RESULTS carry the
 * batch's results (the submitter's cids), then a BATCH with complete: true says this connection
 * has them all. Results are de-duplicated by cid here (a re-ATTACH after a journaled broker's
 * restart, or a resend, brings them again). Between an ATTACH and its answer, results that are
 * not the client's own belong to an attachment being replaced and are dropped (the answer's
 * attachment sends every result again). A resume ATTACH only asks which cids are done.
 * Pure: client.c sends, this says what a message means; tested without a network.
 */
#ifndef TMQ_CLIENT_ATTACH_H
#define TMQ_CLIENT_ATTACH_H

#include "idmap.h"
#include "proto.h"
#include "taskmq/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TMQ_CATTACH_NONE = 0, /* not attached (or the resume question answered) */
    TMQ_CATTACH_ASKED,    /* an ATTACH is out, its first BATCH awaited */
    TMQ_CATTACH_READING,  /* attached: results come */
    TMQ_CATTACH_COMPLETE, /* the BATCH saying complete came: every result has arrived */
    TMQ_CATTACH_LOST,     /* the broker went before that */
} tmq_cattach_phase_t;

typedef struct {
    char name[TMQ_PROTO_MAX_BATCH_NAME + 1];
    size_t name_len;
    tmq_cattach_phase_t phase;
    bool resume;               /* the ATTACH out asks resume: true (the answer carries `ok`) */
    bool answered;             /* the ATTACH out was answered (BATCH, or ERROR: refused) */
    bool refused;              /* ... by ERROR code 3: a broker without batches */
    bool attached;             /* a batch was attached (its phase is READING, COMPLETE or LOST) */
    tmq_idmap_t seen;          /* cids of the attached batch's results delivered */
    size_t queued;             /* of those, not yet returned by tmq_next */
    tmq_batch_status_t st;     /* the latest BATCH's counts */
    tmq_batch_status_t answer; /* the counts the answer to the ATTACH out said */
    uint64_t *ok;              /* a resume's answer: the cids done (malloc'd) */
    size_t nok;
} tmq_cattach_t;

void tmq_cattach_init(tmq_cattach_t *a);
void tmq_cattach_destroy(tmq_cattach_t *a);

/* An ATTACH for name goes out (resume: only asking): a new attachment, which forgets what was
 * seen (the library's repeat after a restart is tmq_cattach_again). */
void tmq_cattach_ask(tmq_cattach_t *a, const char *name, size_t len, bool resume);

/* A BATCH message arrived. Returns true when it answered the ATTACH out. */
bool tmq_cattach_on_batch(tmq_cattach_t *a, const tmq_msg_t *m);

/* A RESULTS item with cid that is not one of the client's own jobs: true when it is the
 * attached batch's and new (deliver it; it counts as queued), false to drop it. */
bool tmq_cattach_take(tmq_cattach_t *a, uint64_t cid);

/* tmq_next returned one of the batch's results. */
void tmq_cattach_returned(tmq_cattach_t *a);

/* An ERROR code 3 (command unknown) came: true when it refuses the ATTACH out. */
bool tmq_cattach_on_refusal(tmq_cattach_t *a);

/* The broker is gone for good (not a journaled one coming back): an attachment not complete
 * is lost. An ATTACH out is answered by nothing. */
void tmq_cattach_lose(tmq_cattach_t *a);

/* A journaled broker took the session over (it restarted, or we reconnected): true when the
 * attachment must be asked again (an ATTACH out, or attached and not complete); the caller
 * sends ATTACH for a->name. */
bool tmq_cattach_again(tmq_cattach_t *a);

/* True while an attachment waits for results or an answer (the broker's liveness matters). */
bool tmq_cattach_active(const tmq_cattach_t *a);

/* The public state (taskmq/client.h). */
tmq_attach_state_t tmq_cattach_state(const tmq_cattach_t *a);

#endif
