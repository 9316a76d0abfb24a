/* bench/journal_bench.c — the broker journal's storage engine alone (broker/journal.h), the
 * way the broker loop will drive it. Not a test: it prints figures (medians of --runs runs).
 *
 *   journal_bench [--dir DIR] [--runs N] [--jobs N] [append|replay|churn|all]
 *   append  ACCEPT records (80-byte bodies: a 32-byte argument and the core's fields) in
 *           batches of 100 and 1000 per commit, with --fsync always, 10 (ms) and never:
 *           records/s (each run stops at 200,000 records or 3 s, whichever comes first)
 *   replay  a journal of --jobs live jobs (default 1,000,000: ACCEPT + START + RESULT each)
 *           opened and replayed: seconds with the files in the page cache and after they
 *           were dropped from it (posix_fadvise on the segments only), and index bytes/job
 *   churn   --jobs jobs through accept, start, result, forget (1,000 in flight and ten that
 *           live the whole run), 64 MiB segments, commit + maintain every 100 jobs:
 *           final and peak journal size against the bound 3 x live + 2 segments
 * Everything goes under DIR (default /tmp), in a directory of its own removed at the end.
 */
#include "journal.h"

#include <log.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t s_ms(void)
{
    return (int64_t)(s_now() * 1000);
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void s_rmtree(const char *dir)
{
    nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static char s_base[4096];

static const char *s_fresh(const char *name)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", s_base, name);
    s_rmtree(dir);
    return dir;
}

static tmq_journal_t *s_open(const char *dir, int fsync_ms, uint32_t segment)
{
    tmq_journal_opts_t o;
    tmq_journal_opts_init(&o);
    o.fsync_ms = fsync_ms;
    o.segment_size = segment;
    char err[1024];
    tmq_journal_t *j = tmq_journal_open(dir, &o, err, sizeof err);
    if (!j) {
        fprintf(stderr, "journal_bench: %s\n", err);
        exit(1);
    }
    return j;
}

static void s_check(int rc, tmq_journal_t *j, const char *what)
{
    if (rc == 0) return;
    fprintf(stderr, "journal_bench: %s: %s\n", what, tmq_journal_last_error(j));
    exit(1);
}

/* An ACCEPT body of 80 bytes: the core's fields and a 32-byte argument. */
static void s_body(uint8_t *b, uint64_t i)
{
    memset(b, 0, 80);
    memcpy(b, "\x87\xa1s\xc4\x10", 5); /* looks like the msgpack map the core will write */
    memcpy(b + 5, &i, sizeof i);
    memcpy(b + 40,
           "\xa1"
           "a\xc4\x20",
           4);
    for (int k = 0; k < 32; k++)
        b[44 + k] = (uint8_t)(i * 31 + (uint64_t)k);
}

/* ---- append ---- */

static double s_append_run(int fsync_ms, int batch)
{
    const char *dir = s_fresh("append");
    tmq_journal_t *j = s_open(dir, fsync_ms, TMQ_JOURNAL_SEGMENT_DEFAULT);
    uint8_t body[80];
    uint64_t n = 0;
    double t0 = s_now(), t;
    do {
        for (int k = 0; k < batch; k++) {
            s_body(body, ++n);
            s_check(tmq_journal_accept(j, n, body, sizeof body, NULL), j, "accept");
        }
        s_check(tmq_journal_commit(j, s_ms()), j, "commit");
        t = s_now() - t0;
    } while (n < 200000 && t < 3.0);
    tmq_journal_close(&j);
    s_rmtree(dir);
    return (double)n / t;
}

static void s_append(int runs)
{
    static const struct {
        int fsync_ms;
        const char *name;
    } pol[] = {
        {TMQ_JOURNAL_FSYNC_ALWAYS, "always"}, {10, "10 ms"}, {TMQ_JOURNAL_FSYNC_NEVER, "never"}};
    static const int batches[] = {100, 1000};
    printf("append: ACCEPT records of 80-byte bodies, records/s (median of %d)\n", runs);
    for (size_t p = 0; p < 3; p++)
        for (size_t b = 0; b < 2; b++) {
            double v[16];
            for (int r = 0; r < runs; r++)
                v[r] = s_append_run(pol[p].fsync_ms, batches[b]);
            printf("  fsync %-6s  batch %4d  %10.0f records/s\n", pol[p].name, batches[b],
                   s_median(v, runs));
            fflush(stdout);
        }
}

/* ---- replay ---- */

static void s_build_live(const char *dir, uint64_t jobs)
{
    tmq_journal_t *j = s_open(dir, TMQ_JOURNAL_FSYNC_NEVER, TMQ_JOURNAL_SEGMENT_DEFAULT);
    uint8_t body[80];
    static const char result[] =
        "\x84\xa2ok\xc3\xa1r\xcf\0\0\0\0\0\0\0\x2a\xa1w\xabhostA:4121\xa2ms\x03";
    for (uint64_t i = 1; i <= jobs; i++) {
        s_body(body, i);
        s_check(tmq_journal_accept(j, i, body, sizeof body, NULL), j, "accept");
        s_check(tmq_journal_start(j, i, 1, NULL), j, "start");
        s_check(tmq_journal_result(j, i, result, sizeof result - 1, NULL), j, "result");
        if (i % 1000 == 0) s_check(tmq_journal_commit(j, s_ms()), j, "commit");
    }
    s_check(tmq_journal_commit(j, s_ms()), j, "commit");
    tmq_journal_close(&j);
}

typedef struct {
    uint64_t jobs, bytes, attempts, results;
} s_seen_t;

static int s_seen(const tmq_journal_job_t *job, void *arg)
{
    s_seen_t *s = arg;
    s->jobs++;
    s->bytes += job->accept_len + job->result_len + ((const uint8_t *)job->accept)[6];
    s->attempts += job->attempt;
    s->results += job->result != NULL;
    return 0;
}

/* Syncs the segments and, when drop, drops them (only them) from the page cache. */
static void s_uncache(const char *dir, bool drop)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "journal-", 8) != 0) continue;
        int fd = openat(dirfd(d), de->d_name, O_RDONLY);
        if (fd < 0) continue;
        fdatasync(fd);
        if (drop) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    if (d) closedir(d);
}

static double s_replay_run(const char *dir, uint64_t jobs, bool cold, double *index_bytes)
{
    s_uncache(dir, cold); /* no writeback of the build under the measurement */
    struct mallinfo2 m0 = mallinfo2();
    double t0 = s_now();
    tmq_journal_t *j = s_open(dir, TMQ_JOURNAL_FSYNC_ALWAYS, TMQ_JOURNAL_SEGMENT_DEFAULT);
    s_seen_t seen = {0};
    long n = tmq_journal_replay(j, s_seen, &seen);
    double t = s_now() - t0;
    if (n != (long)jobs || seen.results != jobs || seen.attempts != jobs) {
        fprintf(stderr, "journal_bench: replay gave %ld jobs, %llu results, wanted %llu\n", n,
                (unsigned long long)seen.results, (unsigned long long)jobs);
        exit(1);
    }
    struct mallinfo2 m1 = mallinfo2(); /* heap and mmap'd blocks both */
    *index_bytes = (double)((m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd)) / (double)jobs;
    tmq_journal_close(&j);
    return t;
}

static void s_replay(int runs, uint64_t jobs)
{
    const char *dir = s_fresh("replay");
    double t0 = s_now();
    s_build_live(dir, jobs);
    double build = s_now() - t0;
    tmq_journal_t *j = s_open(dir, TMQ_JOURNAL_FSYNC_NEVER, TMQ_JOURNAL_SEGMENT_DEFAULT);
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    tmq_journal_close(&j);
    printf("replay: %llu live jobs (ACCEPT + START + RESULT), %u segments, %.1f MiB, written "
           "in %.2f s\n",
           (unsigned long long)jobs, st.segments, st.bytes / 1048576.0, build);
    double warm[16], cold[16], idx[16];
    for (int r = 0; r < runs; r++)
        warm[r] = s_replay_run(dir, jobs, false, &idx[r]);
    for (int r = 0; r < runs; r++) {
        double unused;
        cold[r] = s_replay_run(dir, jobs, true, &unused);
    }
    printf("  open + replay, files cached:   %.3f s (median of %d)\n", s_median(warm, runs), runs);
    printf("  open + replay, files uncached: %.3f s\n", s_median(cold, runs));
    printf("  index after replay: %.1f bytes per live job\n", s_median(idx, runs));
    fflush(stdout);
    s_rmtree(dir);
}

/* ---- churn ---- */

typedef struct {
    double secs;
    uint64_t final_bytes, peak_bytes, live_at_peak, copied, peak_over;
} s_churn_t;

static s_churn_t s_churn_run(uint64_t jobs)
{
    enum { WINDOW = 1000, LONG = 10, TURN = 100 };
    const char *dir = s_fresh("churn");
    tmq_journal_t *j = s_open(dir, TMQ_JOURNAL_FSYNC_NEVER, TMQ_JOURNAL_SEGMENT_DEFAULT);
    static const char result[] =
        "\x84\xa2ok\xc3\xa1r\xcf\0\0\0\0\0\0\0\x2a\xa1w\xabhostA:4121\xa2ms\x03";
    uint8_t body[80];
    s_churn_t c = {0};
    double t0 = s_now();
    for (uint64_t i = 1; i <= jobs; i++) {
        s_body(body, i);
        s_check(tmq_journal_accept(j, i, body, sizeof body, NULL), j, "accept");
        if (i > 3 && i - 3 > LONG) s_check(tmq_journal_start(j, i - 3, 1, NULL), j, "start");
        if (i > 8 && i - 8 > LONG)
            s_check(tmq_journal_result(j, i - 8, result, sizeof result - 1, NULL), j, "result");
        if (i > WINDOW && i - WINDOW > LONG)
            s_check(tmq_journal_forget(j, i - WINDOW, NULL), j, "forget");
        if (i % TURN == 0) {
            int64_t now = s_ms();
            s_check(tmq_journal_commit(j, now), j, "commit");
            s_check(tmq_journal_maintain(j, now, 0), j, "maintain");
            tmq_journal_stats_t st;
            tmq_journal_stats(j, &st);
            if (st.bytes > c.peak_bytes) c.peak_bytes = st.bytes, c.live_at_peak = st.live_bytes;
            uint64_t bound = 3 * st.live_bytes + 2ull * TMQ_JOURNAL_SEGMENT_DEFAULT;
            if (st.bytes > bound && st.bytes - bound > c.peak_over) c.peak_over = st.bytes - bound;
        }
    }
    s_check(tmq_journal_commit(j, s_ms()), j, "commit");
    c.secs = s_now() - t0;
    tmq_journal_stats_t st;
    tmq_journal_stats(j, &st);
    c.final_bytes = st.bytes;
    c.copied = st.copied_bytes;
    tmq_journal_close(&j);
    s_rmtree(dir);
    return c;
}

static void s_churn(int runs, uint64_t jobs)
{
    double secs[16], fin[16], peak[16], copied[16], live[16], over[16];
    for (int r = 0; r < runs; r++) {
        s_churn_t c = s_churn_run(jobs);
        secs[r] = c.secs;
        fin[r] = (double)c.final_bytes;
        peak[r] = (double)c.peak_bytes;
        copied[r] = (double)c.copied;
        live[r] = (double)c.live_at_peak;
        over[r] = (double)c.peak_over;
    }
    printf("churn: %llu jobs (accept, start, result, forget; 1,000 in flight, 10 for the whole "
           "run), 64 MiB segments, fsync never, median of %d\n",
           (unsigned long long)jobs, runs);
    printf("  %.2f s (%.0f jobs/s); final %.1f MiB, peak %.1f MiB (live then %.1f KiB), "
           "bound 3 x live + 2 segments = %.1f MiB, peak over it %.0f bytes; compaction "
           "copied %.1f KiB\n",
           s_median(secs, runs), (double)jobs / s_median(secs, runs),
           s_median(fin, runs) / 1048576.0, s_median(peak, runs) / 1048576.0,
           s_median(live, runs) / 1024.0,
           (3 * s_median(live, runs) + 2.0 * TMQ_JOURNAL_SEGMENT_DEFAULT) / 1048576.0,
           s_median(over, runs), s_median(copied, runs) / 1024.0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *base = "/tmp", *what = "all";
    int runs = 3;
    uint64_t jobs = 1000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            base = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
            jobs = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-')
            what = argv[i];
        else {
            fprintf(stderr, "usage: journal_bench [--dir DIR] [--runs N] [--jobs N] "
                            "[append|replay|churn|all]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 16 || jobs < 1000) {
        fprintf(stderr, "journal_bench: --runs 1..16, --jobs at least 1000\n");
        return 2;
    }
    tmq_log_init("bench", TMQ_LOG_WARN);
    snprintf(s_base, sizeof s_base, "%s/tmq-journal-bench-%ld", base, (long)getpid());
    if (mkdir(s_base, 0700) < 0) {
        fprintf(stderr, "journal_bench: cannot create %s: %s\n", s_base, strerror(errno));
        return 1;
    }
    bool all = strcmp(what, "all") == 0;
    if (all || strcmp(what, "append") == 0) s_append(runs);
    if (all || strcmp(what, "replay") == 0) s_replay(runs, jobs);
    if (all || strcmp(what, "churn") == 0) s_churn(runs, jobs);
    s_rmtree(s_base);
    return 0;
}
