/* tests/unit/test_broker_dispatch.c — who gets which job (broker/dispatch.c): credit, no
 * prefetch for long or unknown functions, a deep window for short ones, lookahead, REVOKE of
 * unstarted jobs for an idle worker and when the revocation check sleeps.
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
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
