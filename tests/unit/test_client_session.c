/* tests/unit/test_client_session.c — client/session.c on a clock of its own.
 *
 * The session's rules without a network: ids are random and 16 bytes; seq numbers SUBMITs
 * only under a journal; a loss is waited out only for a journaled broker and a non-zero loss
 * timeout, with HELLOs at 250, 500, 1000, 2000, 2000 ms ... and a give-up at the timeout; a
 * WELCOME resets the RESULTS count, ends the wait and says when to resubmit; RACK waits for
 * unanswered HELLOs, but not forever.
 */
#include "session.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

static void test_session_id_and_seq(void **state)
{
    (void)state;
    tmq_csession_t a, b;
    assert_int_equal(tmq_csession_init(&a), 0);
    assert_int_equal(tmq_csession_init(&b), 0);
    assert_memory_not_equal(a.id, b.id, sizeof a.id);
    assert_int_equal(a.loss_timeout_ms, 60000);
    assert_int_equal(tmq_csession_linger(&a), 60000);
    a.loss_timeout_ms = UINT32_MAX;
    assert_int_equal(tmq_csession_linger(&a), TMQ_PROTO_LINGER_MAX);

    /* no journal: no seq, no RACK, a loss fails at once */
    assert_int_equal(tmq_csession_next_seq(&b), 0);
    tmq_csession_welcome_t w = tmq_csession_welcome(&b, false, false, 100);
    assert_false(w.resume);
    assert_false(w.gone);
    assert_int_equal(w.away_ms, -1);
    assert_int_equal(tmq_csession_next_seq(&b), 0);
    tmq_csession_received(&b, 3);
    uint64_t n;
    assert_false(tmq_csession_rack(&b, true, 1000, 200, &n));
    assert_false(tmq_csession_lose(&b, 300, "silent for 5000 ms"));
    assert_false(tmq_csession_waiting(&b));

    /* journal: 1, 2, 3 */
    w = tmq_csession_welcome(&b, true, true, 400);
    assert_true(w.resume); /* a WELCOME after one: the session is taken over again */
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(tmq_csession_next_seq(&b), i);
}

static void test_session_wait_and_give_up(void **state)
{
    (void)state;
    tmq_csession_t s;
    assert_int_equal(tmq_csession_init(&s), 0);
    tmq_csession_hello_sent(&s, 0);
    tmq_csession_welcome(&s, true, false, 10);
    s.loss_timeout_ms = 5000;
    assert_int_equal(tmq_csession_deadline(&s), INT64_MAX);
    assert_true(tmq_csession_lose(&s, 1000, "it shut down"));
    assert_true(tmq_csession_waiting(&s));
    assert_string_equal(s.how, "it shut down");
    assert_true(tmq_csession_lose(&s, 1100, "silent")); /* waiting already: unchanged */
    assert_string_equal(s.how, "it shut down");
    /* HELLO (the caller's first at 1000), then at +250, +500, +1000, +2000, +2000 ... */
    static const int64_t hellos[] = {1250, 1750, 2750, 4750};
    int64_t now = 1000;
    size_t k = 0;
    for (; now <= 7000; now += 10) {
        tmq_csession_due_t due = tmq_csession_tick(&s, now);
        if (due == TMQ_SESSION_GIVE_UP) break;
        if (due != TMQ_SESSION_HELLO) continue;
        assert_true(k < sizeof hellos / sizeof hellos[0]);
        assert_int_equal(now, hellos[k++]);
    }
    assert_int_equal(k, 4);
    assert_int_equal(now, 6000); /* lost at 1000, plus 5000 */
    assert_false(tmq_csession_waiting(&s));
    assert_int_equal(tmq_csession_tick(&s, 7000), TMQ_SESSION_IDLE);
    assert_int_equal(tmq_csession_deadline(&s), INT64_MAX);

    /* a zero timeout: not waited out */
    s.loss_timeout_ms = 0;
    assert_false(tmq_csession_lose(&s, 8000, "it shut down"));
}

static void test_session_back(void **state)
{
    (void)state;
    tmq_csession_t s;
    assert_int_equal(tmq_csession_init(&s), 0);
    tmq_csession_hello_sent(&s, 0);
    tmq_csession_welcome_t w = tmq_csession_welcome(&s, true, false, 10);
    assert_false(w.resume); /* the first WELCOME: nothing to take over */
    tmq_csession_received(&s, 4);
    assert_true(tmq_csession_lose(&s, 1000, "it restarted and does not know us"));
    assert_int_equal(tmq_csession_deadline(&s), 1250);
    tmq_csession_hello_sent(&s, 1000);
    w = tmq_csession_welcome(&s, true, false, 2200);
    assert_true(w.resume);
    assert_false(w.gone);
    assert_int_equal(w.away_ms, 1200);
    assert_false(tmq_csession_waiting(&s));
    assert_int_equal(s.received, 0); /* counted from the WELCOME again */

    /* it came back without a journal: the session's jobs are gone */
    assert_true(tmq_csession_lose(&s, 3000, "silent for 200 ms"));
    w = tmq_csession_welcome(&s, false, false, 3100);
    assert_true(w.gone);
    assert_false(w.resume);
    assert_false(s.journal);
}

static void test_session_rack(void **state)
{
    (void)state;
    tmq_csession_t s;
    assert_int_equal(tmq_csession_init(&s), 0);
    tmq_csession_hello_sent(&s, 0);
    tmq_csession_welcome(&s, true, false, 10);
    uint64_t n = 0;
    assert_false(tmq_csession_rack(&s, true, 100, 20, &n)); /* nothing received */
    tmq_csession_received(&s, 3);
    assert_false(tmq_csession_rack(&s, false, 100, 20, &n)); /* not welcomed */
    assert_true(tmq_csession_rack(&s, true, 100, 20, &n));
    assert_int_equal(n, 3);
    assert_false(tmq_csession_rack(&s, true, 100, 30, &n)); /* said already */
    tmq_csession_received(&s, 2);
    /* a HELLO unanswered: no RACK across its WELCOME ... */
    tmq_csession_hello_sent(&s, 40);
    assert_false(tmq_csession_rack(&s, true, 100, 50, &n));
    assert_false(tmq_csession_rack(&s, true, 100, 539, &n));
    /* ... until it is 5 heartbeats old: it went to a connection that is gone */
    assert_true(tmq_csession_rack(&s, true, 100, 540, &n));
    assert_int_equal(n, 5);
    /* answered: the count starts again */
    tmq_csession_hello_sent(&s, 600);
    tmq_csession_welcome(&s, true, true, 610);
    tmq_csession_received(&s, 1);
    assert_true(tmq_csession_rack(&s, true, 100, 620, &n));
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_id_and_seq),
        cmocka_unit_test(test_session_wait_and_give_up),
        cmocka_unit_test(test_session_back),
        cmocka_unit_test(test_session_rack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
