/* tests/unit/test_client_lib.c — libtaskmq against a fake broker, over inproc.
 *
 * The fake (a czmq actor with a ROUTER) answers HELLO with WELCOME, every SUBMIT with one
 * ACK (rejecting function "nosuch", and jobs beyond max_queue with "queue full"), STATUS
 * with a small map, and completes queued jobs by echoing their argument, all at once or
 * `drip` per ~1 ms turn. It counts what it saw, so the tests check batching, the in-flight
 * window, duplicate results, queue-full resubmission, heartbeats and BYE.
 */
#include "jsonmp.h"
#include "proto.h"
#include "taskmq/client.h"
#include "wire.h"

#include <czmq.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

/* ---- the fake broker ---- */

typedef struct {
    /* settings, fixed before the actor starts */
    const char *endpoint;
    uint32_t heartbeat_ms; /* sent in WELCOME */
    uint32_t max_payload;  /* sent in WELCOME */
    size_t max_queue;      /* 0 = unlimited */
    size_t drip;           /* jobs completed per ~1 ms turn; 0 = all at once */
    bool duplicate;        /* send every result twice */
    bool hold;             /* complete nothing (a hung or dead broker) */
    bool beat;             /* send HEARTBEAT every heartbeat_ms (a live one) */
    /* counters, readable while it runs */
    atomic_size_t submits, jobs_in, max_batch, rejected_full, results_out, max_outstanding;
    atomic_size_t heartbeats, byes, hellos, statuses;
} fake_broker_t;

typedef struct {
    uint64_t cid;
    void *arg;
    size_t len;
} s_job_t;

typedef struct {
    fake_broker_t *cfg;
    zsock_t *router;
    uint8_t rid[256];
    size_t rid_len;
    s_job_t *jobs; /* FIFO of queued jobs */
    size_t head, count, cap;
} s_fake_t;

static void s_push(s_fake_t *f, uint64_t cid, const void *arg, size_t len)
{
    if (f->head + f->count == f->cap) {
        if (f->head > 0) {
            memmove(f->jobs, f->jobs + f->head, f->count * sizeof *f->jobs);
            f->head = 0;
        } else {
            f->cap = f->cap ? f->cap * 2 : 1024;
            f->jobs = realloc(f->jobs, f->cap * sizeof *f->jobs);
        }
    }
    s_job_t *j = &f->jobs[f->head + f->count++];
    j->cid = cid;
    j->arg = malloc(len);
    memcpy(j->arg, arg, len);
    j->len = len;
}

static void s_max(atomic_size_t *a, size_t v)
{
    size_t cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

static void s_on_submit(s_fake_t *f, const tmq_msg_t *m)
{
    tmq_batch_t rej;
    tmq_batch_init(&rej);
    size_t n = tmq_msg_count(m), accepted = 0;
    atomic_fetch_add(&f->cfg->submits, 1);
    atomic_fetch_add(&f->cfg->jobs_in, n);
    s_max(&f->cfg->max_batch, n);
    for (size_t i = 0; i < n; i++) {
        tmq_submit_item_t it;
        if (tmq_msg_submit_item(m, i, &it) != 0) continue;
        tmq_reject_item_t r = {.cid = it.cid};
        if (it.fn_len == 6 && memcmp(it.fn, "nosuch", 6) == 0) {
            r.code = TMQ_REJ_UNKNOWN_FUNCTION;
            r.reason = "unknown function: nosuch";
        } else if (f->cfg->max_queue && f->count >= f->cfg->max_queue) {
            r.code = TMQ_REJ_QUEUE_FULL;
            r.reason = "queue full";
            atomic_fetch_add(&f->cfg->rejected_full, 1);
        } else {
            s_push(f, it.cid, it.arg, it.arg_len);
            accepted++;
            continue;
        }
        r.reason_len = strlen(r.reason);
        tmq_batch_add_reject(&rej, &r);
    }
    size_t len;
    void *body = tmq_batch_finish(&rej, TMQ_CMD_ACK, accepted, &len);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_ACK, &body, len);
    tmq_batch_destroy(&rej);
    s_max(&f->cfg->max_outstanding, f->count);
}

static void s_on_status(s_fake_t *f)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "queued", 6);
    msgpack_pack_uint64(&pk, f->count);
    msgpack_pack_str_with_body(&pk, "workers", 7);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "name", 4);
    msgpack_pack_str_with_body(&pk, "fake", 4);
    msgpack_pack_str_with_body(&pk, "procs", 5);
    msgpack_pack_uint32(&pk, 2);
    msgpack_pack_str_with_body(&pk, "busy", 4);
    msgpack_pack_uint32(&pk, 1);
    size_t len;
    void *body = tmq_proto_sbuffer_take(&sb, &len);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_STATUS_REPLY, &body, len);
}

static void s_on_message(s_fake_t *f, tmq_wire_in_t *in)
{
    memcpy(f->rid, in->rid, in->rid_len);
    f->rid_len = in->rid_len;
    switch (in->msg.cmd) {
    case TMQ_CMD_HELLO: {
        atomic_fetch_add(&f->cfg->hellos, 1);
        size_t len;
        void *body = tmq_proto_welcome_body(f->cfg->heartbeat_ms, f->cfg->max_payload, &len);
        tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_WELCOME, &body, len);
        break;
    }
    case TMQ_CMD_SUBMIT:
        s_on_submit(f, &in->msg);
        break;
    case TMQ_CMD_STATUS:
        atomic_fetch_add(&f->cfg->statuses, 1);
        s_on_status(f);
        break;
    case TMQ_CMD_HEARTBEAT:
        atomic_fetch_add(&f->cfg->heartbeats, 1);
        break;
    case TMQ_CMD_BYE:
        atomic_fetch_add(&f->cfg->byes, 1);
        break;
    default:
        break;
    }
}

/* Completes queued jobs (echo), as the settings allow, in one RESULTS message. */
static void s_complete(s_fake_t *f)
{
    if (f->count == 0 || f->cfg->hold) return;
    size_t n = f->cfg->drip && f->cfg->drip < f->count ? f->cfg->drip : f->count;
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        s_job_t *j = &f->jobs[f->head++];
        f->count--;
        tmq_result_item_t r = {.cid = j->cid,
                               .status = TMQ_ST_OK,
                               .data = j->arg,
                               .data_len = j->len,
                               .worker = "fake:1",
                               .worker_len = 6,
                               .ms = 1.5,
                               .attempts = 1};
        tmq_batch_add_result(&b, &r);
        if (f->cfg->duplicate) tmq_batch_add_result(&b, &r);
        free(j->arg);
    }
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_RESULTS, 0, &len);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_RESULTS, &body, len);
    tmq_batch_destroy(&b);
    atomic_fetch_add(&f->cfg->results_out, n);
}

static void s_fake_actor(zsock_t *pipe, void *args)
{
    s_fake_t f = {.cfg = args};
    f.router = zsock_new(ZMQ_ROUTER);
    zsock_set_sndhwm(f.router, 0);
    zsock_set_rcvhwm(f.router, 0);
    int rc = zsock_bind(f.router, "%s", f.cfg->endpoint) < 0 ? -1 : 0; /* tcp: the port */
    int64_t last_beat = 0;
    zsock_signal(pipe, rc == 0 ? 0 : 1);
    while (rc == 0) {
        zmq_pollitem_t items[2] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                                   {zsock_resolve(f.router), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, f.count ? 1 : 20) < 0) break;
        if (f.cfg->beat && f.rid_len && zclock_mono() - last_beat >= f.cfg->heartbeat_ms) {
            tmq_wire_send_empty(f.router, f.rid, f.rid_len, TMQ_CMD_HEARTBEAT);
            last_beat = zclock_mono();
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || strcmp(cmd, "$TERM") == 0;
            zstr_free(&cmd);
            if (term) break;
        }
        for (;;) {
            tmq_wire_in_t in;
            int err;
            int got = tmq_wire_recv(f.router, true, &in, &err);
            if (got == 0) break;
            if (got == 1) s_on_message(&f, &in);
            tmq_wire_in_release(&in);
        }
        s_complete(&f);
    }
    while (f.count)
        free(f.jobs[f.head + --f.count].arg);
    free(f.jobs);
    zsock_destroy(&f.router);
}

/* ---- helpers ---- */

static int s_seq;

/* Starts a fake broker with the given settings on a fresh endpoint. */
static zactor_t *s_fake(fake_broker_t *f, char *endpoint, size_t len)
{
    snprintf(endpoint, len, "inproc://fake-broker-%d", ++s_seq);
    f->endpoint = endpoint;
    if (!f->heartbeat_ms) f->heartbeat_ms = 1000;
    if (!f->max_payload) f->max_payload = TMQ_PROTO_MAX_PAYLOAD;
    zactor_t *a = zactor_new(s_fake_actor, f);
    assert_non_null(a);
    return a;
}

/* Packs an unsigned integer into buf; returns its length. */
static size_t s_uint(uint8_t *buf, uint64_t v)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_uint64(&pk, v);
    size_t n = sb.size;
    memcpy(buf, sb.data, n);
    msgpack_sbuffer_destroy(&sb);
    return n;
}

/* Collects n results (2 s each at most) into seen[] (by id); returns how many failed. */
static size_t s_collect(tmq_client_t *c, size_t n, uint8_t *seen, size_t seen_len,
                        const char *fail_text)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        tmq_result_t *r = tmq_next(c, 2000);
        if (!r) fail_msg("result %zu of %zu did not arrive", i, n);
        uint64_t id = tmq_result_id(r);
        assert_true(id < seen_len);
        if (seen[id]) fail_msg("job %llu reported twice", (unsigned long long)id);
        seen[id] = 1;
        if (!tmq_result_ok(r)) {
            failed++;
            size_t len;
            const char *text = tmq_result_data(r, &len);
            if (fail_text && (len != strlen(fail_text) || memcmp(text, fail_text, len) != 0))
                fail_msg("job %llu failed with '%.*s'", (unsigned long long)id, (int)len, text);
        }
        tmq_result_destroy(&r);
    }
    return failed;
}

/* ---- tests ---- */

static void test_lib_round_trip(void **state)
{
    (void)state;
    fake_broker_t f = {0};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    assert_non_null(c);
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    assert_int_equal(atomic_load(&f.hellos), 1);

    uint8_t arg[16];
    for (uint64_t i = 0; i < 3; i++) {
        uint64_t id = 99;
        assert_int_equal(tmq_submit(c, "echo", arg, s_uint(arg, 1000 + i), &id), 0);
        assert_int_equal(id, i); /* ids count from 0 */
    }
    assert_int_equal(tmq_pending(c), 3);
    for (int i = 0; i < 3; i++) {
        tmq_result_t *r = tmq_next(c, 2000);
        assert_non_null(r);
        assert_true(tmq_result_ok(r));
        size_t len;
        const uint8_t *data = tmq_result_data(r, &len);
        uint8_t want[16];
        size_t want_len = s_uint(want, 1000 + tmq_result_id(r));
        assert_int_equal(len, want_len);
        assert_memory_equal(data, want, len);
        assert_string_equal(tmq_result_worker(r), "fake:1");
        assert_true(tmq_result_ms(r) == 1.5);
        assert_int_equal(tmq_result_attempts(r), 1);
        tmq_result_destroy(&r);
    }
    assert_int_equal(tmq_pending(c), 0);
    assert_null(tmq_next(c, 0));
    tmq_client_destroy(&c);
    assert_null(c);
    tmq_client_destroy(&c); /* twice is safe */
    zactor_destroy(&fake);
}

static void test_lib_bad_arguments(void **state)
{
    (void)state;
    tmq_client_t *c = tmq_client_new("inproc://nobody-bad-args");
    assert_non_null(c);
    char fn[80];
    memset(fn, 'f', 65);
    fn[65] = '\0';
    uint64_t id = 42;
    errno = 0;
    assert_int_equal(tmq_submit(c, NULL, "\x01", 1, &id), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(id, 42);
    /* Jobs that cannot be valid still take their ids (input positions) and fail as results. */
    static const struct {
        const char *fn;
        const char *arg;
        size_t len;
        const char *why;
    } bad[] = {
        {"", "\x01", 1, "function name"},
        {NULL, "\x01", 1, "function name"}, /* 65 bytes, filled in below */
        {"echo", NULL, 0, "argument"},
        {"echo", "\xc1", 1, "argument"},     /* not msgpack */
        {"echo", "\x01\x02", 2, "argument"}, /* two objects */
        {"echo", "\x92\x01", 2, "argument"}, /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tmq_submit(c, bad[i].fn ? bad[i].fn : fn, bad[i].arg, bad[i].len, &id), 0);
        assert_int_equal(id, i);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tmq_result_t *r = tmq_next(c, 0);
        assert_non_null(r);
        assert_int_equal(tmq_result_id(r), i);
        assert_false(tmq_result_ok(r));
        size_t len;
        const char *text = tmq_result_data(r, &len);
        char copy[128];
        snprintf(copy, sizeof copy, "%.*s", (int)len, text);
        if (!strstr(copy, "bad job") || !strstr(copy, bad[i].why))
            fail_msg("job %zu failed with '%s'", i, copy);
        tmq_result_destroy(&r);
    }
    assert_int_equal(tmq_pending(c), 0);
    fn[64] = '\0';
    assert_int_equal(tmq_submit(c, fn, "\x01", 1, &id), 0); /* 64 bytes is fine */
    assert_int_equal(id, 6);
    tmq_client_destroy(&c);

    assert_null(tmq_client_new("bogus"));
    assert_null(tmq_client_new(""));
    assert_null(tmq_client_new(NULL));
    assert_null(tmq_next(NULL, 0));
    assert_int_equal(tmq_pending(NULL), 0);
}

static void test_lib_batching(void **state)
{
    (void)state;
    fake_broker_t f = {0};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    uint8_t arg[16];
    enum { N = 2000 };
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(tmq_submit(c, "echo", arg, s_uint(arg, i), NULL), 0);
    tmq_flush(c);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(c, N, seen, N, NULL), 0);
    assert_int_equal(atomic_load(&f.jobs_in), N);
    assert_int_equal(atomic_load(&f.max_batch), 512);
    assert_int_equal(atomic_load(&f.submits), 4); /* 512 + 512 + 512 + 464 */

    /* Big arguments: batches stop at 256 KiB. */
    size_t before = atomic_load(&f.submits);
    static uint8_t big[20000 + 8];
    big[0] = 0xc5; /* bin 16 */
    big[1] = (uint8_t)(20000 >> 8);
    big[2] = (uint8_t)(20000 & 0xff);
    for (int i = 0; i < 40; i++)
        assert_int_equal(tmq_submit(c, "echo", big, 20003, NULL), 0);
    static uint8_t seen2[N + 40];
    memset(seen2, 0, sizeof seen2);
    assert_int_equal(s_collect(c, 40, seen2, N + 40, NULL), 0);
    size_t batches = atomic_load(&f.submits) - before;
    assert_true(batches >= 4); /* at most 13 per 256 KiB */
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_lib_window(void **state)
{
    (void)state;
    fake_broker_t f = {.drip = 7};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    tmq_client_set_window(c, 100);
    uint8_t arg[16];
    enum { N = 3000 };
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(tmq_submit(c, "echo", arg, s_uint(arg, i), NULL), 0);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(c, N, seen, N, NULL), 0);
    assert_true(atomic_load(&f.max_outstanding) <= 100);
    assert_true(atomic_load(&f.max_outstanding) >= 50);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_lib_duplicates_dropped(void **state)
{
    (void)state;
    fake_broker_t f = {.duplicate = true};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    uint8_t arg[16];
    enum { N = 1000 };
    for (uint64_t i = 0; i < N; i++)
        tmq_submit(c, "echo", arg, s_uint(arg, i), NULL);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(c, N, seen, N, NULL), 0);
    assert_null(tmq_next(c, 200)); /* the second copies never surface */
    assert_int_equal(tmq_pending(c), 0);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_lib_rejections_fail(void **state)
{
    (void)state;
    fake_broker_t f = {0};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    uint8_t arg[16];
    size_t len = s_uint(arg, 5);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tmq_submit(c, i % 2 ? "nosuch" : "echo", arg, len, NULL), 0);
    int ok = 0, failed = 0;
    for (int i = 0; i < 10; i++) {
        tmq_result_t *r = tmq_next(c, 2000);
        assert_non_null(r);
        if (tmq_result_ok(r)) {
            ok++;
            assert_int_equal(tmq_result_id(r) % 2, 0);
        } else {
            failed++;
            assert_int_equal(tmq_result_id(r) % 2, 1);
            size_t n;
            const char *text = tmq_result_data(r, &n);
            assert_int_equal(n, strlen("unknown function: nosuch"));
            assert_memory_equal(text, "unknown function: nosuch", n);
            assert_string_equal(tmq_result_worker(r), "");
            assert_int_equal(tmq_result_attempts(r), 0);
        }
        tmq_result_destroy(&r);
    }
    assert_int_equal(ok, 5);
    assert_int_equal(failed, 5);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void s_queue_full(bool fail_when_full)
{
    fake_broker_t f = {.max_queue = 50, .drip = 10};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    tmq_client_set_fail_when_full(c, fail_when_full);
    uint8_t arg[16];
    enum { N = 3000 };
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(tmq_submit(c, "echo", arg, s_uint(arg, i), NULL), 0);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    size_t failed = s_collect(c, N, seen, N, "queue full");
    assert_true(atomic_load(&f.rejected_full) > 0);
    if (fail_when_full) {
        assert_int_equal(failed, atomic_load(&f.rejected_full));
        assert_int_equal(atomic_load(&f.results_out), N - failed);
    } else {
        assert_int_equal(failed, 0);
        assert_int_equal(atomic_load(&f.results_out), N);
    }
    assert_null(tmq_next(c, 50));
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_lib_queue_full_resubmits(void **state)
{
    (void)state;
    s_queue_full(false);
}

static void test_lib_queue_full_fails_when_asked(void **state)
{
    (void)state;
    s_queue_full(true);
}

static void test_lib_status(void **state)
{
    (void)state;
    fake_broker_t f = {0};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    for (int round = 0; round < 2; round++) {
        size_t len = 0;
        void *body = tmq_client_status(c, 2000, &len);
        assert_non_null(body);
        json_t *j = tmq_json_from_msgpack(body, len);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "queued")), 0);
        json_t *w = json_array_get(json_object_get(j, "workers"), 0);
        assert_string_equal(json_string_value(json_object_get(w, "name")), "fake");
        json_decref(j);
        free(body);
    }
    assert_int_equal(atomic_load(&f.statuses), 2);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_lib_no_broker(void **state)
{
    (void)state;
    tmq_client_t *c = tmq_client_new("inproc://nobody-listens-here");
    assert_non_null(c);
    int64_t t0 = zclock_mono();
    assert_int_equal(tmq_client_wait_ready(c, 150), -1);
    int64_t took = zclock_mono() - t0;
    assert_true(took >= 140 && took < 1000);
    assert_null(tmq_client_status(c, 50, NULL));
    assert_null(tmq_next(c, 20));
    tmq_client_destroy(&c);

    c = tmq_client_new("tcp://127.0.0.1:9"); /* discard port: nothing answers */
    assert_non_null(c);
    assert_int_equal(tmq_client_wait_ready(c, 100), -1);
    tmq_client_destroy(&c);
}

static void test_lib_heartbeats_and_bye(void **state)
{
    (void)state;
    fake_broker_t f = {.heartbeat_ms = 30};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    usleep(330 * 1000); /* the user thread is busy elsewhere */
    size_t hb = atomic_load(&f.heartbeats);
    assert_true(hb >= 5);
    assert_true(hb <= 13);
    tmq_client_destroy(&c);
    for (int i = 0; i < 200 && atomic_load(&f.byes) == 0; i++)
        usleep(5000);
    assert_int_equal(atomic_load(&f.byes), 1);
    zactor_destroy(&fake);
}

static void test_lib_payload_too_large(void **state)
{
    (void)state;
    fake_broker_t f = {.max_payload = 100};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    uint8_t arg[203] = {0xc4, 200}; /* bin 8, 200 bytes */
    uint64_t id;
    assert_int_equal(tmq_submit(c, "echo", arg, 202, &id), 0);
    tmq_result_t *r = tmq_next(c, 2000);
    assert_non_null(r);
    assert_false(tmq_result_ok(r));
    size_t len;
    const char *text = tmq_result_data(r, &len);
    assert_memory_equal(text, "payload too large", len);
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&f.jobs_in), 0);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_lib_wait_with_fd(void **state)
{
    (void)state;
    fake_broker_t f = {0};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(tmq_wait(c, fds[0], 50), 0); /* nothing yet */
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(tmq_wait(c, fds[0], 1000), TMQ_WAIT_FD);
    char ch;
    assert_int_equal(read(fds[0], &ch, 1), 1);
    uint8_t arg[16];
    tmq_submit(c, "echo", arg, s_uint(arg, 1), NULL);
    assert_int_equal(tmq_wait(c, fds[0], 2000), TMQ_WAIT_RESULT); /* sends the job itself */
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(tmq_wait(c, fds[0], 0), TMQ_WAIT_RESULT | TMQ_WAIT_FD);
    tmq_result_t *r = tmq_next(c, 0);
    assert_non_null(r);
    tmq_result_destroy(&r);
    assert_int_equal(tmq_wait(c, -1, 20), 0);
    close(fds[0]);
    close(fds[1]);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

static void test_lib_broker_lost(void **state)
{
    (void)state;
    /* A broker that goes silent with results due: the jobs fail after 5 heartbeats. */
    fake_broker_t f = {.heartbeat_ms = 40, .hold = true};
    char ep[64];
    zactor_t *fake = s_fake(&f, ep, sizeof ep);
    tmq_client_t *c = tmq_client_new(ep);
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    uint8_t arg[16];
    for (int i = 0; i < 3; i++)
        tmq_submit(c, "echo", arg, s_uint(arg, 1), NULL);
    int64_t t0 = zclock_mono();
    static uint8_t seen[3];
    assert_int_equal(s_collect(c, 3, seen, 3, "lost contact with the broker"), 3);
    int64_t took = zclock_mono() - t0;
    assert_true(took >= 150 && took < 1500);
    assert_int_equal(tmq_pending(c), 0);
    /* Waiting for a broker again greets it again. */
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    assert_int_equal(atomic_load(&f.hellos), 2);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);

    /* One that heartbeats keeps its slow jobs. */
    fake_broker_t g = {.heartbeat_ms = 40, .hold = true, .beat = true};
    fake = s_fake(&g, ep, sizeof ep);
    c = tmq_client_new(ep);
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    tmq_submit(c, "echo", arg, s_uint(arg, 1), NULL);
    assert_null(tmq_next(c, 600));
    assert_int_equal(tmq_pending(c), 1);
    tmq_client_destroy(&c);
    zactor_destroy(&fake);
}

int main(void)
{
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lib_round_trip),
        cmocka_unit_test(test_lib_bad_arguments),
        cmocka_unit_test(test_lib_batching),
        cmocka_unit_test(test_lib_window),
        cmocka_unit_test(test_lib_duplicates_dropped),
        cmocka_unit_test(test_lib_rejections_fail),
        cmocka_unit_test(test_lib_queue_full_resubmits),
        cmocka_unit_test(test_lib_queue_full_fails_when_asked),
        cmocka_unit_test(test_lib_status),
        cmocka_unit_test(test_lib_no_broker),
        cmocka_unit_test(test_lib_heartbeats_and_bye),
        cmocka_unit_test(test_lib_payload_too_large),
        cmocka_unit_test(test_lib_wait_with_fd),
        cmocka_unit_test(test_lib_broker_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
