/* tests/unit/test_journal.c — broker/journal: round trips and replay folding, accept order,
 * torn tails at every offset, damage in the middle refused, segment roll and deletion,
 * compaction (order kept, interrupted half-way, the size bound over a long churn), a full
 * disk (a 1 MiB tmpfs), a failed fdatasync redone, fsync MS, the directory lock.
 * Every test works in its own temporary directory, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal.h"
#include "journal_file.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static char *s_mkdtemp(const char *base)
{
    char *t = NULL;
    assert_true(asprintf(&t, "%s/tmq-journal-XXXXXX", base) > 0);
    assert_non_null(mkdtemp(t));
    return t;
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void s_rmtree(char *dir)
{
    nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static char *s_path(const char *dir, uint32_t seq)
{
    char name[TMQ_JSEG_NAME_MAX], *p = NULL;
    tmq_jseg_name(name, sizeof name, seq);
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static off_t s_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Segment files in dir: how many, their total size, the lowest and highest number. */
static unsigned s_segments(const char *dir, uint64_t *bytes, uint32_t *lo, uint32_t *hi)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    unsigned n = 0;
    uint64_t total = 0;
    uint32_t a = UINT32_MAX, b = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint32_t seq;
        if (!tmq_jseg_parse_name(de->d_name, &seq)) continue;
        char *p = s_path(dir, seq);
        total += (uint64_t)s_file_size(p);
        free(p);
        n++;
        if (seq < a) a = seq;
        if (seq > b) b = seq;
    }
    closedir(d);
    if (bytes) *bytes = total;
    if (lo) *lo = a;
    if (hi) *hi = b;
    return n;
}

static bool s_has_file_with(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    bool found = false;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strstr(de->d_name, part)) found = true;
    if (d) closedir(d);
    return found;
}

static void s_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static uint8_t *s_read_file(const char *path, size_t *n)
{
    off_t size = s_file_size(path);
    assert_true(size >= 0);
    uint8_t *buf = malloc((size_t)size + 1);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, (size_t)size), size);
    close(fd);
    *n = (size_t)size;
    return buf;
}

static void s_flip(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static tmq_journal_t *s_open(const char *dir, const tmq_journal_opts_t *opts)
{
    char err[512] = "";
    tmq_journal_t *j = tmq_journal_open(dir, opts, err, sizeof err);
    if (!j) fail_msg("open %s: %s", dir, err);
    return j;
}

static tmq_journal_opts_t s_opts(int fsync_ms, uint32_t segment)
{
    tmq_journal_opts_t o;
    tmq_journal_opts_init(&o);
    o.fsync_ms = fsync_ms;
    o.segment_size = segment;
    o.retry_ms = 0;
    return o;
}

/* What a replay handed over, copied. */
typedef struct {
    uint64_t jid;
    uint32_t attempt;
    char accept[128];
    char result[128]; /* "" and has_result false when none */
    size_t accept_len;
    bool has_result;
} s_job_t;

typedef struct {
    s_job_t *jobs;
    size_t n, cap;
} s_got_t;

static int s_collect(const tmq_journal_job_t *job, void *arg)
{
    s_got_t *g = arg;
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->jobs = realloc(g->jobs, g->cap * sizeof *g->jobs);
    }
    s_job_t *o = &g->jobs[g->n++];
    memset(o, 0, sizeof *o);
    o->jid = job->jid;
    o->attempt = job->attempt;
    o->accept_len = job->accept_len;
    /* long bodies are cut (the tests that compare bodies keep them short) */
    memcpy(o->accept, job->accept,
           job->accept_len < sizeof o->accept ? job->accept_len : sizeof o->accept - 1);
    if (job->result) {
        memcpy(o->result, job->result,
               job->result_len < sizeof o->result ? job->result_len : sizeof o->result - 1);
        o->has_result = true;
    }
    return 0;
}

static s_got_t s_replay(tmq_journal_t *j)
{
    s_got_t g = {0};
    long n = tmq_journal_replay(j, s_collect, &g);
    assert_int_equal(n, (long)g.n);
    return g;
}

static void s_accept(tmq_journal_t *j, uint64_t jid, const char *body)
{
    if (tmq_journal_accept(j, jid, body, strlen(body), NULL) != 0)
        fail_msg("accept %llu: %s", (unsigned long long)jid, tmq_journal_last_error(j));
}

static void s_result(tmq_journal_t *j, uint64_t jid, const char *body)
{
    assert_int_equal(tmq_journal_result(j, jid, body, strlen(body), NULL), 0);
}

static int64_t s_now = 1000000;

/* ---- round trips ---- */

static void test_journal_round_trip(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_ALWAYS, TMQ_JOURNAL_SEGMENT_DEFAULT);
    tmq_journal_t *j = s_open(dir, &o);
    assert_int_equal(tmq_journal_replay(j, s_collect, &(s_got_t){0}), 0);
    uint64_t seq = 0;
    assert_int_equal(tmq_journal_accept(j, 1, "one", 3, &seq), 0);
    assert_int_equal(seq, 1);
    s_accept(j, 2, "two");
    s_accept(j, 3, "three");
    assert_int_equal(tmq_journal_start(j, 1, 1, NULL), 0);
    assert_int_equal(tmq_journal_start(j, 1, 2, NULL), 0);
    s_result(j, 2, "result two");
    assert_int_equal(tmq_journal_forget(j, 3, &seq), 0);
    assert_int_equal(seq, 7);
    assert_int_equal(tmq_journal_durable_seq(j), 0);
    assert_int_equal(tmq_journal_pending(j), 7);
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    assert_int_equal(tmq_journal_durable_seq(j), 7);
    assert_int_equal(tmq_journal_pending(j), 0);
    assert_null(tmq_journal_failed(j));
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_int_equal(st.live_jobs, 2);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.syncs, 1);
    tmq_journal_close(&j);
    tmq_journal_close(&j); /* twice is safe */

    j = s_open(dir, &o);
    assert_int_equal(tmq_journal_max_jid(j), 3);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.jobs[0].jid, 1);
    assert_string_equal(g.jobs[0].accept, "one");
    assert_int_equal(g.jobs[0].attempt, 2);
    assert_false(g.jobs[0].has_result);
    assert_int_equal(g.jobs[1].jid, 2);
    assert_string_equal(g.jobs[1].accept, "two");
    assert_int_equal(g.jobs[1].attempt, 0);
    assert_true(g.jobs[1].has_result);
    assert_string_equal(g.jobs[1].result, "result two");
    tmq_journal_stats(j, &st);
    assert_int_equal(st.live_jobs, 2);
    char *seg = s_path(dir, 1);
    assert_int_equal(st.bytes, (uint64_t)s_file_size(seg));
    free(seg);
    free(g.jobs);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

static void test_journal_replay_order_and_folding(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, TMQ_JOURNAL_SEGMENT_DEFAULT);
    tmq_journal_t *j = s_open(dir, &o);
    s_accept(j, 10, "ten"); /* accept order, not id order */
    s_accept(j, 5, "five");
    s_accept(j, 7, "seven");
    assert_int_equal(tmq_journal_start(j, 5, 3, NULL), 0);
    assert_int_equal(tmq_journal_start(j, 5, 1, NULL), 0); /* lower: the highest stays */
    s_result(j, 7, "first");
    s_result(j, 7, "second"); /* replaces */
    s_result(j, 10, "");      /* an empty result is a result */
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    tmq_journal_close(&j);

    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.jobs[0].jid, 10);
    assert_true(g.jobs[0].has_result);
    assert_string_equal(g.jobs[0].result, "");
    assert_int_equal(g.jobs[1].jid, 5);
    assert_int_equal(g.jobs[1].attempt, 3);
    assert_int_equal(g.jobs[2].jid, 7);
    assert_string_equal(g.jobs[2].result, "second");
    assert_int_equal(tmq_journal_max_jid(j), 10);
    free(g.jobs);
    /* the live bytes after replay are those of the current records only */
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    uint64_t want = 3 * (TMQ_JREC_HDR + 8) + 3 + 4 + 5 + TMQ_JREC_START_SIZE + TMQ_JREC_HDR + 6 +
                    TMQ_JREC_HDR + 0;
    assert_int_equal(st.live_bytes, want);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

static void test_journal_forget_makes_a_job_vanish(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_t *j = s_open(dir, NULL);
    s_accept(j, 41, "a");
    s_accept(j, 42, "b");
    assert_int_equal(tmq_journal_start(j, 42, 1, NULL), 0);
    s_result(j, 42, "done");
    assert_int_equal(tmq_journal_forget(j, 42, NULL), 0);
    assert_int_equal(tmq_journal_forget(j, 41, NULL), 0);
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    tmq_journal_close(&j);
    j = s_open(dir, NULL);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 0);
    assert_int_equal(tmq_journal_max_jid(j), 42); /* ids are not reused */
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_int_equal(st.live_bytes, 0);
    assert_int_equal(st.live_jobs, 0);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

static void test_journal_refuses_bad_calls(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_t *j = s_open(dir, NULL);
    s_accept(j, 1, "x");
    assert_int_equal(tmq_journal_accept(j, 1, "y", 1, NULL), -1);
    assert_non_null(strstr(tmq_journal_last_error(j), "job 1 is already in the journal"));
    assert_int_equal(tmq_journal_start(j, 2, 1, NULL), -1);
    assert_non_null(strstr(tmq_journal_last_error(j), "job 2 is not in the journal"));
    assert_int_equal(tmq_journal_result(j, 2, "r", 1, NULL), -1);
    assert_int_equal(tmq_journal_forget(j, 2, NULL), -1);
    assert_int_equal(tmq_journal_accept(j, UINT64_MAX, "y", 1, NULL), -1);
    assert_int_equal(tmq_journal_accept(j, 3, "y", TMQ_JOURNAL_MAX_BODY + 1, NULL), -1);
    assert_non_null(strstr(tmq_journal_last_error(j), "over the journal's limit"));
    /* replay is for before the first append only */
    assert_int_equal(tmq_journal_replay(j, s_collect, &(s_got_t){0}), -1);
    assert_non_null(strstr(tmq_journal_last_error(j), "before the first append"));
    int ms = 5;
    assert_int_equal(tmq_journal_parse_fsync("always", &ms), 0);
    assert_int_equal(ms, TMQ_JOURNAL_FSYNC_ALWAYS);
    assert_int_equal(tmq_journal_parse_fsync("never", &ms), 0);
    assert_int_equal(ms, TMQ_JOURNAL_FSYNC_NEVER);
    assert_int_equal(tmq_journal_parse_fsync("10", &ms), 0);
    assert_int_equal(ms, 10);
    assert_int_equal(tmq_journal_parse_fsync("0", &ms), -1);
    assert_int_equal(tmq_journal_parse_fsync("10ms", &ms), -1);
    assert_int_equal(tmq_journal_parse_fsync("sometimes", &ms), -1);
    tmq_journal_close(&j);
    tmq_journal_opts_t o = s_opts(0, 100); /* segment too small */
    char err[256];
    assert_null(tmq_journal_open(dir, &o, err, sizeof err));
    assert_non_null(strstr(err, "segment size"));
    s_rmtree(dir);
}

static void test_journal_lock_refuses_a_second_open(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_t *j = s_open(dir, NULL);
    char err[512] = "", want[64];
    assert_null(tmq_journal_open(dir, NULL, err, sizeof err));
    snprintf(want, sizeof want, "in use by another broker (pid %ld)", (long)getpid());
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "another --journal directory"));
    tmq_journal_close(&j);
    j = s_open(dir, NULL); /* the lock went with the first */
    tmq_journal_close(&j);
    s_rmtree(dir);
}

/* ---- torn tails and damage ---- */

/* A journal of jobs 1..3 (job 2 with a result), then one last record, each committed alone;
 * *last_at is where the last record begins. Returns the segment's bytes. */
static uint8_t *s_build_tail(const char *dir, bool last_is_result, size_t *n, uint64_t *last_at)
{
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, TMQ_JOURNAL_SEGMENT_DEFAULT);
    tmq_journal_t *j = s_open(dir, &o);
    s_accept(j, 1, "job one");
    s_accept(j, 2, "job two");
    s_result(j, 2, "two's result");
    s_accept(j, 3, "job three");
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    char *p = s_path(dir, 1);
    *last_at = (uint64_t)s_file_size(p);
    if (last_is_result)
        s_result(j, 3, "three's result, the one torn");
    else
        s_accept(j, 4, "job four, the one torn");
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    tmq_journal_close(&j);
    uint8_t *bytes = s_read_file(p, n);
    free(p);
    return bytes;
}

static void s_torn_at_every_offset(bool last_is_result)
{
    char *dir = s_mkdtemp("/tmp");
    size_t n;
    uint64_t at;
    uint8_t *bytes = s_build_tail(dir, last_is_result, &n, &at);
    char *seg = s_path(dir, 1);
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, TMQ_JOURNAL_SEGMENT_DEFAULT);
    for (size_t len = at; len <= n; len++) {
        s_write_file(seg, bytes, len);
        tmq_journal_t *j = s_open(dir, &o);
        tmq_journal_stats_t st;
        tmq_journal_stats(j, &st);
        bool whole = len == n;
        assert_int_equal(st.cut_bytes, whole ? 0 : len - at);
        s_got_t g = s_replay(j);
        assert_int_equal(g.n, whole && !last_is_result ? 4 : 3);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(g.jobs[i].jid, i + 1);
        assert_string_equal(g.jobs[1].result, "two's result");
        assert_int_equal(g.jobs[2].has_result, whole && last_is_result);
        free(g.jobs);
        /* appending goes on after the cut, and what is appended replays */
        s_accept(j, 99, "after the cut");
        assert_int_equal(tmq_journal_commit(j, s_now), 0);
        tmq_journal_close(&j);
        j = s_open(dir, &o);
        tmq_journal_stats(j, &st);
        assert_int_equal(st.cut_bytes, 0);
        g = s_replay(j);
        assert_int_equal(g.n, whole && !last_is_result ? 5 : 4);
        assert_int_equal(g.jobs[g.n - 1].jid, 99);
        assert_string_equal(g.jobs[g.n - 1].accept, "after the cut");
        free(g.jobs);
        tmq_journal_close(&j);
        assert_false(s_has_file_with(dir, ".cut-")); /* a plain tear keeps nothing aside */
    }
    free(seg);
    free(bytes);
    s_rmtree(dir);
}

static void test_journal_torn_accept_at_every_offset(void **state)
{
    (void)state;
    s_torn_at_every_offset(false);
}

static void test_journal_torn_result_at_every_offset(void **state)
{
    (void)state;
    s_torn_at_every_offset(true);
}

static void test_journal_torn_segment_header(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    char *seg = s_path(dir, 1);
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, TMQ_JOURNAL_SEGMENT_DEFAULT);
    tmq_journal_t *j = s_open(dir, &o); /* writes the header of segment 1 */
    tmq_journal_close(&j);
    size_t n;
    uint8_t *hdr = s_read_file(seg, &n);
    assert_int_equal(n, TMQ_JSEG_HDR);
    for (size_t len = 0; len < TMQ_JSEG_HDR; len++) {
        s_write_file(seg, hdr, len);
        j = s_open(dir, &o);
        s_got_t g = s_replay(j);
        assert_int_equal(g.n, 0);
        s_accept(j, 7, "seven");
        assert_int_equal(tmq_journal_commit(j, s_now), 0);
        tmq_journal_close(&j);
        j = s_open(dir, &o);
        g = s_replay(j);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.jobs[0].jid, 7);
        free(g.jobs);
        tmq_journal_close(&j);
        assert_int_equal(s_segments(dir, NULL, NULL, NULL), 1);
    }
    free(hdr);
    free(seg);
    s_rmtree(dir);
}

/* 100 jobs of 100-byte bodies over 4 KiB segments: several segments. */
static unsigned s_build_segments(const char *dir)
{
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, 4096);
    tmq_journal_t *j = s_open(dir, &o);
    char body[101];
    for (uint64_t i = 1; i <= 100; i++) {
        snprintf(body, sizeof body, "%0100llu", (unsigned long long)i);
        s_accept(j, i, body);
        assert_int_equal(tmq_journal_commit(j, s_now), 0);
    }
    tmq_journal_close(&j);
    unsigned nseg = s_segments(dir, NULL, NULL, NULL);
    assert_true(nseg >= 3);
    return nseg;
}

static void test_journal_damage_in_a_middle_segment_refuses(void **state)
{
    (void)state;
    for (int where = 0; where < 2; where++) { /* a record's payload; the segment header */
        char *dir = s_mkdtemp("/tmp");
        s_build_segments(dir);
        char *seg = s_path(dir, 2);
        s_flip(seg, where == 0 ? TMQ_JSEG_HDR + TMQ_JREC_HDR + 20 : 12);
        char err[1024] = "";
        tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, 4096);
        assert_null(tmq_journal_open(dir, &o, err, sizeof err));
        assert_non_null(strstr(err, "journal-00000002.seg is damaged at offset"));
        assert_non_null(strstr(err, where == 0 ? "offset 40 (checksum mismatch)" : "offset 0"));
        assert_non_null(strstr(err, "not the last segment"));
        assert_true((strstr(err, "cut that file to 40 bytes") != NULL) == (where == 0));
        assert_non_null(strstr(err, "Move the journal directory aside"));
        assert_false(s_has_file_with(dir, ".cut-"));
        /* nothing was changed: mending the byte makes it open again */
        s_flip(seg, where == 0 ? TMQ_JSEG_HDR + TMQ_JREC_HDR + 20 : 12);
        tmq_journal_t *j = s_open(dir, &o);
        s_got_t g = s_replay(j);
        assert_int_equal(g.n, 100);
        free(g.jobs);
        tmq_journal_close(&j);
        free(seg);
        s_rmtree(dir);
    }
}

static void test_journal_damaged_header_of_the_last_segment_refuses(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    size_t n;
    uint64_t at;
    free(s_build_tail(dir, false, &n, &at));
    char *seg = s_path(dir, 1);
    s_flip(seg, 20); /* the header's max_jid: its checksum fails, records follow */
    char err[1024] = "";
    assert_null(tmq_journal_open(dir, NULL, err, sizeof err));
    assert_non_null(strstr(err, "journal-00000001.seg is damaged at offset 0"));
    assert_non_null(strstr(err, "whole records follow its header"));
    s_flip(seg, 20);
    /* a whole header naming another segment: a file renamed by hand */
    char *other = s_path(dir, 2);
    assert_int_equal(rename(seg, other), 0);
    assert_null(tmq_journal_open(dir, NULL, err, sizeof err));
    assert_non_null(strstr(err, "its header names another segment"));
    assert_int_equal(rename(other, seg), 0);
    tmq_journal_t *j = s_open(dir, NULL);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 4);
    free(g.jobs);
    tmq_journal_close(&j);
    free(other);
    free(seg);
    s_rmtree(dir);
}

static void test_journal_missing_segment_refuses(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    s_build_segments(dir);
    char *seg = s_path(dir, 2);
    assert_int_equal(unlink(seg), 0);
    char err[1024] = "";
    assert_null(tmq_journal_open(dir, NULL, err, sizeof err));
    assert_non_null(strstr(err, "missing between journal-00000001.seg and journal-00000003.seg"));
    free(seg);
    s_rmtree(dir);
}

static void test_journal_checksum_of_the_last_record_is_cut(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    size_t n;
    uint64_t at;
    free(s_build_tail(dir, false, &n, &at));
    char *seg = s_path(dir, 1);
    s_flip(seg, (off_t)n - 3); /* in job 4's body */
    tmq_journal_t *j = s_open(dir, NULL);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_int_equal(st.cut_bytes, n - at);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 3);
    free(g.jobs);
    tmq_journal_close(&j);
    assert_int_equal(s_file_size(seg), (off_t)at);
    assert_false(s_has_file_with(dir, ".cut-"));
    free(seg);
    s_rmtree(dir);
}

static void test_journal_damage_before_whole_records_is_kept_aside(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    size_t n;
    uint64_t at;
    free(s_build_tail(dir, false, &n, &at));
    char *seg = s_path(dir, 1);
    s_flip(seg, TMQ_JSEG_HDR + TMQ_JREC_HDR + 10); /* job 1's body: whole records follow */
    tmq_journal_t *j = s_open(dir, NULL);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_int_equal(st.cut_bytes, n - TMQ_JSEG_HDR);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 0);
    tmq_journal_close(&j);
    char *kept = NULL;
    assert_true(asprintf(&kept, "%s/journal-00000001.seg.cut-40", dir) > 0);
    assert_int_equal(s_file_size(kept), (off_t)(n - TMQ_JSEG_HDR));
    free(kept);
    free(seg);
    s_rmtree(dir);
}

/* ---- segments, deletion, compaction ---- */

static void test_journal_roll_and_delete_dead_segments(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    unsigned nseg = s_build_segments(dir);
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_ALWAYS, 4096);
    tmq_journal_t *j = s_open(dir, &o);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_int_equal(st.segments, nseg);
    uint64_t disk;
    assert_int_equal(s_segments(dir, &disk, NULL, NULL), nseg);
    assert_int_equal(st.bytes, disk);
    free(s_replay(j).jobs);
    for (uint64_t i = 1; i <= 100; i++)
        if (i != 50) assert_int_equal(tmq_journal_forget(j, i, NULL), 0);
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    /* with a budget of one byte: the oldest go, compaction copies one record per call */
    assert_int_equal(tmq_journal_maintain(j, s_now, 1), 0);
    tmq_journal_stats(j, &st);
    uint32_t lo;
    assert_int_equal(s_segments(dir, &disk, &lo, NULL), st.segments);
    assert_true(st.deleted_segments > 0);
    assert_true(lo > 1);
    for (int k = 0; k < 20; k++)
        assert_int_equal(tmq_journal_maintain(j, s_now, 1), 0);
    tmq_journal_stats(j, &st);
    assert_int_equal(st.segments, 1); /* job 50 was moved forward, everything else went */
    assert_true(st.copied_bytes > 0);
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    assert_int_equal(s_segments(dir, &disk, NULL, NULL), 1);
    assert_int_equal(disk, st.bytes);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.jobs[0].jid, 50);
    char want[101];
    snprintf(want, sizeof want, "%0100llu", 50ull);
    assert_string_equal(g.jobs[0].accept, want);
    assert_int_equal(tmq_journal_max_jid(j), 100);
    free(g.jobs);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

/* Once every record of the largest job id is deleted, the segment header still says it. */
static void test_journal_max_jid_survives_in_headers(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, 4096);
    tmq_journal_t *j = s_open(dir, &o);
    char body[101];
    memset(body, 'm', 100);
    body[100] = '\0';
    uint64_t jid = 1000;
    tmq_journal_stats_t st;
    do { /* until a commit has just begun a new, empty segment */
        s_accept(j, ++jid, body);
        assert_int_equal(tmq_journal_forget(j, jid, NULL), 0);
        assert_int_equal(tmq_journal_commit(j, s_now), 0);
        tmq_journal_stats(j, &st);
    } while (st.segments < 2);
    assert_int_equal(tmq_journal_maintain(j, s_now, 0), 0);
    tmq_journal_stats(j, &st);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.bytes, TMQ_JSEG_HDR); /* nothing but the header */
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    assert_int_equal(tmq_journal_max_jid(j), jid);
    s_accept(j, jid + 1, "next");
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.jobs[0].jid, jid + 1);
    free(g.jobs);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

/* jid of the i-th accepted job: a permutation, so accept order and id order differ */
static uint64_t s_jid(uint64_t i)
{
    return (i * 7919) % 10007 + 1;
}

/* jobs[0..n) accepted, started (attempt i % 3 + 1) and some given results; all but those
 * with keep(i) forgotten. */
static void s_make_sparse(tmq_journal_t *j, uint64_t n)
{
    char body[64];
    for (uint64_t i = 0; i < n; i++) {
        snprintf(body, sizeof body, "accept %llu", (unsigned long long)i);
        s_accept(j, s_jid(i), body);
        assert_int_equal(tmq_journal_start(j, s_jid(i), (uint32_t)(i % 3 + 1), NULL), 0);
        if (i % 2 == 0) {
            snprintf(body, sizeof body, "result %llu", (unsigned long long)i);
            s_result(j, s_jid(i), body);
        }
        if (i % 16 == 15) assert_int_equal(tmq_journal_commit(j, s_now), 0);
    }
    for (uint64_t i = 0; i < n; i++)
        if (i % 10 != 3) assert_int_equal(tmq_journal_forget(j, s_jid(i), NULL), 0);
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
}

static void s_check_sparse(tmq_journal_t *j, uint64_t n)
{
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, n / 10);
    char body[64];
    for (size_t k = 0; k < g.n; k++) {
        uint64_t i = k * 10 + 3;
        assert_int_equal(g.jobs[k].jid, s_jid(i));
        snprintf(body, sizeof body, "accept %llu", (unsigned long long)i);
        assert_string_equal(g.jobs[k].accept, body);
        assert_int_equal(g.jobs[k].attempt, i % 3 + 1);
        assert_int_equal(g.jobs[k].has_result, i % 2 == 0);
        if (i % 2 == 0) {
            snprintf(body, sizeof body, "result %llu", (unsigned long long)i);
            assert_string_equal(g.jobs[k].result, body);
        }
    }
    free(g.jobs);
}

static void s_assert_bound(tmq_journal_t *j, uint32_t segment, uint64_t commit)
{
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    uint64_t bound = 3 * st.live_bytes + 2 * (uint64_t)segment + commit;
    if (st.bytes > bound)
        fail_msg("journal %llu bytes over the bound %llu (live %llu, %u segments)",
                 (unsigned long long)st.bytes, (unsigned long long)bound,
                 (unsigned long long)st.live_bytes, st.segments);
}

static void test_journal_compaction_keeps_every_live_job_in_order(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, 4096);
    tmq_journal_t *j = s_open(dir, &o);
    s_make_sparse(j, 2000);
    tmq_journal_stats_t before, st;
    tmq_journal_stats(j, &before);
    for (int k = 0; k < 1000; k++) {
        assert_int_equal(tmq_journal_maintain(j, s_now, 512), 0);
        assert_int_equal(tmq_journal_commit(j, s_now), 0);
    }
    tmq_journal_stats(j, &st);
    assert_true(st.copied_bytes > 0);
    assert_true(st.bytes < before.bytes / 3);
    s_assert_bound(j, 4096, 0);
    uint64_t disk;
    assert_int_equal(s_segments(dir, &disk, NULL, NULL), st.segments);
    assert_int_equal(disk, st.bytes);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    tmq_journal_stats(j, &st);
    assert_int_equal(st.orphans, 0);
    s_check_sparse(j, 2000);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

static void test_journal_compaction_interrupted_halfway(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_ALWAYS, 4096);
    tmq_journal_t *j = s_open(dir, &o);
    s_make_sparse(j, 2000);
    /* one small step: the oldest segment is being copied, both copies exist */
    assert_int_equal(tmq_journal_maintain(j, s_now, 200), 0);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_true(st.copied_bytes > 0);
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    tmq_journal_close(&j); /* "crash" */
    j = s_open(dir, &o);
    tmq_journal_stats_t again;
    tmq_journal_stats(j, &again);
    assert_int_equal(again.live_bytes, st.live_bytes); /* the later copy counts, not both */
    assert_int_equal(again.orphans, 0);
    s_check_sparse(j, 2000);
    for (int k = 0; k < 200; k++)
        assert_int_equal(tmq_journal_maintain(j, s_now, 0), 0);
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    s_assert_bound(j, 4096, 0);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    s_check_sparse(j, 2000);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

/* 200,000 jobs through accept, start, result, forget, WINDOW in flight and `old` that live
 * the whole run (accepted first: beanstalkd #276, old live jobs must not pin the log), a
 * commit and a maintain every 50 jobs, the size checked after every one against
 * 3L + 2S + one turn, or with `slow` (a budget of one byte: the pace alone, four times what
 * was appended) against the bound while a compaction is under way, 3.25L + 3S + one turn.
 * On tmpfs when there is one: this is about sizes, not syncs. */
static void s_churn(uint64_t old, bool slow)
{
    char *dir = s_mkdtemp(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    enum { N = 200000, WINDOW = 300, TURN = 50, SEG = 32768 };
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_NEVER, SEG);
    tmq_journal_t *j = s_open(dir, &o);
    char body[48];
    uint64_t peak = 0, peak_excess = 0;
    for (uint64_t i = 1; i <= N; i++) {
        snprintf(body, sizeof body, "{\"fn\":\"sum\",\"arg\":%llu,\"pad\":\"xxxxxx\"}",
                 (unsigned long long)i);
        s_accept(j, i, body);
        if (i > 3 && i - 3 > old) assert_int_equal(tmq_journal_start(j, i - 3, 1, NULL), 0);
        if (i > 6 && i - 6 > old) s_result(j, i - 6, "{\"ok\":true,\"result\":42}");
        if (i > WINDOW && i - WINDOW > old)
            assert_int_equal(tmq_journal_forget(j, i - WINDOW, NULL), 0);
        if (i % TURN != 0) continue;
        assert_int_equal(tmq_journal_commit(j, s_now), 0);
        assert_int_equal(tmq_journal_maintain(j, s_now, slow ? 1 : 0), 0);
        tmq_journal_stats_t st;
        tmq_journal_stats(j, &st);
        if (st.bytes > peak) peak = st.bytes;
        uint64_t base = 3 * st.live_bytes + 2 * SEG, bound = base + TURN * 200;
        if (slow) bound += st.live_bytes / 4 + SEG;
        if (st.bytes > base && st.bytes - base > peak_excess) peak_excess = st.bytes - base;
        if (st.bytes > bound)
            fail_msg("after job %llu: %llu bytes over the bound %llu (live %llu, %u segments)",
                     (unsigned long long)i, (unsigned long long)st.bytes, (unsigned long long)bound,
                     (unsigned long long)st.live_bytes, st.segments);
    }
    assert_int_equal(tmq_journal_commit(j, s_now), 0);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    print_message("churn of %d jobs, %llu old%s: %u segments, %llu bytes at the end (live %llu), "
                  "peak %llu, peak over 3L+2S %llu, copied %llu\n",
                  N, (unsigned long long)old, slow ? ", paced" : "", st.segments,
                  (unsigned long long)st.bytes, (unsigned long long)st.live_bytes,
                  (unsigned long long)peak, (unsigned long long)peak_excess,
                  (unsigned long long)st.copied_bytes);
    uint64_t disk;
    assert_int_equal(s_segments(dir, &disk, NULL, NULL), st.segments);
    assert_int_equal(disk, st.bytes);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, old + WINDOW);
    for (size_t k = 0; k < g.n; k++) /* the old ones first, then the window, in order */
        assert_int_equal(g.jobs[k].jid, k < old ? k + 1 : N - WINDOW + 1 + (k - old));
    free(g.jobs);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

static void test_journal_churn_stays_within_the_bound(void **state)
{
    (void)state;
    s_churn(10, false);
    s_churn(10, true);
}

/* A backlog of 5,000 old jobs (several times the churn's live bytes): each compaction
 * rewrites all of it, and the bound holds all the same. */
static void test_journal_churn_behind_a_backlog(void **state)
{
    (void)state;
    s_churn(5000, false);
    s_churn(5000, true);
}

/* ---- failures ---- */

static int s_fail_syncs; /* fdatasync calls left to fail with EIO */
static int s_syncs;

static int s_fdatasync(int fd)
{
    s_syncs++;
    if (s_fail_syncs > 0) {
        s_fail_syncs--;
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static void s_failed_sync_is_redone(int fsync_ms)
{
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_io_t io = {.fdatasync = s_fdatasync};
    tmq_journal_opts_t o = s_opts(fsync_ms, TMQ_JOURNAL_SEGMENT_DEFAULT);
    o.io = &io;
    o.retry_ms = 100;
    tmq_journal_t *j = s_open(dir, &o);
    int64_t now = s_now;
    s_accept(j, 1, "one");
    assert_int_equal(tmq_journal_commit(j, now), 0);
    uint64_t durable = tmq_journal_durable_seq(j);
    s_accept(j, 2, "two");
    s_accept(j, 3, "three");
    s_fail_syncs = 1;
    if (fsync_ms > 0) { /* written now, synced later: the sync is what fails */
        assert_int_equal(tmq_journal_commit(j, now), 0);
        durable = tmq_journal_durable_seq(j);
        now += fsync_ms;
        s_accept(j, 4, "four");
    }
    assert_int_equal(tmq_journal_commit(j, now), -1);
    assert_string_equal(tmq_journal_failed(j), "journal unavailable: Input/output error");
    assert_int_equal(tmq_journal_durable_seq(j), durable);
    assert_int_equal(tmq_journal_accept(j, 9, "x", 1, NULL), -1);
    assert_string_equal(tmq_journal_last_error(j), "journal unavailable: Input/output error");
    assert_int_equal(tmq_journal_forget(j, 1, NULL), 0); /* a FORGET is always taken */
    assert_int_equal(tmq_journal_next_sync_ms(j, now), 100);
    assert_int_equal(tmq_journal_commit(j, now + 50), -1); /* not yet due */
    assert_int_equal(tmq_journal_commit(j, now + 100), 0);
    assert_null(tmq_journal_failed(j));
    s_accept(j, 9, "nine");
    assert_int_equal(tmq_journal_commit(j, now + 100 + (fsync_ms > 0 ? fsync_ms : 0)), 0);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_int_equal(st.failures, 1);
    tmq_journal_close(&j);
    o.io = NULL;
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    uint64_t want[] = {2, 3, 4, 9};
    size_t nwant = fsync_ms > 0 ? 4 : 3;
    if (fsync_ms <= 0) want[2] = 9;
    assert_int_equal(g.n, nwant); /* each once: the rewrite did not duplicate */
    for (size_t k = 0; k < nwant; k++)
        assert_int_equal(g.jobs[k].jid, want[k]);
    free(g.jobs);
    tmq_journal_stats(j, &st);
    assert_int_equal(st.cut_bytes, 0);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

static void test_journal_failed_fdatasync_is_redone(void **state)
{
    (void)state;
    s_failed_sync_is_redone(TMQ_JOURNAL_FSYNC_ALWAYS);
    s_failed_sync_is_redone(20);
}

static void test_journal_fsync_ms_syncs_at_most_every_ms(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_io_t io = {.fdatasync = s_fdatasync};
    tmq_journal_opts_t o = s_opts(50, TMQ_JOURNAL_SEGMENT_DEFAULT);
    o.io = &io;
    tmq_journal_t *j = s_open(dir, &o);
    s_syncs = 0;
    int64_t now = s_now;
    assert_int_equal(tmq_journal_next_sync_ms(j, now), -1);
    s_accept(j, 1, "one");
    assert_int_equal(tmq_journal_next_sync_ms(j, now), 0); /* unwritten: commit now */
    assert_int_equal(tmq_journal_commit(j, now), 0);       /* written: durable per policy */
    assert_int_equal(tmq_journal_durable_seq(j), 1);
    int first = s_syncs; /* the first commit may sync (last sync long ago) */
    s_accept(j, 2, "two");
    assert_int_equal(tmq_journal_commit(j, now + 10), 0);
    assert_int_equal(tmq_journal_durable_seq(j), 2);
    assert_int_equal(s_syncs, first);
    int64_t wait = tmq_journal_next_sync_ms(j, now + 10);
    assert_true(wait > 0 && wait <= 50);
    assert_int_equal(tmq_journal_commit(j, now + 10 + wait), 0);
    assert_int_equal(s_syncs, first + 1);
    assert_int_equal(tmq_journal_next_sync_ms(j, now + 10 + wait), -1);
    tmq_journal_close(&j);
    /* always: a sync for each commit that holds an ACCEPT; STARTs, RESULTs, FORGETs wait */
    o.fsync_ms = TMQ_JOURNAL_FSYNC_ALWAYS;
    j = s_open(dir, &o);
    free(s_replay(j).jobs);
    s_syncs = 0;
    assert_int_equal(tmq_journal_start(j, 1, 1, NULL), 0);
    assert_int_equal(tmq_journal_commit(j, now), 0);
    assert_int_equal(s_syncs, 0);
    assert_int_equal(tmq_journal_durable_seq(j), 1);
    assert_int_equal(tmq_journal_next_sync_ms(j, now), -1);
    s_result(j, 1, "r");
    assert_int_equal(tmq_journal_commit(j, now), 0);
    assert_int_equal(s_syncs, 0);
    assert_int_equal(tmq_journal_forget(j, 1, NULL), 0);
    assert_int_equal(tmq_journal_commit(j, now), 0);
    assert_int_equal(s_syncs, 0);
    s_accept(j, 7, "seven"); /* an ACCEPT syncs, and takes what waited with it */
    assert_int_equal(tmq_journal_commit(j, now), 0);
    assert_int_equal(s_syncs, 1);
    assert_int_equal(tmq_journal_commit(j, now), 0); /* nothing new: no sync */
    assert_int_equal(s_syncs, 1);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 2); /* jobs 2 and 7; job 1's start, result and forget all made it */
    assert_int_equal(g.jobs[0].jid, 2);
    assert_int_equal(g.jobs[1].jid, 7);
    free(g.jobs);
    tmq_journal_close(&j);
    /* never: no sync at all in a commit */
    o.fsync_ms = TMQ_JOURNAL_FSYNC_NEVER;
    j = s_open(dir, &o);
    free(s_replay(j).jobs);
    s_syncs = 0;
    s_accept(j, 3, "three");
    assert_int_equal(tmq_journal_commit(j, now), 0);
    assert_int_equal(s_syncs, 0);
    assert_int_equal(tmq_journal_next_sync_ms(j, now), -1);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

/* The 1 MiB tmpfs of test_journal_full_disk: mounted in setup, unmounted in teardown even
 * when the test fails. */
static char *s_mnt;
static bool s_mounted;

static int s_mount_small(void **state)
{
    (void)state;
    s_mnt = s_mkdtemp("/tmp");
    s_mounted = mount("tmpfs", s_mnt, "tmpfs", 0, "size=1m") == 0;
    if (!s_mounted) print_message("cannot mount a tmpfs here: %s\n", strerror(errno));
    return 0;
}

static int s_unmount_small(void **state)
{
    (void)state;
    if (s_mounted && umount2(s_mnt, MNT_DETACH) != 0)
        print_message("umount %s: %s\n", s_mnt, strerror(errno));
    s_mounted = false;
    s_rmtree(s_mnt);
    s_mnt = NULL;
    return 0;
}

/* Fills a 1 MiB tmpfs: new jobs fail "journal unavailable: No space left on device", nothing
 * past the durable point replays, nothing before it is lost, and once space is freed the
 * same journal writes again. */
static void test_journal_full_disk(void **state)
{
    (void)state;
    if (!s_mounted) {
        print_message("skipped: no tmpfs to fill\n");
        skip();
    }
    char *dir = NULL, *filler = NULL;
    assert_true(asprintf(&dir, "%s/j", s_mnt) > 0);
    assert_true(asprintf(&filler, "%s/filler", s_mnt) > 0);
    {
        static uint8_t fill[640 << 10];
        s_write_file(filler, fill, sizeof fill);
    }
    /* one segment bigger than the space, so it is a write that fails (a segment that cannot
     * be begun fails the same way, with everything before it durable) */
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_ALWAYS, 1 << 20);
    tmq_journal_t *j = s_open(dir, &o);
    char body[1024];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    enum { MAXJ = 10000 };
    static uint64_t seq_of[MAXJ + 1];
    uint64_t jid = 0;
    int64_t now = s_now;
    while (jid + 10 <= MAXJ && !tmq_journal_failed(j)) {
        for (int k = 0; k < 10; k++) {
            jid++;
            assert_int_equal(tmq_journal_accept(j, jid, body, strlen(body), &seq_of[jid]), 0);
        }
        tmq_journal_commit(j, ++now);
        assert_int_equal(tmq_journal_maintain(j, now, 0), 0);
    }
    const char *why = tmq_journal_failed(j);
    assert_non_null(why);
    assert_string_equal(why, "journal unavailable: No space left on device");
    uint64_t durable = tmq_journal_durable_seq(j), durable_jid = 0;
    while (durable_jid < jid && seq_of[durable_jid + 1] <= durable)
        durable_jid++;
    assert_true(durable_jid > 0 && durable_jid < jid);
    assert_true(tmq_journal_pending(j) > 0);
    assert_int_equal(tmq_journal_accept(j, jid + 1, "y", 1, NULL), -1);
    assert_string_equal(tmq_journal_last_error(j), why);
    assert_int_equal(tmq_journal_maintain(j, now, 0), 0); /* only deletes while failed */
    /* the files hold exactly what was durable: a restart now replays just that */
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, durable_jid);
    for (size_t k = 0; k < g.n; k++)
        assert_int_equal(g.jobs[k].jid, k + 1);
    free(g.jobs);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_int_equal(st.cut_bytes, 0); /* the failed write was undone, not left torn */
    /* still full: these cannot be made durable, and the next ones are refused */
    uint64_t next = durable_jid + 100;
    for (int k = 0; k < 100 && !tmq_journal_failed(j); k++) {
        for (int m = 0; m < 10; m++)
            s_accept(j, next++, body);
        tmq_journal_commit(j, ++now);
    }
    assert_string_equal(tmq_journal_failed(j), "journal unavailable: No space left on device");
    assert_int_equal(tmq_journal_accept(j, next, body, 10, NULL), -1);
    uint64_t waiting = tmq_journal_pending(j);
    /* space comes back: the next due commit writes what waited, and new jobs are taken */
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(tmq_journal_commit(j, ++now), 0);
    assert_null(tmq_journal_failed(j));
    assert_int_equal(tmq_journal_pending(j), 0);
    s_accept(j, next, "after");
    assert_int_equal(tmq_journal_commit(j, ++now), 0);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    g = s_replay(j);
    assert_true(waiting > 0);
    assert_int_equal(g.n, durable_jid + (next - durable_jid - 100) + 1);
    assert_int_equal(g.jobs[durable_jid].jid, durable_jid + 100);
    assert_int_equal(g.jobs[g.n - 1].jid, next);
    free(g.jobs);
    tmq_journal_close(&j);
    free(dir);
    free(filler);
}

/* The disk filled by the journal itself: once the jobs it holds are forgotten, maintain
 * deletes their segments even though the FORGETs cannot be written yet, and the journal
 * comes back by itself. */
static void test_journal_full_disk_frees_itself(void **state)
{
    (void)state;
    if (!s_mounted) {
        print_message("skipped: no tmpfs to fill\n");
        skip();
    }
    char *dir = NULL;
    assert_true(asprintf(&dir, "%s/j", s_mnt) > 0);
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_ALWAYS, 64 << 10);
    tmq_journal_t *j = s_open(dir, &o);
    char body[1024];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    uint64_t jid = 0;
    int64_t now = s_now;
    while (jid < 10000 && !tmq_journal_failed(j)) {
        for (int k = 0; k < 10; k++)
            s_accept(j, ++jid, body);
        tmq_journal_commit(j, ++now);
        assert_int_equal(tmq_journal_maintain(j, now, 0), 0);
    }
    assert_non_null(tmq_journal_failed(j));
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    assert_true(st.segments > 2);
    for (uint64_t i = 1; i <= jid; i++) /* delivered, or refused: all forgotten */
        assert_int_equal(tmq_journal_forget(j, i, NULL), 0);
    assert_int_equal(tmq_journal_maintain(j, now, 0), 0);
    tmq_journal_stats(j, &st);
    assert_true(st.deleted_segments > 0);
    assert_int_equal(st.segments, 1);
    assert_non_null(tmq_journal_failed(j)); /* until the next commit is due */
    assert_int_equal(tmq_journal_commit(j, ++now), 0);
    assert_null(tmq_journal_failed(j));
    s_accept(j, jid + 1, "after");
    assert_int_equal(tmq_journal_commit(j, ++now), 0);
    tmq_journal_close(&j);
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.jobs[0].jid, jid + 1);
    free(g.jobs);
    tmq_journal_stats(j, &st);
    assert_int_equal(st.orphans, 0);
    tmq_journal_close(&j);
    free(dir);
}

static bool s_fail_headers; /* pwrite of a segment header fails with ENOSPC */

static ssize_t s_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (s_fail_headers && off == 0 && len == TMQ_JSEG_HDR) {
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, buf, len, off);
}

/* A segment that cannot be begun: what was written is durable (commit says 0), new jobs are
 * refused until the next segment is begun on a later try, no half-made file stays. */
static void test_journal_roll_failure(void **state)
{
    (void)state;
    char *dir = s_mkdtemp("/tmp");
    tmq_journal_io_t io = {.pwrite = s_pwrite};
    tmq_journal_opts_t o = s_opts(TMQ_JOURNAL_FSYNC_ALWAYS, 4096);
    o.io = &io;
    o.retry_ms = 100;
    tmq_journal_t *j = s_open(dir, &o);
    s_fail_headers = true;
    char body[101];
    memset(body, 'b', 100);
    body[100] = '\0';
    uint64_t jid = 0;
    int64_t now = s_now;
    while (!tmq_journal_failed(j)) {
        assert_true(jid < 100);
        s_accept(j, ++jid, body);
        assert_int_equal(tmq_journal_commit(j, now), 0); /* durable, even the failing one */
    }
    assert_string_equal(tmq_journal_failed(j), "journal unavailable: No space left on device");
    assert_int_equal(tmq_journal_pending(j), 0);
    assert_int_equal(s_segments(dir, NULL, NULL, NULL), 1);
    assert_int_equal(tmq_journal_accept(j, jid + 1, body, 100, NULL), -1);
    assert_int_equal(tmq_journal_start(j, jid, 1, NULL), 0); /* the rest goes on */
    assert_int_equal(tmq_journal_commit(j, now + 50), -1);   /* not yet due */
    s_fail_headers = false;
    assert_int_equal(tmq_journal_commit(j, now + 100), 0);
    assert_null(tmq_journal_failed(j));
    assert_int_equal(s_segments(dir, NULL, NULL, NULL), 2);
    s_accept(j, jid + 1, body);
    assert_int_equal(tmq_journal_commit(j, now + 100), 0);
    tmq_journal_close(&j);
    o.io = NULL;
    j = s_open(dir, &o);
    s_got_t g = s_replay(j);
    assert_int_equal(g.n, jid + 1);
    assert_int_equal(g.jobs[jid - 1].attempt, 1);
    free(g.jobs);
    tmq_journal_close(&j);
    s_rmtree(dir);
}

int main(void)
{
    tmq_log_init("test", TMQ_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_round_trip),
        cmocka_unit_test(test_journal_replay_order_and_folding),
        cmocka_unit_test(test_journal_forget_makes_a_job_vanish),
        cmocka_unit_test(test_journal_refuses_bad_calls),
        cmocka_unit_test(test_journal_lock_refuses_a_second_open),
        cmocka_unit_test(test_journal_torn_accept_at_every_offset),
        cmocka_unit_test(test_journal_torn_result_at_every_offset),
        cmocka_unit_test(test_journal_torn_segment_header),
        cmocka_unit_test(test_journal_damage_in_a_middle_segment_refuses),
        cmocka_unit_test(test_journal_damaged_header_of_the_last_segment_refuses),
        cmocka_unit_test(test_journal_missing_segment_refuses),
        cmocka_unit_test(test_journal_checksum_of_the_last_record_is_cut),
        cmocka_unit_test(test_journal_damage_before_whole_records_is_kept_aside),
        cmocka_unit_test(test_journal_roll_and_delete_dead_segments),
        cmocka_unit_test(test_journal_max_jid_survives_in_headers),
        cmocka_unit_test(test_journal_compaction_keeps_every_live_job_in_order),
        cmocka_unit_test(test_journal_compaction_interrupted_halfway),
        cmocka_unit_test(test_journal_churn_stays_within_the_bound),
        cmocka_unit_test(test_journal_churn_behind_a_backlog),
        cmocka_unit_test(test_journal_failed_fdatasync_is_redone),
        cmocka_unit_test(test_journal_fsync_ms_syncs_at_most_every_ms),
        cmocka_unit_test_setup_teardown(test_journal_full_disk, s_mount_small, s_unmount_small),
        cmocka_unit_test_setup_teardown(test_journal_full_disk_frees_itself, s_mount_small,
                                        s_unmount_small),
        cmocka_unit_test(test_journal_roll_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
