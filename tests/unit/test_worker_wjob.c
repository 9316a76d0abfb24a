/* tests/unit/test_worker_wjob.c — the daemon's job records on common lists, and job refs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frame.h"
#include "wjob.h"

#include <string.h>

static tmq_wjob_t *mk(uint64_t jid)
{
    tmq_job_item_t it = {.jid = jid,
                         .attempt = 1,
                         .fn = "echo",
                         .fn_len = 4,
                         .arg = "\x01",
                         .arg_len = 1,
                         .timeout_ms = 5};
    return tmq_wjob_new(&it, jid + 100, 2);
}

static void assert_order(const tmq_list_t *q, const uint64_t *want, size_t n)
{
    assert_int_equal(q->size, n);
    size_t i = 0;
    for (const tmq_wjob_t *j = tmq_wjob_first(q); j; j = tmq_wjob_next(j), i++) {
        assert_true(i < n);
        assert_int_equal(j->jid, want[i]);
    }
    assert_int_equal(i, n);
}

static void test_job_frame(void **state)
{
    tmq_wjob_t *j = mk(7);
    assert_int_equal(j->jid, 7);
    assert_int_equal(j->tag, 107);
    assert_int_equal(j->timeout_ms, 5);
    assert_int_equal(j->fn, 2);
    assert_true(j->est_ms < 0);
    tmq_frame_job_t f;
    const uint8_t *p = j->frame + TMQ_FRAME_PREFIX;
    size_t n = j->frame_len - TMQ_FRAME_PREFIX;
    assert_int_equal(tmq_frame_kind(p, n), TMQ_FRAME_JOB);
    assert_int_equal(tmq_frame_job_decode(p, n, &f), 0);
    assert_int_equal(f.tag, 107);
    assert_memory_equal(f.fn, "echo", 4);
    tmq_wjob_destroy(&j);
    assert_null(j);
    tmq_wjob_destroy(&j); /* twice is safe */
}

static void test_lists(void **state)
{
    tmq_list_t q, other;
    tmq_list_init(&q);
    tmq_list_init(&other);
    assert_null(tmq_wjob_pop(&q));
    tmq_list_push_back(&q, &mk(2)->link);
    tmq_list_push_back(&q, &mk(3)->link);
    tmq_list_push_front(&q, &mk(1)->link);
    assert_order(&q, (uint64_t[]){1, 2, 3}, 3);
    tmq_wjob_t *mid = tmq_wjob_next(tmq_wjob_first(&q));
    tmq_list_remove(&q, &mid->link);
    tmq_wjob_destroy(&mid);
    assert_order(&q, (uint64_t[]){1, 3}, 2);
    tmq_list_push_back(&other, &mk(8)->link);
    tmq_list_push_back(&other, &mk(9)->link);
    tmq_list_prepend(&q, &other);
    assert_order(&q, (uint64_t[]){8, 9, 1, 3}, 4);
    tmq_wjob_t *j = tmq_wjob_pop(&q);
    assert_int_equal(j->jid, 8);
    tmq_wjob_destroy(&j);
    tmq_wjob_clear(&q);
    assert_order(&q, NULL, 0);
}

static void test_refs(void **state)
{
    tmq_wjob_ref_t refs[] = {{9, 1}, {3, 2}, {3, 1}, {100, 7}};
    tmq_wjob_refs_sort(refs, 4);
    assert_true(tmq_wjob_refs_has(refs, 4, 3, 1));
    assert_true(tmq_wjob_refs_has(refs, 4, 3, 2));
    assert_true(tmq_wjob_refs_has(refs, 4, 100, 7));
    assert_false(tmq_wjob_refs_has(refs, 4, 100, 6)); /* another attempt */
    assert_false(tmq_wjob_refs_has(refs, 4, 4, 1));
    assert_false(tmq_wjob_refs_has(refs, 0, 3, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_frame),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
