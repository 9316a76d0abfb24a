/* tests/unit/test_client_attach.c — client/attach.c: what BATCH and RESULTS mean to an
 * attachment, without a network.
 *
 * The answer to an ATTACH is its first BATCH (never complete; a complete one is the end of
 * the attachment it replaces); a resume's answer carries `ok`; results count only while
 * attached, each cid once, also across a repeat after a restart; the end needs every result
 * returned; a lost broker loses an attachment that is not complete; ERROR 3 refuses.
 */
#include "attach.h"
#include "proto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

/* A decoded BATCH from info; release with s_release. */
typedef struct {
    tmq_msg_t m;
    void *body;
} s_batch_t;

static void s_batch(s_batch_t *b, const char *name, bool known, bool complete, const uint64_t *ok,
                    size_t nok)
{
    tmq_batch_info_t info = {.name = name,
                             .name_len = strlen(name),
                             .known = known,
                             .total = known ? 4 : 0,
                             .done = known ? 2 : 0,
                             .running = known ? 2 : 0,
                             .complete = complete,
                             .ok = ok,
                             .nok = nok};
    size_t len;
    b->body = tmq_proto_batch_body(&info, &len);
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, TMQ_CMD_BATCH);
    assert_int_equal(tmq_proto_decode(&b->m, hdr, sizeof hdr, b->body, len, NULL), 0);
}

static void s_release(s_batch_t *b)
{
    tmq_msg_release(&b->m);
    free(b->body);
}

/* Feeds a BATCH; returns whether it answered the ATTACH out. */
static bool s_feed(tmq_cattach_t *a, const char *name, bool known, bool complete,
                   const uint64_t *ok, size_t nok)
{
    s_batch_t b;
    s_batch(&b, name, known, complete, ok, nok);
    bool answered = tmq_cattach_on_batch(a, &b.m);
    s_release(&b);
    return answered;
}

static void test_attach_reads_each_cid_once(void **state)
{
    (void)state;
    tmq_cattach_t a;
    tmq_cattach_init(&a);
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_NONE);
    assert_false(tmq_cattach_take(&a, 0)); /* not attached: a stray result */
    tmq_cattach_ask(&a, "b1", 2, false);
    assert_true(tmq_cattach_active(&a));
    assert_false(tmq_cattach_take(&a, 0)); /* before the answer: a replaced attachment's */
    assert_false(s_feed(&a, "other", true, false, NULL, 0)); /* another batch's BATCH */
    assert_false(s_feed(&a, "b1", true, true, NULL, 0));     /* the end of the one replaced */
    assert_true(s_feed(&a, "b1", true, false, NULL, 0));     /* the answer */
    assert_true(a.answered);
    assert_true(a.answer.known);
    assert_int_equal(a.answer.total, 4);
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_READING);
    assert_true(tmq_cattach_take(&a, 0));
    assert_true(tmq_cattach_take(&a, 1));
    assert_false(tmq_cattach_take(&a, 1)); /* a repeat */
    /* a journaled broker's restart: ask again, keep what was seen */
    assert_true(tmq_cattach_again(&a));
    assert_false(tmq_cattach_take(&a, 2)); /* before the new answer: dropped, it comes again */
    assert_true(s_feed(&a, "b1", true, false, NULL, 0));
    assert_false(tmq_cattach_take(&a, 0));
    assert_false(tmq_cattach_take(&a, 1));
    assert_true(tmq_cattach_take(&a, 2));
    assert_true(tmq_cattach_take(&a, 3));
    assert_false(s_feed(&a, "b1", true, true, NULL, 0)); /* complete */
    assert_true(a.st.complete);
    assert_false(a.answer.complete);
    /* complete only once tmq_next has returned all four */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_READING);
        tmq_cattach_returned(&a);
    }
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_COMPLETE);
    assert_false(tmq_cattach_active(&a));
    assert_false(tmq_cattach_again(&a)); /* nothing to ask again */
    tmq_cattach_lose(&a);                /* nor to lose */
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_COMPLETE);
    /* a new attach to it reads everything again */
    tmq_cattach_ask(&a, "b1", 2, false);
    assert_true(s_feed(&a, "b1", true, false, NULL, 0));
    assert_true(tmq_cattach_take(&a, 0));
    tmq_cattach_destroy(&a);
}

static void test_attach_unknown_refused_lost(void **state)
{
    (void)state;
    tmq_cattach_t a;
    tmq_cattach_init(&a);
    tmq_cattach_ask(&a, "nosuch", 6, false);
    assert_true(s_feed(&a, "nosuch", false, false, NULL, 0));
    assert_false(a.answer.known);
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_NONE);
    assert_false(a.attached);
    assert_false(tmq_cattach_take(&a, 0));

    assert_false(tmq_cattach_on_refusal(&a)); /* no ATTACH out: an ERROR 3 for something else */
    tmq_cattach_ask(&a, "b1", 2, false);
    assert_true(tmq_cattach_on_refusal(&a));
    assert_true(a.refused && a.answered);
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_NONE);

    tmq_cattach_ask(&a, "b1", 2, false);
    assert_true(s_feed(&a, "b1", true, false, NULL, 0));
    assert_true(tmq_cattach_take(&a, 0));
    tmq_cattach_lose(&a); /* the broker is gone for good */
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_LOST);
    assert_false(tmq_cattach_take(&a, 1));
    assert_false(tmq_cattach_active(&a));
    tmq_cattach_destroy(&a);
}

static void test_attach_resume_answer(void **state)
{
    (void)state;
    tmq_cattach_t a;
    tmq_cattach_init(&a);
    tmq_cattach_ask(&a, "b1", 2, true);
    assert_false(s_feed(&a, "b1", true, true, NULL, 0)); /* a BATCH without ok: not the answer */
    const uint64_t ok[] = {0, 3};
    assert_true(s_feed(&a, "b1", true, true, ok, 2));
    assert_int_equal(a.nok, 2);
    assert_int_equal(a.ok[0], 0);
    assert_int_equal(a.ok[1], 3);
    assert_int_equal(tmq_cattach_state(&a), TMQ_ATTACH_NONE); /* asked only: not attached */
    assert_false(tmq_cattach_take(&a, 0));
    tmq_cattach_ask(&a, "new", 3, true); /* an unknown batch: nothing done */
    assert_true(s_feed(&a, "new", false, false, NULL, 0));
    assert_int_equal(a.nok, 0);
    assert_null(a.ok);
    tmq_cattach_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_reads_each_cid_once),
        cmocka_unit_test(test_attach_unknown_refused_lost),
        cmocka_unit_test(test_attach_resume_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
