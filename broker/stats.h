/* broker/stats.h — broker counters and the STATUS_REPLY body.
 *
 * Counts what the job table does not: stale results, malformed input by side, SUBMIT items
 * rejected by reason, and a completion-rate window (a sample of the completed-jobs total once a
 * second, six kept, so the rate covers the last ~5 s). The reply also carries the broker's version,
 * every worker as {name, pid, procs, busy, done, failed, addr, version, functions, seen_ms} and
 * every function a connected worker serves or that has queued jobs as {name, workers, procs,
 * queued}, sorted by name.
 */
#ifndef TMQ_BROKER_STATS_H
#define TMQ_BROKER_STATS_H

#include "workers.h"

#include <stddef.h>
#include <stdint.h>

#define TMQ_BSTATS_SAMPLES 6

#define TMQ_BSTATS_REJECT_CODES 6 /* SUBMIT items rejected, indexed by TMQ_REJ_* (1..5) */

typedef struct {
    int64_t started_ms;
    uint64_t stale;        /* late or duplicate results discarded */
    uint64_t malformed[2]; /* messages or items that did not parse, by TMQ_SIDE_* */
    uint64_t rejected[TMQ_BSTATS_REJECT_CODES];
    int64_t sample_t[TMQ_BSTATS_SAMPLES];
    uint64_t sample_n[TMQ_BSTATS_SAMPLES];
    int nsamples, head; /* ring: head is the next slot to write */
    int64_t next_sample;
} tmq_bstats_t;

/* Numbers the reply needs from elsewhere. */
typedef struct {
    uint64_t queued, running, prefetched, done, failed, cancelled, clients, max_queue;
    uint64_t refused; /* connections the ZAP handler refused */
    bool insecure;    /* --insecure: peers from any address without keys */
    uint32_t heartbeat_ms;
    /* --journal (journal false: none, and the reply has no `journal` key) */
    bool journal;
    uint64_t journal_live, journal_bytes, sessions;
    const char *journal_failed; /* why it takes no new jobs, NULL while it does */
    const void *batches;        /* the `batches` array, packed (tmq_batches_pack) */
    size_t batches_len;
} tmq_bstats_view_t;

void tmq_bstats_init(tmq_bstats_t *st, int64_t now);
/* Takes a sample of `completed` (done + failed) when a second has passed since the last. */
void tmq_bstats_tick(tmq_bstats_t *st, int64_t now, uint64_t completed);
/* Malformed messages and items on both sides. */
static inline uint64_t tmq_bstats_malformed(const tmq_bstats_t *st)
{
    return st->malformed[0] + st->malformed[1];
}
/* Completions per second over the sampled window (0 before any time has passed). */
double tmq_bstats_rate(const tmq_bstats_t *st, int64_t now, uint64_t completed);

/* The STATUS_REPLY body: malloc'd, caller frees, *len set. */
void *tmq_bstats_status_body(const tmq_bstats_t *st, int64_t now, const tmq_bstats_view_t *v,
                             tmq_bworkers_t *workers, tmq_fnreg_t *fns, size_t *len);

#endif
