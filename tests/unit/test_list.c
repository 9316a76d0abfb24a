/* tests/unit/test_list.c — common/list: order, removal anywhere, prepend, entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "list.h"

typedef struct {
    int value;
    tmq_list_link_t link;
} item_t;

static int s_value(tmq_list_link_t *l)
{
    return TMQ_LIST_ENTRY(l, item_t, link)->value;
}

static void test_list_order_and_remove(void **state)
{
    (void)state;
    item_t it[5];
    for (int i = 0; i < 5; i++)
        it[i].value = i;
    tmq_list_t l;
    tmq_list_init(&l);
    assert_true(tmq_list_empty(&l));
    assert_null(tmq_list_pop_front(&l));
    tmq_list_push_back(&l, &it[1].link);
    tmq_list_push_back(&l, &it[2].link);
    tmq_list_push_front(&l, &it[0].link);
    tmq_list_push_back(&l, &it[3].link);
    tmq_list_push_back(&l, &it[4].link);
    assert_int_equal(l.size, 5);
    tmq_list_remove(&l, &it[2].link); /* middle */
    assert_null(it[2].link.next);
    assert_null(it[2].link.prev);
    tmq_list_remove(&l, &it[4].link); /* tail */
    assert_ptr_equal(l.tail, &it[3].link);
    int want[] = {0, 1, 3};
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_value(tmq_list_pop_front(&l)), want[i]);
    assert_true(tmq_list_empty(&l));
    assert_null(l.tail);
    assert_int_equal(l.size, 0);
}

static void test_list_prepend(void **state)
{
    (void)state;
    item_t it[6];
    tmq_list_t a, b;
    tmq_list_init(&a);
    tmq_list_init(&b);
    for (int i = 0; i < 6; i++) {
        it[i].value = i;
        tmq_list_push_back(i < 3 ? &b : &a, &it[i].link);
    }
    tmq_list_prepend(&a, &b); /* b's 0 1 2 in front of a's 3 4 5 */
    assert_true(tmq_list_empty(&b));
    assert_int_equal(a.size, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(s_value(tmq_list_pop_front(&a)), i);
    tmq_list_prepend(&a, &b); /* empty into empty */
    assert_true(tmq_list_empty(&a));
    tmq_list_push_back(&b, &it[0].link);
    tmq_list_prepend(&a, &b); /* into empty */
    assert_ptr_equal(a.head, &it[0].link);
    assert_ptr_equal(a.tail, &it[0].link);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_order_and_remove),
        cmocka_unit_test(test_list_prepend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
