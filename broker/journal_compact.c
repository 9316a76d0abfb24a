/* broker/journal_compact.c — tmq_journal_maintain: deleting dead segments, compaction.
 *
 * Only the oldest segment is ever deleted (journal.c says why), once it holds no live record
 * and the records that killed them are fdatasync'd. Compaction is the way past an oldest
 * segment that still holds live records: while the dead bytes outside the current segment
 * exceed twice the live bytes and one segment, the oldest segment is read record by record
 * and each record the index still points at is appended again (the same bytes: an ACCEPT
 * keeps its accept number, so replay keeps the order); then it holds nothing live and goes.
 * Bounded work per call; a crash half-way leaves both copies, and open takes the later one.
 *
 * The bound: with D the dead bytes outside the current segment, L the live bytes and S the
 * segment size, compaction stops only at D <= max(2L, S); the current segment adds at most
 * S plus the last turn's appends. So after a call that leaves no compaction under way the
 * journal is at most L + 2L + S + S + turn = 3L + 2S + one turn. A compaction begins at that
 * size and, in the worst case (the oldest segments all live), frees nothing until it has
 * rewritten L bytes, reading four bytes per byte appended meanwhile: L/4 more, and the
 * source under way (S): 3.25L + 3S + one turn at any time. tests/unit/test_journal.c checks
 * both over long churns.
 */
#include "journal.h"
#include "journal_int.h"

#include <log.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Deletes the oldest segments while they hold nothing live; syncs first when the records
 * that killed them are not yet on disk. While failed (a full disk) it cannot sync, and
 * deletes those killed by FORGETs all the same: a job whose ACCEPT is gone is as forgotten
 * as one with a FORGET (a crash would leave its other records as orphans, ignored), and the
 * space freed is how a full disk comes back. What a copy or a newer START or RESULT holds
 * still waits for that record to be on disk. */
static int s_delete_dead(tmq_journal_t *j, int64_t now)
{
    while (j->nsegs > 1 && j->segs[0].live == 0) {
        tmq_jseg_t *s = &j->segs[0];
        if ((j->failed ? s->keep_seq : s->kill_seq) > j->synced_seq) {
            if (j->failed) return 0;
            if (tmq_jnl_flush(j, now, true) < 0) return -1;
        }
        /* an earlier unlink must be durable before this one, or a crash could bring back
         * an old segment whose FORGETs this one held */
        if (j->dir_unsynced && fsync(j->dirfd) < 0) {
            tmq_jnl_error(j, "journal %s: cannot sync the directory: %s", j->dir, strerror(errno));
            return -1;
        }
        j->dir_unsynced = false;
        char name[TMQ_JSEG_NAME_MAX];
        tmq_jseg_name(name, sizeof name, s->seq);
        if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT) {
            tmq_jnl_error(j, "journal %s: cannot delete %s: %s", j->dir, name, strerror(errno));
            return -1;
        }
        if (j->cmp_seq == s->seq) {
            if (j->cmp_fd >= 0) close(j->cmp_fd);
            j->cmp_fd = -1;
            j->cmp_seq = 0;
        }
        j->bytes -= s->size;
        memmove(j->segs, j->segs + 1, (j->nsegs - 1) * sizeof *j->segs);
        j->nsegs--;
        j->deleted_segments++;
        if (fsync(j->dirfd) < 0) {
            j->dir_unsynced = true;
            tmq_jnl_error(j, "journal %s: cannot sync the directory: %s", j->dir, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Copies one record of the oldest segment forward when the index still points at it. */
static int s_copy(const tmq_jrec_t *r, void *arg)
{
    tmq_journal_t *j = arg;
    uint32_t src = j->segs[0].seq;
    tmq_jentry_t *e = tmq_jnl_entry(j, r->jid);
    if (!e) return 0;
    bool live = false;
    switch (r->type) {
    case TMQ_JREC_ACCEPT:
        live = e->acc_seg == src && e->acc_off == r->off;
        break;
    case TMQ_JREC_START:
        live = e->st_seg == src && tmq_jget32(r->payload) == e->attempt;
        break;
    case TMQ_JREC_RESULT:
        live = e->res_seg == src && e->res_off == r->off;
        break;
    }
    if (!live) return 0;
    if (tmq_jnl_room(j, r->size) < 0) {
        j->cmp_stuck = true; /* it stays whole; this record was not copied */
        return 1;
    }
    uint32_t off = tmq_jnl_append_raw(j, r->rec, r->size);
    tmq_jnl_kill(j, src, r->size, j->seq, true);
    uint32_t cur = j->segs[j->nsegs - 1].seq;
    j->segs[j->nsegs - 1].live += r->size;
    j->live += r->size;
    j->copied_bytes += r->size;
    if (r->type == TMQ_JREC_ACCEPT)
        e->acc_seg = cur, e->acc_off = off;
    else if (r->type == TMQ_JREC_START)
        e->st_seg = cur;
    else
        e->res_seg = cur, e->res_off = off;
    return 0;
}

static bool s_worth_it(const tmq_journal_t *j)
{
    const tmq_jseg_t *cur = &j->segs[j->nsegs - 1];
    uint64_t dead = (j->bytes - j->live) - (cur->size - cur->live);
    return dead > 2 * j->live && dead > j->opts.segment_size;
}

static void s_stuck(tmq_journal_t *j, const char *what)
{
    char name[TMQ_JSEG_NAME_MAX];
    tmq_jseg_name(name, sizeof name, j->cmp_seq);
    tmq_error("journal: compaction of %s/%s stopped at offset %llu: %s; the segment is kept "
              "(nothing is lost) and the journal may grow until the broker restarts",
              j->dir, name, (unsigned long long)j->cmp_off, what);
    tmq_jnl_error(j, "journal %s: compaction of %s stopped at offset %llu: %s", j->dir, name,
                  (unsigned long long)j->cmp_off, what);
    j->cmp_stuck = true;
}

static int s_compact(tmq_journal_t *j, int64_t now, uint64_t want)
{
    while (want > 0 && j->nsegs > 1 && !j->cmp_stuck) {
        tmq_jseg_t *src = &j->segs[0];
        bool begun = j->cmp_seq == src->seq;
        if (!begun && !s_worth_it(j)) return 0;
        if (begun && j->cmp_off >= src->size) return 0; /* done; waits to be deleted */
        if (!begun) {
            char name[TMQ_JSEG_NAME_MAX];
            tmq_jseg_name(name, sizeof name, src->seq);
            if (j->cmp_fd >= 0) close(j->cmp_fd);
            j->cmp_seq = src->seq;
            j->cmp_off = TMQ_JSEG_HDR;
            j->cmp_fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
            if (j->cmp_fd < 0) {
                s_stuck(j, strerror(errno));
                return -1;
            }
        }
        /* in steps of a quarter segment, the current one rolled when full between them, so
         * the copies fill segments of the usual size instead of one oversized one */
        uint64_t step = want < j->opts.segment_size / 4 ? want : j->opts.segment_size / 4;
        uint64_t stop;
        const char *why;
        int rc = tmq_jseg_scan(j->cmp_fd, j->cmp_off, src->size, step, &j->scratch, s_copy, j,
                               &stop, &why);
        uint64_t done = stop - j->cmp_off;
        want = done >= want ? 0 : want - done;
        j->cmp_off = stop;
        if (rc < 0 || why) {
            s_stuck(j, rc < 0 ? strerror(errno) : why);
            return -1;
        }
        if (j->cmp_stuck) {
            s_stuck(j, j->last_err);
            return -1;
        }
        if (tmq_jnl_roll(j, now) < 0) return -1;
        src = &j->segs[0]; /* the roll may have moved the table */
        if (j->cmp_off < src->size) continue;
        close(j->cmp_fd);
        j->cmp_fd = -1;
        if (src->live != 0) {
            s_stuck(j, "live records remain after the whole segment was read");
            return -1;
        }
        if (s_delete_dead(j, now) < 0) return -1;
        if (j->nsegs && j->cmp_seq == j->segs[0].seq) return 0; /* not deletable yet */
    }
    return 0;
}

int tmq_journal_maintain(tmq_journal_t *j, int64_t now, size_t budget)
{
    uint64_t want = budget ? budget : TMQ_JOURNAL_BUDGET_DEFAULT;
    if (want < 4 * j->appended_since_maint) want = 4 * j->appended_since_maint;
    j->appended_since_maint = 0;
    if (s_delete_dead(j, now) < 0) return -1;
    if (j->failed) return 0;
    return s_compact(j, now, want);
}
