/* tests/unit/test_worker_pace.c — run-time estimates and the batching rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pace.h"

#include <math.h>

static void test_estimates(void **state)
{
    const char *names[] = {"sum", "echo"};
    tmq_pace_t p;
    tmq_pace_init(&p, names, 2);
    assert_int_equal(tmq_pace_index(&p, "echo", 4), 1);
    assert_int_equal(tmq_pace_index(&p, "ech", 3), -1);
    assert_int_equal(tmq_pace_index(&p, "nope", 4), -1);
    assert_true(tmq_pace_estimate(&p, 0) < 0); /* no sample yet */
    assert_true(tmq_pace_estimate(&p, -1) < 0);
    tmq_pace_record(&p, 0, 10.0);
    assert_true(tmq_pace_estimate(&p, 0) == 10.0); /* first sample taken as is */
    tmq_pace_record(&p, 0, 2.0);
    assert_true(fabs(tmq_pace_estimate(&p, 0) - (10.0 + TMQ_PACE_ALPHA * (2.0 - 10.0))) < 1e-9);
    for (int i = 0; i < 100; i++)
        tmq_pace_record(&p, 0, 2.0);
    assert_true(fabs(tmq_pace_estimate(&p, 0) - 2.0) < 1e-6);
    tmq_pace_record(&p, -1, 5.0); /* untracked: ignored */
    tmq_pace_record(&p, 1, NAN);  /* nonsense: ignored */
    assert_true(tmq_pace_estimate(&p, 1) < 0);
}

static void test_admit(void **state)
{
    /* An idle executor takes anything, even unknown or long jobs. */
    assert_true(tmq_pace_admit(0, 0, -1));
    assert_true(tmq_pace_admit(0, 0, 1000));
    /* Nothing joins an unknown or long job. */
    assert_false(tmq_pace_admit(1, INFINITY, 0.001));
    assert_false(tmq_pace_admit(1, 50.0, 0.001));
    /* Unknown jobs never join a busy executor. */
    assert_false(tmq_pace_admit(1, 0.001, -1));
    /* Short jobs batch up to the budget and the cap. */
    assert_true(tmq_pace_admit(1, 0.5, 0.5));
    assert_false(tmq_pace_admit(1, TMQ_PACE_HORIZON_MS, 0.01));
    assert_true(tmq_pace_admit(TMQ_PACE_MAX_BATCH - 1, 0.01, 0.0001));
    assert_false(tmq_pace_admit(TMQ_PACE_MAX_BATCH, 0.01, 0.0001));
}

static void test_overdue(void **state)
{
    /* unknown jobs were handed out alone: never overdue */
    assert_false(tmq_pace_overdue(1e9, -1));
    assert_true(isinf(tmq_pace_overdue_after(-1)));
    /* overdue once it ran the horizon longer than estimated */
    assert_false(tmq_pace_overdue(TMQ_PACE_HORIZON_MS - 0.1, 0.0));
    assert_true(tmq_pace_overdue(TMQ_PACE_HORIZON_MS + 0.1, 0.0));
    assert_false(tmq_pace_overdue(TMQ_PACE_HORIZON_MS + 0.9, 1.0));
    assert_true(tmq_pace_overdue(TMQ_PACE_HORIZON_MS + 1.1, 1.0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimates),
        cmocka_unit_test(test_admit),
        cmocka_unit_test(test_overdue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
