/* tests/unit/test_broker_structs.c — the broker's data structures on their own: the job
 * table (ids, probing under churn and growth, scattered ids, the state machine, arguments inline
 * and on the heap, rare fields, adopt, reuse of records), the outbox (send order, segment split,
 * pending byte count), the prefetch rule and worker credit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fnreg.h"
#include "idmap.h"
#include "jobtab.h"
#include "outbox.h"
#include "pacing.h"
#include "workers.h"

static void test_jobtab_find_under_churn(void **state)
{
    (void)state;
    tmq_jobtab_t *t = tmq_jobtab_new();
    enum { N = 50000 };
    tmq_bjob_t **jobs = calloc(N, sizeof *jobs);
    uint8_t arg = 0x2a;
    for (size_t i = 0; i < N; i++) {
        jobs[i] = tmq_jobtab_create(t, &arg, 1);
        assert_int_equal(jobs[i]->jid, i + 1); /* consecutive ids */
        assert_int_equal(jobs[i]->state, TMQ_JOB_NEW);
    }
    assert_int_equal(tmq_jobtab_size(t), N);
    /* free every third, pseudo-randomly ordered, then check every id */
    uint32_t x = 12345;
    for (size_t k = 0; k < N; k++) {
        x = x * 1103515245u + 12345u;
        size_t i = (x >> 8) % N;
        if (i % 3 == 0 && jobs[i]) tmq_jobtab_free(t, &jobs[i]);
    }
    for (size_t i = 0; i < N; i++) {
        tmq_bjob_t *j = tmq_jobtab_find(t, i + 1);
        if (jobs[i]) {
            assert_ptr_equal(j, jobs[i]);
            assert_int_equal(*(const uint8_t *)tmq_bjob_arg(j), 0x2a);
        } else {
            assert_null(j);
        }
    }
    assert_null(tmq_jobtab_find(t, 0));
    assert_null(tmq_jobtab_find(t, N + 1));
    /* recycled records get fresh ids */
    tmq_bjob_t *again = tmq_jobtab_create(t, &arg, 1);
    assert_int_equal(again->jid, N + 1);
    assert_ptr_equal(tmq_jobtab_find(t, N + 1), again);
    tmq_jobtab_destroy(&t);
    assert_null(t);
    tmq_jobtab_destroy(&t); /* twice is safe */
    free(jobs);
}

/* Scattered ids (as a journal replay may adopt them) collide in the id table, unlike
 * consecutive ones: long probe runs, backward shifts that move entries and growth that files
 * them again, all of it read through the records' own ids. */
static void test_jobtab_scattered_ids(void **state)
{
    (void)state;
    enum { N = 40000 };
    tmq_jobtab_t *t = tmq_jobtab_new();
    static uint64_t ids[N];
    static tmq_bjob_t *jobs[N];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        do { /* xorshift64, kept below 2^62 so that ids continue above them without wrapping */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ids[i] = (x >> 2) | 1;
            jobs[i] = tmq_jobtab_adopt(t, ids[i], &i, sizeof i);
        } while (!jobs[i]); /* a repeat of an earlier id is refused: draw again */
    }
    assert_int_equal(tmq_jobtab_size(t), N);
    for (size_t round = 0; round < 2; round++) {
        /* free every other one, then adopt their ids again: the records come back from the
         * pool in another order than they left */
        for (size_t i = round; i < N; i += 2)
            tmq_jobtab_free(t, &jobs[i]);
        assert_int_equal(tmq_jobtab_size(t), N / 2);
        for (size_t i = 0; i < N; i++) {
            tmq_bjob_t *j = tmq_jobtab_find(t, ids[i]);
            assert_ptr_equal(j, jobs[i]); /* NULL for the freed ones */
            if (j) assert_memory_equal(tmq_bjob_arg(j), &i, sizeof i);
        }
        for (size_t i = round; i < N; i += 2) {
            jobs[i] = tmq_jobtab_adopt(t, ids[i], &i, sizeof i);
            assert_non_null(jobs[i]);
        }
        for (size_t i = 0; i < N; i++) {
            assert_ptr_equal(tmq_jobtab_find(t, ids[i]), jobs[i]);
            assert_int_equal(jobs[i]->jid, ids[i]);
        }
    }
    assert_null(tmq_jobtab_find(t, 2)); /* ids are odd here */
    /* empty it in a scattered order */
    for (size_t i = 0; i < N; i++)
        tmq_jobtab_free(t, &jobs[(i * 7919) % N]);
    assert_int_equal(tmq_jobtab_size(t), 0);
    for (size_t i = 0; i < N; i++)
        assert_null(tmq_jobtab_find(t, ids[i]));
    tmq_jobtab_destroy(&t);
}

static void test_jobtab_transitions_and_attempts(void **state)
{
    (void)state;
    tmq_jobtab_t *t = tmq_jobtab_new();
    tmq_bjob_t *j = tmq_jobtab_create(t, "\x01", 1);
    tmq_jobtab_transition(t, j, TMQ_JOB_QUEUED);
    assert_int_equal(tmq_jobtab_count(t, TMQ_JOB_QUEUED), 1);
    tmq_jobtab_transition(t, j, TMQ_JOB_LEASED);
    assert_int_equal(j->attempt, 1);
    assert_int_equal(tmq_jobtab_count(t, TMQ_JOB_QUEUED), 0);
    assert_int_equal(tmq_jobtab_count(t, TMQ_JOB_LEASED), 1);
    tmq_jobtab_transition(t, j, TMQ_JOB_QUEUED); /* requeue: next lease is a new attempt */
    tmq_jobtab_transition(t, j, TMQ_JOB_LEASED);
    assert_int_equal(j->attempt, 2);
    tmq_jobtab_transition(t, j, TMQ_JOB_QUEUED); /* handed back unstarted: same attempt */
    j->flags |= TMQ_JOB_KEEP_ATTEMPT;
    tmq_jobtab_transition(t, j, TMQ_JOB_LEASED);
    assert_int_equal(j->attempt, 2);
    assert_int_equal(j->flags & TMQ_JOB_KEEP_ATTEMPT, 0);
    tmq_jobtab_transition(t, j, TMQ_JOB_DONE);
    assert_int_equal(tmq_jobtab_entered(t, TMQ_JOB_DONE), 1);
    assert_int_equal(tmq_jobtab_count(t, TMQ_JOB_LEASED), 0);
    tmq_jobtab_free(t, &j);
    assert_null(j);
    assert_int_equal(tmq_jobtab_size(t), 0);
    assert_int_equal(tmq_jobtab_count(t, TMQ_JOB_DONE), 0);
    tmq_jobtab_destroy(&t);
}

/* n bytes of a pattern that differs with n and seed. */
static unsigned char *s_pattern(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + n + seed);
    return p;
}

static bool s_in_record(const tmq_bjob_t *j, const void *p)
{
    const char *c = p, *r = (const char *)j;
    return c >= r && c < r + sizeof *j;
}

/* j holds n bytes of s_pattern(n, seed), inline exactly when n fits and it has no rare field. */
static void s_check_arg(const tmq_bjob_t *j, size_t n, unsigned seed)
{
    unsigned char *want = s_pattern(n, seed);
    assert_int_equal(j->arg_len, n);
    assert_non_null(tmq_bjob_arg(j));
    if (n) assert_memory_equal(tmq_bjob_arg(j), want, n);
    bool rare = tmq_bjob_mem_limit(j) || tmq_bjob_batch(j);
    assert_int_equal(s_in_record(j, tmq_bjob_arg(j)), n <= TMQ_BJOB_INLINE && !rare);
    free(want);
}

static const size_t s_sizes[] = {
    0, 1, TMQ_BJOB_INLINE - 1, TMQ_BJOB_INLINE, TMQ_BJOB_INLINE + 1, 4096, 1u << 20};
#define S_NSIZES (sizeof s_sizes / sizeof s_sizes[0])

static void test_jobtab_args_inline_and_heap(void **state)
{
    (void)state;
    tmq_jobtab_t *t = tmq_jobtab_new();
    tmq_bjob_t *jobs[S_NSIZES];
    for (size_t i = 0; i < S_NSIZES; i++) {
        unsigned char *arg = s_pattern(s_sizes[i], 1);
        jobs[i] = tmq_jobtab_create(t, arg, s_sizes[i]);
        memset(arg, 0, s_sizes[i]); /* the table keeps its own copy */
        free(arg);
        assert_int_equal(tmq_bjob_mem_limit(jobs[i]), 0);
        assert_int_equal(tmq_bjob_batch(jobs[i]), 0);
        s_check_arg(jobs[i], s_sizes[i], 1);
    }
    for (size_t i = 0; i < S_NSIZES; i++) { /* found by id, same bytes */
        tmq_bjob_t *j = tmq_jobtab_find(t, jobs[i]->jid);
        assert_ptr_equal(j, jobs[i]);
        s_check_arg(j, s_sizes[i], 1);
    }
    /* rare fields: 0 keeps an inline argument inline; a value moves it out, bytes intact */
    for (size_t i = 0; i < S_NSIZES; i++) {
        tmq_bjob_set_mem_limit(jobs[i], 0);
        tmq_bjob_set_batch(jobs[i], 0);
        s_check_arg(jobs[i], s_sizes[i], 1);
        if (i % 2) {
            tmq_bjob_set_mem_limit(jobs[i], (uint64_t)5 << 32);
        } else {
            tmq_bjob_set_batch(jobs[i], 7);
        }
        s_check_arg(jobs[i], s_sizes[i], 1);
        assert_int_equal(tmq_bjob_mem_limit(jobs[i]), i % 2 ? (uint64_t)5 << 32 : 0);
        assert_int_equal(tmq_bjob_batch(jobs[i]), i % 2 ? 0 : 7);
        tmq_bjob_set_batch(jobs[i], 9); /* the other one too, then both back to 0 */
        tmq_bjob_set_mem_limit(jobs[i], 1);
        assert_int_equal(tmq_bjob_batch(jobs[i]), 9);
        assert_int_equal(tmq_bjob_mem_limit(jobs[i]), 1);
        s_check_arg(jobs[i], s_sizes[i], 1);
        if (i == 0) {
            tmq_bjob_set_batch(jobs[i], 0);
            tmq_bjob_set_mem_limit(jobs[i], 0);
            assert_int_equal(tmq_bjob_batch(jobs[i]), 0);
            assert_int_equal(tmq_bjob_mem_limit(jobs[i]), 0);
            assert_int_equal(jobs[i]->arg_len, 0);
        }
    }
    /* half freed (the destroy frees the rest: no leak under ASan) */
    for (size_t i = 0; i < S_NSIZES; i += 2) {
        tmq_jobtab_free(t, &jobs[i]);
        assert_null(jobs[i]);
    }
    assert_int_equal(tmq_jobtab_size(t), S_NSIZES / 2);
    tmq_jobtab_destroy(&t);
}

/* The largest payload a broker takes (--max-payload up to 64 MiB), with a memory limit. */
static void test_jobtab_arg_64mib(void **state)
{
    (void)state;
    size_t n = (size_t)64 << 20;
    tmq_jobtab_t *t = tmq_jobtab_new();
    unsigned char *arg = s_pattern(n, 3);
    tmq_bjob_t *j = tmq_jobtab_create(t, arg, n);
    assert_memory_equal(tmq_bjob_arg(j), arg, n);
    tmq_bjob_set_mem_limit(j, 1u << 30);
    assert_int_equal(j->arg_len, n);
    assert_memory_equal(tmq_bjob_arg(j), arg, n);
    assert_int_equal(tmq_bjob_mem_limit(j), 1u << 30);
    free(arg);
    tmq_jobtab_destroy(&t); /* frees the live job's block */
}

static void test_jobtab_adopt(void **state)
{
    (void)state;
    tmq_jobtab_t *t = tmq_jobtab_new();
    unsigned char *small = s_pattern(TMQ_BJOB_INLINE, 4), *big = s_pattern(TMQ_BJOB_INLINE + 1, 4);
    assert_null(tmq_jobtab_adopt(t, 0, small, 1));
    assert_null(tmq_jobtab_adopt(t, TMQ_IDMAP_NONE, small, 1));
    tmq_bjob_t *a = tmq_jobtab_adopt(t, 100, small, TMQ_BJOB_INLINE);
    tmq_bjob_t *b = tmq_jobtab_adopt(t, 50, big, TMQ_BJOB_INLINE + 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->state, TMQ_JOB_NEW);
    assert_null(tmq_jobtab_adopt(t, 100, small, 1)); /* taken */
    s_check_arg(tmq_jobtab_find(t, 100), TMQ_BJOB_INLINE, 4);
    s_check_arg(tmq_jobtab_find(t, 50), TMQ_BJOB_INLINE + 1, 4);
    tmq_bjob_set_mem_limit(a, 4096); /* as a replayed ACCEPT with a memory limit sets it */
    assert_int_equal(tmq_bjob_mem_limit(a), 4096);
    s_check_arg(a, TMQ_BJOB_INLINE, 4);
    tmq_bjob_t *c = tmq_jobtab_create(t, small, 1);
    assert_int_equal(c->jid, 101); /* ids continue above the adopted ones */
    tmq_jobtab_skip_to(t, 500);
    assert_int_equal(tmq_jobtab_take_id(t), 500);
    assert_int_equal(tmq_jobtab_size(t), 3);
    free(small);
    free(big);
    tmq_jobtab_destroy(&t);
}

/* A freed record comes back clean: no argument home, no rare field, no flag of its past. */
static void test_jobtab_free_and_reuse(void **state)
{
    (void)state;
    tmq_jobtab_t *t = tmq_jobtab_new();
    for (unsigned round = 0; round < 4; round++) {
        for (size_t i = 0; i < S_NSIZES; i++) {
            size_t n = s_sizes[i], m = s_sizes[(i + round + 1) % S_NSIZES];
            unsigned char *arg = s_pattern(n, round), *next = s_pattern(m, round + 9);
            tmq_bjob_t *j = tmq_jobtab_create(t, arg, n);
            if (round % 2) tmq_bjob_set_batch(j, round);
            j->flags |= TMQ_JOB_RETRY_OOM;
            tmq_jobtab_transition(t, j, TMQ_JOB_QUEUED);
            tmq_jobtab_transition(t, j, TMQ_JOB_LEASED);
            tmq_jobtab_transition(t, j, TMQ_JOB_DONE);
            tmq_bjob_t *was = j;
            uint64_t jid = j->jid;
            tmq_jobtab_free(t, &j);
            assert_null(tmq_jobtab_find(t, jid));
            tmq_bjob_t *k = tmq_jobtab_create(t, next, m);
            assert_ptr_equal(k, was); /* the pool hands the same record back */
            assert_int_not_equal(k->jid, jid);
            assert_int_equal(k->flags, 0);
            assert_int_equal(k->attempt, 0);
            s_check_arg(k, m, round + 9);
            tmq_jobtab_free(t, &k); /* NEW records may be freed too */
            free(arg);
            free(next);
        }
    }
    assert_int_equal(tmq_jobtab_size(t), 0);
    assert_int_equal(tmq_jobtab_count(t, TMQ_JOB_NEW), 0);
    tmq_jobtab_destroy(&t);
}

static void test_outbox_order_and_split(void **state)
{
    (void)state;
    tmq_outbox_t ob;
    tmq_outbox_init(&ob, TMQ_SIDE_BACKEND, "W1", 2, TMQ_CMD_JOBS, TMQ_CMD_CANCEL);
    assert_false(tmq_outbox_pending(&ob));
    tmq_batch_add_ref(tmq_outbox_batch(&ob, 1), 9, 1);
    static uint8_t big[300 << 10];
    memset(big, 0, sizeof big);
    for (int i = 0; i < 5; i++) { /* 1.5 MB of jobs: must split */
        tmq_job_item_t it = {.jid = (uint64_t)i + 1,
                             .attempt = 1,
                             .fn = "f",
                             .fn_len = 1,
                             .arg = big,
                             .arg_len = sizeof big};
        tmq_batch_add_job(tmq_outbox_batch(&ob, 0), &it);
    }
    tmq_outbox_signal(&ob, TMQ_CMD_WELCOME);
    assert_true(tmq_outbox_pending(&ob));
    int cmd;
    size_t len;
    void *body = tmq_outbox_take(&ob, &cmd, &len); /* control first */
    assert_int_equal(cmd, TMQ_CMD_WELCOME);
    free(body);
    uint64_t next_jid = 1;
    int jobs_msgs = 0;
    while ((body = tmq_outbox_take(&ob, &cmd, &len)) != NULL) {
        uint8_t hdr[TMQ_PROTO_HDR_LEN];
        tmq_proto_header(hdr, (tmq_cmd_t)cmd);
        tmq_msg_t m;
        assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, NULL), 0);
        if (cmd == TMQ_CMD_JOBS) {
            assert_int_equal(next_jid <= 5, 1);
            assert_true(len < TMQ_OUTBOX_SPLIT + sizeof big + 1024);
            for (size_t i = 0; i < tmq_msg_count(&m); i++) {
                tmq_job_item_t it;
                assert_int_equal(tmq_msg_job_item(&m, i, &it), 0);
                assert_int_equal(it.jid, next_jid++); /* order kept across segments */
            }
            jobs_msgs++;
        } else {
            assert_int_equal(cmd, TMQ_CMD_CANCEL); /* after every JOBS */
            assert_int_equal(next_jid, 6);
            assert_int_equal(tmq_msg_count(&m), 1);
        }
        tmq_msg_release(&m);
        free(body);
    }
    assert_true(jobs_msgs >= 2);
    assert_false(tmq_outbox_pending(&ob));
    tmq_batch_add_ref(tmq_outbox_batch(&ob, 1), 1, 1);
    tmq_outbox_clear(&ob);
    assert_false(tmq_outbox_pending(&ob));
    tmq_outbox_fini(&ob);
}

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

/* BYE at shutdown goes after everything already owed, batches included. */
static void test_outbox_signal_last_goes_after_batches(void **state)
{
    (void)state;
    tmq_outbox_t ob;
    tmq_outbox_init(&ob, TMQ_SIDE_FRONTEND, "C1", 2, TMQ_CMD_RESULTS, 0);
    tmq_result_item_t it = {.cid = 7, .data = "\x01", .data_len = 1};
    tmq_batch_add_result(tmq_outbox_batch(&ob, 0), &it);
    tmq_outbox_signal(&ob, TMQ_CMD_HEARTBEAT);
    tmq_outbox_signal_last(&ob, TMQ_CMD_BYE);
    int want[] = {TMQ_CMD_HEARTBEAT, TMQ_CMD_RESULTS, TMQ_CMD_BYE};
    for (int i = 0; i < 3; i++) {
        int cmd;
        size_t len;
        void *body = tmq_outbox_take(&ob, &cmd, &len);
        assert_non_null(body);
        assert_int_equal(cmd, want[i]);
        free(body);
    }
    assert_false(tmq_outbox_pending(&ob));
    assert_int_equal(tmq_outbox_bytes(&ob), 0);
    tmq_outbox_fini(&ob);
}

static void test_prefetch_rule(void **state)
{
    (void)state;
    tmq_fn_t fn;
    memset(&fn, 0, sizeof fn);
    assert_int_equal(tmq_fn_prefetch(&fn), 0); /* never timed */
    tmq_fn_observe(&fn, 0.001);
    assert_int_equal(tmq_fn_prefetch(&fn), TMQ_PACE_MAX_BATCH);
    memset(&fn, 0, sizeof fn);
    tmq_fn_observe(&fn, 0.5);
    assert_int_equal(tmq_fn_prefetch(&fn), 4);
    memset(&fn, 0, sizeof fn);
    tmq_fn_observe(&fn, 10.0);
    assert_int_equal(tmq_fn_prefetch(&fn), 0);
    for (int i = 0; i < 40; i++)
        tmq_fn_observe(&fn, 0.01); /* it got fast */
    assert_int_equal(tmq_fn_prefetch(&fn), TMQ_PACE_MAX_BATCH);
}

static void test_worker_credit(void **state)
{
    (void)state;
    tmq_fnreg_t *fns = tmq_fnreg_new();
    tmq_bworkers_t *ws = tmq_bworkers_new(fns);
    tmq_bworker_t *w = tmq_bworkers_add(ws, "W", 1, 0);
    const char *names[] = {"a"};
    size_t lens[] = {1};
    tmq_ready_t r = {.name = "w", .name_len = 1, .procs = 4, .pid = 1, .nfns = 1};
    tmq_bworkers_setup(ws, w, &r, names, lens, 1, 0);
    assert_int_equal(tmq_bworker_credit(w, 0), 4);
    assert_int_equal(tmq_bworker_credit(w, 2), 12);
    assert_int_equal(tmq_bworkers_idle(ws), 1);
    tmq_bjob_t jobs[6];
    memset(jobs, 0, sizeof jobs);
    tmq_fn_t *fa = tmq_fnreg_find(fns, "a", 1);
    for (int i = 0; i < 6; i++)
        jobs[i].fn = fa;
    jobs[0].flags = TMQ_JOB_LONG;
    tmq_bworkers_hold(ws, w, &jobs[0]); /* one process taken by a long job */
    assert_int_equal(tmq_bworker_credit(w, 0), 3);
    assert_int_equal(tmq_bworker_credit(w, 2), 3 * 3 + 1 - 1);
    for (int i = 1; i < 6; i++)
        tmq_bworkers_hold(ws, w, &jobs[i]);
    assert_int_equal(tmq_bworker_credit(w, 0), 0); /* more held than processes */
    assert_int_equal(tmq_bworkers_overfull(ws), 1);
    assert_int_equal(tmq_bworkers_idle(ws), 0);
    assert_int_equal(tmq_bworker_busy(w), 4);
    assert_int_equal(fa->leased, 6); /* the function's count of held jobs follows */
    for (int i = 5; i >= 0; i--)
        tmq_bworkers_release(ws, w, &jobs[i], 7);
    assert_int_equal(fa->leased, 0);
    assert_int_equal(tmq_bworkers_overfull(ws), 0);
    assert_int_equal(tmq_bworkers_idle(ws), 1);
    assert_int_equal(w->nlong, 0);
    assert_int_equal(w->idle_since, 7);
    assert_int_equal(tmq_fnreg_find(fns, "a", 1)->nworkers, 1);
    tmq_bworkers_remove(ws, &w);
    assert_int_equal(tmq_bworkers_idle(ws), 0);
    assert_null(tmq_fnreg_find(fns, "a", 1)); /* untimed and unreferenced: gone */
    tmq_bworkers_destroy(&ws);
    tmq_fnreg_destroy(&fns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobtab_find_under_churn),
        cmocka_unit_test(test_jobtab_scattered_ids),
        cmocka_unit_test(test_jobtab_transitions_and_attempts),
        cmocka_unit_test(test_jobtab_args_inline_and_heap),
        cmocka_unit_test(test_jobtab_arg_64mib),
        cmocka_unit_test(test_jobtab_adopt),
        cmocka_unit_test(test_jobtab_free_and_reuse),
        cmocka_unit_test(test_outbox_order_and_split),
        cmocka_unit_test(test_outbox_counts_pending_bytes),
        cmocka_unit_test(test_outbox_signal_last_goes_after_batches),
        cmocka_unit_test(test_prefetch_rule),
        cmocka_unit_test(test_worker_credit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
