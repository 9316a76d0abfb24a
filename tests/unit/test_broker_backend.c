/* tests/unit/test_broker_backend.c — the core's worker side (broker/backend.c): READY and
 * registering again, DONE results reaching clients in the same turn, fencing of stale results,
 * deaths retried then failed, final errors and timeouts, the job options (mem_limit in every
 * JOBS item of a job that has one; out of memory final, or retried as a death with retry_oom).
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

static void test_done_result_reaches_client_same_turn(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_submit(core, "C1", "echo", 42, 1);
    uint64_t jid;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, NULL, 1), 1);
    bh_forget();
    bh_done(core, "W1", jid, 1, TMQ_ST_OK, "\xa2hi", 777, 1.5);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 42);
    assert_int_equal(r.status, TMQ_ST_OK);
    assert_int_equal(r.data_len, 3);
    assert_memory_equal(r.data, "\xa2hi", 3);
    assert_int_equal(r.worker_len, strlen("W1:777"));
    assert_memory_equal(r.worker, "W1:777", r.worker_len);
    assert_true(r.ms == 1.5);
    assert_int_equal(r.attempts, 1);
    bh_got_free(&g);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_DONE), 1);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
    assert_int_equal(tmq_core_worker(core, "W1", 2)->done, 1);
}

static void test_stale_results_discarded(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_ready(core, "W2", 1, "echo", NULL);
    bh_submit(core, "C1", "echo", 7, 1);
    bh_turn(core);
    uint64_t jid;
    const char *holder = bh_jobs("W1", &jid, NULL, 1) == 1 ? "W1" : "W2";
    const char *other = strcmp(holder, "W1") == 0 ? "W2" : "W1";
    if (strcmp(holder, "W2") == 0) assert_int_equal(bh_jobs("W2", &jid, NULL, 1), 1);
    bh_forget();
    bh_done(core, holder, jid, 2, TMQ_ST_OK, "\x01", 1, 1.0); /* wrong attempt */
    bh_done(core, holder, 999, 1, TMQ_ST_OK, "\x01", 1, 1.0); /* unknown job */
    bh_done(core, other, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0);  /* not the holder */
    bh_turn(core);
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
    assert_int_equal(core->stats.stale, 3);
    bh_done(core, holder, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0);
    bh_done(core, holder, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0); /* duplicate */
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1); /* exactly one result per job */
    bh_got_free(&g);
    assert_int_equal(core->stats.stale, 4);
}

static void test_died_retried_then_failed(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "crash", NULL);
    bh_submit(core, "C1", "crash", 5, 1); /* retries -1: broker default 2 */
    bh_turn(core);
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        uint64_t jid;
        uint32_t att;
        assert_int_equal(bh_jobs("W1", &jid, &att, 1), 1);
        assert_int_equal(att, attempt); /* same job, next attempt */
        assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
        bh_done(core, "W1", jid, att, TMQ_ST_DIED, "executor died: SIGSEGV", 100 + attempt, 0.1);
        bh_turn(core);
    }
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 5);
    assert_int_equal(r.status, TMQ_ST_DIED);
    const char *want = "executor died: SIGSEGV (3 attempts, last on W1:103)";
    assert_int_equal(r.data_len, strlen(want));
    assert_memory_equal(r.data, want, r.data_len);
    assert_int_equal(r.attempts, 3);
    bh_got_free(&g);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 1);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0); /* not dispatched a 4th time */

    /* retries 0 in the SUBMIT: the first death is final */
    bh_submit_ex(core, "C1", "crash", 6, 1, bh_arg, sizeof bh_arg, 0);
    uint64_t jid;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, NULL, 1), 1);
    bh_done(core, "W1", jid, 1, TMQ_ST_DIED, "executor died: SIGKILL", 200, 0.1);
    bh_turn(core);
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 6);
    want = "executor died: SIGKILL (1 attempt, last on W1:200)";
    assert_memory_equal(r.data, want, strlen(want));
    bh_got_free(&g);
}

static void test_error_and_timeout_are_final(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 2, "f", NULL);
    bh_submit(core, "C1", "f", 1, 2);
    uint64_t jids[2];
    assert_int_equal(bh_turn_jobs(core, "W1", jids, NULL, 2), 2);
    bh_done(core, "W1", jids[0], 1, TMQ_ST_ERROR, "f: bad input", 9, 1.0);
    bh_done(core, "W1", jids[1], 1, TMQ_ST_TIMEOUT, "timeout after 500 ms", 9, 500.0);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 2); /* both in one batch */
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.status, TMQ_ST_ERROR);
    assert_memory_equal(r.data, "f: bad input", r.data_len);
    assert_int_equal(tmq_msg_result_item(&g.msg, 1, &r), 0);
    assert_int_equal(r.status, TMQ_ST_TIMEOUT);
    bh_got_free(&g);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 2);
}

static void test_worker_bye_and_ready_again_requeue(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "work", NULL);
    bh_submit(core, "C1", "work", 0, 2);
    uint64_t jid;
    uint32_t att;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, &att, 1), 1);
    bh_ready(core, "W1", 1, "work", NULL); /* it reconnected: whatever it held is lost */
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, &att, 1), 1);
    assert_int_equal(jid, 1);
    assert_int_equal(att, 2);
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    bh_turn(core);
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_int_equal(bh_queued(core), 2);
}

/* ---- a client on the worker port ---- */

/* HELLO, SUBMIT and STATUS on the backend (decoded or not): ERROR 5 naming the right port
 * (the default ports when the core was not told its endpoints), nobody registered. */
static void test_client_commands_on_worker_port_get_wrong_port(void **state)
{
    tmq_core_t *core = *state;
    bh_signal(core, TMQ_SIDE_BACKEND, "C1", TMQ_CMD_HELLO);
    bh_signal(core, TMQ_SIDE_BACKEND, "C2", TMQ_CMD_STATUS);
    tmq_batch_t b;
    tmq_batch_init(&b);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, TMQ_SIDE_BACKEND, "C3", TMQ_CMD_SUBMIT, body, len);
    tmq_core_malformed(core, bh_now, TMQ_SIDE_BACKEND, "C4", 2, TMQ_CMD_SUBMIT, TMQ_ERR_MALFORMED,
                       "batch has no item array");
    bh_turn(core);
    const char *rids[] = {"C1", "C2", "C3", "C4"};
    for (int i = 0; i < 4; i++) {
        uint64_t code = 0;
        char reason[256];
        assert_true(bh_error(rids[i], &code, reason, sizeof reason));
        assert_int_equal(code, TMQ_ERR_WRONG_PORT);
        assert_string_equal(reason,
                            "this is a broker's worker port (5556); clients connect to 5555");
    }
    assert_int_equal(bh_nsent, 0);
    assert_int_equal(tmq_bworkers_size(core->workers), 0);
    assert_int_equal(tmq_bclients_size(core->clients), 0);
    assert_int_equal(tmq_bstats_malformed(&core->stats), 4);
}

/* ---- what READY brings: address, version, counts ---- */

static void s_ready_ex(tmq_core_t *core, const char *rid, const char *addr, const char *version,
                       size_t version_len, uint64_t done, uint64_t failed)
{
    const char *fns[] = {"work"};
    tmq_ready_t r = {.name = rid,
                     .name_len = strlen(rid),
                     .procs = 2,
                     .pid = 4100,
                     .version = version,
                     .version_len = version_len,
                     .done = done,
                     .failed = failed};
    size_t len;
    void *body = tmq_proto_ready_body(&r, fns, 1, &len);
    bh_feed_from(core, rid, addr, TMQ_CMD_READY, body, len);
}

/* A worker's record starts its counts from READY's done/failed (so they survive registering
 * again), keeps its version (cut short, made printable) and the address its connection came
 * from, and counts every result: OK as done, anything else as failed. */
static void test_ready_adopts_version_counts_and_addr(void **state)
{
    tmq_core_t *core = *state;
    s_ready_ex(core, "W1", "10.0.0.7:41822", "0.2.0", 5, 7, 2);
    bh_turn(core);
    tmq_bworker_t *w = tmq_core_worker(core, "W1", 2);
    assert_non_null(w);
    assert_string_equal(w->addr, "10.0.0.7:41822");
    assert_string_equal(w->version, "0.2.0");
    assert_int_equal(w->done, 7);
    assert_int_equal(w->failed, 2);

    bh_submit(core, "C1", "work", 0, 2);
    uint64_t jids[2];
    assert_int_equal(bh_turn_jobs(core, "W1", jids, NULL, 2), 2);
    bh_done(core, "W1", jids[0], 1, TMQ_ST_OK, "\x01", 1, 1.0);
    bh_done(core, "W1", jids[1], 1, TMQ_ST_DIED, "executor died: SIGSEGV", 2, 1.0);
    uint64_t again;
    assert_int_equal(bh_turn_jobs(core, "W1", &again, NULL, 1), 1); /* the death is retried */
    bh_done(core, "W1", again, 2, TMQ_ST_ERROR, "work: no", 3, 1.0);
    bh_submit(core, "C1", "work", 2, 1);
    uint64_t jid;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, NULL, 1), 1);
    bh_done(core, "W1", jid, 1, TMQ_ST_TIMEOUT, "timeout after 5 ms", 4, 5.0);
    bh_done(core, "W1", jid, 1, TMQ_ST_OK, "\x01", 4, 5.0); /* stale: not counted */
    bh_turn(core);
    assert_int_equal(w->done, 8);
    assert_int_equal(w->failed, 2 + 3);

    /* registering again (a reconnect): counts, version and address come from READY */
    char odd[64];
    memset(odd, 'v', sizeof odd);
    odd[1] = '\n';
    s_ready_ex(core, "W1", "10.0.0.7:41900", odd, sizeof odd, 30, 4);
    bh_turn(core);
    assert_ptr_equal(tmq_core_worker(core, "W1", 2), w);
    assert_string_equal(w->addr, "10.0.0.7:41900");
    assert_int_equal(strlen(w->version), TMQ_BWORKER_VERSION);
    assert_int_equal(w->version[1], '?');
    assert_int_equal(w->done, 30);
    assert_int_equal(w->failed, 4);

    /* an old daemon: no version, no counts; an inproc/ipc connection: no address */
    s_ready_ex(core, "W2", NULL, NULL, 0, 0, 0);
    bh_turn(core);
    tmq_bworker_t *w2 = tmq_core_worker(core, "W2", 2);
    assert_string_equal(w2->addr, "");
    assert_string_equal(w2->version, "");
    assert_int_equal(w2->done + w2->failed, 0);
}

/* SUBMIT of one job for fn with the given options (the 6th element, packed when one is set). */
static void s_submit_opts(tmq_core_t *core, const char *client, const char *fn, uint64_t cid,
                          int32_t retries, uint64_t mem_limit, bool retry_oom)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_submit_item_t it = {.cid = cid,
                            .fn = fn,
                            .fn_len = strlen(fn),
                            .arg = bh_arg,
                            .arg_len = sizeof bh_arg,
                            .retries = retries,
                            .mem_limit = mem_limit,
                            .retry_oom = retry_oom};
    tmq_batch_add_submit(&b, &it);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_SUBMIT, body, len);
}

/* SUBMIT as a 0.2 client sends it (no `oom` in the body): one job for fn with a mem_limit. */
static void s_submit_old(tmq_core_t *core, const char *client, const char *fn, uint64_t cid,
                         uint64_t mem_limit)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "jobs", 4);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_uint64(&pk, cid);
    msgpack_pack_str_with_body(&pk, fn, strlen(fn));
    msgpack_pack_bin_with_body(&pk, bh_arg, sizeof bh_arg);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_int32(&pk, -1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "mem_limit", 9);
    msgpack_pack_uint64(&pk, mem_limit);
    size_t len;
    void *body = tmq_proto_sbuffer_take(&sb, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_SUBMIT, body, len);
}

/* Takes the one JOBS message sent to worker, holding one job: its item and the item's arity. */
static size_t s_take_job(const char *worker, tmq_job_item_t *it)
{
    bh_got_t g;
    assert_true(bh_take(worker, TMQ_CMD_JOBS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    assert_int_equal(tmq_msg_job_item(&g.msg, 0, it), 0);
    size_t arity = g.msg.items->via.array.ptr[0].via.array.size;
    it->fn = it->arg = NULL; /* they pointed into the body */
    bh_got_free(&g);
    return arity;
}

/* Takes the one result sent to client: status, text (NUL-terminated), attempts. */
static int s_take_result(const char *client, uint64_t cid, char *text, size_t text_size,
                         uint32_t *attempts)
{
    bh_got_t g;
    assert_true(bh_take(client, TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, cid);
    assert_true(r.data_len < text_size);
    memcpy(text, r.data, r.data_len);
    text[r.data_len] = '\0';
    *attempts = r.attempts;
    int status = r.status;
    bh_got_free(&g);
    return status;
}

static void test_jobs_carry_mem_limit_when_set(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "big", NULL);
    s_submit_opts(core, "C1", "big", 1, 2, 512u << 20, false);
    bh_turn(core);
    assert_int_equal(bh_ack("C1", NULL, NULL, 0, NULL), 1);
    tmq_job_item_t it;
    assert_int_equal(s_take_job("W1", &it), 6);
    assert_true(it.mem_limit == 512u << 20);
    /* a death: the next attempt carries it too */
    bh_done(core, "W1", it.jid, 1, TMQ_ST_DIED, "executor died: SIGSEGV", 10, 0.1);
    bh_turn(core);
    assert_int_equal(s_take_job("W1", &it), 6);
    assert_int_equal(it.attempt, 2);
    assert_true(it.mem_limit == 512u << 20);
    bh_done(core, "W1", it.jid, 2, TMQ_ST_OK, "\x01", 10, 0.1);
    bh_turn(core);
    bh_forget();

    /* no limit, or only retry_oom (which the worker never sees): 5 elements */
    s_submit_opts(core, "C1", "big", 2, -1, 0, false);
    bh_turn(core);
    assert_int_equal(s_take_job("W1", &it), 5);
    assert_true(it.mem_limit == 0);
    bh_done(core, "W1", it.jid, 1, TMQ_ST_OK, "\x01", 10, 0.1);
    s_submit_opts(core, "C1", "big", 3, -1, 0, true);
    bh_turn(core);
    assert_int_equal(s_take_job("W1", &it), 5);
}

static void test_oom_final_by_default(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "big", NULL);
    bh_hello(core, "C1");
    s_submit_opts(core, "C1", "big", 9, 2, 1u << 20, false); /* retries do not apply to OOM */
    bh_turn(core);
    tmq_job_item_t it;
    s_take_job("W1", &it);
    bh_forget();
    bh_done(core, "W1", it.jid, 1, TMQ_ST_OOM, "out of memory (limit 1 MiB)", 321, 12.0);
    bh_turn(core);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0); /* not dispatched again */
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 9);
    assert_int_equal(r.status, TMQ_ST_OOM);
    const char *want = "out of memory (limit 1 MiB)"; /* the worker's text as it is */
    assert_int_equal(r.data_len, strlen(want));
    assert_memory_equal(r.data, want, r.data_len);
    assert_int_equal(r.worker_len, strlen("W1:321"));
    assert_memory_equal(r.worker, "W1:321", r.worker_len);
    assert_int_equal(r.attempts, 1);
    bh_got_free(&g);
    /* counted failed, in the broker's STATUS_REPLY and in the worker's */
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 1);
    assert_int_equal(tmq_core_worker(core, "W1", 2)->failed, 1);
    bh_status(core, "C1", &g);
    assert_int_equal(bh_map_uint(g.msg.body, "failed"), 1);
    assert_int_equal(bh_map_uint(g.msg.body, "done"), 0);
    bh_got_free(&g);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
}

static void test_oom_retried_with_retry_oom(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "big", NULL);
    bh_hello(core, "C1");
    /* retries 1: two out-of-memory ends, the second final; attempt and text of the last */
    s_submit_opts(core, "C1", "big", 4, 1, 1u << 30, true);
    bh_turn(core);
    tmq_job_item_t it;
    char text[128];
    uint32_t attempts;
    for (uint32_t attempt = 1; attempt <= 2; attempt++) {
        assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
        assert_int_equal(s_take_job("W1", &it), 6);
        assert_int_equal(it.attempt, attempt);
        assert_true(it.mem_limit == 1u << 30);
        bh_done(core, "W1", it.jid, attempt, TMQ_ST_OOM, "out of memory (limit 1 GiB)",
                50 + attempt, 1.0);
        bh_turn(core);
    }
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0);
    assert_int_equal(s_take_result("C1", 4, text, sizeof text, &attempts), TMQ_ST_OOM);
    assert_string_equal(text, "out of memory (limit 1 GiB)");
    assert_int_equal(attempts, 2);

    /* deaths and out-of-memory ends share the job's retries; a retried OOM may still end OK */
    s_submit_opts(core, "C1", "big", 5, 2, 0, true);
    bh_turn(core);
    s_take_job("W1", &it);
    bh_done(core, "W1", it.jid, 1, TMQ_ST_DIED, "executor died: SIGSEGV", 60, 1.0);
    bh_turn(core);
    s_take_job("W1", &it);
    bh_done(core, "W1", it.jid, 2, TMQ_ST_OOM, "out of memory (limit 512 MiB)", 61, 1.0);
    bh_turn(core);
    s_take_job("W1", &it);
    assert_int_equal(it.attempt, 3);
    bh_done(core, "W1", it.jid, 3, TMQ_ST_OOM, "out of memory (limit 512 MiB)", 62, 1.0);
    bh_turn(core);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0);
    assert_int_equal(s_take_result("C1", 5, text, sizeof text, &attempts), TMQ_ST_OOM);
    assert_string_equal(text, "out of memory (limit 512 MiB)");
    assert_int_equal(attempts, 3);

    s_submit_opts(core, "C1", "big", 6, -1, 0, true); /* the broker's default, 2 retries */
    bh_turn(core);
    s_take_job("W1", &it);
    bh_done(core, "W1", it.jid, 1, TMQ_ST_OOM, "out of memory (limit 512 MiB)", 63, 1.0);
    bh_turn(core);
    s_take_job("W1", &it);
    bh_done(core, "W1", it.jid, 2, TMQ_ST_OK, "\xa2ok", 64, 1.0);
    bh_turn(core);
    assert_int_equal(s_take_result("C1", 6, text, sizeof text, &attempts), TMQ_ST_OK);
    assert_int_equal(attempts, 2);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 2);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_DONE), 1);
}

/* Peers before 0.3: a worker whose READY does not say job_options gets items it can read (the
 * job's limit is left out, said once in the log), and a client that did not say oom in its
 * HELLO gets an out-of-memory end as an ERROR with the same text (it would drop status 5). */
static void test_old_peers(void **state)
{
    tmq_core_t *core = *state;
    s_ready_ex(core, "OLD", "10.0.0.8:1000", "0.2.0", 5, 0, 0); /* no job_options */
    bh_turn(core);
    s_submit_old(core, "C0", "work", 1, 64u << 20); /* C0: neither HELLO nor SUBMIT says oom */
    bh_turn(core);
    tmq_job_item_t it;
    assert_int_equal(s_take_job("OLD", &it), 5);
    assert_true(it.mem_limit == 0);
    bh_forget();
    bh_done(core, "OLD", it.jid, 1, TMQ_ST_OOM, "out of memory (limit 64 MiB)", 7, 1.0);
    bh_turn(core);
    char text[128];
    uint32_t attempts;
    assert_int_equal(s_take_result("C0", 1, text, sizeof text, &attempts), TMQ_ST_ERROR);
    assert_string_equal(text, "out of memory (limit 64 MiB)");
    /* a current client gets it as OOM: said in its SUBMIT (a broker that restarted meets it
     * first by one) */
    s_submit_opts(core, "C1", "work", 2, -1, 0, false);
    bh_turn(core);
    assert_int_equal(s_take_job("OLD", &it), 5);
    bh_forget();
    bh_done(core, "OLD", it.jid, 1, TMQ_ST_OOM, "out of memory (limit 64 MiB)", 7, 1.0);
    bh_turn(core);
    assert_int_equal(s_take_result("C1", 2, text, sizeof text, &attempts), TMQ_ST_OOM);
}

/* DRAIN: the worker keeps what it holds (its results still count) and gets nothing more; its
 * functions' jobs go to others, or wait for a worker without being called unknown; a READY
 * makes it serve again. */
static void test_drain_stops_dispatch_and_keeps_held(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "echo", NULL);
    bh_submit(core, "C1", "echo", 1, 1);
    uint64_t jid;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, NULL, 1), 1);
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_DRAIN);
    assert_true(tmq_core_worker(core, "W1", 2)->draining);

    /* the only worker drains: a new job for its function is accepted and waits */
    bh_submit(core, "C1", "echo", 2, 1);
    assert_int_equal(bh_ack("C1", NULL, NULL, 0, NULL), 1);
    assert_int_equal(bh_turn_jobs(core, "W1", NULL, NULL, 0), 0);
    for (int i = 0; i < 8; i++) { /* past the unserved grace (3 s): nobody serves, so it waits */
        bh_now += 500;
        bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_HEARTBEAT);
        bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
        bh_turn(core);
    }
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
    assert_int_equal(bh_queued(core), 1);

    /* the held job's result still counts */
    bh_done(core, "W1", jid, 1, TMQ_ST_OK, "\x01", 1, 1.0);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 1);
    bh_got_free(&g);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0); /* its freed process gets nothing */

    /* status says so */
    bh_status(core, "C9", &g);
    const msgpack_object *ws = tmq_msg_get(&g.msg, "workers");
    assert_non_null(ws);
    const msgpack_object *d = bh_map_get(&ws->via.array.ptr[0], "draining");
    assert_non_null(d);
    assert_true(d->type == MSGPACK_OBJECT_BOOLEAN && d->via.boolean);
    bh_got_free(&g);

    /* another worker takes the waiting job */
    bh_ready(core, "W2", 1, "echo", NULL);
    assert_int_equal(bh_turn_jobs(core, "W2", NULL, NULL, 0), 1);

    /* DRAIN twice, and from a peer the broker does not know: no answer either way */
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_DRAIN);
    bh_signal(core, TMQ_SIDE_BACKEND, "W9", TMQ_CMD_DRAIN);
    bh_turn(core);
    assert_int_equal(bh_count("W9", TMQ_CMD_RECONNECT), 0);
    assert_int_equal(bh_count("W1", TMQ_CMD_ERROR), 0);

    /* READY again: it serves */
    bh_ready(core, "W1", 1, "echo", NULL);
    assert_false(tmq_core_worker(core, "W1", 2)->draining);
    bh_submit(core, "C1", "echo", 3, 1);
    assert_int_equal(bh_turn_jobs(core, "W1", NULL, NULL, 0), 1);

    /* on the client port, DRAIN is a worker's command */
    bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_DRAIN);
    bh_turn(core);
    uint64_t code;
    assert_true(bh_error("C1", &code, NULL, 0));
    assert_int_equal(code, TMQ_ERR_WRONG_PORT);
}

/* A job a draining worker hands back unasked (RETURNED) goes to another worker, same attempt. */
static void test_drain_handback_goes_elsewhere(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 2, "echo", NULL);
    bh_submit(core, "C1", "echo", 1, 2);
    uint64_t jids[2];
    uint32_t atts[2];
    assert_int_equal(bh_turn_jobs(core, "W1", jids, atts, 2), 2);
    bh_ready(core, "W2", 1, "echo", NULL);
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_DRAIN);
    bh_returned(core, "W1", &jids[1], &atts[1], 1);
    uint64_t got;
    uint32_t att;
    assert_int_equal(bh_turn_jobs(core, "W2", &got, &att, 1), 1);
    assert_int_equal(got, jids[1]);
    assert_int_equal(att, atts[1]);
    /* BYE with the other still running: it is requeued, and W2 takes it once free */
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_int_equal(bh_queued(core), 1);
}

/* The only worker serving sq drains while W2 (echo) stays: sq counts as served until W1
 * leaves, so its handed-back job and a new one wait; once W1 has left, the grace for a function
 * nobody serves starts and, W2 being connected, they fail unknown after it. */
static void test_drain_keeps_function_served_until_it_leaves(void **state)
{
    tmq_core_t *core = *state;
    bh_ready(core, "W1", 1, "sq", NULL);
    bh_ready(core, "W2", 1, "echo", NULL);
    bh_submit(core, "C1", "sq", 1, 1);
    uint64_t jid;
    uint32_t att;
    assert_int_equal(bh_turn_jobs(core, "W1", &jid, &att, 1), 1);
    bh_forget();
    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_DRAIN);
    bh_returned(core, "W1", &jid, &att, 1);
    bh_submit(core, "C1", "sq", 2, 1); /* during the drain: accepted */
    bh_turn(core);
    int code = -1;
    assert_int_equal(bh_ack("C1", &code, NULL, 0, NULL), 1);
    assert_int_equal(code, 0);
    for (int i = 0; i < 10; i++) { /* 5 s: no grace runs while W1 drains */
        bh_now += 500;
        bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_HEARTBEAT);
        bh_signal(core, TMQ_SIDE_BACKEND, "W2", TMQ_CMD_HEARTBEAT);
        bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
        bh_turn(core);
    }
    assert_int_equal(bh_count("C1", TMQ_CMD_RESULTS), 0);
    assert_int_equal(bh_queued(core), 2);
    assert_int_equal(bh_jobs("W1", NULL, NULL, 0), 0);
    assert_int_equal(bh_jobs("W2", NULL, NULL, 0), 0);

    bh_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE); /* it leaves: the grace starts */
    for (int i = 0; i < 8; i++) {
        bh_now += 500;
        bh_signal(core, TMQ_SIDE_BACKEND, "W2", TMQ_CMD_HEARTBEAT);
        bh_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
        bh_turn(core);
    }
    bh_got_t g;
    assert_true(bh_take("C1", TMQ_CMD_RESULTS, &g));
    size_t n = tmq_msg_count(&g.msg);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        tmq_result_item_t r;
        assert_int_equal(tmq_msg_result_item(&g.msg, i, &r), 0);
        assert_int_equal(r.status, TMQ_ST_REJECTED);
        assert_memory_equal(r.data, "unknown function: sq", r.data_len);
    }
    bh_got_free(&g);
    assert_int_equal(bh_queued(core), 0);
    bh_submit(core, "C1", "sq", 3, 1); /* now nobody serves it */
    bh_turn(core);
    assert_int_equal(bh_ack("C1", &code, NULL, 0, NULL), 0);
    assert_int_equal(code, TMQ_REJ_UNKNOWN_FUNCTION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_done_result_reaches_client_same_turn, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_stale_results_discarded, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_died_retried_then_failed, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_error_and_timeout_are_final, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_worker_bye_and_ready_again_requeue, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_client_commands_on_worker_port_get_wrong_port,
                                        bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_ready_adopts_version_counts_and_addr, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_carry_mem_limit_when_set, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_oom_final_by_default, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_old_peers, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_oom_retried_with_retry_oom, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_drain_stops_dispatch_and_keeps_held, bh_setup,
                                        bh_teardown),
        cmocka_unit_test_setup_teardown(test_drain_handback_goes_elsewhere, bh_setup, bh_teardown),
        cmocka_unit_test_setup_teardown(test_drain_keeps_function_served_until_it_leaves, bh_setup,
                                        bh_teardown),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
