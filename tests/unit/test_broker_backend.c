/* tests/unit/test_broker_backend.c — the core's worker side (broker/backend.c): READY and
 * registering again, DONE results reaching clients in the same turn, fencing of stale results,
 * deaths retried then failed, final errors and timeouts.
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

static void test_done_result_reaches_client_same_turn(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_submit(core, "C1", "echo", 42, 1);
    bh_turn(core);
    uint64_t jid;
    assert_int_equal(bh_jobs("W1", &jid, NULL, 1), 1);
    bh_forget();
    bh_done(core, "W1", jid, 1, TMQ_ST_OK, "\xa2hi", 777, 1.5);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 42);
    assert_int_equal(r.status, TMQ_ST_OK);
    assert_int_equal(r.data_len, 3);
    assert_memory_equal(r.data, "\xa2hi", 3);
    assert_int_equal(r.worker_len, strlen("W1:777"));
    assert_memory_equal(r.worker, "W1:777", r.worker_len);
    assert_true(r.ms == 1.5);
    assert_int_equal(r.attempts, 1);
    bh_got_free(&g);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_DONE), 1);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
    assert_int_equal(tmq_core_worker(core, "W1", 2)->done, 1);
}

static void test_stale_results_discarded(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_ready(core, "W2", 1, "echo", NULL);
    bh_submit(core, "C1", "echo", 7, 1);
    bh_turn(core);
    uint64_t jid;
    const char *holder = bh_jobs("W1", &jid, NULL, 1) == 1 ? "W1" : "W2";
    const char *other = strcmp(holder, "W1") == 0 ? "W2" : "W1";
    if (strcmp(holder, "W2") == 0) assert_int_equal(bh_jobs("W2", &jid, NULL, 1), 1);
    bh_forget();
    bh_done(core, holder, jid, 2, TMQ_ST_OK, "\x01", 1, 1.0); /* wrong attempt */
    bh_done(core, holder, 999, 1, TMQ_ST_OK, "\x01", 1, 1.0); /* unknown job */
    bh_done(core, other, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0);  /* not the holder */
    bh_turn(core);
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
    assert_int_equal(core->stats.stale, 3);
    bh_done(core, holder, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0);
    bh_done(core, holder, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0); /* duplicate */
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1); /* exactly one result per job */
    bh_got_free(&g);
    assert_int_equal(core->stats.stale, 4);
}

static void test_died_retried_then_failed(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "crash", NULL);
    bh_submit(core, "C1", "crash", 5, 1); /* retries -1: broker default 2 */
    bh_turn(core);
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        uint64_t jid;
        uint32_t att;
        assert_int_equal(bh_jobs("W1", &jid, &att, 1), 1);
        assert_int_equal(att, attempt); /* same job, next attempt */
        assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
        bh_done(core, "W1", jid, att, TMQ_ST_DIED, "executor died: SIGSEGV", 100 + attempt, 0.1);
        bh_turn(core);
    }
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 5);
    assert_int_equal(r.status, TMQ_ST_DIED);
    const char *want = "executor died: SIGSEGV (3 attempts, last on W1:103)";
    assert_int_equal(r.data_len, strlen(want));
    assert_memory_equal(r.data, want, r.data_len);
    assert_int_equal(r.attempts, 3);
    bh_got_free(&g);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 1);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0); /* not dispatched a 4th time */

    /* retries 0 in the SUBMIT: the first death is final */
    bh_submit_ex(core, "C1", "crash", 6, 1, bh_arg, sizeof bh_arg, 0);
    bh_turn(core);
    uint64_t jid;
    assert_int_equal(bh_jobs("W1", &jid, NULL, 1), 1);
    bh_done(core, "W1", jid, 1, TMQ_ST_DIED, "executor died: SIGKILL", 200, 0.1);
    bh_turn(core);
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 6);
    want = "executor died: SIGKILL (1 attempt, last on W1:200)";
    assert_memory_equal(r.data, want, strlen(want));
    bh_got_free(&g);
}

static void test_error_and_timeout_are_final(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 2, "f", NULL);
    bh_submit(core, "C1", "f", 1, 2);
    bh_turn(core);
    uint64_t jids[2];
    assert_int_equal(bh_jobs("W1", jids, NULL, 2), 2);
    bh_done(core, "W1", jids[0], 1, TMQ_ST_ERROR, "f: bad input", 9, 1.0);
    bh_done(core, "W1", jids[1], 1, TMQ_ST_TIMEOUT, "timeout after 500 ms", 9, 500.0);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 2); /* both in one batch */
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.status, TMQ_ST_ERROR);
    assert_memory_equal(r.data, "f: bad input", r.data_len);
    assert_int_equal(tmq_msg_result_item(&g.msg, 1, &r), 0);
    assert_int_equal(r.status, TMQ_ST_TIMEOUT);
    bh_got_free(&g);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 2);
}

static void test_worker_bye_and_ready_again_requeue(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_submit(core, "C1", "work", 0, 2);
    bh_turn(core);
    uint64_t jid;
    uint32_t att;
    assert_int_equal(bh_jobs("W1", &jid, &att, 1), 1);
    bh_ready(core, "W1", 1, "work", NULL); /* it reconnected: whatever it held is lost */
    bh_turn(core);
    assert_int_equal(bh_jobs("W1", &jid, &att, 1), 1);
    assert_int_equal(jid, 1);
    assert_int_equal(att, 2);
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    bh_turn(core);
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_int_equal(bh_queued(core), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_done_result_reaches_client_same_turn, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_stale_results_discarded, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_died_retried_then_failed, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_error_and_timeout_are_final, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_worker_bye_and_ready_again_requeue, bh_setup,
                                        bh_teardown),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
