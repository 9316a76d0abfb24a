/* broker/journal_int.h — the journal's insides, shared by its three files: journal.c
 * (appends, commit, failure), journal_open.c (open, replay, close) and journal_compact.c
 * (maintain: deletion and compaction). Nothing outside broker/journal*.c includes it.
 */
#ifndef TMQ_BROKER_JOURNAL_INT_H
#define TMQ_BROKER_JOURNAL_INT_H

#include "journal.h"
#include "journal_file.h"

#include <idmap.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>

/* Where a live job's current records are (segment 0: none). 32 bytes. */
typedef struct {
    uint32_t acc_seg, acc_off, acc_len; /* ACCEPT (acc_off links the free list when unused) */
    uint32_t st_seg, attempt;           /* the START of the highest attempt (size fixed) */
    uint32_t res_seg, res_off, res_len; /* RESULT */
} tmq_jentry_t;

#define TMQ_JCHUNK 4096u /* index entries per pool chunk */

typedef struct {
    uint32_t seq;
    uint64_t size;     /* bytes, counting records still in the buffer */
    uint64_t live;     /* bytes of live records */
    uint64_t kill_seq; /* the append that made its latest bytes dead: it goes once that is
                          fdatasync'd */
    uint64_t keep_seq; /* the same for the appends that hold what it held (a copy, a newer
                          START or RESULT; not a FORGET): while failed, this is enough */
} tmq_jseg_t;

/* A live job's place in accept order, kept from open until replay. */
typedef struct {
    uint64_t ord, jid;
    uint32_t seg, off;
} tmq_jorder_t;

struct tmq_journal_t {
    char *dir;
    int dirfd, lockfd, fd; /* fd: the current segment */
    tmq_journal_opts_t opts;
    tmq_journal_io_t io;

    tmq_jseg_t *segs; /* oldest first, consecutive numbers; the last is current */
    size_t nsegs, segs_cap;
    uint64_t bytes, live;

    tmq_idmap_t map; /* jid -> index of its entry */
    tmq_jentry_t **chunks;
    uint32_t nchunks, pool_used, free_head; /* free_head: index + 1, 0 = none */

    uint8_t *buf; /* records from offset base of the current segment */
    size_t len, cap, written;
    uint64_t base;
    uint64_t seq, written_seq, synced_seq, durable_seq;
    uint64_t must_sync_seq; /* the last append a commit under ALWAYS must fdatasync (not a
                               START, nor a compaction's copy) */
    bool unsynced, force_sync, need_truncate;
    uint64_t truncate_to;
    int64_t last_sync;
    uint64_t max_jid, next_ord;

    bool failed;
    char fail_msg[160];
    int64_t retry_at;
    char last_err[512];
    bool dir_unsynced; /* an unlink whose directory fsync failed */

    uint32_t cmp_seq; /* the segment being compacted (the oldest), 0 = none */
    uint64_t cmp_off;
    int cmp_fd;
    bool cmp_stuck;
    uint64_t appended_since_maint;
    tmq_jbuf_t scratch;

    tmq_jorder_t *order; /* from open until replay or the first append */
    size_t norder, order_cap;
    bool can_replay;

    uint64_t commits, syncs, failures, copied_bytes, deleted_segments, cut_bytes, orphans;
};

static inline tmq_jseg_t *tmq_jnl_seg(tmq_journal_t *j, uint32_t seq)
{
    return &j->segs[seq - j->segs[0].seq];
}

void tmq_jnl_error(tmq_journal_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
tmq_jentry_t *tmq_jnl_entry(const tmq_journal_t *j, uint64_t jid);
tmq_jentry_t *tmq_jnl_entry_new(tmq_journal_t *j, uint64_t jid);
void tmq_jnl_entry_free(tmq_journal_t *j, uint64_t jid, uint64_t kill_seq);
/* Moves bytes of segment seq from live to dead, killed by the append kill_seq; `holds` when
 * that append holds what they held (see keep_seq). */
void tmq_jnl_kill(tmq_journal_t *j, uint32_t seq, uint32_t bytes, uint64_t kill_seq, bool holds);
/* Appends a whole record as it is (a compaction copy; room must have been made). Returns
 * its offset in the current segment. */
uint32_t tmq_jnl_append_raw(tmq_journal_t *j, const uint8_t *rec, size_t size);
int tmq_jnl_room(tmq_journal_t *j, size_t size);
int tmq_jnl_flush(tmq_journal_t *j, int64_t now, bool force);
void tmq_jnl_fail(tmq_journal_t *j, int64_t now, const char *doing, int err);
int tmq_jnl_new_segment(tmq_journal_t *j, uint32_t seq);
void tmq_jnl_push_segment(tmq_journal_t *j, uint32_t seq, uint64_t size);
/* Seals the current segment and begins the next when it is full; 0 or -1 (failed). */
int tmq_jnl_roll(tmq_journal_t *j, int64_t now);
void tmq_jnl_replay_drop(tmq_journal_t *j);

#endif
