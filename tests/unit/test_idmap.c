/* tests/unit/test_idmap.c — common/idmap: put/get/remove under churn and growth, NULL
 * values, the reserved id, drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "idmap.h"

static void test_idmap_churn(void **state)
{
    (void)state;
    enum { N = 100000 };
    tmq_idmap_t m;
    tmq_idmap_init(&m);
    static char present[N];
    for (uint64_t i = 0; i < N; i++) {
        assert_true(tmq_idmap_put(&m, i, (void *)(uintptr_t)(i + 1)));
        present[i] = 1;
    }
    assert_false(tmq_idmap_put(&m, 7, (void *)(uintptr_t)8)); /* replace, not add */
    assert_int_equal(tmq_idmap_count(&m), N);
    uint32_t x = 4242;
    for (size_t k = 0; k < N; k++) { /* remove about two thirds, pseudo-randomly */
        x = x * 1103515245u + 12345u;
        uint64_t i = (x >> 8) % N;
        if (i % 3 != 0 && present[i]) {
            void *v = NULL;
            assert_true(tmq_idmap_remove(&m, i, &v));
            assert_ptr_equal(v, (void *)(uintptr_t)(i + 1));
            present[i] = 0;
        }
    }
    size_t live = 0;
    for (uint64_t i = 0; i < N; i++) {
        live += present[i];
        assert_int_equal(tmq_idmap_has(&m, i), present[i]);
        assert_ptr_equal(tmq_idmap_get(&m, i), present[i] ? (void *)(uintptr_t)(i + 1) : NULL);
    }
    assert_int_equal(tmq_idmap_count(&m), live);
    assert_false(tmq_idmap_remove(&m, N + 5, NULL));
    assert_false(tmq_idmap_has(&m, TMQ_IDMAP_NONE));
    assert_false(tmq_idmap_remove(&m, TMQ_IDMAP_NONE, NULL));
    tmq_idmap_destroy(&m);
    tmq_idmap_destroy(&m); /* twice is safe */
}

static void test_idmap_null_values_and_sparse_ids(void **state)
{
    (void)state;
    tmq_idmap_t m;
    tmq_idmap_init(&m);
    uint64_t ids[] = {0, 1ull << 40, 123456789012345ull, UINT64_MAX - 1, 1024, 2048};
    for (size_t i = 0; i < 6; i++)
        assert_true(tmq_idmap_put(&m, ids[i], NULL));
    for (size_t i = 0; i < 6; i++) {
        assert_true(tmq_idmap_has(&m, ids[i]));
        assert_null(tmq_idmap_get(&m, ids[i]));
    }
    assert_false(tmq_idmap_has(&m, 5));
    tmq_idmap_destroy(&m);
}

static void s_count(uint64_t id, void *value, void *arg)
{
    (void)value;
    uint64_t *sum = arg;
    *sum += id;
}

static void test_idmap_drain(void **state)
{
    (void)state;
    tmq_idmap_t m;
    tmq_idmap_init(&m);
    uint64_t want = 0;
    for (uint64_t i = 1; i <= 3000; i++) {
        tmq_idmap_put(&m, i * 7, NULL);
        want += i * 7;
    }
    uint64_t sum = 0;
    tmq_idmap_drain(&m, s_count, &sum);
    assert_int_equal(sum, want);
    assert_int_equal(tmq_idmap_count(&m), 0);
    assert_false(tmq_idmap_has(&m, 7));
    assert_true(tmq_idmap_put(&m, 7, NULL)); /* usable afterwards */
    tmq_idmap_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idmap_churn),
        cmocka_unit_test(test_idmap_null_values_and_sparse_ids),
        cmocka_unit_test(test_idmap_drain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
