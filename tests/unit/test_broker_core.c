/* tests/unit/test_broker_core.c — the core's shared machinery (broker/core.c): lifetime,
 * heartbeats and expiry of both peer kinds, flushing (would block, unreachable), bad peers and
 * malformed messages, ERRORs from peers, the queued jobs of functions nobody serves, STATUS.
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

static tmq_core_config_t s_cfg_queue1000 = {
    .heartbeat_ms = 1000, .max_queue = 1000, .max_payload = 1024, .retries = 2};

/* Advances the clock in quarter heartbeats to `until`, the listed peers staying alive. */
static void s_wait_until(tmq_core_t *core, int64_t until, const char *worker, const char *client)
{
    while (bh_now < until) {
        bh_now += 250;
        if (worker) bh_signal(core, TMQ_SIDE_BACKEND, worker, TMQ_CMD_HEARTBEAT);
        if (client) bh_signal(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_HEARTBEAT);
        bh_turn(core);
    }
}

/* Takes every result sent to client; checks each is "unknown function: fn", REJECTED, and
 * that no cid comes twice. Returns how many there were. */
static size_t s_unknown_results(const char *client, const char *fn, uint64_t *cids, size_t max)
{
    char want[96];
    snprintf(want, sizeof want, "unknown function: %s", fn);
    size_t n = 0;
    bh_got_t g;
    while (bh_take(client, TMQ_CMD_RESULTS, &g)) {
        for (size_t i = 0; i < tmq_msg_count(&g.msg); i++) {
            tmq_result_item_t r;
            assert_int_equal(tmq_msg_result_item(&g.msg, i, &r), 0);
            assert_int_equal(r.status, TMQ_ST_REJECTED);
            assert_int_equal(r.data_len, strlen(want));
            assert_memory_equal(r.data, want, r.data_len);
            for (size_t k = 0; k < n && k < max; k++)
                assert_true(cids[k] != r.cid);
            if (n < max) cids[n] = r.cid;
            n++;
        }
        bh_got_free(&g);
    }
    return n;
}

static void s_send_error(tmq_core_t *core, int side, const char *rid, const char *reason)
{
    size_t len;
    void *body = tmq_proto_error_body(TMQ_ERR_MALFORMED, reason, &len);
    bh_feed(core, side, rid, TMQ_CMD_ERROR, body, len);
}

/* The core frees everything it holds (jobs queued and leased, peers, outboxes) and nulls the
 * caller's pointer; destroying twice is safe. */
static void test_destroy_nulls_and_is_safe_twice(void **state)
{
    tmq_core_t **core_p = (tmq_core_t **)state;
    bh_ready(*core_p, "W1", 1, "work", NULL);
    bh_submit(*core_p, "C1", "work", 0, 3);
    bh_signal(*core_p, TMQ_SIDE_FRONTEND, "C2", TMQ_CMD_HELLO);
    bh_turn(*core_p);
    bh_submit(*core_p, "C1", "work", 3, 1); /* unsent ACK and transient replies pending */
    bh_signal(*core_p, TMQ_SIDE_BACKEND, "W8", TMQ_CMD_HEARTBEAT);
    tmq_core_destroy(core_p);
    assert_null(*core_p);
    tmq_core_destroy(core_p);
    assert_null(*core_p);
}

static void test_worker_expiry_requeues_at_front(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 2, "work", NULL);
    bh_submit(core, "C1", "work", 0, 4);
    uint64_t jids[4];
    uint32_t att[4];
    assert_int_equal(bh_turn_jobs(core, "W1", jids, att, 4), 2);
    bh_forget();
    /* W1 falls silent; the client keeps heartbeating */
    for (int i = 0; i < 4; i++) {
        bh_now += 900;
        bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
        bh_turn(core);
    }
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_int_equal(bh_queued(core), 4);
    assert_int_equal(bh_leased(core), 0);
    tmq_fn_t *fn = tmq_fnreg_find(core->fns, "work", 4);
    tmq_bjob_t *head = TMQ_LIST_ENTRY(fn->queue.head, tmq_bjob_t, link);
    assert_int_equal(head->jid, 1);
    bh_ready(core, "W2", 3, "work", NULL);
    assert_int_equal(bh_turn_jobs(core, "W2", jids, att, 4), 3);
    assert_int_equal(jids[0], 1); /* the expired worker's jobs first, in order */
    assert_int_equal(jids[1], 2);
    assert_int_equal(jids[2], 3);
    assert_int_equal(att[0], 2); /* a new attempt: a late DONE from W1 would be stale */
    assert_int_equal(att[2], 1);
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0); /* not reported as a failure */
}

static void test_heartbeats_and_client_expiry(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_submit(core, "C1", "work", 0, 2);
    bh_turn(core);
    bh_forget();
    bh_now += 1100; /* nothing sent for a heartbeat: both get one */
    bh_turn(core);
    assert_int_equal(bh_count("C1", TMQ_CMD_HEARTBEAT), 1);
    assert_int_equal(bh_count("W1", TMQ_CMD_HEARTBEAT), 1);
    bh_forget();
    /* the worker keeps talking, the client does not: after 5 heartbeats it is dropped */
    for (int i = 0; i < 5; i++) {
        bh_now += 1000;
        bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_HEARTBEAT);
        bh_turn(core);
    }
    assert_null(tmq_core_client(core, "C1", 2));
    assert_int_equal(bh_count("W1", TMQ_CMD_CANCEL), 1);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
}

static void test_flush_would_block_and_unreachable(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_submit(core, "C1", "work", 0, 2);
    bh_send_rc = 1; /* every peer would block */
    bh_turn(core);
    assert_int_equal(bh_nsent, 0);
    assert_true(tmq_core_pending(core));
    assert_false(tmq_core_ready(core)); /* only output waits: the loop may back off */
    bh_send_rc = 0;
    bh_turn(core); /* kept, sent now */
    uint64_t jid;
    assert_int_equal(bh_jobs("W1", &jid, NULL, 1), 1);
    assert_int_equal(bh_count("C1", TMQ_CMD_ACK), 1);
    assert_false(tmq_core_pending(core));
    /* the worker became unreachable: dropped, its job requeued */
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_STATUS);
    bh_done(core, "W1", jid, 1, TMQ_ST_OK, "\x01", 1, 300.0);
    bh_send_rc = -1;
    bh_turn(core);
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_null(tmq_core_client(core, "C1", 2));
    assert_int_equal(tmq_jobtab_size(core->jobs), 0); /* the client's other job went too */
}

static void test_bad_peers_and_commands(void **state)
{
    tmq_core_t *core = *state;
    tmq_batch_t b;
    tmq_batch_init(&b);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_JOBS, 0, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_JOBS, body, len); /* JOBS on the frontend */
    body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    bh_feed(core, TMQ_SIDE_BACKEND, "W9", TMQ_CMD_SUBMIT, body, len); /* SUBMIT on the backend */
    body = tmq_batch_finish(&b, TMQ_CMD_DONE, 0, &len);
    bh_feed(core, TMQ_SIDE_BACKEND, "W8", TMQ_CMD_DONE, body, len); /* unregistered worker */
    tmq_batch_destroy(&b);
    bh_signal(core, TMQ_SIDE_BACKEND, "W7", TMQ_CMD_HEARTBEAT);
    bh_signal(core, TMQ_SIDE_BACKEND, "W6", TMQ_CMD_BYE); /* unknown and leaving: silence */
    body = tmq_proto_empty_body(&len);
    bh_feed(core, TMQ_SIDE_BACKEND, "W5", TMQ_CMD_READY, body, len); /* READY without fields */
    tmq_core_malformed(core, bh_now, TMQ_SIDE_FRONTEND, "C3", 2, 0, TMQ_ERR_VERSION, "version");
    bh_turn(core);
    uint64_t code = 0;
    assert_true(bh_error("C1", &code, NULL, 0));
    assert_int_equal(code, TMQ_ERR_COMMAND);
    assert_true(bh_error("W9", &code, NULL, 0));
    assert_int_equal(code, TMQ_ERR_WRONG_PORT); /* a client's command on the worker port */
    bh_got_t g;
    assert_true(bh_take("W8", TMQ_CMD_RECONNECT, &g));
    bh_got_free(&g);
    assert_true(bh_take("W7", TMQ_CMD_RECONNECT, &g));
    bh_got_free(&g);
    assert_true(bh_error("W5", &code, NULL, 0));
    assert_int_equal(code, TMQ_ERR_MALFORMED);
    assert_true(bh_error("C3", &code, NULL, 0));
    assert_int_equal(code, TMQ_ERR_VERSION);
    assert_int_equal(bh_nsent, 0);
    assert_int_equal(tmq_bworkers_size(core->workers), 0); /* nobody registered by mistake */
    assert_int_equal(tmq_bclients_size(core->clients), 0);
    assert_int_equal(tmq_bstats_malformed(&core->stats), 4);
    assert_int_equal(core->ntransient, 0);
}

static void test_error_from_peers_is_not_answered(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HELLO);
    bh_turn(core);
    bh_forget();
    bh_now += 500;
    s_send_error(core, TMQ_SIDE_BACKEND, "W1", "bad JOBS\n\x01");
    s_send_error(core, TMQ_SIDE_FRONTEND, "C1", "bad RESULTS");
    s_send_error(core, TMQ_SIDE_BACKEND, "W9", "who are you"); /* unknown: still silence */
    s_send_error(core, TMQ_SIDE_FRONTEND, "C9", "who are you");
    bh_turn(core);
    assert_int_equal(bh_nsent, 0);
    assert_int_equal(tmq_bstats_malformed(&core->stats), 0);
    assert_int_equal(core->ntransient, 0);
    assert_int_equal(tmq_bworkers_size(core->workers), 1);
    assert_int_equal(tmq_bclients_size(core->clients), 1);
    assert_true(tmq_core_worker(core, "W1", 2)->last_seen == bh_now); /* a sign of life */
}

static void test_unserved_jobs_fail_after_grace(void **state)
{
    tmq_core_t *core = *state;
    int64_t grace = TMQ_UNSERVED_GRACE * 1000;
    bh_ready(core, "W1", 1, "foo", NULL);
    bh_ready(core, "W2", 1, "bar", NULL);
    bh_submit(core, "C1", "foo", 10, 3);
    assert_int_equal(bh_turn_jobs(core, "W1", NULL, NULL, 0), 1);
    /* the last worker serving foo leaves; W2 stays */
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    bh_turn(core);
    int64_t left = bh_now;
    assert_int_equal(bh_queued(core), 3);
    bh_forget();
    s_wait_until(core, left + grace - 250, "W2", "C1");
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0); /* still within the grace period */
    s_wait_until(core, left + grace, "W2", "C1");
    uint64_t cids[8];
    assert_int_equal(s_unknown_results("C1", "foo", cids, 8), 3); /* one each */
    assert_int_equal(bh_queued(core), 0);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 3);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
    s_wait_until(core, bh_now + grace, "W2", "C1");
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0); /* never a second time */

    /* accepted while no worker was connected; the worker that comes serves something else:
     * the grace period starts when it arrives */
    bh_signal(core, TMQ_SIDE_BACKEND, "W2", TMQ_CMD_BYE);
    bh_submit(core, "C1", "baz", 20, 2);
    bh_turn(core);
    assert_int_equal(bh_ack("C1", NULL, NULL, 0, NULL), 2);
    s_wait_until(core, bh_now + 2 * grace, NULL, "C1"); /* nobody connected: they wait */
    assert_int_equal(bh_queued(core), 2);
    bh_ready(core, "W3", 1, "bar", NULL);
    int64_t came = bh_now;
    bh_turn(core);
    s_wait_until(core, came + grace - 250, "W3", "C1");
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
    s_wait_until(core, came + grace, "W3", "C1");
    assert_int_equal(s_unknown_results("C1", "baz", cids, 8), 2);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 5);
}

/* Start order does not matter: a worker serving the function within the grace gets the jobs. */
static void test_unserved_grace_lets_late_workers_in(void **state)
{
    tmq_core_t *core = *state;
    bh_submit(core, "C1", "foo", 0, 2);
    bh_ready(core, "W1", 1, "bar", NULL);
    bh_turn(core);
    s_wait_until(core, bh_now + 2000, "W1", "C1");
    bh_ready(core, "W2", 2, "foo", NULL);
    assert_int_equal(bh_turn_jobs(core, "W2", NULL, NULL, 0), 2);
    s_wait_until(core, bh_now + 5000, "W2", "C1"); /* W1 expires meanwhile */
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 0);
    assert_int_equal(bh_leased(core), 2);
    /* a worker registering again without foo counts as foo's last worker leaving */
    bh_ready(core, "W2", 2, "other", NULL);
    int64_t dropped = bh_now;
    bh_turn(core);
    assert_int_equal(bh_queued(core), 2);
    s_wait_until(core, dropped + TMQ_UNSERVED_GRACE * 1000, "W2", "C1");
    uint64_t cids[4];
    assert_int_equal(s_unknown_results("C1", "foo", cids, 4), 2);
}

static void test_status_reply(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 2, "work", NULL);
    bh_submit(core, "C1", "work", 0, 3);
    bh_turn(core);
    bh_forget();
    bh_got_t g;
    bh_status(core, "C2", &g);
    assert_int_equal(bh_map_uint(g.msg.body, "queued"), 1);
    assert_int_equal(bh_map_uint(g.msg.body, "running"), 2);
    assert_int_equal(bh_map_uint(g.msg.body, "clients"), 2);
    assert_int_equal(bh_map_uint(g.msg.body, "max_queue"), 100);
    const msgpack_object *ws = tmq_msg_get(&g.msg, "workers");
    assert_non_null(ws);
    assert_int_equal(ws->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(ws->via.array.size, 1);
    assert_non_null(tmq_msg_get(&g.msg, "rate"));
    assert_non_null(tmq_msg_get(&g.msg, "uptime_ms"));
    bh_got_free(&g);
}

static void test_status_running_counts_busy_processes(void **state)
{
    tmq_core_t *core = *state;
    bh_teach(core, "fast", 0.01);
    bh_ready(core, "W1", 2, "fast", NULL);
    bh_submit(core, "C1", "fast", 0, 50);
    bh_turn(core);
    assert_int_equal(bh_leased(core), 50); /* prefetched: 2 running, 48 waiting in W1 */
    bh_forget();
    bh_got_t g;
    bh_status(core, "C2", &g);
    assert_int_equal(bh_map_uint(g.msg.body, "running"), 2);
    assert_int_equal(bh_map_uint(g.msg.body, "prefetched"), 48); /* not hidden */
    assert_int_equal(bh_map_uint(g.msg.body, "queued"), 0);
    bh_got_free(&g);
}

/* A clean shutdown says BYE to every client (after the results it is owed, so none is lost)
 * and to every worker (whose unsent jobs are dropped). */
static void test_shutdown_says_bye_to_clients_and_workers(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HELLO);
    bh_signal(core, TMQ_SIDE_FRONTEND, "C2", TMQ_CMD_HELLO);
    bh_submit(core, "C1", "work", 0, 2);
    uint64_t jid;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, NULL, 1), 1);
    bh_forget();
    bh_done(core, "W1", jid, 1, TMQ_ST_OK, "\x01", 1, 300.0);
    tmq_core_tick(core, bh_now); /* the result waits in C1's outbox, the next job in W1's */
    tmq_core_shutdown(core);
    tmq_core_flush(core, bh_now, bh_send, NULL);
    assert_int_equal(bh_nsent, 3 + 1); /* RESULTS then BYE to C1, BYE to C2 and W1 */
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    bh_got_free(&g);
    assert_int_equal(bh_count("C1", TMQ_CMD_BYE), 1);
    assert_int_equal(bh_count("C2", TMQ_CMD_BYE), 1);
    assert_int_equal(bh_count("W1", TMQ_CMD_BYE), 1);
    assert_int_equal(bh_count("W1", TMQ_CMD_JOBS), 0);
    assert_int_equal(core->nflush, 0); /* everything went */
}

/* ---- STATUS_REPLY, every field ---- */

static void s_ready_as(tmq_core_t *core, const char *rid, const char *addr, uint32_t procs,
                       const char *const *fns, size_t nfns, uint64_t done, uint64_t failed)
{
    tmq_ready_t r = {.name = rid,
                     .name_len = strlen(rid),
                     .procs = procs,
                     .pid = 4000,
                     .version = "0.2.0",
                     .version_len = 5,
                     .done = done,
                     .failed = failed};
    size_t len;
    void *body = tmq_proto_ready_body(&r, fns, nfns, &len);
    bh_feed_from(core, rid, addr, TMQ_CMD_READY, body, len);
}

/* STATUS_REPLY names the broker's version, each worker with its address, version, functions,
 * result counts and when it was last heard from, and each function with its workers,
 * processes and queue (one whose last worker left is still listed while its jobs wait). */
static void test_status_reply_names_workers_and_functions(void **state)
{
    tmq_core_t *core = *state;
    const char *w1fns[] = {"work", "echo"}, *w2fns[] = {"work"}, *w3fns[] = {"gone"};
    s_ready_as(core, "W1", "127.0.0.1:40001", 2, w1fns, 2, 10, 1);
    s_ready_as(core, "W2", NULL, 3, w2fns, 1, 0, 0);
    s_ready_as(core, "W3", "127.0.0.1:40003", 1, w3fns, 1, 0, 0);
    bh_submit(core, "C1", "gone", 0, 2);
    bh_submit(core, "C1", "work", 10, 3);
    bh_turn(core);
    bh_signal(core, TMQ_SIDE_BACKEND, "W3", TMQ_CMD_BYE); /* "gone" keeps 2 queued jobs */
    bh_turn(core);
    bh_now += 300;
    bh_signal(core, TMQ_SIDE_BACKEND, "W2", TMQ_CMD_HEARTBEAT);
    bh_forget();
    bh_got_t g;
    bh_status(core, "C2", &g);
    const msgpack_object *body = g.msg.body;
    bh_map_str_is(body, "version", TMQ_VERSION);
    assert_int_equal(bh_map_uint(body, "queued"), 2);
    assert_int_equal(bh_map_uint(body, "running"), 3);
    assert_int_equal(bh_map_uint(body, "prefetched"), 0);

    const msgpack_object *ws = bh_map_get(body, "workers");
    assert_non_null(ws);
    assert_int_equal(ws->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(ws->via.array.size, 2);
    for (uint32_t i = 0; i < 2; i++) {
        const msgpack_object *w = &ws->via.array.ptr[i];
        assert_int_equal(w->via.map.size, 11); /* exactly the documented keys */
        const msgpack_object *name = bh_map_get(w, "name");
        bool first = name->via.str.size == 2 && memcmp(name->via.str.ptr, "W1", 2) == 0;
        assert_int_equal(bh_map_uint(w, "pid"), 4000);
        assert_int_equal(bh_map_uint(w, "procs"), first ? 2 : 3);
        assert_int_equal(bh_map_uint(w, "done"), first ? 10 : 0);
        assert_int_equal(bh_map_uint(w, "failed"), first ? 1 : 0);
        assert_int_equal(bh_map_uint(w, "seen_ms"), first ? 300 : 0);
        assert_true(bh_map_uint(w, "busy") <= bh_map_uint(w, "procs"));
        bh_map_str_is(w, "addr", first ? "127.0.0.1:40001" : "");
        bh_map_str_is(w, "version", "0.2.0");
        bh_map_str_is(w, "python", ""); /* not Python executors */
        const msgpack_object *fns = bh_map_get(w, "functions");
        assert_non_null(fns);
        assert_int_equal(fns->type, MSGPACK_OBJECT_ARRAY);
        assert_int_equal(fns->via.array.size, first ? 2 : 1);
        const char *fn;
        size_t fn_len;
        assert_int_equal(tmq_msg_str_at(fns, 0, &fn, &fn_len), 0);
        assert_int_equal(fn_len, 4);
        assert_memory_equal(fn, "work", 4);
    }
    assert_int_equal(
        bh_map_uint(&ws->via.array.ptr[0], "busy") + bh_map_uint(&ws->via.array.ptr[1], "busy"), 3);

    const msgpack_object *fs = bh_map_get(body, "functions");
    assert_non_null(fs);
    assert_int_equal(fs->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(fs->via.array.size, 3);
    const struct {
        const char *name;
        uint64_t workers, procs, queued;
    } want[] = {{"echo", 1, 2, 0}, {"gone", 0, 0, 2}, {"work", 2, 5, 0}}; /* sorted by name */
    for (uint32_t i = 0; i < 3; i++) {
        const msgpack_object *f = &fs->via.array.ptr[i];
        assert_int_equal(f->via.map.size, 4);
        bh_map_str_is(f, "name", want[i].name);
        assert_int_equal(bh_map_uint(f, "workers"), want[i].workers);
        assert_int_equal(bh_map_uint(f, "procs"), want[i].procs);
        assert_int_equal(bh_map_uint(f, "queued"), want[i].queued);
    }
    bh_got_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_destroy_nulls_and_is_safe_twice, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_worker_expiry_requeues_at_front, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_and_client_expiry, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_flush_would_block_and_unreachable, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_bad_peers_and_commands, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_error_from_peers_is_not_answered, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_unserved_jobs_fail_after_grace, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_unserved_grace_lets_late_workers_in, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_status_reply, bh_setup, bh_teardown),
        cmocka_unit_test_prestate_setup_teardown(test_status_running_counts_busy_processes,
                                                 bh_setup, bh_teardown, &s_cfg_queue1000),
        cmocka_unit_test_setup_teardown(test_shutdown_says_bye_to_clients_and_workers, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_status_reply_names_workers_and_functions, bh_setup,
                                        bh_teardown),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
