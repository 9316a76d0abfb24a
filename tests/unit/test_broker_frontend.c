/* tests/unit/test_broker_frontend.c — the core's client side (broker/frontend.c): HELLO,
 * SUBMIT and its one ACK (acceptance, rejections, waiting without workers), client BYE, the
 * bound on what a client that does not read is owed, and heartbeats from unknown clients.
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

static tmq_core_config_t s_cfg_queue2 = {
    .heartbeat_ms = 1000, .max_queue = 2, .max_payload = 1024, .retries = 2};

static tmq_core_config_t s_cfg_payload8 = {
    .heartbeat_ms = 1000, .max_queue = 100, .max_payload = 8, .retries = 2};

static tmq_core_config_t s_cfg_payload4096 = {
    .heartbeat_ms = 1000, .max_queue = 100, .max_payload = 4096, .retries = 2};

static void test_submit_is_queued_without_workers(void **state)
{
    tmq_core_t *core = *state;
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HELLO);
    bh_submit(core, "C1", "echo", 0, 3);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_WELCOME, &g));
    uint64_t hb = 0, mp = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "heartbeat", &hb), 0);
    assert_int_equal(tmq_msg_get_uint(&g.msg, "max_payload", &mp), 0);
    assert_int_equal(hb, 1000);
    assert_int_equal(mp, 1024);
    bh_got_free(&g);
    int code;
    char reason[128];
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, NULL), 3);
    assert_int_equal(code, 0);
    assert_int_equal(bh_queued(core), 3);
    tmq_fn_t *fn = tmq_fnreg_find(core->fns, "echo", 4);
    assert_non_null(fn);
    assert_int_equal(fn->queue.size, 3);
    assert_int_equal(bh_nsent, 0);
}

static void test_unknown_function(void **state)
{
    tmq_core_t *core = *state;
    int code;
    char reason[128];
    uint64_t cid;
    bh_submit(core, "C1", "nosuch", 1, 1); /* nobody connected: it waits */
    bh_turn(core);
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, NULL), 1);
    assert_int_equal(bh_queued(core), 1);
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_submit(core, "C1", "nosuch", 2, 1);
    bh_submit(core, "C1", "echo", 3, 1);
    bh_turn(core);
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, &cid), 0);
    assert_int_equal(code, TMQ_REJ_UNKNOWN_FUNCTION);
    assert_string_equal(reason, "unknown function: nosuch");
    assert_int_equal(cid, 2);
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, NULL), 1);
    assert_int_equal(code, 0);
}

static void test_client_bye_drops_and_cancels(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_submit(core, "C1", "work", 0, 3);
    bh_submit(core, "C2", "work", 100, 1);
    bh_turn(core);
    uint64_t jid;
    uint32_t att;
    assert_int_equal(bh_jobs("W1", &jid, &att, 1), 1);
    assert_int_equal(bh_queued(core), 3);
    bh_forget();
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_BYE);
    bh_turn(core);
    assert_null(tmq_core_client(core, "C1", 2));
    bh_got_t g;
    assert_true(bh_take("W1", TMQ_CMD_CANCEL, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    uint64_t cjid;
    uint32_t catt;
    assert_int_equal(tmq_msg_ref_item(&g.msg, 0, &cjid, &catt), 0);
    assert_int_equal(cjid, jid);
    assert_int_equal(catt, att);
    bh_got_free(&g);
    /* C1's queued jobs are gone; its process is free for C2's job */
    uint64_t next;
    assert_int_equal(bh_jobs("W1", &next, NULL, 1), 1);
    tmq_bjob_t *j = tmq_jobtab_find(core->jobs, next);
    assert_non_null(j);
    assert_int_equal(j->cid, 100);
    assert_int_equal(bh_queued(core), 0);
    assert_int_equal(tmq_jobtab_size(core->jobs), 1);
    /* a late result for the cancelled job is stale and goes nowhere */
    bh_done(core, "W1", jid, att, TMQ_ST_OK, "\x01", 1, 1.0);
    bh_turn(core);
    assert_int_equal(core->stats.stale, 1);
    assert_int_equal(bh_nsent, 0);
}

static void test_max_queue_rejects_queue_full(void **state)
{
    tmq_core_t *core = *state;
    bh_submit(core, "C1", "echo", 10, 3);
    bh_turn(core);
    int code;
    char reason[128];
    uint64_t cid;
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, &cid), 2);
    assert_int_equal(code, TMQ_REJ_QUEUE_FULL);
    assert_string_equal(reason, "queue full");
    assert_int_equal(cid, 12);
    assert_int_equal(bh_queued(core), 2);
}

static void test_payload_limits_and_bad_items(void **state)
{
    tmq_core_t *core = *state;
    uint8_t big[21] = {0xb4}; /* fixstr of 20 bytes: valid msgpack, over the 8-byte limit */
    memset(big + 1, 'x', 20);
    int code;
    char reason[128];
    bh_submit_ex(core, "C1", "echo", 1, 1, big, sizeof big, -1);
    bh_turn(core);
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, NULL), 0);
    assert_int_equal(code, TMQ_REJ_TOO_LARGE);
    assert_string_equal(reason, "payload too large");
    const uint8_t junk[] = {0xc1}; /* never valid msgpack */
    bh_submit_ex(core, "C1", "echo", 2, 1, junk, sizeof junk, -1);
    bh_turn(core);
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, NULL), 0);
    assert_int_equal(code, TMQ_REJ_BAD_JOB);
    assert_string_equal(reason, "bad job");

    /* a batch with one wrong-arity item: that item alone is rejected (its cid kept) */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "jobs", 4);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 77);
    msgpack_pack_str_with_body(&pk, "echo", 4);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, 78);
    msgpack_pack_str_with_body(&pk, "echo", 4);
    msgpack_pack_bin_with_body(&pk, bh_arg, 1);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_int32(&pk, -1);
    size_t len;
    void *body = tmq_proto_sbuffer_take(&sb, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_SUBMIT, body, len);
    bh_turn(core);
    uint64_t cid;
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, &cid), 1);
    assert_int_equal(code, TMQ_REJ_BAD_JOB);
    assert_int_equal(cid, 77);
    assert_int_equal(bh_queued(core), 1);
    assert_true(core->stats.malformed >= 2);
}

/* A client that heartbeats but never reads: past the bound its new jobs are refused "queue
 * full" and STATUS goes unanswered, while every result it is owed still reaches it. */
static void test_client_owed_too_much_gets_no_more(void **state)
{
    tmq_core_t *core = *state;
    assert_int_equal(core->cfg.max_pending, TMQ_OUTBOX_MAX_PENDING); /* the default */
    core->cfg.max_pending = 3000;
    bh_ready(core, "W1", 4, "work", NULL);
    bh_submit(core, "C1", "work", 0, 8);
    bh_turn(core);
    uint64_t jids[8];
    assert_int_equal(bh_jobs("W1", jids, NULL, 8), 4);
    bh_forget();
    char big[1001];
    memset(big, 'r', 1000);
    big[1000] = '\0';
    bh_send_rc = 1; /* C1 stops reading */
    for (int i = 0; i < 4; i++)
        bh_done(core, "W1", jids[i], 1, TMQ_ST_OK, big, 1, 500.0);
    bh_turn(core);
    assert_true(tmq_outbox_bytes(&tmq_core_client(core, "C1", 2)->out) > 3000);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
    bh_submit(core, "C1", "work", 100, 2);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_STATUS);
    bh_turn(core);
    assert_int_equal(bh_queued(core), 0); /* nothing new accepted: the 4 left were dispatched */
    uint64_t more[8];
    bh_send_rc = 0;
    bh_turn(core);
    assert_int_equal(bh_jobs("W1", more, NULL, 8), 4);
    bh_done(core, "W1", more[0], 1, TMQ_ST_OK, big, 1, 500.0); /* still owed: still queued */
    bh_turn(core);
    int code;
    char reason[128];
    uint64_t cid;
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, &cid), 0);
    assert_int_equal(code, TMQ_REJ_QUEUE_FULL);
    assert_string_equal(reason, "queue full");
    assert_int_equal(cid, 100);
    assert_int_equal(bh_count("C1", TMQ_CMD_STATUS_REPLY), 0);
    size_t nres = 0;
    bh_got_t g;
    while (bh_take("C1", TMQ_CMD_RESULTS, &g)) {
        nres += tmq_msg_count(&g.msg);
        bh_got_free(&g);
    }
    assert_int_equal(nres, 5); /* nothing dropped */
    /* caught up: served again */
    bh_submit(core, "C1", "work", 200, 1);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_STATUS);
    bh_turn(core);
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, NULL), 1);
    assert_int_equal(bh_count("C1", TMQ_CMD_STATUS_REPLY), 1);
}

/* A client of an earlier broker process heartbeats in: it is told, not adopted. */
static void test_heartbeat_from_unknown_client_gets_error(void **state)
{
    tmq_core_t *core = *state;
    bh_signal(core, TMQ_SIDE_FRONTEND, "C9", TMQ_CMD_HEARTBEAT);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C9", TMQ_CMD_ERROR, &g));
    uint64_t code = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "code", &code), 0);
    assert_int_equal(code, TMQ_ERR_UNKNOWN_PEER);
    bh_got_free(&g);
    assert_null(tmq_core_client(core, "C9", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_is_queued_without_workers, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_function, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_client_bye_drops_and_cancels, bh_setup, bh_teardown),
        cmocka_unit_test_prestate_setup_teardown(test_max_queue_rejects_queue_full, bh_setup,
                                                 bh_teardown, &s_cfg_queue2),
        cmocka_unit_test_prestate_setup_teardown(test_payload_limits_and_bad_items, bh_setup,
                                                 bh_teardown, &s_cfg_payload8),
        cmocka_unit_test_prestate_setup_teardown(test_client_owed_too_much_gets_no_more, bh_setup,
                                                 bh_teardown, &s_cfg_payload4096),
        cmocka_unit_test_setup_teardown(test_heartbeat_from_unknown_client_gets_error, bh_setup,
                                        bh_teardown),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
