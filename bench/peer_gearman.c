/* bench/peer_gearman.c — the Gearman peer taskmq is compared against: no-op jobs through
 * libgearman's C API and gearmand 1.1 on loopback. Not a test: it prints figures;
 * bench/peer_gearman.sh starts the server and two workers, then runs the client here.
 *
 *   peer_gearman worker                serves `echo` (answers with its workload) until killed,
 *                                      or until its parent is gone or the server is lost
 *   peer_gearman ping                  exits 0 once the server answers an ECHO_REQ (200 ms)
 *   peer_gearman throughput N [BATCH]  N echo jobs with 32-byte payloads, each carrying its
 *                                      own id, BATCH at a time (default 1000) through
 *                                      gearman_client_add_task + gearman_client_run_tasks
 *                                      (BATCH 1: gearman_client_do per job); every reply
 *                                      checked, exactly once and intact; prints jobs/s
 *   peer_gearman latency N             one job at a time (gearman_client_do), N round trips
 *                                      after 100 warm-up; prints p50/p99/max in us
 * The server comes from $GEARMAN_SERVER (host:port, default 127.0.0.1:4730). Every wait on
 * the server is bounded (gearman_client_set_timeout); exits nonzero when an answer is
 * missing, repeated or wrong.
 */
#include <libgearman/gearman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    PAYLOAD = 32,          /* bytes of each job's workload */
    TIMEOUT_MS = 10000,    /* the longest the client waits for the server to say anything */
    WARMUP = 1000,         /* jobs run before the throughput is timed */
    LAT_WARMUP = 100,      /* round trips before the latency is timed */
    WORKER_POLL_MS = 1000, /* a worker looks at its parent this often when idle */
    WORKER_ERRORS = 50,    /* a worker gives up after this many errors in a row (~5 s) */
};

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

static const char *s_server(void)
{
    const char *s = getenv("GEARMAN_SERVER");
    return s && *s ? s : "127.0.0.1:4730";
}

/* Gearman's unique of job id: its decimal digits. Without one (NULL) libgearman makes a UUID per
 * job, which cost a fifth of the rate here (19,900 against 24,600 jobs/s); gearmand merges
 * queued jobs of equal unique, so ids are never reused while one is in flight. */
static void s_unique(char *buf, size_t size, long id)
{
    snprintf(buf, size, "%ld", id);
}

/* the workload of job id: exactly PAYLOAD printable bytes (no terminator sent) */
static void s_payload(char *buf, long id)
{
    char tmp[PAYLOAD + 1];
    snprintf(tmp, sizeof tmp, "id %028ld|", id);
    memcpy(buf, tmp, PAYLOAD);
}

/* ---------------------------------------------------------------- worker */

/* `echo`: a copy of the workload (libgearman frees what a v1 function returns) */
static void *s_echo(gearman_job_st *job, void *ctx, size_t *size, gearman_return_t *ret)
{
    size_t n = gearman_job_workload_size(job);
    void *out = malloc(n ? n : 1);
    if (!out) {
        *ret = GEARMAN_WORK_FAIL;
        return NULL;
    }
    if (n) memcpy(out, gearman_job_workload(job), n);
    *size = n;
    *ret = GEARMAN_SUCCESS;
    return out;
}

static int s_worker(void)
{
    pid_t parent = getppid();
    gearman_worker_st *w = gearman_worker_create(NULL);
    if (!w) return 3;
    gearman_worker_set_timeout(w, WORKER_POLL_MS); /* gearman_worker_work returns when idle */
    if (gearman_failed(gearman_worker_add_servers(w, s_server())) ||
        gearman_failed(gearman_worker_add_function(w, "echo", 0, s_echo, NULL))) {
        fprintf(stderr, "peer_gearman worker: %s\n", gearman_worker_error(w));
        gearman_worker_free(w);
        return 3;
    }
    int errors = 0;
    while (getppid() == parent) { /* the driver that started us is still there */
        gearman_return_t ret = gearman_worker_work(w);
        if (gearman_success(ret) || ret == GEARMAN_TIMEOUT || ret == GEARMAN_NO_JOBS) {
            errors = 0;
            continue;
        }
        if (++errors >= WORKER_ERRORS) {
            fprintf(stderr, "peer_gearman worker: giving up: %s\n", gearman_worker_error(w));
            break;
        }
        usleep(100 * 1000);
    }
    gearman_worker_free(w);
    return 0;
}

/* ---------------------------------------------------------------- client */

static struct {
    long n;              /* ids 0..n-1 are expected */
    unsigned char *seen; /* one flag per id: its intact reply has come */
    long ok, dup;        /* intact first replies; replies for an id already answered */
} S;

static void s_check(long id, const void *data, size_t size)
{
    char want[PAYLOAD];
    if (id < 0 || id >= S.n) return; /* not ours: its own id stays missing */
    s_payload(want, id);
    if (size != PAYLOAD || !data || memcmp(data, want, PAYLOAD) != 0) return;
    if (S.seen[id]) {
        S.dup++;
        return;
    }
    S.seen[id] = 1;
    S.ok++;
}

static gearman_return_t s_complete(gearman_task_st *t)
{
    s_check((long)(uintptr_t)gearman_task_context(t), gearman_task_data(t),
            gearman_task_data_size(t));
    return GEARMAN_SUCCESS;
}

/* WORK_FAIL / WORK_EXCEPTION: the job's id stays missing, which counts it as failed */
static gearman_return_t s_failed(gearman_task_st *t)
{
    return GEARMAN_SUCCESS;
}

/* one job through gearman_client_do; 0 when its reply came back intact */
static int s_do(gearman_client_st *c, long id)
{
    char arg[PAYLOAD], unique[24];
    size_t size = 0;
    gearman_return_t ret;
    s_payload(arg, id);
    s_unique(unique, sizeof unique, id);
    void *r = gearman_client_do(c, "echo", unique, arg, PAYLOAD, &size, &ret);
    int bad = !gearman_success(ret) || size != PAYLOAD || !r || memcmp(r, arg, PAYLOAD) != 0;
    if (!gearman_success(ret))
        fprintf(stderr, "peer_gearman: job %ld: %s\n", id, gearman_client_error(c));
    free(r);
    return bad;
}

/* Runs n echo jobs, batch at a time, checking every reply; returns the failed count (missing,
 * wrong or repeated replies) or -1 when out of memory. */
static long s_run(gearman_client_st *c, long n, long batch)
{
    free(S.seen);
    S.n = n;
    S.ok = S.dup = 0;
    S.seen = calloc((size_t)n, 1);
    char *buf = malloc((size_t)(batch > 1 ? batch : 1) * PAYLOAD);
    char(*uniq)[24] = malloc((size_t)(batch > 1 ? batch : 1) * sizeof *uniq); /* as s_do */
    if (!S.seen || !buf || !uniq) {
        free(buf);
        free(uniq);
        return -1;
    }
    for (long base = 0; base < n; base += batch) {
        long m = n - base < batch ? n - base : batch;
        if (batch == 1) {
            if (s_do(c, base) == 0) {
                S.seen[base] = 1;
                S.ok++;
            }
            continue;
        }
        gearman_return_t ret = GEARMAN_SUCCESS;
        for (long i = 0; i < m && gearman_success(ret); i++) {
            char *arg = buf + i * PAYLOAD; /* kept until the batch is done */
            s_payload(arg, base + i);
            s_unique(uniq[i], sizeof uniq[i], base + i);
            if (!gearman_client_add_task(c, NULL, (void *)(uintptr_t)(base + i), "echo", uniq[i],
                                         arg, PAYLOAD, &ret))
                fprintf(stderr, "peer_gearman: add_task: %s\n", gearman_client_error(c));
        }
        if (gearman_success(ret)) ret = gearman_client_run_tasks(c);
        gearman_client_task_free_all(c);
        if (!gearman_success(ret)) {
            fprintf(stderr, "peer_gearman: run_tasks: %s\n", gearman_client_error(c));
            break; /* the rest counts as missing */
        }
    }
    free(buf);
    free(uniq);
    return (n - S.ok) + S.dup;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: peer_gearman worker | ping | throughput N [BATCH] | "
                        "latency N\n");
        return 2;
    }
    if (strcmp(argv[1], "worker") == 0) return s_worker();

    gearman_client_st *c = gearman_client_create(NULL);
    if (!c) return 3;
    int ping = strcmp(argv[1], "ping") == 0;
    gearman_client_set_timeout(c, ping ? 200 : TIMEOUT_MS);
    gearman_client_set_complete_fn(c, s_complete);
    gearman_client_set_fail_fn(c, s_failed);
    gearman_client_set_exception_fn(c, s_failed);
    if (gearman_failed(gearman_client_add_servers(c, s_server()))) {
        fprintf(stderr, "peer_gearman: bad server %s\n", s_server());
        gearman_client_free(c);
        return 3;
    }
    int rc = 0;
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (ping) {
        rc = gearman_failed(gearman_client_echo(c, "ping", 4)) ? 1 : 0;
    } else if (strcmp(argv[1], "throughput") == 0 && n > 0) {
        long batch = argc > 3 ? atol(argv[3]) : 1000;
        if (batch < 1) batch = 1;
        long failed = s_run(c, WARMUP < n ? WARMUP : n, batch); /* connect, workers busy */
        double t0 = s_now();
        if (failed == 0) failed = s_run(c, n, batch);
        double dt = s_now() - t0;
        printf("gearman throughput %ld jobs %.3f s %.0f jobs/s failed %ld\n", n, dt, n / dt,
               failed);
        rc = failed != 0;
    } else if (strcmp(argv[1], "latency") == 0 && n > 0) {
        double *rt = calloc((size_t)n, sizeof *rt);
        long failed = 0;
        for (long i = 0; i < LAT_WARMUP && rt; i++)
            failed += s_do(c, i);
        for (long i = 0; i < n && rt && failed == 0; i++) {
            double t0 = s_now();
            failed += s_do(c, i);
            rt[i] = (s_now() - t0) * 1e6;
        }
        if (!rt || failed) {
            fprintf(stderr, "peer_gearman: latency: %ld round trips failed\n", rt ? failed : n);
            printf("gearman latency %ld round trips p50 n/a us p99 n/a us max n/a us failed %ld\n",
                   n, rt ? failed : n);
            rc = 1;
        } else {
            qsort(rt, (size_t)n, sizeof *rt, s_cmp);
            printf("gearman latency %ld round trips p50 %.0f us p99 %.0f us max %.0f us failed "
                   "0\n",
                   n, rt[n / 2], rt[n * 99 / 100], rt[n - 1]);
        }
        free(rt);
    } else {
        fprintf(stderr, "peer_gearman: unknown mode or N < 1\n");
        rc = 2;
    }
    free(S.seen);
    gearman_client_free(c);
    return rc;
}
