/* tests/unit/test_broker_session.c — sessions at a journaled broker core (PROTOCOL.md 5.7),
 * message by message, with a real journal in a temporary directory: WELCOME says journal and
 * resumed; ACK echoes seq and waits for the journal; a resubmitted cid is held, not run twice;
 * results are held until RACK and resent to the connection that claims the session; a session
 * whose connection expired keeps its jobs for its linger, then they are cancelled; BYE cancels;
 * a core built again from the journal (a restart) has the jobs queued and the results held.
 */
#include "broker_harness.h"
#include "journal.h"

#include <czmq.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

typedef struct {
    char dir[64];
    tmq_journal_t *j;
    tmq_core_config_t cfg;
    tmq_core_t *core;
} fx_t;

static const uint8_t S1[TMQ_PROTO_SESSION_LEN] = {1, 2,  3,  4,  5,  6,  7,  8,
                                                  9, 10, 11, 12, 13, 14, 15, 16};

static void s_open(fx_t *f)
{
    char err[512];
    f->j = tmq_journal_open(f->dir, NULL, err, sizeof err);
    assert_non_null(f->j);
    f->cfg = bh_default_config;
    f->cfg.journal = f->j;
    f->core = tmq_core_new(&f->cfg, bh_now);
    assert_true(tmq_session_replay(f->core) >= 0);
}

static void s_close(fx_t *f)
{
    tmq_core_destroy(&f->core);
    assert_int_equal(tmq_journal_commit(f->j, bh_now), 0);
    tmq_journal_close(&f->j);
}

static int s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tmq-session-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    bh_now = 1000000;
    bh_send_rc = 0;
    bh_forget();
    s_open(f);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *f = *state;
    if (f->core) s_close(f);
    bh_forget();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* HELLO with S1 from rid; returns the WELCOME's resumed (asserting journal). */
static uint64_t s_hello(tmq_core_t *core, const char *rid, uint32_t linger_ms)
{
    size_t len;
    void *body = tmq_proto_hello_body(S1, linger_ms, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, rid, TMQ_CMD_HELLO, body, len);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take(rid, TMQ_CMD_WELCOME, &g));
    tmq_welcome_t w;
    tmq_msg_welcome(&g.msg, &w);
    bh_got_free(&g);
    assert_true(w.journal);
    assert_true(w.has_resumed);
    return w.resumed;
}

static void s_submit(tmq_core_t *core, const char *rid, uint64_t seq, uint64_t cid0, size_t n)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        tmq_submit_item_t it = {.cid = cid0 + i,
                                .fn = "f",
                                .fn_len = 1,
                                .arg = bh_arg,
                                .arg_len = sizeof bh_arg,
                                .retries = -1};
        tmq_batch_add_submit(&b, &it);
    }
    size_t len;
    void *body = tmq_proto_submit_body(&b, seq, S1, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, TMQ_SIDE_FRONTEND, rid, TMQ_CMD_SUBMIT, body, len);
}

/* Takes the ACK for rid: its seq and accepted count. */
static uint64_t s_ack(const char *rid, uint64_t *seq)
{
    bh_got_t g;
    assert_true(bh_take(rid, TMQ_CMD_ACK, &g));
    uint64_t acc = 0;
    assert_int_equal(tmq_msg_get_uint(&g.msg, "accepted", &acc), 0);
    *seq = 0;
    (void)tmq_msg_get_uint(&g.msg, "seq", seq);
    bh_got_free(&g);
    return acc;
}

/* Takes every RESULTS to rid; the number of items. */
static size_t s_results(const char *rid)
{
    size_t n = 0;
    bh_got_t g;
    while (bh_take(rid, TMQ_CMD_RESULTS, &g)) {
        n += tmq_msg_count(&g.msg);
        bh_got_free(&g);
    }
    return n;
}

static void s_rack(tmq_core_t *core, const char *rid, uint64_t n)
{
    size_t len;
    void *body = tmq_proto_rack_body(n, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, rid, TMQ_CMD_RACK, body, len);
}

static uint64_t s_live(const fx_t *f)
{
    tmq_journal_stats_t st;
    tmq_journal_stats(f->j, &st);
    return st.live_jobs;
}

/* Runs every job worker w was given to the end. */
static void s_run_all(tmq_core_t *core, const char *w)
{
    uint64_t jids[64];
    uint32_t att[64];
    size_t n = bh_turn_jobs(core, w, jids, att, 64);
    for (size_t i = 0; i < n; i++)
        bh_done(core, w, jids[i], att[i], TMQ_ST_OK, "\x05", 4000, 1.0);
    bh_turn(core);
}

static void test_submit_dedup_and_rack(void **state)
{
    fx_t *f = *state;
    assert_int_equal(s_hello(f->core, "c1", 60000), 0);
    s_submit(f->core, "c1", 1, 10, 3);
    bh_turn(f->core);
    uint64_t seq;
    assert_int_equal(s_ack("c1", &seq), 3);
    assert_int_equal(seq, 1);
    assert_int_equal(s_live(f), 3);
    s_submit(f->core, "c1", 1, 10, 3); /* the same SUBMIT again */
    bh_turn(f->core);
    assert_int_equal(s_ack("c1", &seq), 3);
    assert_int_equal(bh_queued(f->core), 3); /* nothing new */
    bh_ready(f->core, "w1", 8, "f", NULL);
    s_run_all(f->core, "w1");
    assert_int_equal(s_results("c1"), 3);
    assert_int_equal(s_live(f), 3); /* held until acknowledged */
    s_rack(f->core, "c1", 2);
    bh_turn(f->core);
    assert_int_equal(s_live(f), 1);
    s_submit(f->core, "c1", 2, 12, 1); /* the unacknowledged one's cid: still held */
    bh_turn(f->core);
    assert_int_equal(s_ack("c1", &seq), 1);
    assert_int_equal(bh_queued(f->core) + bh_leased(f->core), 0);
    s_rack(f->core, "c1", 99); /* more than sent: counted bad, taken as all */
    bh_turn(f->core);
    assert_int_equal(s_live(f), 0);
}

static void test_takeover_resends(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    s_submit(f->core, "c1", 1, 0, 4);
    bh_ready(f->core, "w1", 8, "f", NULL);
    bh_turn(f->core);
    uint64_t seq;
    assert_int_equal(s_ack("c1", &seq), 4);
    uint64_t jids[8];
    uint32_t att[8];
    assert_int_equal(bh_jobs("w1", jids, att, 8), 4);
    bh_done(f->core, "w1", jids[0], att[0], TMQ_ST_OK, "\x05", 4000, 1.0);
    bh_turn(f->core);
    assert_int_equal(s_results("c1"), 1);
    /* the client comes back on a new connection: the unacknowledged result comes again */
    assert_int_equal(s_hello(f->core, "c2", 60000), 4);
    assert_int_equal(s_results("c2"), 1);
    bh_done(f->core, "w1", jids[1], att[1], TMQ_ST_OK, "\x05", 4000, 1.0);
    bh_turn(f->core);
    assert_int_equal(s_results("c2"), 1);
    assert_int_equal(s_results("c1"), 0); /* the old connection gets nothing more */
    s_rack(f->core, "c2", 2);
    bh_turn(f->core);
    assert_int_equal(s_live(f), 2);
}

/* A RACK counted from an earlier WELCOME (a HELLO again crossed it) acknowledges nothing. */
static void test_rack_epoch(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000); /* epoch 1 */
    s_submit(f->core, "c1", 1, 0, 2);
    bh_ready(f->core, "w1", 8, "f", NULL);
    s_run_all(f->core, "w1");
    assert_int_equal(s_results("c1"), 2);
    assert_int_equal(s_hello(f->core, "c1", 60000), 2); /* epoch 2: both sent again */
    assert_int_equal(s_results("c1"), 2);
    size_t len;
    void *body = tmq_proto_rack_body_ex(2, 1, &len);
    bh_feed(f->core, TMQ_SIDE_FRONTEND, "c1", TMQ_CMD_RACK, body, len);
    bh_turn(f->core);
    assert_int_equal(s_live(f), 2); /* the old epoch's count: ignored */
    body = tmq_proto_rack_body_ex(2, 2, &len);
    bh_feed(f->core, TMQ_SIDE_FRONTEND, "c1", TMQ_CMD_RACK, body, len);
    bh_turn(f->core);
    assert_int_equal(s_live(f), 0);
}

static void test_linger_then_cancel(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 3000);
    s_submit(f->core, "c1", 1, 0, 5);
    bh_turn(f->core);
    uint64_t seq;
    assert_int_equal(s_ack("c1", &seq), 5);
    /* silent past its liveness (5 heartbeats, the client does not answer): detached, kept */
    bh_now += 6000;
    bh_turn(f->core);
    assert_int_equal(bh_queued(f->core), 5);
    assert_int_equal(tmq_bclients_size(f->core->clients), 0);
    bh_now += 2000; /* 2 s of its 3 s linger */
    bh_turn(f->core);
    assert_int_equal(bh_queued(f->core), 5);
    bh_now += 1500;
    bh_turn(f->core);
    assert_int_equal(bh_queued(f->core), 0);
    assert_int_equal(s_live(f), 0);
}

static void test_bye_cancels(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    s_submit(f->core, "c1", 1, 0, 5);
    bh_turn(f->core);
    bh_signal(f->core, TMQ_SIDE_FRONTEND, "c1", TMQ_CMD_BYE);
    bh_turn(f->core);
    assert_int_equal(bh_queued(f->core), 0);
    assert_int_equal(s_live(f), 0);
}

static void test_restart_replays(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    s_submit(f->core, "c1", 1, 0, 6);
    bh_ready(f->core, "w1", 8, "f", NULL);
    bh_turn(f->core);
    uint64_t jids[8];
    uint32_t att[8];
    assert_int_equal(bh_jobs("w1", jids, att, 8), 6);
    bh_done(f->core, "w1", jids[0], att[0], TMQ_ST_OK, "\x05", 4000, 1.0);
    bh_done(f->core, "w1", jids[1], att[1], TMQ_ST_ERROR, "boom", 4000, 1.0);
    bh_turn(f->core);
    assert_int_equal(s_results("c1"), 2);
    s_rack(f->core, "c1", 1); /* the first one is the client's */
    bh_turn(f->core);
    s_close(f);
    bh_forget();
    s_open(f); /* the broker again, from its journal */
    assert_int_equal(f->core->replayed_jobs, 4);
    assert_int_equal(f->core->replayed_results, 1);
    assert_int_equal(bh_queued(f->core), 4);
    assert_int_equal(s_hello(f->core, "c9", 60000), 5);
    assert_int_equal(s_results("c9"), 1); /* the failed one, not yet acknowledged */
    bh_ready(f->core, "w2", 8, "f", NULL);
    uint64_t again[8];
    uint32_t att2[8];
    assert_int_equal(bh_turn_jobs(f->core, "w2", again, att2, 8), 4);
    for (int i = 0; i < 4; i++) {
        assert_true(again[i] == jids[2 + i]);      /* the same jobs, in their order */
        assert_int_equal(att2[i], att[2 + i] + 1); /* the attempt after the one journaled */
    }
    /* a late DONE of the old attempt is stale */
    bh_done(f->core, "w2", jids[2], att[2], TMQ_ST_OK, "\x05", 4000, 1.0);
    bh_turn(f->core);
    assert_int_equal(s_results("c9"), 0);
    /* new jobs get new ids */
    s_submit(f->core, "c9", 1, 100, 1);
    bh_turn(f->core);
    uint64_t jn;
    assert_int_equal(bh_turn_jobs(f->core, "w2", &jn, NULL, 1), 1);
    assert_true(jn > jids[5]);
}

/* The arguments and memory limits of replayed jobs reach the worker as they were submitted: an
 * argument kept inside the job record, one on the heap, and each with a memory limit beside. */
static void test_restart_keeps_args_and_mem_limit(void **state)
{
    fx_t *f = *state;
    uint8_t small[9] = {0xcf, 1, 2, 3, 4, 5, 6, 7, 8}; /* uint64: a typical inline argument */
    uint8_t big[2 + 200] = {0xd9, 200};                /* str 8 of 200 bytes: on the heap */
    memset(big + 2, 'x', 200);
    const struct {
        const uint8_t *arg;
        size_t len;
        uint64_t mem;
    } jobs[] = {{small, sizeof small, 0},
                {big, sizeof big, 0},
                {small, sizeof small, (uint64_t)64 << 20},
                {big, sizeof big, (uint64_t)5 << 32}};
    const size_t n = sizeof jobs / sizeof jobs[0];
    s_hello(f->core, "c1", 60000);
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        tmq_submit_item_t it = {.cid = i,
                                .fn = "f",
                                .fn_len = 1,
                                .arg = jobs[i].arg,
                                .arg_len = jobs[i].len,
                                .retries = -1,
                                .mem_limit = jobs[i].mem};
        tmq_batch_add_submit(&b, &it);
    }
    size_t len;
    void *body = tmq_proto_submit_body(&b, 1, S1, &len);
    tmq_batch_destroy(&b);
    bh_feed(f->core, TMQ_SIDE_FRONTEND, "c1", TMQ_CMD_SUBMIT, body, len);
    bh_turn(f->core);
    uint64_t seq;
    assert_int_equal(s_ack("c1", &seq), n);
    s_close(f);
    bh_forget();
    s_open(f);
    assert_int_equal(f->core->replayed_jobs, n);
    bh_ready(f->core, "w1", 8, "f", NULL);
    bh_turn(f->core);
    size_t seen = 0;
    bh_got_t g;
    while (bh_take("w1", TMQ_CMD_JOBS, &g)) {
        for (size_t i = 0; i < tmq_msg_count(&g.msg); i++, seen++) {
            tmq_job_item_t it;
            assert_int_equal(tmq_msg_job_item(&g.msg, i, &it), 0);
            assert_true(seen < n); /* in accept order */
            assert_int_equal(it.arg_len, jobs[seen].len);
            assert_memory_equal(it.arg, jobs[seen].arg, jobs[seen].len);
            assert_true(it.mem_limit == jobs[seen].mem);
        }
        bh_got_free(&g);
    }
    assert_int_equal(seen, n);
}

static void test_no_session_is_as_before(void **state)
{
    fx_t *f = *state;
    bh_hello(f->core, "plain"); /* no session: a connection, as without a journal */
    bh_submit(f->core, "plain", "f", 0, 3);
    bh_turn(f->core);
    assert_int_equal(bh_ack("plain", NULL, NULL, 0, NULL), 3);
    assert_int_equal(s_live(f), 0); /* nothing journaled */
    bh_now += 6000;
    bh_turn(f->core);
    assert_int_equal(bh_queued(f->core), 0); /* expired: cancelled */
}

/* ---- named batches (5.8) ---- */

/* SUBMIT of n jobs of fn to batch name from rid (a session when session is set), cids cid0... */
static void s_bsubmit(tmq_core_t *core, const char *rid, bool session, const char *name,
                      const char *fn, uint64_t cid0, size_t n, uint32_t ttl_ms, bool end)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        tmq_submit_item_t it = {.cid = cid0 + i,
                                .fn = fn,
                                .fn_len = strlen(fn),
                                .arg = bh_arg,
                                .arg_len = sizeof bh_arg,
                                .retries = -1};
        tmq_batch_add_submit(&b, &it);
    }
    tmq_submit_info_t si = {.seq = session ? 1 : 0,
                            .session = session ? S1 : NULL,
                            .batch = name,
                            .batch_len = strlen(name),
                            .batch_ttl_ms = ttl_ms,
                            .batch_end = end};
    size_t len;
    void *body = tmq_proto_submit_body_ex(&b, &si, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, TMQ_SIDE_FRONTEND, rid, TMQ_CMD_SUBMIT, body, len);
}

/* ATTACH name from rid, a turn, and the first BATCH it got. */
static tmq_batch_info_t s_attach(tmq_core_t *core, const char *rid, const char *name, bool resume,
                                 size_t *nok)
{
    size_t len;
    void *body = tmq_proto_attach_body(name, strlen(name), resume, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, rid, TMQ_CMD_ATTACH, body, len);
    bh_turn(core);
    bh_got_t g;
    assert_true(bh_take(rid, TMQ_CMD_BATCH, &g));
    tmq_batch_info_t bi;
    assert_int_equal(tmq_msg_batch_info(&g.msg, &bi), 0);
    bi.name = NULL; /* points into g */
    const msgpack_object *ok = tmq_msg_get(&g.msg, "ok");
    if (nok) *nok = ok ? ok->via.array.size : 0;
    bh_got_free(&g);
    return bi;
}

/* The last BATCH sent to rid says complete. */
static bool s_completed(const char *rid)
{
    bool complete = false;
    bh_got_t g;
    while (bh_take(rid, TMQ_CMD_BATCH, &g)) {
        tmq_batch_info_t bi;
        assert_int_equal(tmq_msg_batch_info(&g.msg, &bi), 0);
        complete = bi.complete;
        bh_got_free(&g);
    }
    return complete;
}

static void test_batch_keeper_attach_expiry(void **state)
{
    fx_t *f = *state;
    bh_hello(f->core, "sub");
    s_bsubmit(f->core, "sub", false, "b1", "f", 0, 3, 5000, false);
    bh_turn(f->core);
    assert_int_equal(bh_ack("sub", NULL, NULL, 0, NULL), 3);
    bh_now += 6000; /* the submitter went silent: expired, its batch jobs kept */
    bh_turn(f->core);
    assert_int_equal(bh_queued(f->core), 3);
    size_t nok;
    tmq_batch_info_t bi = s_attach(f->core, "att", "b1", false, &nok);
    assert_true(bi.known);
    assert_false(bi.complete);
    assert_int_equal(bi.total, 3);
    assert_int_equal(bi.running, 3);
    bh_ready(f->core, "w1", 8, "f", NULL);
    s_run_all(f->core, "w1");
    assert_int_equal(s_results("att"), 3);
    assert_true(s_completed("att"));
    bi = s_attach(f->core, "att2", "b1", false, NULL); /* a second reader: all of it, at once */
    assert_int_equal(bi.done, 3);
    assert_int_equal(s_results("att2"), 3);
    assert_true(s_completed("att2"));
    bh_now += 4000; /* within its ttl */
    bh_turn(f->core);
    assert_true(s_attach(f->core, "att3", "b1", true, &nok).known);
    assert_int_equal(nok, 3);
    bh_now += 2000; /* past it */
    bh_turn(f->core);
    assert_false(s_attach(f->core, "att3", "b1", false, NULL).known);
}

static void test_batch_bye_cancels(void **state)
{
    fx_t *f = *state;
    s_bsubmit(f->core, "sub", false, "b2", "f", 0, 4, 0, false);
    bh_turn(f->core);
    bh_signal(f->core, TMQ_SIDE_FRONTEND, "sub", TMQ_CMD_BYE); /* Ctrl-C: the user stops it */
    bh_turn(f->core);
    assert_int_equal(bh_queued(f->core), 0);
    tmq_batch_info_t bi = s_attach(f->core, "att", "b2", false, NULL);
    assert_int_equal(bi.total, 0);
    assert_true(s_completed("att"));
}

static void test_batch_resume_replaces_failed(void **state)
{
    fx_t *f = *state;
    bh_ready(f->core, "w1", 8, "f", NULL);
    s_bsubmit(f->core, "sub", false, "b3", "f", 0, 2, 0, true);
    uint64_t jids[4];
    uint32_t att[4];
    assert_int_equal(bh_turn_jobs(f->core, "w1", jids, att, 4), 2);
    bh_done(f->core, "w1", jids[0], att[0], TMQ_ST_OK, "\x05", 4000, 1.0);
    bh_done(f->core, "w1", jids[1], att[1], TMQ_ST_ERROR, "boom", 4000, 1.0);
    bh_turn(f->core);
    size_t nok;
    tmq_batch_info_t bi = s_attach(f->core, "r", "b3", true, &nok);
    assert_true(bi.complete && bi.closed);
    assert_int_equal(nok, 1); /* input 0 is done; 1 failed: a resume submits it again */
    s_bsubmit(f->core, "sub", false, "b3", "f", 1, 1, 0, true);
    assert_int_equal(bh_turn_jobs(f->core, "w1", jids, att, 4), 1);
    bh_done(f->core, "w1", jids[0], att[0], TMQ_ST_OK, "\x05", 4000, 1.0);
    bh_turn(f->core);
    bi = s_attach(f->core, "a", "b3", false, NULL);
    assert_int_equal(bi.total, 2);
    assert_int_equal(bi.done, 2);
    assert_int_equal(bi.failed, 0);
    assert_int_equal(s_results("a"), 2); /* the failed result was replaced */
    assert_true(s_completed("a"));
}

static void test_batch_journal_keeps_results(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    s_bsubmit(f->core, "c1", true, "jb", "f", 0, 2, 1000, true);
    bh_ready(f->core, "w1", 8, "f", NULL);
    s_run_all(f->core, "w1");
    assert_int_equal(s_results("c1"), 2);
    s_rack(f->core, "c1", 2); /* the submitter has them; the batch keeps them */
    bh_turn(f->core);
    assert_int_equal(s_live(f), 3); /* 2 jobs and the batch's end */
    s_close(f);
    bh_forget();
    s_open(f); /* restart */
    tmq_batch_info_t bi = s_attach(f->core, "a", "jb", false, NULL);
    assert_int_equal(bi.done, 2);
    assert_true(bi.closed);
    assert_int_equal(s_results("a"), 2);
    assert_true(s_completed("a"));
    bh_now += 1500; /* past its ttl: the batch lets go (its end record goes) */
    bh_turn(f->core);
    /* the session holds its results again after the restart (its RACK was not journaled):
       until it claims and acknowledges them, or its linger (60 s) runs out */
    assert_int_equal(s_live(f), 2);
    bh_now += 60000;
    bh_turn(f->core);
    assert_int_equal(s_live(f), 0);
}

/* The review's cases: a withdrawn job's CANCELLED survives a restart until acknowledged; a
 * detached session's resubmission is not acknowledged before its ACCEPT is written; a batch
 * does not forget a session's results the session has not acknowledged; a second session on a
 * connection is refused; a batch refuses cid 2^64-1. */
static void test_withdrawn_survives_restart(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    s_submit(f->core, "c1", 1, 0, 2);
    bh_turn(f->core);
    tmq_batch_t w;
    tmq_batch_init(&w);
    tmq_batch_add_cid(&w, 1);
    size_t len;
    void *body = tmq_batch_finish(&w, TMQ_CMD_WITHDRAW, 0, &len);
    tmq_batch_destroy(&w);
    bh_feed(f->core, TMQ_SIDE_FRONTEND, "c1", TMQ_CMD_WITHDRAW, body, len);
    bh_turn(f->core);
    assert_int_equal(s_live(f), 2); /* the CANCELLED outcome holds its record */
    s_close(f);
    bh_forget();
    s_open(f);
    assert_int_equal(s_hello(f->core, "c2", 60000), 2); /* job 0 queued, job 1's CANCELLED */
    bh_got_t g;
    assert_true(bh_take("c2", TMQ_CMD_RESULTS, &g));
    tmq_result_item_t it;
    assert_int_equal(tmq_msg_result_item(&g.msg, 0, &it), 0);
    assert_int_equal(it.cid, 1);
    assert_int_equal(it.status, TMQ_ST_CANCELLED);
    bh_got_free(&g);
}

static ssize_t s_enospc(int fd, const void *buf, size_t n, off_t off)
{
    (void)fd, (void)buf, (void)n, (void)off;
    errno = ENOSPC;
    return -1;
}

static void test_resubmission_waits_for_the_record(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    s_submit(f->core, "c1", 1, 0, 1);
    bh_turn(f->core); /* written */
    uint64_t seq;
    assert_int_equal(s_ack("c1", &seq), 1);
    s_close(f); /* again, with a disk that is full */
    bh_forget();
    char err[512];
    static const tmq_journal_io_t full = {.pwrite = s_enospc};
    tmq_journal_opts_t o;
    tmq_journal_opts_init(&o);
    o.io = &full;
    f->j = tmq_journal_open(f->dir, &o, err, sizeof err);
    assert_non_null(f->j);
    f->cfg = bh_default_config;
    f->cfg.journal = f->j;
    f->core = tmq_core_new(&f->cfg, bh_now);
    assert_true(tmq_session_replay(f->core) >= 0);
    s_hello(f->core, "c2", 60000);
    s_submit(f->core, "c2", 1, 5, 1); /* new: its ACCEPT cannot be written, its ACK waits */
    bh_turn(f->core);
    assert_int_equal(bh_count("c2", TMQ_CMD_ACK), 0);
    bh_now += 6000; /* c2 goes silent: detached */
    bh_turn(f->core);
    s_hello(f->core, "c3", 60000);
    s_submit(f->core, "c3", 1, 5, 1); /* the resubmission: the same record to wait for */
    bh_turn(f->core);
    assert_int_equal(bh_count("c3", TMQ_CMD_ACK), 0);
    tmq_core_destroy(&f->core);
    tmq_journal_close(&f->j);
}

static void test_batch_waits_for_the_session(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    s_bsubmit(f->core, "c1", true, "short", "f", 0, 2, 1, true); /* ttl 1 ms */
    bh_ready(f->core, "w1", 8, "f", NULL);
    s_run_all(f->core, "w1");
    assert_int_equal(s_results("c1"), 2);
    bh_now += 1000;
    bh_turn(f->core); /* the batch is forgotten; the session has not acknowledged them */
    assert_int_equal(s_live(f), 2);
    s_rack(f->core, "c1", 2);
    bh_turn(f->core);
    assert_int_equal(s_live(f), 0);
}

static void test_second_session_and_reserved_cid(void **state)
{
    fx_t *f = *state;
    s_hello(f->core, "c1", 60000);
    uint8_t other[TMQ_PROTO_SESSION_LEN];
    memset(other, 7, sizeof other);
    size_t len;
    void *body = tmq_proto_hello_body(other, 1000, &len);
    bh_feed(f->core, TMQ_SIDE_FRONTEND, "c1", TMQ_CMD_HELLO, body, len);
    bh_turn(f->core);
    uint64_t code = 0;
    assert_true(bh_error("c1", &code, NULL, 0));
    assert_int_equal(code, TMQ_ERR_MALFORMED);
    s_bsubmit(f->core, "c1", true, "b", "f", UINT64_MAX, 1, 0, false);
    bh_turn(f->core);
    int rcode = 0;
    assert_int_equal(bh_ack("c1", &rcode, NULL, 0, NULL), 0);
    assert_int_equal(rcode, TMQ_REJ_BAD_JOB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_dedup_and_rack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_takeover_resends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rack_epoch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_linger_then_cancel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bye_cancels, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_replays, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_args_and_mem_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_session_is_as_before, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_keeper_attach_expiry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_bye_cancels, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_resume_replaces_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_journal_keeps_results, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_withdrawn_survives_restart, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_resubmission_waits_for_the_record, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_waits_for_the_session, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_second_session_and_reserved_cid, s_setup, s_teardown),
    };
    tmq_log_init("test", TMQ_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
