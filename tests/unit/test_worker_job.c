/* tests/unit/test_worker_job.c — job records, the intrusive job queue and job refs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "frame.h"
#include "job.h"

#include <string.h>

static tmq_job_t *mk(uint64_t jid)
{
    tmq_job_item_t it = {.jid = jid,
                         .attempt = 1,
                         .fn = "echo",
                         .fn_len = 4,
                         .arg = "\x01",
                         .arg_len = 1,
                         .timeout_ms = 5};
    return tmq_job_new(&it, jid + 100, 2);
}

static void assert_order(const tmq_jobq_t *q, const uint64_t *want, size_t n)
{
    assert_int_equal(q->count, n);
    size_t i = 0;
    const tmq_job_t *prev = NULL;
    for (const tmq_job_t *j = q->head; j; prev = j, j = j->next, i++) {
        assert_true(i < n);
        assert_int_equal(j->jid, want[i]);
        assert_ptr_equal(j->prev, prev);
    }
    assert_int_equal(i, n);
    assert_ptr_equal(q->tail, prev);
}

static void test_job_frame(void **state)
{
    tmq_job_t *j = mk(7);
    assert_int_equal(j->jid, 7);
    assert_int_equal(j->tag, 107);
    assert_int_equal(j->timeout_ms, 5);
    assert_int_equal(j->fn, 2);
    tmq_frame_job_t f;
    assert_int_equal(
        tmq_frame_job_decode(j->frame + TMQ_FRAME_PREFIX, j->frame_len - TMQ_FRAME_PREFIX, &f), 0);
    assert_int_equal(f.tag, 107);
    assert_memory_equal(f.fn, "echo", 4);
    tmq_job_destroy(&j);
    assert_null(j);
    tmq_job_destroy(&j); /* twice is safe */
}

static void test_queue_ops(void **state)
{
    tmq_jobq_t q, other;
    tmq_jobq_init(&q);
    tmq_jobq_init(&other);
    assert_null(tmq_jobq_pop_front(&q));
    tmq_jobq_push_back(&q, mk(2));
    tmq_jobq_push_back(&q, mk(3));
    tmq_jobq_push_front(&q, mk(1));
    assert_order(&q, (uint64_t[]){1, 2, 3}, 3);
    tmq_job_t *mid = q.head->next;
    tmq_jobq_remove(&q, mid);
    tmq_job_destroy(&mid);
    assert_order(&q, (uint64_t[]){1, 3}, 2);

    tmq_jobq_push_back(&other, mk(8));
    tmq_jobq_push_back(&other, mk(9));
    tmq_jobq_prepend(&q, &other);
    assert_order(&q, (uint64_t[]){8, 9, 1, 3}, 4);
    assert_order(&other, NULL, 0);
    tmq_jobq_prepend(&q, &other); /* empty: no change */
    assert_order(&q, (uint64_t[]){8, 9, 1, 3}, 4);
    tmq_jobq_prepend(&other, &q); /* into an empty queue */
    assert_order(&other, (uint64_t[]){8, 9, 1, 3}, 4);

    tmq_job_t *j = tmq_jobq_pop_front(&other);
    assert_int_equal(j->jid, 8);
    tmq_job_destroy(&j);
    tmq_jobq_clear(&other);
    assert_order(&other, NULL, 0);
}

static void test_refs(void **state)
{
    tmq_job_ref_t refs[] = {{9, 1}, {3, 2}, {3, 1}, {100, 7}};
    tmq_job_refs_sort(refs, 4);
    assert_true(tmq_job_refs_has(refs, 4, 3, 1));
    assert_true(tmq_job_refs_has(refs, 4, 3, 2));
    assert_true(tmq_job_refs_has(refs, 4, 100, 7));
    assert_false(tmq_job_refs_has(refs, 4, 100, 6)); /* another attempt */
    assert_false(tmq_job_refs_has(refs, 4, 4, 1));
    assert_false(tmq_job_refs_has(refs, 0, 3, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_frame),
        cmocka_unit_test(test_queue_ops),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
