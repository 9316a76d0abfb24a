/* tests/unit/test_broker_frontend.c — the core's client side (broker/frontend.c): HELLO,
 * SUBMIT and its one ACK (acceptance, rejections, waiting without workers), client BYE, the
 * bound on what a client that does not read is owed, WITHDRAW, and heartbeats from unknown clients.
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
    uint64_t jid;
    uint32_t att;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, &att, 1), 1);
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

/* WITHDRAW n cids from rid, on side */
static void s_withdraw(tmq_core_t *core, int side, const char *rid, const uint64_t *cids, size_t n)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++)
        tmq_batch_add_cid(&b, cids[i]);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_WITHDRAW, 0, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, side, rid, TMQ_CMD_WITHDRAW, body, len);
}

static void test_withdraw_cancels_queued_and_running_jobs(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_submit(core, "C1", "work", 10, 4); /* cids 10..13: 10 leased, 11..13 queued */
    bh_submit(core, "C2", "work", 10, 1); /* another client's cid 10: not C1's to withdraw */
    uint64_t jid;
    uint32_t att;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, &att, 1), 1);
    assert_int_equal(tmq_jobtab_find(core->jobs, jid)->cid, 10);
    bh_forget();
    /* the running one, a queued one, one unknown, and garbage */
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_batch_add_cid(&b, 10);
    tmq_batch_add_cid(&b, 12);
    tmq_batch_add_cid(&b, 99);
    tmq_batch_add_ref(&b, 11, 1); /* not a uint: ignored, counted as bad input */
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_WITHDRAW, 0, &len);
    tmq_batch_destroy(&b);
    uint64_t malformed = tmq_bstats_malformed(&core->stats);
    bh_feed(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_WITHDRAW, body, len);
    bh_turn(core);
    assert_true(tmq_bstats_malformed(&core->stats) > malformed);
    /* one CANCELLED result each, in C1's order of jobs */
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 2);
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 10);
    assert_int_equal(r.status, TMQ_ST_CANCELLED);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.data_len, strlen("cancelled by its client"));
    assert_memory_equal(r.data, "cancelled by its client", r.data_len);
    assert_int_equal(tmq_msg_result_item(&g.msg, 1, &r), 0);
    assert_int_equal(r.cid, 12);
    assert_int_equal(r.status, TMQ_ST_CANCELLED);
    assert_int_equal(r.attempts, 0);
    bh_got_free(&g);
    /* the worker is told to stop the running one, and takes the next queued job */
    assert_true(bh_take("W1", TMQ_CMD_CANCEL, &g));
    uint64_t cjid;
    uint32_t catt;
    assert_int_equal(tmq_msg_ref_item(&g.msg, 0, &cjid, &catt), 0);
    assert_int_equal(cjid, jid);
    assert_int_equal(catt, att);
    bh_got_free(&g);
    uint64_t next;
    assert_int_equal(bh_jobs("W1", &next, NULL, 1), 1);
    assert_int_equal(tmq_jobtab_find(core->jobs, next)->cid, 11);
    assert_int_equal(tmq_jobtab_size(core->jobs), 3); /* C1's 11 and 13, C2's 10 */
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_CANCELLED), 2);
    /* a late DONE for the withdrawn job is stale: no second result */
    bh_done(core, "W1", jid, att, TMQ_ST_OK, "\x01", 1, 1.0);
    bh_turn(core);
    assert_int_equal(core->stats.stale, 1);
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
    /* withdrawing what is no longer live sends nothing; from an unknown peer, nothing */
    uint64_t again[] = {10, 12};
    bh_forget();
    s_withdraw(core, TMQ_SIDE_FRONTEND, "C1", again, 2);
    s_withdraw(core, TMQ_SIDE_FRONTEND, "C9", again, 2);
    bh_turn(core);
    assert_int_equal(bh_nsent, 0);
    assert_null(tmq_core_client(core, "C9", 2));
    /* the largest cid, and a cid two live jobs share (a client's bug): the older of those */
    bh_submit(core, "C3", "work", UINT64_MAX, 1);
    bh_submit(core, "C3", "work", 5, 1);
    bh_submit(core, "C3", "work", 5, 1);
    bh_turn(core);
    bh_forget();
    uint64_t odd[] = {UINT64_MAX, 5};
    s_withdraw(core, TMQ_SIDE_FRONTEND, "C3", odd, 2);
    bh_turn(core);
    assert_true(bh_take("C3", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 2);
    bh_got_free(&g);
    assert_int_equal(tmq_core_client(core, "C3", 2)->jobs.size, 1);
}

static void test_withdraw_on_the_worker_port_is_wrong_port(void **state)
{
    tmq_core_t *core = *state;
    uint64_t cid = 1;
    s_withdraw(core, TMQ_SIDE_BACKEND, "X1", &cid, 1);
    bh_turn(core);
    uint64_t code;
    char reason[256];
    assert_true(bh_error("X1", &code, reason, sizeof reason));
    assert_int_equal(code, TMQ_ERR_WRONG_PORT);
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

/* Items for s_submit_raw: a good job, one with the wrong arity (its cid readable), one whose
 * first field is not a uint, one that is not an array at all. */
enum { GOOD, BAD_ARITY, CID_NOT_UINT, NOT_ARRAY };

/* A SUBMIT of n items of the given kinds, item i with cid 100 + i where it has one. */
static void s_submit_raw(tmq_core_t *core, const char *client, const int *kinds, size_t n)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        tmq_submit_item_t good = {
            .cid = 100 + i, .fn = "echo", .fn_len = 4, .arg = bh_arg, .arg_len = 1, .retries = -1};
        if (kinds[i] == GOOD) {
            tmq_batch_add_submit(&b, &good);
            continue;
        }
        if (kinds[i] == NOT_ARRAY) {
            msgpack_pack_uint64(&b.pk, 100 + i);
        } else { /* [cid, "echo"] or ["7", "echo"] */
            msgpack_pack_array(&b.pk, 2);
            if (kinds[i] == BAD_ARITY)
                msgpack_pack_uint64(&b.pk, 100 + i);
            else
                msgpack_pack_str_with_body(&b.pk, "7", 1);
            msgpack_pack_str_with_body(&b.pk, "echo", 4);
        }
        b.count++;
    }
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_SUBMIT, body, len);
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
    assert_string_equal(reason, "payload too large: 21 bytes (limit 8)"); /* size and limit */
    const uint8_t junk[] = {0xc1};                                        /* never valid msgpack */
    bh_submit_ex(core, "C1", "echo", 2, 1, junk, sizeof junk, -1);
    bh_turn(core);
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, NULL), 0);
    assert_int_equal(code, TMQ_REJ_BAD_JOB);
    assert_string_equal(reason,
                        "bad job: the argument is not one msgpack value nested at most 32 deep");

    /* a batch with one wrong-arity item: that item alone is rejected (its cid kept) */
    const int kinds[] = {BAD_ARITY, GOOD};
    s_submit_raw(core, "C1", kinds, 2);
    bh_turn(core);
    uint64_t cid;
    assert_int_equal(bh_ack("C1", &code, reason, sizeof reason, &cid), 1);
    assert_int_equal(code, TMQ_REJ_BAD_JOB);
    assert_int_equal(cid, 100);
    assert_int_equal(bh_queued(core), 1);
    assert_true(tmq_bstats_malformed(&core->stats) >= 2);
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
    uint64_t jids[8];
    assert_int_equal(bh_turn_jobs(core, "W1", jids, NULL, 8), 4);
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
    assert_int_equal(bh_turn_jobs(core, "W1", more, NULL, 8), 4);
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
    uint64_t code = 0;
    assert_true(bh_error("C9", &code, NULL, 0));
    assert_int_equal(code, TMQ_ERR_UNKNOWN_PEER);
    assert_null(tmq_core_client(core, "C9", 2));
}

/* ---- SUBMITs refused whole, and the ACK's `unserved` ---- */

/* Takes client's next ACK and checks it refuses a SUBMIT whole: nothing accepted, nothing
 * rejected (so no cid is blamed), no `unserved`; its `error` goes into why. */
static void s_refused(const char *client, char *why, size_t why_size)
{
    bh_got_t g;
    assert_true(bh_take(client, TMQ_CMD_ACK, &g));
    uint64_t accepted = 99;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "accepted", &accepted), 0);
    assert_int_equal(accepted, 0);
    assert_int_equal(tmq_msg_count(&g.msg), 0);
    const char *e;
    size_t elen;
    assert_int_equal(tmq_msg_get_str(&g.msg, "error", &e, &elen), 0);
    snprintf(why, why_size, "%.*s", (int)elen, e);
    assert_null(tmq_msg_get(&g.msg, "unserved"));
    bh_got_free(&g);
}

/* An item whose client id cannot be read spoils its whole SUBMIT: one ACK says why, no job is
 * accepted and no rejection is reported under any cid (cid 0 least of all). */
static void test_submit_with_unreadable_cid_is_refused_whole(void **state)
{
    tmq_core_t *core = *state;
    const int not_uint[] = {GOOD, CID_NOT_UINT, GOOD};
    const int not_array[] = {GOOD, NOT_ARRAY};
    s_submit_raw(core, "C1", not_uint, 3);
    s_submit_raw(core, "C1", not_array, 2);
    bh_turn(core);
    char why[256];
    s_refused("C1", why, sizeof why);
    assert_string_equal(why, "job 1 has no client id (a job is [cid, fn, arg, timeout_ms, "
                             "retries], cid a uint)");
    s_refused("C1", why, sizeof why);
    assert_true(strncmp(why, "job 1 has no client id", 22) == 0);
    assert_int_equal(bh_nsent, 0); /* exactly one ACK per SUBMIT, no ERROR */
    assert_int_equal(bh_queued(core), 0);
    assert_int_equal(tmq_bstats_malformed(&core->stats), 2);

    /* bad items whose cids can be read are still rejected alone */
    const int arity[] = {GOOD, BAD_ARITY, GOOD};
    s_submit_raw(core, "C1", arity, 3);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_ACK, &g));
    uint64_t accepted = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "accepted", &accepted), 0);
    assert_int_equal(accepted, 2);
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    tmq_reject_item_t r;
    assert_int_equal(tmq_msg_reject_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 101);
    assert_int_equal(r.code, TMQ_REJ_BAD_JOB);
    assert_null(tmq_msg_get(&g.msg, "error"));
    bh_got_free(&g);
    assert_int_equal(bh_queued(core), 2);
}

/* A SUBMIT whose body does not decode still gets its one ACK, in order with the others. */
static void test_malformed_submit_gets_its_ack_in_order(void **state)
{
    tmq_core_t *core = *state;
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HELLO);
    bh_submit(core, "C1", "echo", 0, 1);
    tmq_core_malformed(core, bh_now, TMQ_SIDE_FRONTEND, "C1", 2, TMQ_CMD_SUBMIT, TMQ_ERR_MALFORMED,
                       "body is not a map");
    bh_submit(core, "C1", "echo", 1, 2);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_WELCOME, &g));
    bh_got_free(&g);
    assert_int_equal(bh_ack("C1", NULL, NULL, 0, NULL), 1);
    char why[128];
    s_refused("C1", why, sizeof why);
    assert_string_equal(why, "body is not a map");
    assert_int_equal(bh_ack("C1", NULL, NULL, 0, NULL), 2);
    assert_int_equal(bh_nsent, 0); /* no ERROR besides */
    assert_int_equal(bh_queued(core), 3);
}

/* The first thing an unknown peer sends is a SUBMIT that does not decode: it is registered as
 * any SUBMIT would register it and answered with the ACK, not an ERROR. */
static void test_malformed_submit_from_an_unknown_peer(void **state)
{
    tmq_core_t *core = *state;
    tmq_core_malformed(core, bh_now, TMQ_SIDE_FRONTEND, "C9", 2, TMQ_CMD_SUBMIT, TMQ_ERR_MALFORMED,
                       "wrong frame count");
    bh_turn(core);
    char why[128];
    s_refused("C9", why, sizeof why);
    assert_string_equal(why, "wrong frame count");
    assert_int_equal(bh_nsent, 0);
    assert_non_null(tmq_core_client(core, "C9", 2));
    assert_int_equal(tmq_bstats_malformed(&core->stats), 1);
    bh_submit(core, "C9", "echo", 0, 1);
    bh_turn(core);
    assert_int_equal(bh_ack("C9", NULL, NULL, 0, NULL), 1);
}

/* The ACK names, once each, the functions of accepted jobs that wait because no worker at all
 * is connected. */
static void test_ack_names_functions_waiting_for_any_worker(void **state)
{
    tmq_core_t *core = *state;
    const char *fns[] = {"sum", "echo", "sum", "sum"};
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < 4; i++) {
        tmq_submit_item_t it = {.cid = i,
                                .fn = fns[i],
                                .fn_len = strlen(fns[i]),
                                .arg = bh_arg,
                                .arg_len = sizeof bh_arg,
                                .retries = -1};
        tmq_batch_add_submit(&b, &it);
    }
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_SUBMIT, body, len);
    bh_submit(core, "C1", "sum", 10, 1); /* still waiting: named again in its own ACK */
    bh_turn(core);
    const char *want[2][2] = {{"sum", "echo"}, {"sum", NULL}};
    for (int k = 0; k < 2; k++) {
        bh_got_t g;
        assert_true(bh_take("C1", TMQ_CMD_ACK, &g));
        const msgpack_object *u = tmq_msg_get(&g.msg, "unserved");
        assert_non_null(u);
        assert_int_equal(u->type, MSGPACK_OBJECT_ARRAY);
        assert_int_equal(u->via.array.size, want[k][1] ? 2 : 1);
        for (size_t i = 0; i < u->via.array.size; i++) {
            const char *name;
            size_t nlen;
            assert_int_equal(tmq_msg_str_at(u, i, &name, &nlen), 0);
            assert_int_equal(nlen, strlen(want[k][i]));
            assert_memory_equal(name, want[k][i], nlen);
        }
        assert_null(tmq_msg_get(&g.msg, "error"));
        bh_got_free(&g);
    }
    /* once a worker is connected, jobs it serves are not "unserved" */
    bh_ready(core, "W1", 1, "sum", NULL);
    bh_submit(core, "C1", "sum", 20, 1);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_ACK, &g));
    assert_null(tmq_msg_get(&g.msg, "unserved"));
    bh_got_free(&g);
}

/* ---- a worker on the client port ---- */

static tmq_core_config_t s_cfg_endpoints = {.heartbeat_ms = 1000,
                                            .max_queue = 100,
                                            .max_payload = 1024,
                                            .retries = 2,
                                            .frontend = "tcp://0.0.0.0:41000",
                                            .backend = "ipc:///tmp/taskmq-backend"};

/* READY, DONE and RETURNED on the frontend: ERROR 5 naming the right port, nobody registered. */
static void test_worker_commands_on_client_port_get_wrong_port(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "echo", NULL); /* a real worker, on the backend */
    bh_turn(core);
    bh_forget();
    const char *fns[] = {"echo"};
    tmq_ready_t r = {.name = "W2", .name_len = 2, .procs = 1, .pid = 1};
    size_t len;
    void *body = tmq_proto_ready_body(&r, fns, 1, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, "W2", TMQ_CMD_READY, body, len);
    tmq_batch_t b;
    tmq_batch_init(&b);
    body = tmq_batch_finish(&b, TMQ_CMD_DONE, 0, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, "W3", TMQ_CMD_DONE, body, len);
    body = tmq_batch_finish(&b, TMQ_CMD_RETURNED, 0, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, "W4", TMQ_CMD_RETURNED, body, len);
    tmq_batch_destroy(&b);
    tmq_core_malformed(core, bh_now, TMQ_SIDE_FRONTEND, "W5", 2, TMQ_CMD_READY, TMQ_ERR_MALFORMED,
                       "body is not a map");
    bh_turn(core);
    const char *want = "this is a broker's client port (41000); workers connect to "
                       "ipc:///tmp/taskmq-backend";
    const char *rids[] = {"W2", "W3", "W4", "W5"};
    for (int i = 0; i < 4; i++) {
        uint64_t code = 0;
        char reason[256];
        assert_true(bh_error(rids[i], &code, reason, sizeof reason));
        assert_int_equal(code, TMQ_ERR_WRONG_PORT);
        assert_string_equal(reason, want);
    }
    assert_int_equal(bh_nsent, 0);
    assert_int_equal(tmq_bclients_size(core->clients), 0);
    assert_int_equal(tmq_bworkers_size(core->workers), 1); /* W1 only, on the backend */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_is_queued_without_workers, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_function, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_client_bye_drops_and_cancels, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_cancels_queued_and_running_jobs, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_on_the_worker_port_is_wrong_port, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_prestate_setup_teardown(test_max_queue_rejects_queue_full, bh_setup,
                                                 bh_teardown, &s_cfg_queue2),
        cmocka_unit_test_prestate_setup_teardown(test_payload_limits_and_bad_items, bh_setup,
                                                 bh_teardown, &s_cfg_payload8),
        cmocka_unit_test_prestate_setup_teardown(test_client_owed_too_much_gets_no_more, bh_setup,
                                                 bh_teardown, &s_cfg_payload4096),
        cmocka_unit_test_setup_teardown(test_heartbeat_from_unknown_client_gets_error, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_submit_with_unreadable_cid_is_refused_whole, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_submit_gets_its_ack_in_order, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_submit_from_an_unknown_peer, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_ack_names_functions_waiting_for_any_worker, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_prestate_setup_teardown(test_worker_commands_on_client_port_get_wrong_port,
                                                 bh_setup, bh_teardown, &s_cfg_endpoints),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
