/* tests/unit/test_broker.c — the broker core driven message by message, without a network.
 *
 * Each test builds real wire bodies with the codec, feeds them to tmq_core_frontend /
 * tmq_core_backend with an explicit clock, runs a turn (tick + flush into a capturing send
 * callback) and decodes what the core sent to each peer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"
#include "pacing.h"

/* ---- capture of what the core sends ---- */

#define MAX_SENT 256

typedef struct {
    int side;
    char rid[16];
    int cmd;
    void *body;
    size_t len;
} sent_t;

static sent_t s_sent[MAX_SENT];
static size_t s_nsent;
static int s_send_rc; /* what the fake socket answers: 0 sent, 1 would block, -1 unreachable */

static int s_fake_send(void *ctx, tmq_outbox_t *ob)
{
    (void)ctx;
    if (s_send_rc != 0) return s_send_rc;
    int cmd;
    size_t len;
    void *body;
    while ((body = tmq_outbox_take(ob, &cmd, &len)) != NULL) {
        assert_true(s_nsent < MAX_SENT);
        sent_t *s = &s_sent[s_nsent++];
        s->side = ob->side;
        snprintf(s->rid, sizeof s->rid, "%.*s", (int)ob->rid_len, (const char *)ob->rid);
        s->cmd = cmd;
        s->body = body;
        s->len = len;
    }
    return 0;
}

static void s_forget_sent(void)
{
    for (size_t i = 0; i < s_nsent; i++)
        free(s_sent[i].body);
    s_nsent = 0;
}

/* A decoded message taken from the capture. */
typedef struct {
    void *body;
    tmq_msg_t msg;
} got_t;

/* Removes the first message sent to rid with cmd into g; false when there is none. */
static bool s_got(const char *rid, int cmd, got_t *g)
{
    for (size_t i = 0; i < s_nsent; i++) {
        if (strcmp(s_sent[i].rid, rid) != 0 || s_sent[i].cmd != cmd) continue;
        uint8_t hdr[TMQ_PROTO_HDR_LEN];
        tmq_proto_header(hdr, (tmq_cmd_t)cmd);
        assert_int_equal(
            tmq_proto_decode(&g->msg, hdr, sizeof hdr, s_sent[i].body, s_sent[i].len, NULL), 0);
        g->body = s_sent[i].body;
        memmove(&s_sent[i], &s_sent[i + 1], (s_nsent - i - 1) * sizeof *s_sent);
        s_nsent--;
        return true;
    }
    return false;
}

static void s_got_free(got_t *g)
{
    tmq_msg_release(&g->msg);
    free(g->body);
    g->body = NULL;
}

static size_t s_count(const char *rid, int cmd)
{
    size_t n = 0;
    for (size_t i = 0; i < s_nsent; i++)
        if (strcmp(s_sent[i].rid, rid) == 0 && s_sent[i].cmd == cmd) n++;
    return n;
}

/* ---- feeding the core ---- */

static int64_t s_now;

static void s_feed(tmq_core_t *core, int side, const char *rid, int cmd, void *body, size_t len)
{
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, (tmq_cmd_t)cmd);
    tmq_msg_t m;
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, NULL), 0);
    if (side == TMQ_SIDE_FRONTEND)
        tmq_core_frontend(core, s_now, rid, strlen(rid), &m);
    else
        tmq_core_backend(core, s_now, rid, strlen(rid), &m);
    tmq_msg_release(&m);
    free(body);
}

static void s_turn(tmq_core_t *core)
{
    tmq_core_tick(core, s_now);
    tmq_core_flush(core, s_now, s_fake_send, NULL);
}

static const uint8_t ARG[] = {0x05}; /* msgpack 5 */

static void s_submit_ex(tmq_core_t *core, const char *client, const char *fn, uint64_t cid0,
                        size_t n, const void *arg, size_t arg_len, int32_t retries)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        tmq_submit_item_t it = {.cid = cid0 + i,
                                .fn = fn,
                                .fn_len = strlen(fn),
                                .arg = arg,
                                .arg_len = arg_len,
                                .timeout_ms = 0,
                                .retries = retries};
        tmq_batch_add_submit(&b, &it);
    }
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    tmq_batch_destroy(&b);
    s_feed(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_SUBMIT, body, len);
}

static void s_submit(tmq_core_t *core, const char *client, const char *fn, uint64_t cid0, size_t n)
{
    s_submit_ex(core, client, fn, cid0, n, ARG, sizeof ARG, -1);
}

static void s_ready(tmq_core_t *core, const char *rid, uint32_t procs, const char *fn1,
                    const char *fn2)
{
    const char *fns[2] = {fn1, fn2};
    size_t len;
    tmq_ready_t r = {.name = rid, .name_len = strlen(rid), .procs = procs, .pid = 4000};
    void *body = tmq_proto_ready_body(&r, fns, fn2 ? 2 : 1, &len);
    s_feed(core, TMQ_SIDE_BACKEND, rid, TMQ_CMD_READY, body, len);
}

static void s_signal(tmq_core_t *core, int side, const char *rid, int cmd)
{
    size_t len;
    void *body = tmq_proto_empty_body(&len);
    s_feed(core, side, rid, cmd, body, len);
}

static void s_done(tmq_core_t *core, const char *worker, uint64_t jid, uint32_t attempt, int status,
                   const char *data, uint32_t pid, double ms)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_done_item_t d = {.jid = jid,
                         .attempt = attempt,
                         .status = status,
                         .data = data,
                         .data_len = strlen(data),
                         .pid = pid,
                         .ms = ms};
    tmq_batch_add_done(&b, &d);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_DONE, 0, &len);
    tmq_batch_destroy(&b);
    s_feed(core, TMQ_SIDE_BACKEND, worker, TMQ_CMD_DONE, body, len);
}

/* Collects the jobs of every JOBS message sent to worker (jids[i], attempts[i]); returns n. */
static size_t s_jobs(const char *worker, uint64_t *jids, uint32_t *attempts, size_t max)
{
    size_t n = 0;
    got_t g;
    while (s_got(worker, TMQ_CMD_JOBS, &g)) {
        for (size_t i = 0; i < tmq_msg_count(&g.msg); i++) {
            tmq_job_item_t it;
            assert_int_equal(tmq_msg_job_item(&g.msg, i, &it), 0);
            if (n < max) {
                jids[n] = it.jid;
                if (attempts) attempts[n] = it.attempt;
            }
            n++;
        }
        s_got_free(&g);
    }
    return n;
}

/* The ACK for client: accepted count, and the first rejection's code and reason. */
static uint64_t s_ack(const char *client, int *code, char *reason, size_t reason_size,
                      uint64_t *cid)
{
    got_t g;
    assert_true(s_got(client, TMQ_CMD_ACK, &g));
    uint64_t accepted = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "accepted", &accepted), 0);
    if (code) *code = 0;
    if (tmq_msg_count(&g.msg) > 0 && code) {
        tmq_reject_item_t r;
        assert_int_equal(tmq_msg_reject_item(&g.msg, 0, &r), 0);
        *code = r.code;
        snprintf(reason, reason_size, "%.*s", (int)r.reason_len, r.reason);
        if (cid) *cid = r.cid;
    }
    s_got_free(&g);
    return accepted;
}

static tmq_core_t *s_core(size_t max_queue, uint32_t max_payload)
{
    tmq_core_config_t cfg = {
        .heartbeat_ms = 1000, .max_queue = max_queue, .max_payload = max_payload, .retries = 2};
    s_now = 1000000;
    s_send_rc = 0;
    s_forget_sent();
    return tmq_core_new(&cfg, s_now);
}

static int s_teardown(void **state)
{
    (void)state;
    s_forget_sent();
    return 0;
}

static size_t s_queued(tmq_core_t *core)
{
    return tmq_jobtab_count(core->jobs, TMQ_JOB_QUEUED);
}

static size_t s_leased(tmq_core_t *core)
{
    return tmq_jobtab_count(core->jobs, TMQ_JOB_LEASED);
}

/* Makes fn timed with run time ms, through one real job on a throwaway worker. */
static void s_teach(tmq_core_t *core, const char *fn, double ms)
{
    s_ready(core, "T", 1, fn, NULL);
    s_submit(core, "TC", fn, 900000, 1);
    s_turn(core);
    uint64_t jid;
    assert_int_equal(s_jobs("T", &jid, NULL, 1), 1);
    s_done(core, "T", jid, 1, TMQ_ST_OK, "\x01", 1, ms);
    s_signal(core, TMQ_SIDE_BACKEND, "T", TMQ_CMD_BYE);
    s_signal(core, TMQ_SIDE_FRONTEND, "TC", TMQ_CMD_BYE);
    s_turn(core);
    s_forget_sent();
}

/* ---- tests ---- */

static void test_submit_is_queued_without_workers(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HELLO);
    s_submit(core, "C1", "echo", 0, 3);
    s_turn(core);
    got_t g;
    assert_true(s_got("C1", TMQ_CMD_WELCOME, &g));
    uint64_t hb = 0, mp = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "heartbeat", &hb), 0);
    assert_int_equal(tmq_msg_get_uint(&g.msg, "max_payload", &mp), 0);
    assert_int_equal(hb, 1000);
    assert_int_equal(mp, 1024);
    s_got_free(&g);
    int code;
    char reason[128];
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, NULL), 3);
    assert_int_equal(code, 0);
    assert_int_equal(s_queued(core), 3);
    tmq_fn_t *fn = tmq_fnreg_find(core->fns, "echo", 4);
    assert_non_null(fn);
    assert_int_equal(fn->queue.size, 3);
    assert_int_equal(s_nsent, 0);
    tmq_core_destroy(&core);
    assert_null(core);
}

static void test_ready_dispatch_respects_credit(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_submit(core, "C1", "work", 10, 5);
    s_ready(core, "W1", 2, "work", NULL);
    s_turn(core);
    got_t g;
    assert_true(s_got("W1", TMQ_CMD_WELCOME, &g));
    s_got_free(&g);
    uint64_t jids[8];
    uint32_t att[8];
    /* never timed: no prefetch, one job per process */
    assert_int_equal(s_jobs("W1", jids, att, 8), 2);
    assert_int_equal(jids[0], 1);
    assert_int_equal(jids[1], 2);
    assert_int_equal(att[0], 1);
    assert_int_equal(s_queued(core), 3);
    assert_int_equal(s_leased(core), 2);
    /* a slow result frees one process: one job for it, and now that "work" is known to be
     * long, one job of lookahead for the daemon (handed to whichever process frees first) */
    s_done(core, "W1", 1, 1, TMQ_ST_OK, "\x01", 77, 500.0);
    s_turn(core);
    assert_int_equal(s_jobs("W1", jids, att, 8), 2);
    assert_int_equal(jids[0], 3);
    assert_int_equal(jids[1], 4);
    assert_int_equal(s_leased(core), 3);
    assert_int_equal(s_queued(core), 1);
    /* and never more than that while both processes stay busy */
    s_turn(core);
    assert_int_equal(s_jobs("W1", jids, att, 8), 0);
    tmq_core_destroy(&core);
}

static void test_done_result_reaches_client_same_turn(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "echo", NULL);
    s_submit(core, "C1", "echo", 42, 1);
    s_turn(core);
    uint64_t jid;
    assert_int_equal(s_jobs("W1", &jid, NULL, 1), 1);
    s_forget_sent();
    s_done(core, "W1", jid, 1, TMQ_ST_OK, "\xa2hi", 777, 1.5);
    s_turn(core);
    got_t g;
    assert_true(s_got("C1", TMQ_CMD_RESULTS, &g));
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
    s_got_free(&g);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_DONE), 1);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
    assert_int_equal(tmq_core_worker(core, "W1", 2)->done, 1);
    tmq_core_destroy(&core);
}

static void test_stale_results_discarded(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "echo", NULL);
    s_ready(core, "W2", 1, "echo", NULL);
    s_submit(core, "C1", "echo", 7, 1);
    s_turn(core);
    uint64_t jid;
    const char *holder = s_jobs("W1", &jid, NULL, 1) == 1 ? "W1" : "W2";
    const char *other = strcmp(holder, "W1") == 0 ? "W2" : "W1";
    if (strcmp(holder, "W2") == 0) assert_int_equal(s_jobs("W2", &jid, NULL, 1), 1);
    s_forget_sent();
    s_done(core, holder, jid, 2, TMQ_ST_OK, "\x01", 1, 1.0); /* wrong attempt */
    s_done(core, holder, 999, 1, TMQ_ST_OK, "\x01", 1, 1.0); /* unknown job */
    s_done(core, other, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0);  /* not the holder */
    s_turn(core);
    assert_int_equal(s_count("C1", TMQ_CMD_RESULTS), 0);
    assert_int_equal(core->stats.stale, 3);
    s_done(core, holder, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0);
    s_done(core, holder, jid, 1, TMQ_ST_OK, "\x01", 1, 1.0); /* duplicate */
    s_turn(core);
    got_t g;
    assert_true(s_got("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1); /* exactly one result per job */
    s_got_free(&g);
    assert_int_equal(core->stats.stale, 4);
    tmq_core_destroy(&core);
}

static void test_died_retried_then_failed(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "crash", NULL);
    s_submit(core, "C1", "crash", 5, 1); /* retries -1: broker default 2 */
    s_turn(core);
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        uint64_t jid;
        uint32_t att;
        assert_int_equal(s_jobs("W1", &jid, &att, 1), 1);
        assert_int_equal(att, attempt); /* same job, next attempt */
        assert_int_equal(s_count("C1", TMQ_CMD_RESULTS), 0);
        s_done(core, "W1", jid, att, TMQ_ST_DIED, "executor died: SIGSEGV", 100 + attempt, 0.1);
        s_turn(core);
    }
    got_t g;
    assert_true(s_got("C1", TMQ_CMD_RESULTS, &g));
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 5);
    assert_int_equal(r.status, TMQ_ST_DIED);
    const char *want = "executor died: SIGSEGV (3 attempts, last on W1:103)";
    assert_int_equal(r.data_len, strlen(want));
    assert_memory_equal(r.data, want, r.data_len);
    assert_int_equal(r.attempts, 3);
    s_got_free(&g);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 1);
    assert_int_equal(s_jobs("W1", NULL, NULL, 0), 0); /* not dispatched a 4th time */

    /* retries 0 in the SUBMIT: the first death is final */
    s_submit_ex(core, "C1", "crash", 6, 1, ARG, sizeof ARG, 0);
    s_turn(core);
    uint64_t jid;
    assert_int_equal(s_jobs("W1", &jid, NULL, 1), 1);
    s_done(core, "W1", jid, 1, TMQ_ST_DIED, "executor died: SIGKILL", 200, 0.1);
    s_turn(core);
    assert_true(s_got("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.cid, 6);
    want = "executor died: SIGKILL (1 attempt, last on W1:200)";
    assert_memory_equal(r.data, want, strlen(want));
    s_got_free(&g);
    tmq_core_destroy(&core);
}

static void test_error_and_timeout_are_final(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 2, "f", NULL);
    s_submit(core, "C1", "f", 1, 2);
    s_turn(core);
    uint64_t jids[2];
    assert_int_equal(s_jobs("W1", jids, NULL, 2), 2);
    s_done(core, "W1", jids[0], 1, TMQ_ST_ERROR, "f: bad input", 9, 1.0);
    s_done(core, "W1", jids[1], 1, TMQ_ST_TIMEOUT, "timeout after 500 ms", 9, 500.0);
    s_turn(core);
    got_t g;
    assert_true(s_got("C1", TMQ_CMD_RESULTS, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 2); /* both in one batch */
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &r), 0);
    assert_int_equal(r.status, TMQ_ST_ERROR);
    assert_memory_equal(r.data, "f: bad input", r.data_len);
    assert_int_equal(tmq_msg_result_item(&g.msg, 1, &r), 0);
    assert_int_equal(r.status, TMQ_ST_TIMEOUT);
    s_got_free(&g);
    assert_int_equal(s_jobs("W1", NULL, NULL, 0), 0);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 2);
    tmq_core_destroy(&core);
}

static void test_unknown_function(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    int code;
    char reason[128];
    uint64_t cid;
    s_submit(core, "C1", "nosuch", 1, 1); /* nobody connected: it waits */
    s_turn(core);
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, NULL), 1);
    assert_int_equal(s_queued(core), 1);
    s_ready(core, "W1", 1, "echo", NULL);
    s_submit(core, "C1", "nosuch", 2, 1);
    s_submit(core, "C1", "echo", 3, 1);
    s_turn(core);
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, &cid), 0);
    assert_int_equal(code, TMQ_REJ_UNKNOWN_FUNCTION);
    assert_string_equal(reason, "unknown function: nosuch");
    assert_int_equal(cid, 2);
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, NULL), 1);
    assert_int_equal(code, 0);
    tmq_core_destroy(&core);
}

static void test_worker_expiry_requeues_at_front(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 2, "work", NULL);
    s_submit(core, "C1", "work", 0, 4);
    s_turn(core);
    uint64_t jids[4];
    uint32_t att[4];
    assert_int_equal(s_jobs("W1", jids, att, 4), 2);
    s_forget_sent();
    /* W1 falls silent; the client keeps heartbeating */
    for (int i = 0; i < 4; i++) {
        s_now += 900;
        s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
        s_turn(core);
    }
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_int_equal(s_queued(core), 4);
    assert_int_equal(s_leased(core), 0);
    tmq_fn_t *fn = tmq_fnreg_find(core->fns, "work", 4);
    tmq_bjob_t *head = TMQ_LIST_ENTRY(fn->queue.head, tmq_bjob_t, link);
    assert_int_equal(head->jid, 1);
    s_ready(core, "W2", 3, "work", NULL);
    s_turn(core);
    assert_int_equal(s_jobs("W2", jids, att, 4), 3);
    assert_int_equal(jids[0], 1); /* the expired worker's jobs first, in order */
    assert_int_equal(jids[1], 2);
    assert_int_equal(jids[2], 3);
    assert_int_equal(att[0], 2); /* a new attempt: a late DONE from W1 would be stale */
    assert_int_equal(att[2], 1);
    assert_int_equal(s_count("C1", TMQ_CMD_RESULTS), 0); /* not reported as a failure */
    tmq_core_destroy(&core);
}

static void test_worker_bye_and_ready_again_requeue(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "work", NULL);
    s_submit(core, "C1", "work", 0, 2);
    s_turn(core);
    uint64_t jid;
    uint32_t att;
    assert_int_equal(s_jobs("W1", &jid, &att, 1), 1);
    s_ready(core, "W1", 1, "work", NULL); /* it reconnected: whatever it held is lost */
    s_turn(core);
    assert_int_equal(s_jobs("W1", &jid, &att, 1), 1);
    assert_int_equal(jid, 1);
    assert_int_equal(att, 2);
    s_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    s_turn(core);
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_int_equal(s_queued(core), 2);
    tmq_core_destroy(&core);
}

static void test_client_bye_drops_and_cancels(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "work", NULL);
    s_submit(core, "C1", "work", 0, 3);
    s_submit(core, "C2", "work", 100, 1);
    s_turn(core);
    uint64_t jid;
    uint32_t att;
    assert_int_equal(s_jobs("W1", &jid, &att, 1), 1);
    assert_int_equal(s_queued(core), 3);
    s_forget_sent();
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_BYE);
    s_turn(core);
    assert_null(tmq_core_client(core, "C1", 2));
    got_t g;
    assert_true(s_got("W1", TMQ_CMD_CANCEL, &g));
    assert_int_equal(tmq_msg_count(&g.msg), 1);
    uint64_t cjid;
    uint32_t catt;
    assert_int_equal(tmq_msg_ref_item(&g.msg, 0, &cjid, &catt), 0);
    assert_int_equal(cjid, jid);
    assert_int_equal(catt, att);
    s_got_free(&g);
    /* C1's queued jobs are gone; its process is free for C2's job */
    uint64_t next;
    assert_int_equal(s_jobs("W1", &next, NULL, 1), 1);
    tmq_bjob_t *j = tmq_jobtab_find(core->jobs, next);
    assert_non_null(j);
    assert_int_equal(j->cid, 100);
    assert_int_equal(s_queued(core), 0);
    assert_int_equal(tmq_jobtab_size(core->jobs), 1);
    /* a late result for the cancelled job is stale and goes nowhere */
    s_done(core, "W1", jid, att, TMQ_ST_OK, "\x01", 1, 1.0);
    s_turn(core);
    assert_int_equal(core->stats.stale, 1);
    assert_int_equal(s_nsent, 0);
    tmq_core_destroy(&core);
}

static void test_max_queue_rejects_queue_full(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(2, 1024);
    s_submit(core, "C1", "echo", 10, 3);
    s_turn(core);
    int code;
    char reason[128];
    uint64_t cid;
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, &cid), 2);
    assert_int_equal(code, TMQ_REJ_QUEUE_FULL);
    assert_string_equal(reason, "queue full");
    assert_int_equal(cid, 12);
    assert_int_equal(s_queued(core), 2);
    tmq_core_destroy(&core);
}

static void test_payload_limits_and_bad_items(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 8);
    uint8_t big[21] = {0xb4}; /* fixstr of 20 bytes: valid msgpack, over the 8-byte limit */
    memset(big + 1, 'x', 20);
    int code;
    char reason[128];
    s_submit_ex(core, "C1", "echo", 1, 1, big, sizeof big, -1);
    s_turn(core);
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, NULL), 0);
    assert_int_equal(code, TMQ_REJ_TOO_LARGE);
    assert_string_equal(reason, "payload too large");
    const uint8_t junk[] = {0xc1}; /* never valid msgpack */
    s_submit_ex(core, "C1", "echo", 2, 1, junk, sizeof junk, -1);
    s_turn(core);
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, NULL), 0);
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
    msgpack_pack_bin_with_body(&pk, ARG, 1);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_int32(&pk, -1);
    size_t len;
    void *body = tmq_proto_sbuffer_take(&sb, &len);
    s_feed(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_SUBMIT, body, len);
    s_turn(core);
    uint64_t cid;
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, &cid), 1);
    assert_int_equal(code, TMQ_REJ_BAD_JOB);
    assert_int_equal(cid, 77);
    assert_int_equal(s_queued(core), 1);
    assert_true(core->stats.malformed >= 2);
    tmq_core_destroy(&core);
}

static void test_long_jobs_not_prefetched_short_ones_are(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(10000, 1024);
    s_teach(core, "slow", 200.0);
    s_teach(core, "fast", 0.01);
    assert_int_equal(tmq_fn_prefetch(tmq_fnreg_find(core->fns, "slow", 4)), 0);
    assert_int_equal(tmq_fn_prefetch(tmq_fnreg_find(core->fns, "fast", 4)), TMQ_PACE_MAX_BATCH);

    s_ready(core, "W1", 2, "slow", "fast");
    s_submit(core, "C1", "slow", 0, 50);
    s_turn(core);
    uint64_t jids[200];
    assert_int_equal(s_jobs("W1", jids, NULL, 200), 3); /* procs + one lookahead */
    tmq_bworker_t *w = tmq_core_worker(core, "W1", 2);
    assert_int_equal(w->nlong, 3);
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_BYE); /* cancels them */
    s_turn(core);
    s_forget_sent();
    assert_int_equal(w->held.size, 0);

    s_submit(core, "C2", "fast", 0, 200);
    s_turn(core);
    size_t n = s_jobs("W1", jids, NULL, 200);
    assert_int_equal(n, 2 * (1 + TMQ_PACE_MAX_BATCH)); /* each process holds 1 + prefetch */
    /* a long job is never queued behind them */
    s_submit(core, "C2", "slow", 1000, 1);
    s_turn(core);
    assert_int_equal(s_jobs("W1", jids, NULL, 200), 0);
    assert_int_equal(tmq_fnreg_find(core->fns, "slow", 4)->queue.size, 1);
    tmq_core_destroy(&core);
}

/* A long job's lookahead never strands it: a worker that idles takes it back by REVOKE. */
static void test_lookahead_revoked_for_an_idle_worker(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(10000, 1024);
    s_teach(core, "slow", 200.0);
    s_ready(core, "W1", 1, "slow", NULL);
    s_submit(core, "C1", "slow", 0, 2);
    s_turn(core);
    uint64_t j1[4];
    uint32_t a1[4];
    assert_int_equal(s_jobs("W1", j1, a1, 4), 2); /* one running, one waiting in W1 */
    s_ready(core, "W2", 1, "slow", NULL);
    s_turn(core);
    s_forget_sent();
    s_now += TMQ_REVOKE_AFTER_MS + 1;
    s_turn(core);
    got_t g;
    assert_true(s_got("W1", TMQ_CMD_REVOKE, &g));
    s_got_free(&g);
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_batch_add_ref(&b, j1[1], a1[1]);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_RETURNED, 0, &len);
    tmq_batch_destroy(&b);
    s_feed(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_RETURNED, body, len);
    s_turn(core);
    uint64_t j2[4];
    assert_int_equal(s_jobs("W2", j2, NULL, 4), 1);
    assert_int_equal(j2[0], j1[1]); /* the waiting job moved to the idle worker */
    tmq_core_destroy(&core);
}

static void test_revoke_when_a_worker_idles(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(10000, 1024);
    s_teach(core, "fast", 0.01);
    s_ready(core, "W1", 1, "fast", NULL);
    s_ready(core, "W2", 1, "fast", NULL);
    s_submit(core, "C1", "fast", 0, 130);
    s_turn(core);
    uint64_t j1[200], j2[200];
    uint32_t a2[200];
    size_t n1 = s_jobs("W1", j1, NULL, 200), n2 = s_jobs("W2", j2, a2, 200);
    assert_int_equal(n1 + n2, 130);
    assert_int_equal(n1, 65); /* shared evenly */
    /* W1 finishes everything; W2 is stuck on its first job */
    for (size_t i = 0; i < n1; i++)
        s_done(core, "W1", j1[i], 1, TMQ_ST_OK, "\x01", 1, 0.01);
    s_turn(core);
    assert_int_equal(s_count("W2", TMQ_CMD_REVOKE), 0); /* not idle long enough yet */
    s_now += TMQ_REVOKE_AFTER_MS + 1;
    s_turn(core);
    got_t g;
    assert_true(s_got("W2", TMQ_CMD_REVOKE, &g));
    uint64_t n = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "n", &n), 0);
    assert_int_equal(n, n2 - 1); /* everything beyond its one process */
    s_got_free(&g);
    s_now += 1;
    s_turn(core);
    assert_int_equal(s_count("W2", TMQ_CMD_REVOKE), 0); /* not repeated while unanswered */
    /* W2 hands back its last 10 jobs */
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = n2 - 10; i < n2; i++)
        tmq_batch_add_ref(&b, j2[i], a2[i]);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_RETURNED, 0, &len);
    tmq_batch_destroy(&b);
    s_feed(core, TMQ_SIDE_BACKEND, "W2", TMQ_CMD_RETURNED, body, len);
    s_turn(core);
    uint64_t got[200];
    uint32_t gatt[200];
    size_t ng = s_jobs("W1", got, gatt, 200);
    assert_true(ng >= 1);
    assert_int_equal(got[0], j2[n2 - 10]);  /* in order, from the front of the queue */
    assert_int_equal(gatt[0], a2[n2 - 10]); /* never started: same attempt */
    tmq_core_destroy(&core);
}

static void test_bad_peers_and_commands(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    tmq_batch_t b;
    tmq_batch_init(&b);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_JOBS, 0, &len);
    s_feed(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_JOBS, body, len); /* JOBS on the frontend */
    body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    s_feed(core, TMQ_SIDE_BACKEND, "W9", TMQ_CMD_SUBMIT, body, len); /* SUBMIT on the backend */
    body = tmq_batch_finish(&b, TMQ_CMD_DONE, 0, &len);
    s_feed(core, TMQ_SIDE_BACKEND, "W8", TMQ_CMD_DONE, body, len); /* unregistered worker */
    tmq_batch_destroy(&b);
    s_signal(core, TMQ_SIDE_BACKEND, "W7", TMQ_CMD_HEARTBEAT);
    s_signal(core, TMQ_SIDE_BACKEND, "W6", TMQ_CMD_BYE); /* unknown and leaving: silence */
    body = tmq_proto_empty_body(&len);
    s_feed(core, TMQ_SIDE_BACKEND, "W5", TMQ_CMD_READY, body, len); /* READY without fields */
    tmq_core_malformed(core, s_now, TMQ_SIDE_FRONTEND, "C3", 2, TMQ_ERR_VERSION, "version");
    s_turn(core);
    got_t g;
    uint64_t code = 0;
    assert_true(s_got("C1", TMQ_CMD_ERROR, &g));
    assert_int_equal(tmq_msg_get_uint(&g.msg, "code", &code), 0);
    assert_int_equal(code, TMQ_ERR_COMMAND);
    s_got_free(&g);
    assert_true(s_got("W9", TMQ_CMD_ERROR, &g));
    s_got_free(&g);
    assert_true(s_got("W8", TMQ_CMD_RECONNECT, &g));
    s_got_free(&g);
    assert_true(s_got("W7", TMQ_CMD_RECONNECT, &g));
    s_got_free(&g);
    assert_true(s_got("W5", TMQ_CMD_ERROR, &g));
    assert_int_equal(tmq_msg_get_uint(&g.msg, "code", &code), 0);
    assert_int_equal(code, TMQ_ERR_MALFORMED);
    s_got_free(&g);
    assert_true(s_got("C3", TMQ_CMD_ERROR, &g));
    assert_int_equal(tmq_msg_get_uint(&g.msg, "code", &code), 0);
    assert_int_equal(code, TMQ_ERR_VERSION);
    s_got_free(&g);
    assert_int_equal(s_nsent, 0);
    assert_int_equal(tmq_bworkers_size(core->workers), 0); /* nobody registered by mistake */
    assert_int_equal(tmq_bclients_size(core->clients), 0);
    assert_int_equal(core->stats.malformed, 4);
    assert_int_equal(core->ntransient, 0);
    tmq_core_destroy(&core);
}

static void test_status_reply(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 2, "work", NULL);
    s_submit(core, "C1", "work", 0, 3);
    s_turn(core);
    s_forget_sent();
    s_signal(core, TMQ_SIDE_FRONTEND, "C2", TMQ_CMD_STATUS);
    s_turn(core);
    got_t g;
    assert_true(s_got("C2", TMQ_CMD_STATUS_REPLY, &g));
    uint64_t v;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "queued", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(tmq_msg_get_uint(&g.msg, "running", &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(tmq_msg_get_uint(&g.msg, "clients", &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(tmq_msg_get_uint(&g.msg, "max_queue", &v), 0);
    assert_int_equal(v, 100);
    const msgpack_object *ws = tmq_msg_get(&g.msg, "workers");
    assert_non_null(ws);
    assert_int_equal(ws->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(ws->via.array.size, 1);
    assert_non_null(tmq_msg_get(&g.msg, "rate"));
    assert_non_null(tmq_msg_get(&g.msg, "uptime_ms"));
    s_got_free(&g);
    tmq_core_destroy(&core);
}

static void test_heartbeats_and_client_expiry(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "work", NULL);
    s_submit(core, "C1", "work", 0, 2);
    s_turn(core);
    s_forget_sent();
    s_now += 1100; /* nothing sent for a heartbeat: both get one */
    s_turn(core);
    assert_int_equal(s_count("C1", TMQ_CMD_HEARTBEAT), 1);
    assert_int_equal(s_count("W1", TMQ_CMD_HEARTBEAT), 1);
    s_forget_sent();
    /* the worker keeps talking, the client does not: after 5 heartbeats it is dropped */
    for (int i = 0; i < 5; i++) {
        s_now += 1000;
        s_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_HEARTBEAT);
        s_turn(core);
    }
    assert_null(tmq_core_client(core, "C1", 2));
    assert_int_equal(s_count("W1", TMQ_CMD_CANCEL), 1);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
    tmq_core_destroy(&core);
}

static void test_flush_would_block_and_unreachable(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "work", NULL);
    s_submit(core, "C1", "work", 0, 2);
    s_send_rc = 1; /* every peer would block */
    s_turn(core);
    assert_int_equal(s_nsent, 0);
    assert_true(tmq_core_pending(core));
    assert_false(tmq_core_ready(core)); /* only output waits: the loop may back off */
    s_send_rc = 0;
    s_turn(core); /* kept, sent now */
    uint64_t jid;
    assert_int_equal(s_jobs("W1", &jid, NULL, 1), 1);
    assert_int_equal(s_count("C1", TMQ_CMD_ACK), 1);
    assert_false(tmq_core_pending(core));
    /* the worker became unreachable: dropped, its job requeued */
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_STATUS);
    s_done(core, "W1", jid, 1, TMQ_ST_OK, "\x01", 1, 300.0);
    s_send_rc = -1;
    s_turn(core);
    assert_null(tmq_core_worker(core, "W1", 2));
    assert_null(tmq_core_client(core, "C1", 2));
    assert_int_equal(tmq_jobtab_size(core->jobs), 0); /* the client's other job went too */
    tmq_core_destroy(&core);
}

/* ---- bounded output to a client that does not read ---- */

static void test_outbox_counts_pending_bytes(void **state)
{
    (void)state;
    tmq_outbox_t ob;
    tmq_outbox_init(&ob, TMQ_SIDE_FRONTEND, "C1", 2, TMQ_CMD_RESULTS, 0);
    assert_int_equal(tmq_outbox_bytes(&ob), 0);
    tmq_outbox_signal(&ob, TMQ_CMD_HEARTBEAT); /* a 1-byte body */
    assert_int_equal(tmq_outbox_bytes(&ob), 1);
    static uint8_t data[100 << 10];
    tmq_result_item_t it = {.cid = 1, .data = data, .data_len = sizeof data};
    for (int i = 0; i < 25; i++) /* 2.5 MiB: three segments */
        tmq_batch_add_result(tmq_outbox_batch(&ob, 0), &it);
    size_t pending = tmq_outbox_bytes(&ob);
    assert_true(pending > 1 + 25 * sizeof data);
    assert_true(pending < 1 + 25 * (sizeof data + 64));
    int cmd, nmsg = 0;
    size_t len, taken = 0;
    void *body;
    while ((body = tmq_outbox_take(&ob, &cmd, &len)) != NULL) {
        free(body);
        taken += len;
        nmsg++;
        assert_true(tmq_outbox_bytes(&ob) < pending); /* falls with every message */
        pending = tmq_outbox_bytes(&ob);
    }
    assert_int_equal(nmsg, 4); /* HEARTBEAT and three RESULTS segments */
    assert_true(taken >= 1 + 25 * sizeof data);
    assert_int_equal(tmq_outbox_bytes(&ob), 0);
    tmq_batch_add_result(tmq_outbox_batch(&ob, 0), &it);
    tmq_outbox_signal(&ob, TMQ_CMD_HEARTBEAT);
    assert_true(tmq_outbox_bytes(&ob) > sizeof data);
    tmq_outbox_clear(&ob);
    assert_int_equal(tmq_outbox_bytes(&ob), 0);
    tmq_outbox_fini(&ob);
}

/* A client that heartbeats but never reads: past the bound its new jobs are refused "queue
 * full" and STATUS goes unanswered, while every result it is owed still reaches it. */
static void test_client_owed_too_much_gets_no_more(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 4096);
    assert_int_equal(core->cfg.max_pending, TMQ_OUTBOX_MAX_PENDING); /* the default */
    core->cfg.max_pending = 3000;
    s_ready(core, "W1", 4, "work", NULL);
    s_submit(core, "C1", "work", 0, 8);
    s_turn(core);
    uint64_t jids[8];
    assert_int_equal(s_jobs("W1", jids, NULL, 8), 4);
    s_forget_sent();
    char big[1001];
    memset(big, 'r', 1000);
    big[1000] = '\0';
    s_send_rc = 1; /* C1 stops reading */
    for (int i = 0; i < 4; i++)
        s_done(core, "W1", jids[i], 1, TMQ_ST_OK, big, 1, 500.0);
    s_turn(core);
    assert_true(tmq_outbox_bytes(&tmq_core_client(core, "C1", 2)->out) > 3000);
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HEARTBEAT);
    s_submit(core, "C1", "work", 100, 2);
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_STATUS);
    s_turn(core);
    assert_int_equal(s_queued(core), 0); /* nothing new accepted: the 4 left were dispatched */
    uint64_t more[8];
    s_send_rc = 0;
    s_turn(core);
    assert_int_equal(s_jobs("W1", more, NULL, 8), 4);
    s_done(core, "W1", more[0], 1, TMQ_ST_OK, big, 1, 500.0); /* still owed: still queued */
    s_turn(core);
    int code;
    char reason[128];
    uint64_t cid;
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, &cid), 0);
    assert_int_equal(code, TMQ_REJ_QUEUE_FULL);
    assert_string_equal(reason, "queue full");
    assert_int_equal(cid, 100);
    assert_int_equal(s_count("C1", TMQ_CMD_STATUS_REPLY), 0);
    size_t nres = 0;
    got_t g;
    while (s_got("C1", TMQ_CMD_RESULTS, &g)) {
        nres += tmq_msg_count(&g.msg);
        s_got_free(&g);
    }
    assert_int_equal(nres, 5); /* nothing dropped */
    /* caught up: served again */
    s_submit(core, "C1", "work", 200, 1);
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_STATUS);
    s_turn(core);
    assert_int_equal(s_ack("C1", &code, reason, sizeof reason, NULL), 1);
    assert_int_equal(s_count("C1", TMQ_CMD_STATUS_REPLY), 1);
    tmq_core_destroy(&core);
}

/* ---- queued jobs of a function nobody serves ---- */

/* Advances the clock in quarter heartbeats to `until`, the listed peers staying alive. */
static void s_wait_until(tmq_core_t *core, int64_t until, const char *worker, const char *client)
{
    while (s_now < until) {
        s_now += 250;
        if (worker) s_signal(core, TMQ_SIDE_BACKEND, worker, TMQ_CMD_HEARTBEAT);
        if (client) s_signal(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_HEARTBEAT);
        s_turn(core);
    }
}

/* Takes every result sent to client; checks each is "unknown function: fn", REJECTED, and
 * that no cid comes twice. Returns how many there were. */
static size_t s_unknown_results(const char *client, const char *fn, uint64_t *cids, size_t max)
{
    char want[96];
    snprintf(want, sizeof want, "unknown function: %s", fn);
    size_t n = 0;
    got_t g;
    while (s_got(client, TMQ_CMD_RESULTS, &g)) {
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
        s_got_free(&g);
    }
    return n;
}

static void test_unserved_jobs_fail_after_grace(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    int64_t grace = TMQ_UNSERVED_GRACE * 1000;
    s_ready(core, "W1", 1, "foo", NULL);
    s_ready(core, "W2", 1, "bar", NULL);
    s_submit(core, "C1", "foo", 10, 3);
    s_turn(core);
    assert_int_equal(s_jobs("W1", NULL, NULL, 0), 1);
    /* the last worker serving foo leaves; W2 stays */
    s_signal(core, TMQ_SIDE_BACKEND, "W1", TMQ_CMD_BYE);
    s_turn(core);
    int64_t left = s_now;
    assert_int_equal(s_queued(core), 3);
    s_forget_sent();
    s_wait_until(core, left + grace - 250, "W2", "C1");
    assert_int_equal(s_count("C1", TMQ_CMD_RESULTS), 0); /* still within the grace period */
    s_wait_until(core, left + grace, "W2", "C1");
    uint64_t cids[8];
    assert_int_equal(s_unknown_results("C1", "foo", cids, 8), 3); /* one each */
    assert_int_equal(s_queued(core), 0);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 3);
    assert_int_equal(tmq_jobtab_size(core->jobs), 0);
    s_wait_until(core, s_now + grace, "W2", "C1");
    assert_int_equal(s_count("C1", TMQ_CMD_RESULTS), 0); /* never a second time */

    /* accepted while no worker was connected; the worker that comes serves something else:
     * the grace period starts when it arrives */
    s_signal(core, TMQ_SIDE_BACKEND, "W2", TMQ_CMD_BYE);
    s_submit(core, "C1", "baz", 20, 2);
    s_turn(core);
    assert_int_equal(s_ack("C1", NULL, NULL, 0, NULL), 2);
    s_wait_until(core, s_now + 2 * grace, NULL, "C1"); /* nobody connected: they wait */
    assert_int_equal(s_queued(core), 2);
    s_ready(core, "W3", 1, "bar", NULL);
    int64_t came = s_now;
    s_turn(core);
    s_wait_until(core, came + grace - 250, "W3", "C1");
    assert_int_equal(s_count("C1", TMQ_CMD_RESULTS), 0);
    s_wait_until(core, came + grace, "W3", "C1");
    assert_int_equal(s_unknown_results("C1", "baz", cids, 8), 2);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 5);
    tmq_core_destroy(&core);
}

/* Start order does not matter: a worker serving the function within the grace gets the jobs. */
static void test_unserved_grace_lets_late_workers_in(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_submit(core, "C1", "foo", 0, 2);
    s_ready(core, "W1", 1, "bar", NULL);
    s_turn(core);
    s_wait_until(core, s_now + 2000, "W1", "C1");
    s_ready(core, "W2", 2, "foo", NULL);
    s_turn(core);
    assert_int_equal(s_jobs("W2", NULL, NULL, 0), 2);
    s_wait_until(core, s_now + 5000, "W2", "C1"); /* W1 expires meanwhile */
    assert_int_equal(s_count("C1", TMQ_CMD_RESULTS), 0);
    assert_int_equal(tmq_jobtab_entered(core->jobs, TMQ_JOB_FAILED), 0);
    assert_int_equal(s_leased(core), 2);
    /* a worker registering again without foo counts as foo's last worker leaving */
    s_ready(core, "W2", 2, "other", NULL);
    int64_t dropped = s_now;
    s_turn(core);
    assert_int_equal(s_queued(core), 2);
    s_wait_until(core, dropped + TMQ_UNSERVED_GRACE * 1000, "W2", "C1");
    uint64_t cids[4];
    assert_int_equal(s_unknown_results("C1", "foo", cids, 4), 2);
    tmq_core_destroy(&core);
}

/* ---- revocation scheduling ---- */

static void test_revoke_check_sleeps_without_a_pair(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(10000, 1024);
    s_teach(core, "fast", 0.01);
    s_ready(core, "W1", 1, "fast", NULL);
    s_ready(core, "W2", 1, "other", NULL); /* idle, but can run none of W1's jobs */
    s_submit(core, "C1", "fast", 0, 1 + TMQ_PACE_MAX_BATCH);
    s_turn(core);
    assert_int_equal(s_jobs("W1", NULL, NULL, 0), 1 + TMQ_PACE_MAX_BATCH); /* W1 overfull */
    s_forget_sent();
    for (int i = 0; i < 20; i++) {
        s_now += 1;
        int64_t next = tmq_core_tick(core, s_now);
        tmq_core_flush(core, s_now, s_fake_send, NULL);
        assert_true(next > s_now + TMQ_REVOKE_AFTER_MS); /* sleeps, no 1 ms polling */
        assert_true(core->next_revoke == INT64_MAX);
    }
    assert_int_equal(s_count("W1", TMQ_CMD_REVOKE), 0);
    /* a worker that could run them idles: the check is due when it has idled long enough */
    s_ready(core, "W3", 1, "fast", NULL);
    int64_t came = s_now;
    int64_t next = tmq_core_tick(core, s_now);
    tmq_core_flush(core, s_now, s_fake_send, NULL);
    assert_true(next == came + TMQ_REVOKE_AFTER_MS);
    s_now = next;
    s_turn(core);
    assert_int_equal(s_count("W1", TMQ_CMD_REVOKE), 1);
    /* then not again until the unanswered REVOKE may be repeated */
    next = tmq_core_tick(core, s_now);
    assert_true(next > s_now + TMQ_REVOKE_AFTER_MS);
    tmq_core_destroy(&core);
}

/* ---- ERROR from peers ---- */

static void s_send_error(tmq_core_t *core, int side, const char *rid, const char *reason)
{
    size_t len;
    void *body = tmq_proto_error_body(TMQ_ERR_MALFORMED, reason, &len);
    s_feed(core, side, rid, TMQ_CMD_ERROR, body, len);
}

/* A client of an earlier broker process heartbeats in: it is told, not adopted. */
static void test_heartbeat_from_unknown_client_gets_error(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_signal(core, TMQ_SIDE_FRONTEND, "C9", TMQ_CMD_HEARTBEAT);
    s_turn(core);
    got_t g;
    assert_true(s_got("C9", TMQ_CMD_ERROR, &g));
    uint64_t code = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "code", &code), 0);
    assert_int_equal(code, TMQ_ERR_UNKNOWN_PEER);
    s_got_free(&g);
    assert_null(tmq_core_client(core, "C9", 2));
    tmq_core_destroy(&core);
}

static void test_error_from_peers_is_not_answered(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(100, 1024);
    s_ready(core, "W1", 1, "work", NULL);
    s_signal(core, TMQ_SIDE_FRONTEND, "C1", TMQ_CMD_HELLO);
    s_turn(core);
    s_forget_sent();
    s_now += 500;
    s_send_error(core, TMQ_SIDE_BACKEND, "W1", "bad JOBS\n\x01");
    s_send_error(core, TMQ_SIDE_FRONTEND, "C1", "bad RESULTS");
    s_send_error(core, TMQ_SIDE_BACKEND, "W9", "who are you"); /* unknown: still silence */
    s_send_error(core, TMQ_SIDE_FRONTEND, "C9", "who are you");
    s_turn(core);
    assert_int_equal(s_nsent, 0);
    assert_int_equal(core->stats.malformed, 0);
    assert_int_equal(core->ntransient, 0);
    assert_int_equal(tmq_bworkers_size(core->workers), 1);
    assert_int_equal(tmq_bclients_size(core->clients), 1);
    assert_true(tmq_core_worker(core, "W1", 2)->last_seen == s_now); /* a sign of life */
    tmq_core_destroy(&core);
}

/* ---- STATUS running ---- */

static void test_status_running_counts_busy_processes(void **state)
{
    (void)state;
    tmq_core_t *core = s_core(1000, 1024);
    s_teach(core, "fast", 0.01);
    s_ready(core, "W1", 2, "fast", NULL);
    s_submit(core, "C1", "fast", 0, 50);
    s_turn(core);
    assert_int_equal(s_leased(core), 50); /* prefetched: 2 running, 48 waiting in W1 */
    s_forget_sent();
    s_signal(core, TMQ_SIDE_FRONTEND, "C2", TMQ_CMD_STATUS);
    s_turn(core);
    got_t g;
    assert_true(s_got("C2", TMQ_CMD_STATUS_REPLY, &g));
    uint64_t v;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "running", &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(tmq_msg_get_uint(&g.msg, "queued", &v), 0);
    assert_int_equal(v, 0);
    s_got_free(&g);
    tmq_core_destroy(&core);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_submit_is_queued_without_workers, s_teardown),
        cmocka_unit_test_teardown(test_ready_dispatch_respects_credit, s_teardown),
        cmocka_unit_test_teardown(test_done_result_reaches_client_same_turn, s_teardown),
        cmocka_unit_test_teardown(test_stale_results_discarded, s_teardown),
        cmocka_unit_test_teardown(test_died_retried_then_failed, s_teardown),
        cmocka_unit_test_teardown(test_error_and_timeout_are_final, s_teardown),
        cmocka_unit_test_teardown(test_unknown_function, s_teardown),
        cmocka_unit_test_teardown(test_worker_expiry_requeues_at_front, s_teardown),
        cmocka_unit_test_teardown(test_worker_bye_and_ready_again_requeue, s_teardown),
        cmocka_unit_test_teardown(test_client_bye_drops_and_cancels, s_teardown),
        cmocka_unit_test_teardown(test_max_queue_rejects_queue_full, s_teardown),
        cmocka_unit_test_teardown(test_payload_limits_and_bad_items, s_teardown),
        cmocka_unit_test_teardown(test_long_jobs_not_prefetched_short_ones_are, s_teardown),
        cmocka_unit_test_teardown(test_revoke_when_a_worker_idles, s_teardown),
        cmocka_unit_test_teardown(test_lookahead_revoked_for_an_idle_worker, s_teardown),
        cmocka_unit_test_teardown(test_bad_peers_and_commands, s_teardown),
        cmocka_unit_test_teardown(test_status_reply, s_teardown),
        cmocka_unit_test_teardown(test_heartbeats_and_client_expiry, s_teardown),
        cmocka_unit_test_teardown(test_flush_would_block_and_unreachable, s_teardown),
        cmocka_unit_test_teardown(test_outbox_counts_pending_bytes, s_teardown),
        cmocka_unit_test_teardown(test_client_owed_too_much_gets_no_more, s_teardown),
        cmocka_unit_test_teardown(test_unserved_jobs_fail_after_grace, s_teardown),
        cmocka_unit_test_teardown(test_unserved_grace_lets_late_workers_in, s_teardown),
        cmocka_unit_test_teardown(test_revoke_check_sleeps_without_a_pair, s_teardown),
        cmocka_unit_test_teardown(test_error_from_peers_is_not_answered, s_teardown),
        cmocka_unit_test_teardown(test_heartbeat_from_unknown_client_gets_error, s_teardown),
        cmocka_unit_test_teardown(test_status_running_counts_busy_processes, s_teardown),
    };
    tmq_log_init("test", TMQ_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
