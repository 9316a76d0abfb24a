/* tests/unit/test_broker_dispatch.c — who gets which job (broker/dispatch.c): credit, no
 * prefetch for long or unknown functions, a deep window for short ones, lookahead, REVOKE of
 * unstarted jobs for an idle worker and when the revocation check sleeps; with many 1-process
 * workers, no REVOKE while jobs flow and no process idles long, and one idle process asks
 * one holder at a time, never every busy worker, nor again about jobs a worker kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker_harness.h"
#include "pacing.h"

static tmq_core_config_t s_cfg_big_queue = {
    .heartbeat_ms = 1000, .max_queue = 10000, .max_payload = 1024, .retries = 2};

static void test_ready_dispatch_respects_credit(void **state)
{
    tmq_core_t *core = *state;
    bh_submit(core, "C1", "work", 10, 5);
    bh_ready(core, "W1", 2, "work", NULL);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("W1", TMQ_CMD_WELCOME, &g));
    bh_got_free(&g);
    uint64_t jids[8];
    uint32_t att[8];
    /* never timed: no prefetch, one job per process */
    assert_int_equal(bh_jobs("W1", jids, att, 8), 2);
    assert_int_equal(jids[0], 1);
    assert_int_equal(jids[1], 2);
    assert_int_equal(att[0], 1);
    assert_int_equal(bh_queued(core), 3);
    assert_int_equal(bh_leased(core), 2);
    /* a slow result frees one process: one job for it, and now that "work" is known to be
     * long, one job of lookahead for the daemon (handed to whichever process frees first) */
    bh_done(core, "W1", 1, 1, TMQ_ST_OK, "\x01", 77, 500.0);
    assert_int_equal(bh_turn_jobs(core, "W1", jids, att, 8), 2);
    assert_int_equal(jids[0], 3);
    assert_int_equal(jids[1], 4);
    assert_int_equal(bh_leased(core), 3);
    assert_int_equal(bh_queued(core), 1);
    /* and never more than that while both processes stay busy */
    assert_int_equal(bh_turn_jobs(core, "W1", jids, att, 8), 0);
}

static void test_long_jobs_not_prefetched_short_ones_are(void **state)
{
    tmq_core_t *core = *state;
    bh_teach(core, "slow", 200.0);
    bh_teach(core, "fast", 0.01);
    assert_int_equal(tmq_fn_prefetch(tmq_fnreg_find(core->fns, "slow", 4)), 0);
    assert_int_equal(tmq_fn_prefetch(tmq_fnreg_find(core->fns, "fast", 4)), TMQ_PACE_MAX_BATCH);

    bh_ready(core, "W1", 2, "slow", "fast");
    bh_submit(core, "C1", "slow", 0, 50);
    uint64_t jids[200];
    assert_int_equal(bh_turn_jobs(core, "W1", jids, NULL, 200), 3); /* procs + one lookahead */
    tmq_bworker_t *w = tmq_core_worker(core, "W1", 2);
    assert_int_equal(w->nlong, 3);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_BYE); /* cancels them */
    bh_turn(core);
    bh_forget();
    assert_int_equal(w->held.size, 0);

    bh_submit(core, "C2", "fast", 0, 200);
    bh_turn(core);
    size_t n = bh_jobs("W1", jids, NULL, 200);
    assert_int_equal(n, 2 * (1 + TMQ_PACE_MAX_BATCH)); /* each process holds 1 + prefetch */
    /* a long job is never queued behind them */
    bh_submit(core, "C2", "slow", 1000, 1);
    assert_int_equal(bh_turn_jobs(core, "W1", jids, NULL, 200), 0);
    assert_int_equal(tmq_fnreg_find(core->fns, "slow", 4)->queue.size, 1);
}

static void test_revoke_when_a_worker_idles(void **state)
{
    tmq_core_t *core = *state;
    bh_teach(core, "fast", 0.01);
    bh_ready(core, "W1", 1, "fast", NULL);
    bh_ready(core, "W2", 1, "fast", NULL);
    bh_submit(core, "C1", "fast", 0, 130);
    bh_turn(core);
    uint64_t j1[200], j2[200];
    uint32_t a2[200];
    size_t n1 = bh_jobs("W1", j1, NULL, 200), n2 = bh_jobs("W2", j2, a2, 200);
    assert_int_equal(n1 + n2, 130);
    assert_int_equal(n1, 65); /* shared evenly */
    /* W1 finishes everything; W2 is stuck on its first job */
    for (size_t i = 0; i < n1; i++)
        bh_done(core, "W1", j1[i], 1, TMQ_ST_OK, "\x01", 1, 0.01);
    bh_turn(core);
    assert_int_equal(bh_count("W2", TMQ_CMD_REVOKE), 0); /* not idle long enough yet */
    bh_now += TMQ_REVOKE_AFTER_MS + 1;
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("W2", TMQ_CMD_REVOKE, &g));
    uint64_t n = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "n", &n), 0);
    assert_int_equal(n, n2 - 1); /* everything beyond its one process */
    bh_got_free(&g);
    bh_now += 1;
    bh_turn(core);
    assert_int_equal(bh_count("W2", TMQ_CMD_REVOKE), 0); /* not repeated while unanswered */
    /* W2 hands back its last 10 jobs */
    bh_returned(core, "W2", &j2[n2 - 10], &a2[n2 - 10], 10);
    bh_turn(core);
    uint64_t got[200];
    uint32_t gatt[200];
    size_t ng = bh_jobs("W1", got, gatt, 200);
    assert_true(ng >= 1);
    assert_int_equal(got[0], j2[n2 - 10]);  /* in order, from the front of the queue */
    assert_int_equal(gatt[0], a2[n2 - 10]); /* never started: same attempt */
}

/* A long job's lookahead never strands it: a worker that idles takes it back by REVOKE. */
static void test_lookahead_revoked_for_an_idle_worker(void **state)
{
    tmq_core_t *core = *state;
    bh_teach(core, "slow", 200.0);
    bh_ready(core, "W1", 1, "slow", NULL);
    bh_submit(core, "C1", "slow", 0, 2);
    uint64_t j1[4];
    uint32_t a1[4];
    assert_int_equal(bh_turn_jobs(core, "W1", j1, a1, 4), 2); /* one running, one waiting in W1 */
    bh_ready(core, "W2", 1, "slow", NULL);
    bh_turn(core);
    bh_forget();
    bh_now += TMQ_REVOKE_AFTER_MS + 1;
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("W1", TMQ_CMD_REVOKE, &g));
    bh_got_free(&g);
    bh_returned(core, "W1", &j1[1], &a1[1], 1);
    uint64_t j2[4];
    assert_int_equal(bh_turn_jobs(core, "W2", j2, NULL, 4), 1);
    assert_int_equal(j2[0], j1[1]); /* the waiting job moved to the idle worker */
}

static void test_revoke_check_sleeps_without_a_pair(void **state)
{
    tmq_core_t *core = *state;
    bh_teach(core, "fast", 0.01);
    bh_ready(core, "W1", 1, "fast", NULL);
    bh_ready(core, "W2", 1, "other", NULL); /* idle, but can run none of W1's jobs */
    bh_submit(core, "C1", "fast", 0, 1 + TMQ_PACE_MAX_BATCH);
    assert_int_equal(bh_turn_jobs(core, "W1", NULL, NULL, 0),
                     1 + TMQ_PACE_MAX_BATCH); /* W1 overfull */
    bh_forget();
    for (int i = 0; i < 20; i++) {
        bh_now += 1;
        int64_t next = tmq_core_tick(core, bh_now);
        tmq_core_flush(core, bh_now, bh_send, NULL);
        assert_true(next > bh_now + TMQ_REVOKE_AFTER_MS); /* sleeps, no 1 ms polling */
        assert_true(core->next_revoke == INT64_MAX);
    }
    assert_int_equal(bh_count("W1", TMQ_CMD_REVOKE), 0);
    /* a worker that could run them idles: the check is due when it has idled long enough */
    bh_ready(core, "W3", 1, "fast", NULL);
    int64_t came = bh_now;
    int64_t next = tmq_core_tick(core, bh_now);
    tmq_core_flush(core, bh_now, bh_send, NULL);
    assert_true(next == came + TMQ_REVOKE_AFTER_MS);
    bh_now = next;
    bh_turn(core);
    assert_int_equal(bh_count("W1", TMQ_CMD_REVOKE), 1);
    /* then not again until the unanswered REVOKE may be repeated */
    next = tmq_core_tick(core, bh_now);
    assert_true(next > bh_now + TMQ_REVOKE_AFTER_MS);
}

#define S_MANY 200 /* 1-process workers */

static void s_name(char *out, size_t size, int i)
{
    snprintf(out, size, "W%03d", i);
}

static size_t s_revokes(int n)
{
    size_t total = 0;
    char name[16];
    for (int i = 0; i < n; i++) {
        s_name(name, sizeof name, i);
        total += bh_count(name, TMQ_CMD_REVOKE);
    }
    return total;
}

/* Each worker's jobs from the capture: jobs[i] holds n[i] of worker i (at most max each). */
static void s_take_all(int nw, uint64_t (*jobs)[8], size_t *n, size_t max)
{
    char name[16];
    for (int i = 0; i < nw; i++) {
        s_name(name, sizeof name, i);
        uint64_t got[80];
        size_t k = bh_jobs(name, got, NULL, 80);
        for (size_t j = 0; j < k && n[i] < max; j++)
            jobs[i][n[i]++] = got[j];
    }
}

/* Jobs flowing through many 1-process workers: every turn some hold two (one not started)
 * while others have just emptied, but no process idles TMQ_REVOKE_AFTER_MS, so no REVOKE
 * goes out and no worker stays a candidate of a pending one. */
static void test_many_workers_flowing_no_revoke(void **state)
{
    tmq_core_t *core = *state;
    bh_teach(core, "fast", 0.01);
    char name[16];
    for (int i = 0; i < S_MANY; i++) {
        s_name(name, sizeof name, i);
        bh_ready(core, name, 1, "fast", NULL);
    }
    bh_turn(core);
    bh_forget();
    static uint64_t jobs[S_MANY][8];
    static size_t n[S_MANY];
    memset(n, 0, sizeof n);
    uint64_t cid = 0;
    for (int round = 0; round < 30; round++) {
        bh_submit(core, "C1", "fast", cid, S_MANY * 3 / 2); /* 1 each, then 1 more to half */
        cid += S_MANY * 3 / 2;
        bh_turn(core);
        s_take_all(S_MANY, jobs, n, 8);
        assert_true(tmq_bworkers_overfull(core->workers) > 0);
        /* the workers holding one answer first and idle, the others a millisecond later */
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < S_MANY; i++) {
                if ((pass == 0) != (n[i] == 1)) continue;
                s_name(name, sizeof name, i);
                for (size_t j = 0; j < n[i]; j++)
                    bh_done(core, name, jobs[i][j], 1, TMQ_ST_OK, "\x01", 1, 0.01);
                n[i] = 0;
            }
            if (pass == 0) assert_true(tmq_bworkers_idle(core->workers) > 0);
            bh_now += 1;
            bh_turn(core);
            s_take_all(S_MANY, jobs, n, 8);
        }
        bh_now += 1; /* idle 2 ms at most before the next jobs come */
        assert_int_equal(s_revokes(S_MANY), 0);
        bh_forget();
    }
    assert_int_equal(bh_leased(core), 0);
    assert_int_equal(tmq_bworkers_outstanding(core->workers), 0);
    assert_int_equal(tmq_bworkers_candidates(core->workers), 0);
}

/* One process idles among many workers each holding unstarted jobs: one of them is asked
 * (enough to feed it), not all; a worker that answered with nothing is not asked again about
 * the jobs it kept, the next holder is. */
static void test_one_idle_process_asks_one_holder(void **state)
{
    tmq_core_t *core = *state;
    bh_teach(core, "fast", 0.01);
    char name[16];
    int nw = 50;
    for (int i = 0; i < nw; i++) {
        s_name(name, sizeof name, i);
        bh_ready(core, name, 1, "fast", NULL);
    }
    bh_turn(core);
    bh_forget();
    bh_submit(core, "C1", "fast", 0, (size_t)nw * 3);
    bh_turn(core);
    static uint64_t jobs[50][8];
    static size_t n[50];
    memset(n, 0, sizeof n);
    s_take_all(nw, jobs, n, 8);
    for (int i = 0; i < nw; i++)
        assert_int_equal(n[i], 3); /* 1 running + 2 prefetched each */
    for (size_t j = 0; j < 3; j++) /* W000 finishes; the others are stuck on their first */
        bh_done(core, "W000", jobs[0][j], 1, TMQ_ST_OK, "\x01", 1, 0.01);
    bh_turn(core);
    assert_int_equal(s_revokes(nw), 0);
    bh_now += TMQ_REVOKE_AFTER_MS + 1;
    bh_turn(core);
    assert_int_equal(s_revokes(nw), 1); /* one holder, not 49 */
    int asked = -1;
    for (int i = 1; i < nw; i++) {
        s_name(name, sizeof name, i);
        if (bh_count(name, TMQ_CMD_REVOKE) == 0) continue;
        asked = i;
        bh_got_t g;
        assert_true(bh_take(name, TMQ_CMD_REVOKE, &g));
        uint64_t k = 0;
        assert_int_equal(tmq_msg_get_uint(&g.msg, "n", &k), 0);
        assert_int_equal(k, 2); /* beyond its one process */
        bh_got_free(&g);
    }
    assert_true(asked > 0);
    bh_now += 1;
    bh_turn(core);
    assert_int_equal(s_revokes(nw), 0); /* its answer is awaited */
    /* it had started them all (it says): the next holder is asked, it is not again */
    s_name(name, sizeof name, asked);
    bh_returned(core, name, NULL, NULL, 0);
    bh_turn(core);
    assert_int_equal(s_revokes(nw), 1);
    assert_int_equal(bh_count(name, TMQ_CMD_REVOKE), 0);
    /* it is no candidate: every job it holds has started */
    bh_forget();
    assert_int_equal(tmq_bworker_revocable(tmq_core_worker(core, name, 4)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_dispatch_respects_credit, bh_setup, bh_teardown),
        cmocka_unit_test_prestate_setup_teardown(test_long_jobs_not_prefetched_short_ones_are,
                                                 bh_setup, bh_teardown, &s_cfg_big_queue),
        cmocka_unit_test_prestate_setup_teardown(test_revoke_when_a_worker_idles, bh_setup,
                                                 bh_teardown, &s_cfg_big_queue),
        cmocka_unit_test_prestate_setup_teardown(test_lookahead_revoked_for_an_idle_worker,
                                                 bh_setup, bh_teardown, &s_cfg_big_queue),
        cmocka_unit_test_prestate_setup_teardown(test_revoke_check_sleeps_without_a_pair, bh_setup,
                                                 bh_teardown, &s_cfg_big_queue),
        cmocka_unit_test_prestate_setup_teardown(test_many_workers_flowing_no_revoke, bh_setup,
                                                 bh_teardown, &s_cfg_big_queue),
        cmocka_unit_test_prestate_setup_teardown(test_one_idle_process_asks_one_holder, bh_setup,
                                                 bh_teardown, &s_cfg_big_queue),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
