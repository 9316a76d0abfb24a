/* bench/tmq_bench.c — measures taskmq through its public C API (include/taskmq/client.h),
 * the way an application uses it. Not a test: it prints figures, bench/run.sh compares them.
 *
 *   tmq_bench throughput N         N no-op (echo) jobs submitted at once; prints jobs/s
 *   tmq_bench latency N            N echo jobs one at a time; prints p50/p99/max round trip in us
 *   tmq_bench cpu N SIZE           N `sum SIZE` jobs at once; prints wall s and mean job ms
 *   tmq_bench plain N SIZE PROCS   the same N sums in PROCS forked processes, no taskmq, each
 *                                  taking the next as it frees: the floor the cpu mode's wall
 *                                  time is compared with
 * The broker comes from $TASKMQ_BROKER (default tcp://127.0.0.1:5555).
 */
#include <msgpack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "taskmq/client.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    unsigned char *at;
    size_t len;
} s_buf_t;

/* A packer's write callback into a caller's buffer of at least 16 bytes (one integer). */
static int s_buf_write(void *data, const char *buf, size_t len)
{
    s_buf_t *b = data;
    memcpy(b->at + b->len, buf, len);
    b->len += len;
    return 0;
}

/* msgpack bytes of one unsigned integer into buf (16 bytes), without an allocation: the
 * client's instructions per job are measured (bench/profile.sh), and this runs twice a job */
static size_t s_arg(unsigned char *buf, uint64_t v)
{
    s_buf_t b = {buf, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, s_buf_write);
    msgpack_pack_uint64(&pk, v);
    return b.len;
}

/* Whether r is right: an OK result of a job of this run not seen before (seen[k] for the k-th
 * job), whose data is echo's argument back (v + k) or sum's total of v. */
static bool s_right(tmq_result_t *r, bool echo, uint64_t v, uint64_t id0, long n,
                    unsigned char *seen)
{
    uint64_t k = tmq_result_id(r) - id0;
    if (!tmq_result_ok(r) || k >= (uint64_t)n || seen[k]) return false;
    seen[k] = 1;
    unsigned char want[16];
    size_t want_len = s_arg(want, echo ? v + k : (v ? v * (v - 1) / 2 : 0)), len;
    const void *data = tmq_result_data(r, &len);
    return len == want_len && memcmp(data, want, len) == 0;
}

/* Submits n jobs of fn (echo of v, v + 1, ...; or sum of v each) and takes every result,
 * checking each (s_right); returns how many were wrong or missing, or -1 when the client
 * failed. Sets the mean job ms. */
static long s_run(tmq_client_t *c, const char *fn, uint64_t v, long n, double *mean_ms)
{
    bool echo = strcmp(fn, "echo") == 0;
    unsigned char arg[16];
    unsigned char *seen = calloc((size_t)n, 1);
    if (!seen) return -1;
    long failed = 0, got = 0;
    uint64_t id0 = 0;
    double ms = 0;
    for (long i = 0; i < n; i++) {
        uint64_t id;
        size_t len = s_arg(arg, echo ? v + (uint64_t)i : v);
        if (tmq_submit(c, fn, arg, len, &id) != 0) goto fail;
        if (i == 0) id0 = id;
        if (id != id0 + (uint64_t)i) goto fail; /* ids are consecutive: s_right relies on it */
        tmq_result_t *r;
        if (i % 512 != 511) continue;
        while ((r = tmq_next(c, 0))) { /* take what has arrived, keep submitting */
            failed += !s_right(r, echo, v, id0, n, seen);
            ms += tmq_result_ms(r);
            got++;
            tmq_result_destroy(&r);
        }
    }
    while (got < n) {
        tmq_result_t *r = tmq_next(c, 30000);
        if (!r) break; /* the rest is missing */
        failed += !s_right(r, echo, v, id0, n, seen);
        ms += tmq_result_ms(r);
        got++;
        tmq_result_destroy(&r);
    }
    free(seen);
    if (mean_ms) *mean_ms = ms / (double)n;
    return failed + (n - got);
fail:
    free(seen);
    return -1;
}

/* The built-in executor's sum loop (worker/builtins.c), kept opaque the same way. Not inlined
 * and marked hot: inlined into s_plain's child, which ends in _exit, GCC deems the loop cold,
 * lays it out for size and ignores -falign-loops; the 4-instruction loop then straddled a
 * 64-byte fetch line and ran ~15% slower than the executor's, a floor taskmq beat. */
__attribute__((noinline, hot)) static uint64_t s_sum(uint64_t n)
{
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        acc += i;
        __asm__ volatile("" : "+r"(acc));
    }
    return acc;
}

/* n sums of size in procs processes, each taking the next job as it frees (a counter in
 * shared memory), as taskmq hands them out: split in turn instead (job k to process k % procs),
 * the floor's tail would differ from taskmq's, since with processes that run at slightly
 * different speeds on a shared machine the one taking a job more (31/29 of 60) costs a whole
 * job. Prints the wall time, forks included; each child checks its answers. */
static int s_plain(long n, uint64_t size, int procs)
{
    uint64_t want = size ? size * (size - 1) / 2 : 0;
    atomic_long *next =
        mmap(NULL, sizeof *next, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (next == MAP_FAILED) return 1;
    atomic_init(next, 0);
    double t0 = s_now();
    for (int p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) {
            int bad = 0;
            for (long k = atomic_fetch_add(next, 1); k < n; k = atomic_fetch_add(next, 1))
                bad |= s_sum(size) != want;
            _exit(bad);
        }
    }
    int failed = 0, st;
    for (int p = 0; p < procs; p++)
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
    double dt = s_now() - t0;
    munmap(next, sizeof *next);
    printf("plain %ld jobs wall %.3f s procs %d failed %d\n", n, dt, procs, failed);
    return failed != 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: tmq_bench throughput N | latency N | cpu N SIZE | plain N SIZE PROCS\n");
        return 2;
    }
    if (strcmp(argv[1], "plain") == 0) /* no broker */
        return argc == 5 ? s_plain(atol(argv[2]), strtoull(argv[3], NULL, 10), atoi(argv[4])) : 2;
    const char *ep = getenv("TASKMQ_BROKER");
    tmq_client_t *c = tmq_client_new(ep ? ep : "tcp://127.0.0.1:5555");
    if (!c || tmq_client_wait_ready(c, 5000) != 0) {
        fprintf(stderr, "tmq_bench: no broker\n");
        tmq_client_destroy(&c);
        return 3;
    }
    long n = atol(argv[2]);
    int rc = 0;
    if (n < 1) {
        fprintf(stderr, "tmq_bench: N must be at least 1\n");
        tmq_client_destroy(&c);
        return 2;
    }
    if (strcmp(argv[1], "throughput") == 0) {
        s_run(c, "echo", 1, 1000, NULL); /* warm up: the broker learns echo is short */
        double t0 = s_now();
        long failed = s_run(c, "echo", 1, n, NULL);
        double dt = s_now() - t0;
        printf("throughput %ld jobs %.3f s %.0f jobs/s failed %ld\n", n, dt, n / dt, failed);
        rc = failed != 0;
    } else if (strcmp(argv[1], "latency") == 0) {
        double *rt = calloc((size_t)n, sizeof *rt);
        long failed = rt ? s_run(c, "echo", 1, 100, NULL) != 0 : n;
        for (long i = 0; rt && i < n; i++) {
            double t0 = s_now();
            failed += s_run(c, "echo", (uint64_t)i, 1, NULL) != 0;
            rt[i] = (s_now() - t0) * 1e6;
        }
        if (rt) {
            qsort(rt, (size_t)n, sizeof *rt, s_cmp);
            printf("latency %ld round trips p50 %.0f us p99 %.0f us max %.0f us failed %ld\n", n,
                   rt[n / 2], rt[n * 99 / 100], rt[n - 1], failed);
        }
        rc = failed != 0;
        free(rt);
    } else if (strcmp(argv[1], "cpu") == 0 && argc == 4) {
        double mean;
        double t0 = s_now();
        long failed = s_run(c, "sum", strtoull(argv[3], NULL, 10), n, &mean);
        double dt = s_now() - t0;
        printf("cpu %ld jobs wall %.3f s mean job %.3f ms failed %ld\n", n, dt, mean, failed);
        rc = failed != 0;
    } else {
        fprintf(stderr, "tmq_bench: unknown mode\n");
        rc = 2;
    }
    tmq_client_destroy(&c);
    return rc;
}
