/* tests/unit/test_worker_supervisor.c — the executor pool against real executor processes.
 *
 * The supervisor starts the built taskmq-worker in --executor mode (CMake passes its path)
 * and the test drives the loop the daemon would: poll, service, dispatch. It checks results,
 * a crash (DIED with the signal), a time limit (TIMEOUT, unstarted jobs run afterwards),
 * cancels of a running and of a waiting job, and an executor killed from outside. Every
 * executor is stopped by tmq_sup_destroy in teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"
#include "platform.h"
#include "supervisor.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_GOT 256

typedef struct {
    uint64_t jid;
    int status;
    char data[128];
    size_t len;
    pid_t pid;
    double ms;
} got_t;

typedef struct {
    tmq_list_t queue;
    tmq_pace_t pace;
    tmq_sup_t *sup;
    got_t got[MAX_GOT];
    size_t ngot;
    uint64_t tag;
} fx_t;

static void on_result(void *arg, const tmq_wjob_t *job, int status, const void *data, size_t len,
                      pid_t pid, double ms)
{
    fx_t *fx = arg;
    assert_true(fx->ngot < MAX_GOT);
    got_t *g = &fx->got[fx->ngot++];
    g->jid = job->jid;
    g->status = status;
    g->len = len < sizeof g->data ? len : sizeof g->data - 1;
    memcpy(g->data, data, g->len);
    g->data[g->len] = '\0';
    g->pid = pid;
    g->ms = ms;
}

/* Serves the pool until `want` executors said HELLO, or 3 s passed (a broken binary never
 * does: its tests expect that). */
static void await_hello(fx_t *fx, size_t want)
{
    zmq_pollitem_t items[16];
    int64_t until = tmq_clock_ms() + 3000;
    while (tmq_sup_ready(fx->sup) < want && tmq_clock_ms() < until) {
        size_t n = tmq_sup_pollitems(fx->sup, items);
        zmq_poll(items, (int)n, 10);
        tmq_sup_service(fx->sup, items, n);
    }
}

static fx_t *fx_new_argv(size_t procs, char *argv[], bool wait_hello)
{
    static const char *names[] = {"sum", "primes", "echo", "sleep", "fail", "crash"};
    fx_t *fx = calloc(1, sizeof *fx);
    tmq_list_init(&fx->queue);
    tmq_pace_init(&fx->pace, names, 6);
    fx->sup = tmq_sup_new(procs, NULL, argv, &fx->queue, &fx->pace, on_result, fx);
    assert_int_equal(tmq_sup_start(fx->sup), 0);
    if (wait_hello) await_hello(fx, procs);
    return fx;
}

static fx_t *fx_new(size_t procs)
{
    char *argv[] = {TMQ_WORKER_BIN, "--executor", "--test-functions", NULL};
    return fx_new_argv(procs, argv, true);
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    tmq_sup_destroy(&fx->sup);
    assert_null(fx->sup);
    tmq_wjob_clear(&fx->queue);
    free(fx);
    return 0;
}

/* Queues job jid running fn on an integer (or nil when n < 0) or a string. */
static void add(fx_t *fx, uint64_t jid, const char *fn, int64_t n, const char *s,
                uint32_t timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (s)
        msgpack_pack_str_with_body(&pk, s, strlen(s));
    else if (n >= 0)
        msgpack_pack_int64(&pk, n);
    else
        msgpack_pack_nil(&pk);
    tmq_job_item_t it = {.jid = jid,
                         .attempt = 1,
                         .fn = fn,
                         .fn_len = strlen(fn),
                         .arg = sb.data,
                         .arg_len = sb.size,
                         .timeout_ms = timeout_ms};
    int idx = tmq_pace_index(&fx->pace, fn, strlen(fn));
    tmq_list_push_back(&fx->queue, &tmq_wjob_new(&it, ++fx->tag, idx)->link);
    msgpack_sbuffer_destroy(&sb);
}

/* Queues job jid running fn on the msgpack argument arg. */
static void add_raw(fx_t *fx, uint64_t jid, const char *fn, const void *arg, size_t len,
                    uint32_t timeout_ms)
{
    tmq_job_item_t it = {.jid = jid,
                         .attempt = 1,
                         .fn = fn,
                         .fn_len = strlen(fn),
                         .arg = arg,
                         .arg_len = len,
                         .timeout_ms = timeout_ms};
    int idx = tmq_pace_index(&fx->pace, fn, strlen(fn));
    tmq_list_push_back(&fx->queue, &tmq_wjob_new(&it, ++fx->tag, idx)->link);
}

/* Runs the daemon's loop until `want` results arrived or ms passed. */
static void run(fx_t *fx, size_t want, int ms)
{
    int64_t until = tmq_clock_ms() + ms;
    zmq_pollitem_t items[16];
    while (fx->ngot < want && tmq_clock_ms() < until) {
        tmq_sup_dispatch(fx->sup);
        size_t n = tmq_sup_pollitems(fx->sup, items);
        zmq_poll(items, (int)n, 10);
        tmq_sup_service(fx->sup, items, n);
    }
}

static const got_t *find(fx_t *fx, uint64_t jid)
{
    for (size_t i = 0; i < fx->ngot; i++)
        if (fx->got[i].jid == jid) return &fx->got[i];
    return NULL;
}

static size_t count(fx_t *fx, uint64_t jid)
{
    size_t n = 0;
    for (size_t i = 0; i < fx->ngot; i++)
        n += fx->got[i].jid == jid;
    return n;
}

static void test_results(void **state)
{
    fx_t *fx = *state = fx_new(2);
    add(fx, 1, "sum", 10, NULL, 0);
    add(fx, 2, "fail", 0, "no luck", 0);
    add(fx, 3, "primes", 100, NULL, 0);
    add(fx, 4, "nope", -1, NULL, 0);
    add(fx, 5, "echo", 0, "hi", 0);
    run(fx, 5, 5000);
    assert_int_equal(fx->ngot, 5);
    const got_t *g = find(fx, 1);
    assert_int_equal(g->status, TMQ_ST_OK);
    assert_int_equal(g->len, 1);
    assert_int_equal((uint8_t)g->data[0], 45);
    assert_true(g->pid > 0 && g->ms >= 0);
    assert_int_equal(find(fx, 2)->status, TMQ_ST_ERROR);
    assert_string_equal(find(fx, 2)->data, "no luck");
    assert_int_equal((uint8_t)find(fx, 3)->data[0], 25);
    assert_int_equal(find(fx, 4)->status, TMQ_ST_ERROR);
    assert_string_equal(find(fx, 4)->data, "unknown function: nope");
    assert_string_equal(find(fx, 5)->data, "\xa2hi");
    assert_int_equal(tmq_sup_held(fx->sup), 0);
}

static void test_many_short_jobs(void **state)
{
    fx_t *fx = *state = fx_new(2);
    for (uint64_t i = 1; i <= 200; i++)
        add(fx, i, "echo", (int64_t)i, NULL, 0);
    run(fx, 200, 10000);
    assert_int_equal(fx->ngot, 200);
    for (uint64_t i = 1; i <= 200; i++)
        assert_int_equal(count(fx, i), 1);
    assert_true(tmq_pace_estimate(&fx->pace, 2) >= 0);
}

static void test_crash(void **state)
{
    fx_t *fx = *state = fx_new(1);
    add(fx, 1, "crash", -1, NULL, 0);
    add(fx, 2, "sum", 5, NULL, 0);
    run(fx, 2, 5000);
    assert_int_equal(fx->ngot, 2);
    const got_t *c = find(fx, 1), *s = find(fx, 2);
    assert_int_equal(c->status, TMQ_ST_DIED);
    assert_string_equal(c->data, "executor died: SIGSEGV");
    assert_int_equal(s->status, TMQ_ST_OK);
    assert_true(c->pid != s->pid); /* a new executor ran the next job */
}

/* Makes `sleep` look short (as many sleep 0 jobs would) so the next jobs travel in one batch
 * to the one executor; seeded rather than measured so a slow machine cannot change it. */
static void warm_sleep(fx_t *fx)
{
    int fn = tmq_pace_index(&fx->pace, "sleep", 5);
    for (int i = 0; i < 20; i++)
        tmq_pace_record(&fx->pace, fn, 0.01);
}

/* Queues sleep(long_ms) as job 1 and `shorts` sleep(0) jobs after it (jobs 2...), all of
 * which one dispatch hands out at once, as a batch the executors' estimates allow. */
static void batch_behind(fx_t *fx, int64_t long_ms, uint64_t shorts)
{
    warm_sleep(fx);
    add(fx, 1, "sleep", long_ms, NULL, 0);
    for (uint64_t j = 2; j < 2 + shorts; j++)
        add(fx, j, "sleep", 0, NULL, 0);
    tmq_sup_dispatch(fx->sup);
    assert_int_equal(tmq_sup_held(fx->sup), 1 + shorts);
}

static void test_timeout_requeues_unstarted(void **state)
{
    fx_t *fx = *state = fx_new(1);
    warm_sleep(fx);
    add(fx, 1, "sleep", 0, NULL, 0);
    add(fx, 2, "sleep", 3000, NULL, 100);
    add(fx, 3, "sleep", 0, NULL, 0);
    add(fx, 4, "sleep", 0, NULL, 0);
    tmq_sup_dispatch(fx->sup);
    assert_int_equal(tmq_sup_held(fx->sup), 4); /* one batch */
    int64_t t0 = tmq_clock_ms();
    run(fx, 4, 5000);
    assert_int_equal(fx->ngot, 4);
    const got_t *t = find(fx, 2);
    assert_int_equal(t->status, TMQ_ST_TIMEOUT);
    assert_string_equal(t->data, "timeout after 100 ms");
    assert_true(t->ms >= 100);
    assert_true(tmq_clock_ms() - t0 < 2000);
    for (uint64_t j = 1; j <= 4; j++)
        assert_int_equal(count(fx, j), 1);
    assert_int_equal(find(fx, 3)->status, TMQ_ST_OK);
    assert_int_equal(find(fx, 4)->status, TMQ_ST_OK);
    assert_true(find(fx, 3)->pid != find(fx, 1)->pid);
}

static void test_cancel_running(void **state)
{
    fx_t *fx = *state = fx_new(1);
    add(fx, 1, "sleep", 5000, NULL, 0);
    tmq_sup_dispatch(fx->sup);
    run(fx, 1, 100);
    tmq_wjob_ref_t ref = {1, 1};
    tmq_sup_cancel(fx->sup, &ref, 1);
    assert_int_equal(tmq_sup_held(fx->sup), 0);
    add(fx, 2, "echo", 1, NULL, 0);
    run(fx, 1, 3000);
    assert_int_equal(fx->ngot, 1);
    assert_int_equal(fx->got[0].jid, 2);
    run(fx, 2, 200);
    assert_int_equal(fx->ngot, 1); /* nothing for the cancelled job */
}

static void test_cancel_waiting(void **state)
{
    fx_t *fx = *state = fx_new(1);
    batch_behind(fx, 150, 2);
    tmq_wjob_ref_t ref = {2, 1};
    tmq_sup_cancel(fx->sup, &ref, 1);
    run(fx, 2, 3000);
    run(fx, 3, 200);
    assert_int_equal(fx->ngot, 2); /* 1 and 3 */
    assert_int_equal(count(fx, 2), 0);
    assert_int_equal(find(fx, 1)->status, TMQ_ST_OK);
    assert_int_equal(find(fx, 3)->status, TMQ_ST_OK);
    assert_int_equal(find(fx, 1)->pid, find(fx, 3)->pid); /* no kill for a waiting job */
}

static void test_killed_from_outside(void **state)
{
    fx_t *fx = *state = fx_new(1);
    add(fx, 1, "sleep", 5000, NULL, 0);
    add(fx, 2, "sum", 3, NULL, 0);
    tmq_sup_dispatch(fx->sup);
    run(fx, 1, 100);
    pid_t pid = tmq_sup_pid(fx->sup, 0);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    run(fx, 2, 3000);
    assert_int_equal(fx->ngot, 2);
    assert_int_equal(find(fx, 1)->status, TMQ_ST_DIED);
    assert_string_equal(find(fx, 1)->data, "executor died: SIGKILL");
    assert_int_equal(find(fx, 2)->status, TMQ_ST_OK);
}

/* Position of jid's result in arrival order. */
static size_t arrival(fx_t *fx, uint64_t jid)
{
    for (size_t i = 0; i < fx->ngot; i++)
        if (fx->got[i].jid == jid) return i;
    fail_msg("job %llu has no result", (unsigned long long)jid);
    return 0;
}

/* A long job among short ones that looked alike: the short ones queued behind it in its
 * executor are taken back for the idle one and finish long before it. */
static void test_stranded_jobs_taken_back(void **state)
{
    fx_t *fx = *state = fx_new(2);
    batch_behind(fx, 600, 5); /* to executor 0 first, then 3 and 5 behind it */
    run(fx, 6, 5000);
    assert_int_equal(fx->ngot, 6);
    for (uint64_t j = 2; j <= 6; j++) {
        assert_int_equal(count(fx, j), 1);
        assert_int_equal(find(fx, j)->status, TMQ_ST_OK);
        assert_true(arrival(fx, j) < arrival(fx, 1)); /* none waited for the long one */
        assert_true(find(fx, j)->pid != find(fx, 1)->pid);
    }
    assert_int_equal(tmq_sup_returned(fx->sup), 2);
}

/* Waits until no executor has a REVOKE unanswered (2 s at most). */
static void await_reclaim(fx_t *fx)
{
    zmq_pollitem_t items[4];
    int64_t until = tmq_clock_ms() + 2000;
    while (tmq_sup_reclaiming(fx->sup) && tmq_clock_ms() < until) {
        size_t n = tmq_sup_pollitems(fx->sup, items);
        zmq_poll(items, (int)n, 10);
        tmq_sup_service(fx->sup, items, n);
    }
    assert_int_equal(tmq_sup_reclaiming(fx->sup), 0);
}

/* Reclaim (a broker's REVOKE): every job an executor has not started comes back to the
 * front of the local queue, in order; the running one stays. */
static void test_reclaim(void **state)
{
    fx_t *fx = *state = fx_new(1);
    batch_behind(fx, 300, 2);
    assert_int_equal(tmq_sup_reclaim(fx->sup, 5), 1);
    assert_int_equal(tmq_sup_reclaim(fx->sup, 5), 1); /* asked once, not twice */
    await_reclaim(fx);
    assert_int_equal(tmq_sup_returned(fx->sup), 2);
    assert_int_equal(tmq_sup_held(fx->sup), 1);
    assert_int_equal(fx->queue.size, 2);
    assert_int_equal(tmq_wjob_first(&fx->queue)->jid, 2);
    assert_int_equal(fx->ngot, 0); /* the long one still runs */
    run(fx, 3, 3000);
    assert_int_equal(fx->ngot, 3);
    for (uint64_t j = 1; j <= 3; j++)
        assert_int_equal(count(fx, j), 1);
    assert_int_equal(tmq_sup_reclaim(fx->sup, 5), 0); /* nothing left to ask for */
}

/* Asked for fewer than it holds unstarted, an executor hands back that many from its tail. */
static void test_reclaim_some(void **state)
{
    fx_t *fx = *state = fx_new(1);
    batch_behind(fx, 300, 3);
    assert_int_equal(tmq_sup_reclaim(fx->sup, 1), 1);
    await_reclaim(fx);
    assert_int_equal(tmq_sup_returned(fx->sup), 1);
    assert_int_equal(fx->queue.size, 1);
    assert_int_equal(tmq_wjob_first(&fx->queue)->jid, 4); /* the one that would run last */
    run(fx, 4, 3000);
    for (uint64_t j = 1; j <= 4; j++)
        assert_int_equal(count(fx, j), 1);
}

/* A binary that cannot start never says HELLO: it is given no job (the job waits, unharmed),
 * nothing is announced, and the slot backs off instead of forking in a loop. */
static void test_broken_binary(void **state)
{
    char *argv[] = {"/nonexistent/taskmq-worker", "--executor", NULL};
    fx_t *fx = *state = fx_new_argv(1, argv, false);
    add(fx, 1, "echo", 1, NULL, 0);
    run(fx, 1, 500);
    assert_int_equal(fx->ngot, 0);
    assert_int_equal(fx->queue.size, 1);
    assert_false(tmq_sup_announced(fx->sup));
    assert_null(tmq_sup_fatal(fx->sup));          /* not the executor's word: it said nothing */
    assert_int_equal(tmq_sup_pid(fx->sup, 0), 0); /* waiting to restart */
    assert_true(tmq_sup_next_us(fx->sup) > tmq_clock_us() + 50000);
}

/* What executors announce in HELLO is the pool's list of functions. */
static void test_hello_announces_functions(void **state)
{
    fx_t *fx = *state = fx_new(2);
    assert_true(tmq_sup_announced(fx->sup));
    assert_int_equal(tmq_sup_ready(fx->sup), 2);
    const char *const *fns;
    size_t n = tmq_sup_functions(fx->sup, &fns);
    assert_int_equal(n, 6); /* the built-ins and, with --test-functions, crash */
    bool sum = false, crash = false;
    for (size_t i = 0; i < n; i++) {
        sum |= strcmp(fns[i], "sum") == 0;
        crash |= strcmp(fns[i], "crash") == 0;
    }
    assert_true(sum && crash);
    assert_null(tmq_sup_fatal(fx->sup));
}

/* The executor checks a result's size before it makes a frame: one over --max-result fails
 * its job (error text is cut), and the same executor goes on. */
static void test_max_result(void **state)
{
    char *argv[] = {TMQ_WORKER_BIN, "--executor", "--max-result", "100", NULL};
    fx_t *fx = *state = fx_new_argv(1, argv, true);
    char big[201];
    memset(big, 'x', 200);
    big[200] = '\0';
    add(fx, 1, "echo", 0, "small", 0);
    add(fx, 2, "echo", 0, big, 0);
    add(fx, 3, "fail", 0, big, 0);
    add(fx, 4, "echo", 0, "after", 0);
    run(fx, 4, 5000);
    assert_int_equal(fx->ngot, 4);
    assert_int_equal(find(fx, 1)->status, TMQ_ST_OK);
    assert_int_equal(find(fx, 2)->status, TMQ_ST_ERROR);
    assert_string_equal(find(fx, 2)->data, "result too large: 202 bytes (limit 100)");
    assert_int_equal(find(fx, 3)->status, TMQ_ST_ERROR);
    assert_int_equal(find(fx, 3)->len, 100); /* error text: its first 100 bytes */
    assert_int_equal(find(fx, 4)->status, TMQ_ST_OK);
    assert_string_equal(find(fx, 4)->data, "\xa5"
                                           "after");
    for (uint64_t j = 2; j <= 4; j++)
        assert_int_equal(find(fx, j)->pid, find(fx, 1)->pid); /* never replaced */
}

/* True once pid has exited (gone, or a zombie nobody reaped yet), within 3 s. */
static bool ends(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(path, "r");
        if (!f) return true;
        bool zombie = false;
        while (fgets(buf, sizeof buf, f))
            if (strncmp(buf, "State:", 6) == 0) zombie = strchr(buf, 'Z') != NULL;
        fclose(f);
        if (zombie) return true;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    return false;
}

/* An exec job: {"argv":["sh","-c",script]}. */
static void add_exec(fx_t *fx, uint64_t jid, const char *script, uint32_t timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "argv", 4);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_str_with_body(&pk, "sh", 2);
    msgpack_pack_str_with_body(&pk, "-c", 2);
    msgpack_pack_str_with_body(&pk, script, strlen(script));
    add_raw(fx, jid, "exec", sb.data, sb.size, timeout_ms);
    msgpack_sbuffer_destroy(&sb);
}

/* Serves the pool up to 3 s until the script has written its two pids to path. */
static void read_pids(fx_t *fx, const char *path, pid_t *a, pid_t *b)
{
    for (int i = 0; i < 300; i++) {
        run(fx, fx->ngot + 1, 10);
        FILE *f = fopen(path, "r");
        int x = 0, y = 0;
        bool got = f && fscanf(f, "%d %d", &x, &y) == 2;
        if (f) fclose(f);
        if (got) {
            *a = x;
            *b = y;
            return;
        }
    }
    fail_msg("the command did not write its pids to %s", path);
}

/* The daemon's kills (a time limit, a cancel) go to the executor's group: they reach an exec
 * job's command and the child it started in the background. */
static void test_exec_dies_with_executor(void **state)
{
    char *argv[] = {TMQ_WORKER_BIN, "--executor", "--allow-exec", NULL};
    fx_t *fx = *state = fx_new_argv(1, argv, true);
    char dir[] = "/tmp/test_sup_exec.XXXXXX", path[64], script[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/pids", dir);
    snprintf(script, sizeof script, "sleep 30 & echo $$ $! > %s.tmp; mv %s.tmp %s; sleep 30", path,
             path, path);
    pid_t sh, bg;
    add_exec(fx, 1, script, 300);
    run(fx, 1, 5000);
    assert_int_equal(fx->ngot, 1);
    assert_int_equal(find(fx, 1)->status, TMQ_ST_TIMEOUT);
    read_pids(fx, path, &sh, &bg);
    assert_true(ends(sh));
    assert_true(ends(bg));
    unlink(path);

    add_exec(fx, 2, script, 0); /* to the executor that replaced the one killed */
    read_pids(fx, path, &sh, &bg);
    tmq_wjob_ref_t ref = {2, 1};
    tmq_sup_cancel(fx->sup, &ref, 1);
    assert_true(ends(sh));
    assert_true(ends(bg));
    unlink(path);
    rmdir(dir);
    add_exec(fx, 3, "echo served on", 0);
    run(fx, 2, 5000);
    assert_int_equal(find(fx, 3)->status, TMQ_ST_OK);
}

int main(void)
{
    tmq_log_init("test", -1); /* quiet: deaths here are on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_results, teardown),
        cmocka_unit_test_teardown(test_many_short_jobs, teardown),
        cmocka_unit_test_teardown(test_crash, teardown),
        cmocka_unit_test_teardown(test_timeout_requeues_unstarted, teardown),
        cmocka_unit_test_teardown(test_cancel_running, teardown),
        cmocka_unit_test_teardown(test_cancel_waiting, teardown),
        cmocka_unit_test_teardown(test_killed_from_outside, teardown),
        cmocka_unit_test_teardown(test_broken_binary, teardown),
        cmocka_unit_test_teardown(test_hello_announces_functions, teardown),
        cmocka_unit_test_teardown(test_stranded_jobs_taken_back, teardown),
        cmocka_unit_test_teardown(test_reclaim, teardown),
        cmocka_unit_test_teardown(test_reclaim_some, teardown),
        cmocka_unit_test_teardown(test_max_result, teardown),
        cmocka_unit_test_teardown(test_exec_dies_with_executor, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
