/* broker/journal_open.c — opening a journal, replay, close (see journal.h).
 *
 * Open reads every segment in order, checking each record, and folds them into the index:
 * the last copy of an ACCEPT or RESULT wins (an earlier one is a compaction's source that a
 * crash left behind), the highest attempt of a START wins, a FORGET drops the job. A START or
 * RESULT whose job has no ACCEPT is an orphan, counted and ignored. The damage policy:
 *   - the last segment ends at its first bad record (short, bad header or length, checksum):
 *     a torn tail, cut there (the broker continues after the last whole record); when whole
 *     records follow the bad one, which a torn write can also leave (pages written back out
 *     of order), the cut-off bytes are first copied to journal-N.seg.cut-OFFSET and an
 *     error is logged, so nothing is destroyed unseen;
 *   - a bad record, or a bad header, in any other segment, or a missing segment, is damage:
 *     every segment but the last was fdatasync'd whole before the next began, so no crash
 *     explains it. So is a bad header of the last segment with whole records after it (a
 *     header is synced before any record follows) or a header naming another segment. Open
 *     refuses, naming the file and the offset and what the operator can do, and changes
 *     nothing. A last segment with only a torn header is removed (or begun again).
 */
#include "journal.h"
#include "journal_int.h"

#include <log.h>
#include <xalloc.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a load needs besides the journal: the segment being read, the orphan candidates. */
typedef struct {
    tmq_journal_t *j;
    uint32_t seq;
    uint64_t *maybe_orphans;
    size_t norphans, orphans_cap;
} s_load_t;

static void s_order_filter(tmq_journal_t *j)
{
    size_t n = 0;
    for (size_t i = 0; i < j->norder; i++) {
        tmq_jorder_t *o = &j->order[i];
        tmq_jentry_t *e = tmq_jnl_entry(j, o->jid);
        if (e && e->acc_seg == o->seg && e->acc_off == o->off) j->order[n++] = *o;
    }
    j->norder = n;
}

static void s_order_push(tmq_journal_t *j, uint64_t ord, uint64_t jid, uint32_t seg, uint32_t off)
{
    if (j->norder == j->order_cap) {
        /* drop the dead before growing, so this stays proportional to the live jobs */
        if (j->norder > 2 * tmq_idmap_count(&j->map) + 1024) s_order_filter(j);
        if (j->norder == j->order_cap) {
            j->order_cap = j->order_cap ? j->order_cap * 2 : 1024;
            j->order = tmq_xrealloc(j->order, j->order_cap * sizeof *j->order);
        }
    }
    j->order[j->norder++] = (tmq_jorder_t){ord, jid, seg, off};
}

static void s_live(tmq_journal_t *j, uint32_t seq, uint32_t bytes)
{
    tmq_jnl_seg(j, seq)->live += bytes;
    j->live += bytes;
}

/* The entry of a START or RESULT's job, made (as a possible orphan) when there is none yet:
 * a compaction may have put the job's ACCEPT after it. */
static tmq_jentry_t *s_entry_or_orphan(s_load_t *l, uint64_t jid)
{
    tmq_jentry_t *e = tmq_jnl_entry(l->j, jid);
    if (e) return e;
    if (l->norphans == l->orphans_cap) {
        l->orphans_cap = l->orphans_cap ? l->orphans_cap * 2 : 64;
        l->maybe_orphans = tmq_xrealloc(l->maybe_orphans, l->orphans_cap * sizeof(uint64_t));
    }
    l->maybe_orphans[l->norphans++] = jid;
    return tmq_jnl_entry_new(l->j, jid);
}

static int s_fold(const tmq_jrec_t *r, void *arg)
{
    s_load_t *l = arg;
    tmq_journal_t *j = l->j;
    if (r->jid > j->max_jid) j->max_jid = r->jid;
    if (r->jid == TMQ_IDMAP_NONE) return 0; /* never appended; ignore rather than store */
    tmq_jentry_t *e = tmq_jnl_entry(j, r->jid);
    switch (r->type) {
    case TMQ_JREC_ACCEPT: {
        uint64_t ord = tmq_jget64(r->payload);
        if (ord >= j->next_ord) j->next_ord = ord + 1;
        if (!e) e = tmq_jnl_entry_new(j, r->jid);
        if (e->acc_seg) tmq_jnl_kill(j, e->acc_seg, e->acc_len, 0, false);
        e->acc_seg = l->seq;
        e->acc_off = (uint32_t)r->off;
        e->acc_len = r->size;
        s_live(j, l->seq, r->size);
        s_order_push(j, ord, r->jid, l->seq, (uint32_t)r->off);
        break;
    }
    case TMQ_JREC_START: {
        uint32_t attempt = tmq_jget32(r->payload);
        e = s_entry_or_orphan(l, r->jid);
        if (!e->st_seg || attempt >= e->attempt) {
            if (e->st_seg) tmq_jnl_kill(j, e->st_seg, TMQ_JREC_START_SIZE, 0, false);
            e->st_seg = l->seq;
            e->attempt = attempt;
            s_live(j, l->seq, TMQ_JREC_START_SIZE);
        }
        break;
    }
    case TMQ_JREC_RESULT:
        e = s_entry_or_orphan(l, r->jid);
        if (e->res_seg) tmq_jnl_kill(j, e->res_seg, e->res_len, 0, false);
        e->res_seg = l->seq;
        e->res_off = (uint32_t)r->off;
        e->res_len = r->size;
        s_live(j, l->seq, r->size);
        break;
    case TMQ_JREC_FORGET:
        if (e) tmq_jnl_entry_free(j, r->jid, 0);
        break;
    }
    return 0;
}

/* Copies the bytes cut from the last segment (in j->scratch since find_record) aside. */
static int s_keep_aside(tmq_journal_t *j, const char *name, uint64_t at, size_t n, char *kept,
                        size_t kept_len)
{
    for (int k = 0; k < 100; k++) {
        if (k == 0)
            snprintf(kept, kept_len, "%s.cut-%llu", name, (unsigned long long)at);
        else
            snprintf(kept, kept_len, "%s.cut-%llu.%d", name, (unsigned long long)at, k);
        int fd = openat(j->dirfd, kept, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0) return -1;
        size_t done = 0;
        ssize_t w = 0;
        while (done < n && (w = write(fd, j->scratch.data + done, n - done)) > 0)
            done += (size_t)w;
        int e = w == 0 ? ENOSPC : errno;
        if (done == n && fsync(fd) == 0 && close(fd) == 0) return 0;
        close(fd);
        unlinkat(j->dirfd, kept, 0);
        errno = e;
        return -1;
    }
    errno = EEXIST;
    return -1;
}

/* Cuts the last segment (fd, name) at `at` of `size` bytes, where the scan stopped (why). */
static int s_cut(tmq_journal_t *j, int fd, const char *name, uint64_t at, uint64_t size,
                 const char *why, char *err, size_t errlen)
{
    int64_t next = tmq_jseg_find_record(fd, at, size, &j->scratch);
    if (next >= 0) {
        char kept[TMQ_JSEG_NAME_MAX + 48];
        if (s_keep_aside(j, name, at, (size_t)(size - at), kept, sizeof kept) < 0) {
            snprintf(err, errlen,
                     "journal %s/%s is damaged at offset %llu (%s) and has whole records after "
                     "that, which could not be copied aside (%s). Nothing was changed: free "
                     "some space, or move the journal directory aside to start empty",
                     j->dir, name, (unsigned long long)at, why, strerror(errno));
            return -1;
        }
        tmq_error("journal: %s/%s is damaged at offset %llu (%s) and has whole records after "
                  "it (the first at %lld): cut there as a torn tail; the %llu bytes cut are "
                  "kept in %s/%s",
                  j->dir, name, (unsigned long long)at, why, (long long)next,
                  (unsigned long long)(size - at), j->dir, kept);
    } else {
        tmq_warn("journal: %s/%s: torn tail cut at offset %llu, %llu bytes (%s): the end of "
                 "the last write before the broker stopped",
                 j->dir, name, (unsigned long long)at, (unsigned long long)(size - at), why);
    }
    if (ftruncate(fd, (off_t)at) < 0 || fdatasync(fd) < 0) {
        snprintf(err, errlen, "journal %s/%s: cannot cut the torn tail at offset %llu: %s", j->dir,
                 name, (unsigned long long)at, strerror(errno));
        return -1;
    }
    j->cut_bytes += size - at;
    return 0;
}

/* The refusal of a damaged segment: what, where, and what the operator can do. */
static void s_damaged(tmq_journal_t *j, const char *name, uint64_t at, const char *why,
                      const char *because, char *err, size_t errlen)
{
    char keep[128] = "";
    if (at > 0)
        snprintf(keep, sizeof keep,
                 ", or cut that file to %llu bytes to keep the records before "
                 "the damage",
                 (unsigned long long)at);
    snprintf(err, errlen,
             "journal %s: %s is damaged at offset %llu (%s), and %s, so this is not a torn "
             "write. Nothing was changed. Move the journal directory aside to start empty (its "
             "jobs are then lost)%s",
             j->dir, name, (unsigned long long)at, why, because, keep);
}

/* Reads segment seq's header; NULL, or why it is bad (*mismatch: whole, but another's). */
static const char *s_header(tmq_journal_t *j, int fd, uint64_t size, uint32_t seq, bool *mismatch)
{
    uint8_t hdr[TMQ_JSEG_HDR];
    tmq_jseg_hdr_t h;
    const char *why = NULL;
    *mismatch = false;
    if (size < TMQ_JSEG_HDR) return "segment header cut short";
    if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) return "segment header unreadable";
    if (tmq_jseg_hdr_decode(hdr, &h, &why) < 0) return why;
    if (h.seq != seq) {
        *mismatch = true;
        return "its header names another segment";
    }
    if (h.max_jid > j->max_jid) j->max_jid = h.max_jid;
    if (h.next_ord > j->next_ord) j->next_ord = h.next_ord;
    return NULL;
}

/* Reads segment seq, the last one when `last` (then it stays open as j->fd). */
static int s_load(s_load_t *l, uint32_t seq, bool last, char *err, size_t errlen)
{
    tmq_journal_t *j = l->j;
    char name[TMQ_JSEG_NAME_MAX];
    tmq_jseg_name(name, sizeof name, seq);
    int fd = openat(j->dirfd, name, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "journal %s: cannot open %s: %s", j->dir, name, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size, stop = 0;
    bool mismatch;
    tmq_jnl_push_segment(j, seq, 0);
    l->seq = seq;
    const char *why = s_header(j, fd, size, seq, &mismatch);
    if (!why && tmq_jseg_scan(fd, TMQ_JSEG_HDR, size, UINT64_MAX, &j->scratch, s_fold, l, &stop,
                              &why) < 0) {
        snprintf(err, errlen, "journal %s: cannot read %s at offset %llu: %s", j->dir, name,
                 (unsigned long long)stop, strerror(errno));
        close(fd);
        return -1;
    }
    /* A header is fdatasync'd before any record follows it: a bad one with whole records
     * behind it, or a whole one naming another segment, was never a torn write. */
    bool refuse = why && (!last || mismatch ||
                          (stop == 0 && tmq_jseg_find_record(fd, 0, size, &j->scratch) >= 0));
    if (refuse) {
        s_damaged(j, name, stop, why,
                  !last ? "it is not the last segment" : "whole records follow its header", err,
                  errlen);
        close(fd);
        return -1;
    }
    if (why && s_cut(j, fd, name, stop, size, why, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    if (!why) stop = size;
    j->segs[j->nsegs - 1].size = stop;
    j->bytes += stop;
    if (last)
        j->fd = fd;
    else
        close(fd);
    return 0;
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The segment numbers in the directory, sorted, in *out (caller frees); count or -1. */
static long s_list(tmq_journal_t *j, uint32_t **out, char *err, size_t errlen)
{
    int fd = dup(j->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        snprintf(err, errlen, "journal %s: cannot list it: %s", j->dir, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    rewinddir(d);
    uint32_t *seqs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint32_t seq;
        if (!tmq_jseg_parse_name(de->d_name, &seq)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            seqs = tmq_xrealloc(seqs, cap * sizeof *seqs);
        }
        seqs[n++] = seq;
    }
    closedir(d);
    if (n) qsort(seqs, n, sizeof *seqs, s_cmp_u32);
    for (size_t i = 1; i < n; i++) {
        if (seqs[i] == seqs[i - 1] + 1) continue;
        char a[TMQ_JSEG_NAME_MAX], b[TMQ_JSEG_NAME_MAX];
        tmq_jseg_name(a, sizeof a, seqs[i - 1]);
        tmq_jseg_name(b, sizeof b, seqs[i]);
        snprintf(err, errlen,
                 "journal %s: segments are missing between %s and %s (deleted by hand, or "
                 "lost). Nothing was changed: put them back, or move the journal directory "
                 "aside to start empty",
                 j->dir, a, b);
        free(seqs);
        return -1;
    }
    *out = seqs;
    return (long)n;
}

static int s_cmp_ord(const void *a, const void *b)
{
    uint64_t x = ((const tmq_jorder_t *)a)->ord, y = ((const tmq_jorder_t *)b)->ord;
    return x < y ? -1 : x > y;
}

/* After the last segment was read: orphans out, accept order sorted, the current segment
 * ready for appending (begun afresh if the cut left it without a header). */
static int s_finish(s_load_t *l, uint32_t next_seq, char *err, size_t errlen)
{
    tmq_journal_t *j = l->j;
    for (size_t i = 0; i < l->norphans; i++) {
        tmq_jentry_t *e = tmq_jnl_entry(j, l->maybe_orphans[i]);
        if (e && !e->acc_seg) {
            j->orphans++;
            tmq_jnl_entry_free(j, l->maybe_orphans[i], 0);
        }
    }
    if (j->orphans)
        tmq_warn("journal: %s: %llu records belong to no accepted job; ignored", j->dir,
                 (unsigned long long)j->orphans);
    s_order_filter(j);
    bool sorted = true;
    for (size_t i = 1; i < j->norder && sorted; i++)
        sorted = j->order[i - 1].ord < j->order[i].ord;
    if (!sorted) qsort(j->order, j->norder, sizeof *j->order, s_cmp_ord);
    j->can_replay = true;

    if (j->nsegs && j->segs[j->nsegs - 1].size < TMQ_JSEG_HDR) { /* cut to nothing */
        char name[TMQ_JSEG_NAME_MAX];
        tmq_jseg_name(name, sizeof name, j->segs[j->nsegs - 1].seq);
        close(j->fd);
        j->fd = -1;
        next_seq = j->segs[--j->nsegs].seq;
        if (unlinkat(j->dirfd, name, 0) < 0 || fsync(j->dirfd) < 0) {
            snprintf(err, errlen, "journal %s: cannot remove the empty %s: %s", j->dir, name,
                     strerror(errno));
            return -1;
        }
        if (j->nsegs) { /* go on appending to the one before */
            tmq_jseg_name(name, sizeof name, j->segs[j->nsegs - 1].seq);
            j->fd = openat(j->dirfd, name, O_RDWR | O_CLOEXEC);
            if (j->fd < 0) {
                snprintf(err, errlen, "journal %s: cannot open %s: %s", j->dir, name,
                         strerror(errno));
                return -1;
            }
        }
    }
    if (!j->nsegs) {
        j->fd = tmq_jnl_new_segment(j, next_seq);
        if (j->fd < 0) {
            snprintf(err, errlen, "journal %s: cannot begin a segment: %s", j->dir,
                     strerror(errno));
            return -1;
        }
        tmq_jnl_push_segment(j, next_seq, TMQ_JSEG_HDR);
    } else if (j->io.fdatasync(j->fd) < 0) { /* what was read is on disk, so deaths count */
        snprintf(err, errlen, "journal %s: cannot sync the last segment: %s", j->dir,
                 strerror(errno));
        return -1;
    }
    j->base = j->segs[j->nsegs - 1].size;
    return 0;
}

static int s_setup(tmq_journal_t *j, const char *dir, const tmq_journal_opts_t *opts, char *err,
                   size_t errlen)
{
    if (opts)
        j->opts = *opts;
    else
        tmq_journal_opts_init(&j->opts);
    if (!j->opts.max_pending) j->opts.max_pending = TMQ_JOURNAL_PENDING_DEFAULT;
    if (j->opts.segment_size < TMQ_JOURNAL_SEGMENT_MIN ||
        j->opts.segment_size > TMQ_JOURNAL_SEGMENT_MAX || j->opts.fsync_ms < -1) {
        snprintf(err, errlen, "journal %s: segment size %u is not within %u..%u, or fsync %d", dir,
                 j->opts.segment_size, TMQ_JOURNAL_SEGMENT_MIN, TMQ_JOURNAL_SEGMENT_MAX,
                 j->opts.fsync_ms);
        return -1;
    }
    j->io.pwrite = opts && opts->io && opts->io->pwrite ? opts->io->pwrite : pwrite;
    j->io.fdatasync = opts && opts->io && opts->io->fdatasync ? opts->io->fdatasync : fdatasync;
    j->opts.io = NULL;
    j->dir = tmq_xstrdup(dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "journal %s: cannot create it: %s%s", dir, strerror(e),
                 e == ENOENT ? " (its parent directory must exist: only the last part is made)"
                             : "");
        return -1;
    }
    j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dirfd < 0) {
        snprintf(err, errlen, "journal %s: cannot open it: %s", dir, strerror(errno));
        return -1;
    }
    j->lockfd = tmq_jdir_lock(j->dirfd, dir, err, errlen);
    return j->lockfd < 0 ? -1 : 0;
}

tmq_journal_t *tmq_journal_open(const char *dir, const tmq_journal_opts_t *opts, char *err,
                                size_t errlen)
{
    tmq_journal_t *j = tmq_xcalloc(1, sizeof *j);
    j->dirfd = j->lockfd = j->fd = j->cmp_fd = -1;
    tmq_idmap_init(&j->map);
    uint32_t *seqs = NULL;
    s_load_t l = {.j = j};
    if (s_setup(j, dir, opts, err, errlen) < 0) goto fail;
    long n = s_list(j, &seqs, err, errlen);
    if (n < 0) goto fail;
    for (long i = 0; i < n; i++)
        if (s_load(&l, seqs[i], i == n - 1, err, errlen) < 0) goto fail;
    if (s_finish(&l, n ? seqs[n - 1] + 1 : 1, err, errlen) < 0) goto fail;
    free(seqs);
    free(l.maybe_orphans);
    j->last_err[0] = '\0';
    tmq_info("journal: %s: %u segments, %llu bytes, %zu live jobs", j->dir, (unsigned)j->nsegs,
             (unsigned long long)j->bytes, tmq_idmap_count(&j->map));
    return j;
fail:
    free(seqs);
    free(l.maybe_orphans);
    tmq_journal_close(&j);
    return NULL;
}

void tmq_jnl_replay_drop(tmq_journal_t *j)
{
    free(j->order);
    j->order = NULL;
    j->norder = j->order_cap = 0;
    j->can_replay = false;
}

/* Maps every segment read-only for replay (the scan just read them: they are cached). */
static int s_map_all(tmq_journal_t *j, uint8_t **maps)
{
    for (size_t i = 0; i < j->nsegs; i++) {
        char name[TMQ_JSEG_NAME_MAX];
        tmq_jseg_name(name, sizeof name, j->segs[i].seq);
        int fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
        void *m =
            fd < 0 ? MAP_FAILED : mmap(NULL, (size_t)j->segs[i].size, PROT_READ, MAP_SHARED, fd, 0);
        int e = errno;
        if (fd >= 0) close(fd);
        if (m == MAP_FAILED) {
            tmq_jnl_error(j, "journal %s: cannot map %s for replay: %s", j->dir, name, strerror(e));
            return -1;
        }
        madvise(m, (size_t)j->segs[i].size, MADV_SEQUENTIAL);
        maps[i] = m;
    }
    return 0;
}

long tmq_journal_replay(tmq_journal_t *j, tmq_journal_replay_fn fn, void *arg)
{
    if (!j->can_replay) {
        tmq_jnl_error(j, "journal %s: replay comes once, before the first append", j->dir);
        return -1;
    }
    uint8_t **maps = tmq_xcalloc(j->nsegs ? j->nsegs : 1, sizeof *maps);
    long n = 0;
    if (s_map_all(j, maps) < 0) n = -1;
    for (size_t i = 0; n >= 0 && i < j->norder; i++) {
        const tmq_jorder_t *o = &j->order[i];
        const tmq_jentry_t *e = tmq_jnl_entry(j, o->jid);
        size_t a = o->seg - j->segs[0].seq;
        tmq_journal_job_t job = {
            .jid = o->jid,
            .accept = maps[a] + o->off + TMQ_JREC_HDR + 8,
            .accept_len = e->acc_len - TMQ_JREC_HDR - 8,
            .attempt = e->st_seg ? e->attempt : 0,
        };
        if (e->res_seg) {
            job.result = maps[e->res_seg - j->segs[0].seq] + e->res_off + TMQ_JREC_HDR;
            job.result_len = e->res_len - TMQ_JREC_HDR;
        }
        if (fn(&job, arg) != 0) {
            tmq_jnl_error(j, "journal %s: replay stopped by its caller after %ld jobs", j->dir, n);
            n = -1;
        } else {
            n++;
        }
    }
    for (size_t i = 0; i < j->nsegs; i++)
        if (maps[i]) munmap(maps[i], (size_t)j->segs[i].size);
    free(maps);
    tmq_jnl_replay_drop(j);
    return n;
}

void tmq_journal_close(tmq_journal_t **j_p)
{
    if (!j_p || !*j_p) return;
    tmq_journal_t *j = *j_p;
    if (j->fd >= 0 && j->need_truncate && j->truncate_to > 0 &&
        ftruncate(j->fd, (off_t)j->truncate_to) < 0) {
        /* a torn tail is left, which the next open cuts */
    }
    if (j->fd >= 0) close(j->fd);
    if (j->cmp_fd >= 0) close(j->cmp_fd);
    if (j->lockfd >= 0) close(j->lockfd); /* releases the lock */
    if (j->dirfd >= 0) close(j->dirfd);
    tmq_idmap_destroy(&j->map);
    for (uint32_t i = 0; i < j->nchunks; i++)
        free(j->chunks[i]);
    free(j->chunks);
    free(j->segs);
    free(j->buf);
    free(j->order);
    tmq_jbuf_free(&j->scratch);
    free(j->dir);
    free(j);
    *j_p = NULL;
}
