/* broker/journal.c — see journal.h; the file format is journal_file.h, opening and replay are
 * journal_open.c.
 *
 * State: the segments in sequence (the oldest first, the last one current and open for
 * appending), each with its size and its live bytes; the index jid -> entry (where the live
 * job's current ACCEPT, latest START and RESULT are); a buffer holding the records from file
 * offset `base` of the current segment: [0, written) written but not yet fdatasync'd (kept
 * under --fsync MS so a failed sync can be redone), [written, len) not yet written.
 *
 * Segments are deleted oldest first only. A FORGET is a tombstone: deleting a newer segment
 * while an older one still held the forgotten job's ACCEPT would bring the job back at the
 * next start. So dead space in the middle waits for the oldest segment, and compaction is
 * what moves the oldest segment's few live records forward so it can go (beanstalkd's rule;
 * its bug #276 was a log pinned by one old job, which this rewrite prevents). A segment is
 * deleted only once the records that killed its last live bytes are fdatasync'd (kill_seq;
 * while failed, only those that hold what it held: see journal_compact.c), and each unlink
 * is made durable (fsync of the directory) before the next.
 */
#include "journal.h"
#include "journal_int.h"

#include <log.h>
#include <xalloc.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tmq_journal_opts_init(tmq_journal_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->fsync_ms = TMQ_JOURNAL_FSYNC_ALWAYS;
    opts->segment_size = TMQ_JOURNAL_SEGMENT_DEFAULT;
    opts->retry_ms = TMQ_JOURNAL_RETRY_DEFAULT_MS;
    opts->max_pending = TMQ_JOURNAL_PENDING_DEFAULT;
}

int tmq_journal_parse_fsync(const char *s, int *fsync_ms)
{
    if (strcmp(s, "always") == 0) {
        *fsync_ms = TMQ_JOURNAL_FSYNC_ALWAYS;
        return 0;
    }
    if (strcmp(s, "never") == 0) {
        *fsync_ms = TMQ_JOURNAL_FSYNC_NEVER;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 60000) return -1;
    *fsync_ms = (int)v;
    return 0;
}

void tmq_jnl_error(tmq_journal_t *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->last_err, sizeof j->last_err, fmt, ap);
    va_end(ap);
}

/* ---- the index ---- */

tmq_jentry_t *tmq_jnl_entry(const tmq_journal_t *j, uint64_t jid)
{
    if (jid == TMQ_IDMAP_NONE) return NULL;
    uintptr_t v = (uintptr_t)tmq_idmap_get(&j->map, jid); /* index + 1: NULL is absent */
    if (!v) return NULL;
    uint32_t i = (uint32_t)(v - 1);
    return &j->chunks[i / TMQ_JCHUNK][i % TMQ_JCHUNK];
}

tmq_jentry_t *tmq_jnl_entry_new(tmq_journal_t *j, uint64_t jid)
{
    uint32_t i;
    if (j->free_head) {
        i = j->free_head - 1;
        j->free_head = j->chunks[i / TMQ_JCHUNK][i % TMQ_JCHUNK].acc_off;
    } else {
        i = j->pool_used++;
        if (i / TMQ_JCHUNK >= j->nchunks) {
            j->chunks = tmq_xrealloc(j->chunks, (j->nchunks + 1) * sizeof *j->chunks);
            j->chunks[j->nchunks++] = tmq_xmalloc(TMQ_JCHUNK * sizeof(tmq_jentry_t));
        }
    }
    tmq_jentry_t *e = &j->chunks[i / TMQ_JCHUNK][i % TMQ_JCHUNK];
    memset(e, 0, sizeof *e);
    tmq_idmap_put(&j->map, jid, (void *)(uintptr_t)(i + 1));
    return e;
}

void tmq_jnl_kill(tmq_journal_t *j, uint32_t seq, uint32_t bytes, uint64_t kill_seq, bool holds)
{
    tmq_jseg_t *s = tmq_jnl_seg(j, seq);
    s->live -= bytes;
    j->live -= bytes;
    if (kill_seq > s->kill_seq) s->kill_seq = kill_seq;
    if (holds && kill_seq > s->keep_seq) s->keep_seq = kill_seq;
}

void tmq_jnl_entry_free(tmq_journal_t *j, uint64_t jid, uint64_t kill_seq)
{
    tmq_jentry_t *e = tmq_jnl_entry(j, jid);
    if (e->acc_seg) tmq_jnl_kill(j, e->acc_seg, e->acc_len, kill_seq, false);
    if (e->st_seg) tmq_jnl_kill(j, e->st_seg, TMQ_JREC_START_SIZE, kill_seq, false);
    if (e->res_seg) tmq_jnl_kill(j, e->res_seg, e->res_len, kill_seq, false);
    void *v;
    tmq_idmap_remove(&j->map, jid, &v);
    e->acc_off = j->free_head;
    j->free_head = (uint32_t)(uintptr_t)v; /* its index + 1 */
}

/* ---- appends ---- */

/* Room for one more record of size bytes in the buffer, or -1: offsets within a segment are
 * 32-bit, and a buffer this full is a stalled disk. */
int tmq_jnl_room(tmq_journal_t *j, size_t size)
{
    if (j->base + j->len + size > UINT32_MAX) {
        tmq_jnl_error(j, "journal unavailable: the current segment is full (%llu bytes unwritten)",
                      (unsigned long long)(j->len - j->written));
        return -1;
    }
    if (j->len + size > j->cap) {
        size_t cap = j->cap ? j->cap : 65536;
        while (cap < j->len + size)
            cap *= 2;
        j->buf = tmq_xrealloc(j->buf, cap);
        j->cap = cap;
    }
    return 0;
}

/* The buffer's new tail after a record was framed there: counts it, returns its offset. */
static uint32_t s_appended(tmq_journal_t *j, size_t size)
{
    uint32_t off = (uint32_t)(j->base + j->len);
    j->len += size;
    j->segs[j->nsegs - 1].size += size;
    j->bytes += size;
    j->seq++;
    if (j->can_replay) tmq_jnl_replay_drop(j); /* appending ends what replay may read */
    return off;
}

uint32_t tmq_jnl_append_raw(tmq_journal_t *j, const uint8_t *rec, size_t size)
{
    memcpy(j->buf + j->len, rec, size);
    return s_appended(j, size);
}

static uint32_t s_cur(const tmq_journal_t *j)
{
    return j->segs[j->nsegs - 1].seq;
}

static void s_live(tmq_journal_t *j, size_t bytes)
{
    j->segs[j->nsegs - 1].live += bytes;
    j->live += bytes;
}

/* Why an append other than FORGET is refused now, or NULL. */
static const char *s_refuse(tmq_journal_t *j, bool accept)
{
    if (accept && j->failed) return j->fail_msg;
    if (j->len - j->written >= j->opts.max_pending) {
        if (j->failed) return j->fail_msg;
        tmq_jnl_error(j, "journal unavailable: %zu bytes wait to be written", j->len - j->written);
        return j->last_err;
    }
    return NULL;
}

static void s_seq_out(const tmq_journal_t *j, uint64_t *seq)
{
    if (seq) *seq = j->seq;
}

int tmq_journal_accept(tmq_journal_t *j, uint64_t jid, const void *body, size_t len, uint64_t *seq)
{
    const char *why = s_refuse(j, true);
    if (why) {
        if (why != j->last_err) tmq_jnl_error(j, "%s", why);
        return -1;
    }
    if (len > TMQ_JOURNAL_MAX_BODY) {
        tmq_jnl_error(j, "job %llu: a body of %zu bytes is over the journal's limit of %u",
                      (unsigned long long)jid, len, TMQ_JOURNAL_MAX_BODY);
        return -1;
    }
    if (jid == TMQ_IDMAP_NONE || tmq_jnl_entry(j, jid)) {
        tmq_jnl_error(j, "job %llu is already in the journal", (unsigned long long)jid);
        return -1;
    }
    size_t size = TMQ_JREC_HDR + 8 + len;
    if (tmq_jnl_room(j, size) < 0) return -1;
    uint8_t ord[8];
    tmq_jput64(ord, j->next_ord++);
    tmq_jrec_encode(j->buf + j->len, TMQ_JREC_ACCEPT, jid, ord, 8, body, len);
    uint32_t off = s_appended(j, size);
    tmq_jentry_t *e = tmq_jnl_entry_new(j, jid);
    e->acc_seg = s_cur(j);
    e->acc_off = off;
    e->acc_len = (uint32_t)size;
    s_live(j, size);
    if (jid > j->max_jid) j->max_jid = jid;
    j->appended_since_maint += size;
    j->must_sync_seq = j->seq;
    s_seq_out(j, seq);
    return 0;
}

/* The live entry of jid for a START or RESULT, or NULL with the reason set. */
static tmq_jentry_t *s_entry_for(tmq_journal_t *j, uint64_t jid, size_t size)
{
    const char *why = s_refuse(j, false);
    if (why) {
        if (why != j->last_err) tmq_jnl_error(j, "%s", why);
        return NULL;
    }
    tmq_jentry_t *e = tmq_jnl_entry(j, jid);
    if (!e) {
        tmq_jnl_error(j, "job %llu is not in the journal", (unsigned long long)jid);
        return NULL;
    }
    if (tmq_jnl_room(j, size) < 0) return NULL;
    return e;
}

int tmq_journal_start(tmq_journal_t *j, uint64_t jid, uint32_t attempt, uint64_t *seq)
{
    tmq_jentry_t *e = s_entry_for(j, jid, TMQ_JREC_START_SIZE);
    if (!e) return -1;
    uint8_t a[4];
    tmq_jput32(a, attempt);
    tmq_jrec_encode(j->buf + j->len, TMQ_JREC_START, jid, a, 4, NULL, 0);
    uint32_t cur = s_cur(j);
    s_appended(j, TMQ_JREC_START_SIZE);
    j->appended_since_maint += TMQ_JREC_START_SIZE;
    if (!e->st_seg || attempt >= e->attempt) { /* a lower attempt is dead at once */
        if (e->st_seg) tmq_jnl_kill(j, e->st_seg, TMQ_JREC_START_SIZE, j->seq, true);
        e->st_seg = cur;
        e->attempt = attempt;
        s_live(j, TMQ_JREC_START_SIZE);
    }
    s_seq_out(j, seq);
    return 0;
}

int tmq_journal_result(tmq_journal_t *j, uint64_t jid, const void *body, size_t len, uint64_t *seq)
{
    if (len > TMQ_JOURNAL_MAX_BODY) {
        tmq_jnl_error(j, "job %llu: a result of %zu bytes is over the journal's limit of %u",
                      (unsigned long long)jid, len, TMQ_JOURNAL_MAX_BODY);
        return -1;
    }
    size_t size = TMQ_JREC_HDR + len;
    tmq_jentry_t *e = s_entry_for(j, jid, size);
    if (!e) return -1;
    tmq_jrec_encode(j->buf + j->len, TMQ_JREC_RESULT, jid, body, len, NULL, 0);
    uint32_t off = s_appended(j, size);
    if (e->res_seg) tmq_jnl_kill(j, e->res_seg, e->res_len, j->seq, true);
    e->res_seg = s_cur(j);
    e->res_off = off;
    e->res_len = (uint32_t)size;
    s_live(j, size);
    j->appended_since_maint += size;
    s_seq_out(j, seq); /* no sync of its own: see journal.h */
    return 0;
}

int tmq_journal_forget(tmq_journal_t *j, uint64_t jid, uint64_t *seq)
{
    if (!tmq_jnl_entry(j, jid)) {
        tmq_jnl_error(j, "job %llu is not in the journal", (unsigned long long)jid);
        return -1;
    }
    if (tmq_jnl_room(j, TMQ_JREC_FORGET_SIZE) < 0) return -1;
    tmq_jrec_encode(j->buf + j->len, TMQ_JREC_FORGET, jid, NULL, 0, NULL, 0);
    s_appended(j, TMQ_JREC_FORGET_SIZE);
    tmq_jnl_entry_free(j, jid, j->seq);
    j->appended_since_maint += TMQ_JREC_FORGET_SIZE;
    s_seq_out(j, seq); /* no sync of its own: see journal.h */
    return 0;
}

/* ---- commit ---- */

void tmq_jnl_fail(tmq_journal_t *j, int64_t now, const char *doing, int err)
{
    char name[TMQ_JSEG_NAME_MAX];
    tmq_jseg_name(name, sizeof name, s_cur(j));
    if (!j->failed) {
        j->failures++;
        tmq_error("journal: %s %s/%s failed: %s; new jobs are refused until it works again "
                  "(tried again every %u ms; nothing acknowledged is lost)",
                  doing, j->dir, name, strerror(err), j->opts.retry_ms);
    } else {
        tmq_debug("journal: %s %s/%s failed again: %s", doing, j->dir, name, strerror(err));
    }
    j->failed = true;
    snprintf(j->fail_msg, sizeof j->fail_msg, "journal unavailable: %s", strerror(err));
    tmq_jnl_error(j, "%s", j->fail_msg);
    j->retry_at = now + j->opts.retry_ms;
}

static int s_pwrite_all(tmq_journal_t *j, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = j->io.pwrite(j->fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

/* Cuts the current segment back to `to` (what follows is to be written again), now when
 * nothing there was acknowledged yet, so a restart never replays a job that was refused, or
 * else first thing on the retry, right before the rewrite (under --fsync MS the records were
 * acknowledged once written, and the page cache may still hold them). */
static void s_undo(tmq_journal_t *j, uint64_t to, bool now)
{
    j->truncate_to = to;
    j->need_truncate = !now || ftruncate(j->fd, (off_t)to) < 0;
}

/* Writes the unwritten records and fdatasyncs when the policy (or force) says. On failure
 * the journal is failed and what was partly written is marked to be cut off first thing on
 * the retry; the records stay in the buffer. */
int tmq_jnl_flush(tmq_journal_t *j, int64_t now, bool force)
{
    int pol = j->opts.fsync_ms;
    bool retain = pol != TMQ_JOURNAL_FSYNC_NEVER;
    if (j->need_truncate) {
        if (ftruncate(j->fd, (off_t)j->truncate_to) < 0) {
            tmq_jnl_fail(j, now, "cutting back", errno);
            return -1;
        }
        j->need_truncate = false;
    }
    if (j->written < j->len) {
        if (s_pwrite_all(j, j->buf + j->written, j->len - j->written, j->base + j->written) < 0) {
            int e = errno;
            s_undo(j, j->base + j->written, true); /* where this write began */
            tmq_jnl_fail(j, now, "writing", e);
            return -1;
        }
        j->written = j->len;
        j->written_seq = j->seq;
        j->unsynced = true;
    }
    /* under ALWAYS a commit of STARTs alone waits for the next sync: no ACK waits on them */
    bool due = (pol == TMQ_JOURNAL_FSYNC_ALWAYS && j->must_sync_seq > j->synced_seq) ||
               (pol > 0 && now - j->last_sync >= pol);
    if (j->unsynced && (force || j->force_sync || due)) {
        if (j->io.fdatasync(j->fd) < 0) {
            int e = errno;
            if (retain) { /* the kernel may have dropped those pages: write them again */
                s_undo(j, j->base, pol == TMQ_JOURNAL_FSYNC_ALWAYS);
                j->written = 0;
            }
            j->force_sync = true;
            tmq_jnl_fail(j, now, "syncing", e);
            return -1;
        }
        j->syncs++;
        j->unsynced = j->force_sync = false;
        j->synced_seq = j->written_seq;
        j->last_sync = now;
    }
    if (!j->unsynced || !retain) { /* nothing left to redo: let the written records go */
        j->base += j->len;
        j->len = j->written = 0;
    }
    bool synced = pol != TMQ_JOURNAL_FSYNC_ALWAYS || j->must_sync_seq <= j->synced_seq;
    j->durable_seq = synced ? j->written_seq : j->synced_seq;
    return 0;
}

/* Begins segment seq: its header written and synced, the directory synced. Returns the
 * descriptor or -1 (errno), leaving no file behind. */
int tmq_jnl_new_segment(tmq_journal_t *j, uint32_t seq)
{
    char name[TMQ_JSEG_NAME_MAX];
    tmq_jseg_name(name, sizeof name, seq);
    int fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    uint8_t hdr[TMQ_JSEG_HDR];
    tmq_jseg_hdr_encode(hdr, &(tmq_jseg_hdr_t){seq, j->max_jid, j->next_ord});
    ssize_t w = j->io.pwrite(fd, hdr, sizeof hdr, 0);
    if (w != (ssize_t)sizeof hdr || j->io.fdatasync(fd) < 0 || fsync(j->dirfd) < 0) {
        int e = w >= 0 && w != (ssize_t)sizeof hdr ? ENOSPC : errno;
        close(fd);
        unlinkat(j->dirfd, name, 0);
        errno = e;
        return -1;
    }
    return fd;
}

void tmq_jnl_push_segment(tmq_journal_t *j, uint32_t seq, uint64_t size)
{
    if (j->nsegs == j->segs_cap) {
        j->segs_cap = j->segs_cap ? j->segs_cap * 2 : 16;
        j->segs = tmq_xrealloc(j->segs, j->segs_cap * sizeof *j->segs);
    }
    j->segs[j->nsegs++] = (tmq_jseg_t){.seq = seq, .size = size};
    j->bytes += size;
}

/* A full current segment is sealed (all written and synced, whatever the policy, so only
 * the last segment can ever have a torn tail) and the next one begun. */
int tmq_jnl_roll(tmq_journal_t *j, int64_t now)
{
    if (j->segs[j->nsegs - 1].size < j->opts.segment_size) return 0;
    if (tmq_jnl_flush(j, now, true) < 0) return -1;
    int fd = tmq_jnl_new_segment(j, s_cur(j) + 1);
    if (fd < 0) {
        tmq_jnl_fail(j, now, "beginning the segment after", errno);
        return -1;
    }
    close(j->fd);
    j->fd = fd;
    tmq_jnl_push_segment(j, s_cur(j) + 1, TMQ_JSEG_HDR);
    j->base = TMQ_JSEG_HDR;
    return 0;
}

int tmq_journal_commit(tmq_journal_t *j, int64_t now)
{
    if (j->written < j->len) j->commits++; /* counted when it has something to write */
    if (!j->failed || now >= j->retry_at) {
        if (tmq_jnl_flush(j, now, false) == 0 && tmq_jnl_roll(j, now) == 0 && j->failed) {
            j->failed = false;
            tmq_info("journal: %s is writable again; new jobs are taken", j->dir);
        }
    }
    if (j->durable_seq == j->seq) return 0;
    tmq_jnl_error(j, "%s", j->failed ? j->fail_msg : "journal unavailable: not yet written");
    return -1;
}

uint64_t tmq_journal_durable_seq(const tmq_journal_t *j)
{
    return j->durable_seq;
}

uint64_t tmq_journal_pending(const tmq_journal_t *j)
{
    return j->seq - j->durable_seq;
}

int64_t tmq_journal_next_sync_ms(const tmq_journal_t *j, int64_t now)
{
    if (j->failed) return j->retry_at > now ? j->retry_at - now : 0;
    if (j->written < j->len) return 0;
    if (j->opts.fsync_ms > 0 && j->unsynced) {
        int64_t at = j->last_sync + j->opts.fsync_ms;
        return at > now ? at - now : 0;
    }
    return -1;
}

const char *tmq_journal_failed(const tmq_journal_t *j)
{
    return j->failed ? j->fail_msg : NULL;
}

const char *tmq_journal_last_error(const tmq_journal_t *j)
{
    return j->last_err;
}

uint64_t tmq_journal_max_jid(const tmq_journal_t *j)
{
    return j->max_jid;
}

void tmq_journal_stats(const tmq_journal_t *j, tmq_journal_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->segments = (uint32_t)j->nsegs;
    st->bytes = j->bytes;
    st->live_bytes = j->live;
    st->dead_bytes = j->bytes - j->live;
    st->live_jobs = tmq_idmap_count(&j->map);
    st->appended_seq = j->seq;
    st->durable_seq = j->durable_seq;
    st->commits = j->commits;
    st->syncs = j->syncs;
    st->failures = j->failures;
    st->copied_bytes = j->copied_bytes;
    st->deleted_segments = j->deleted_segments;
    st->cut_bytes = j->cut_bytes;
    st->orphans = j->orphans;
    st->failed = j->failed;
}
