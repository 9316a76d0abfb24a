/* tests/unit/broker_harness.c — see broker_harness.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker_harness.h"
#include "testutil.h"

#define BH_MAX_SENT 256

typedef struct {
    int side;
    char rid[16];
    int cmd;
    void *body;
    size_t len;
} bh_sent_t;

static bh_sent_t s_sent[BH_MAX_SENT];
size_t bh_nsent;
int bh_send_rc;
int64_t bh_now;

const uint8_t bh_arg[1] = {0x05};

const tmq_core_config_t bh_default_config = {
    .heartbeat_ms = 1000, .max_queue = 100, .max_payload = 1024, .retries = 2};

int bh_setup(void **state)
{
    const tmq_core_config_t *cfg = *state ? *state : &bh_default_config;
    bh_now = 1000000;
    bh_send_rc = 0;
    bh_forget();
    *state = tmq_core_new(cfg, bh_now);
    return *state ? 0 : -1;
}

int bh_teardown(void **state)
{
    tmq_core_destroy((tmq_core_t **)state);
    bh_forget();
    return 0;
}

int bh_send(void *ctx, tmq_outbox_t *ob)
{
    (void)ctx;
    if (bh_send_rc != 0) return bh_send_rc;
    int cmd;
    size_t len;
    void *body;
    while ((body = tmq_outbox_take(ob, &cmd, &len)) != NULL) {
        assert_true(bh_nsent < BH_MAX_SENT);
        bh_sent_t *s = &s_sent[bh_nsent++];
        s->side = ob->side;
        snprintf(s->rid, sizeof s->rid, "%.*s", (int)ob->rid_len, (const char *)ob->rid);
        s->cmd = cmd;
        s->body = body;
        s->len = len;
    }
    return 0;
}

void bh_forget(void)
{
    for (size_t i = 0; i < bh_nsent; i++)
        free(s_sent[i].body);
    bh_nsent = 0;
}

bool bh_take(const char *rid, int cmd, bh_got_t *g)
{
    for (size_t i = 0; i < bh_nsent; i++) {
        if (strcmp(s_sent[i].rid, rid) != 0 || s_sent[i].cmd != cmd) continue;
        assert_int_equal(tu_decode(&g->msg, cmd, s_sent[i].body, s_sent[i].len), 0);
        g->body = s_sent[i].body;
        memmove(&s_sent[i], &s_sent[i + 1], (bh_nsent - i - 1) * sizeof *s_sent);
        bh_nsent--;
        return true;
    }
    return false;
}

void bh_got_free(bh_got_t *g)
{
    tmq_msg_release(&g->msg);
    free(g->body);
    g->body = NULL;
}

size_t bh_count(const char *rid, int cmd)
{
    size_t n = 0;
    for (size_t i = 0; i < bh_nsent; i++)
        if (strcmp(s_sent[i].rid, rid) == 0 && s_sent[i].cmd == cmd) n++;
    return n;
}

void bh_feed(tmq_core_t *core, int side, const char *rid, int cmd, void *body, size_t len)
{
    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, cmd, body, len), 0);
    if (side == TMQ_SIDE_FRONTEND)
        tmq_core_frontend(core, bh_now, rid, strlen(rid), &m);
    else
        tmq_core_backend(core, bh_now, rid, strlen(rid), NULL, &m);
    tmq_msg_release(&m);
    free(body);
}

void bh_feed_from(tmq_core_t *core, const char *rid, const char *addr, int cmd, void *body,
                  size_t len)
{
    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, cmd, body, len), 0);
    tmq_core_backend(core, bh_now, rid, strlen(rid), addr, &m);
    tmq_msg_release(&m);
    free(body);
}

void bh_turn(tmq_core_t *core)
{
    tmq_core_tick(core, bh_now);
    tmq_session_commit(core, bh_now); /* as the loop does: the journal's group commit */
    tmq_core_flush(core, bh_now, bh_send, NULL);
}

void bh_submit_ex(tmq_core_t *core, const char *client, const char *fn, uint64_t cid0, size_t n,
                  const void *arg, size_t arg_len, int32_t retries)
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
    bh_feed(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_SUBMIT, body, len);
}

void bh_submit(tmq_core_t *core, const char *client, const char *fn, uint64_t cid0, size_t n)
{
    bh_submit_ex(core, client, fn, cid0, n, bh_arg, sizeof bh_arg, -1);
}

void bh_ready(tmq_core_t *core, const char *rid, uint32_t procs, const char *fn1, const char *fn2)
{
    const char *fns[2] = {fn1, fn2};
    size_t len;
    tmq_ready_t r = {
        .name = rid, .name_len = strlen(rid), .procs = procs, .pid = 4000, .job_options = true};
    void *body = tmq_proto_ready_body(&r, fns, fn2 ? 2 : 1, &len);
    bh_feed(core, TMQ_SIDE_BACKEND, rid, TMQ_CMD_READY, body, len);
}

void bh_hello(tmq_core_t *core, const char *client)
{
    size_t len;
    void *body = tmq_proto_hello_body(NULL, 0, &len);
    bh_feed(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_HELLO, body, len);
    bh_forget(); /* its WELCOME */
}

void bh_signal(tmq_core_t *core, int side, const char *rid, int cmd)
{
    size_t len;
    void *body = tmq_proto_empty_body(&len);
    bh_feed(core, side, rid, cmd, body, len);
}

void bh_done(tmq_core_t *core, const char *worker, uint64_t jid, uint32_t attempt, int status,
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
    bh_feed(core, TMQ_SIDE_BACKEND, worker, TMQ_CMD_DONE, body, len);
}

void bh_returned(tmq_core_t *core, const char *worker, const uint64_t *jids,
                 const uint32_t *attempts, size_t n)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < n; i++)
        tmq_batch_add_ref(&b, jids[i], attempts[i]);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_RETURNED, 0, &len);
    tmq_batch_destroy(&b);
    bh_feed(core, TMQ_SIDE_BACKEND, worker, TMQ_CMD_RETURNED, body, len);
}

size_t bh_jobs(const char *worker, uint64_t *jids, uint32_t *attempts, size_t max)
{
    size_t n = 0;
    bh_got_t g;
    while (bh_take(worker, TMQ_CMD_JOBS, &g)) {
        for (size_t i = 0; i < tmq_msg_count(&g.msg); i++) {
            tmq_job_item_t it;
            assert_int_equal(tmq_msg_job_item(&g.msg, i, &it), 0);
            if (n < max) {
                jids[n] = it.jid;
                if (attempts) attempts[n] = it.attempt;
            }
            n++;
        }
        bh_got_free(&g);
    }
    return n;
}

size_t bh_turn_jobs(tmq_core_t *core, const char *worker, uint64_t *jids, uint32_t *attempts,
                    size_t max)
{
    bh_turn(core);
    return bh_jobs(worker, jids, attempts, max);
}

uint64_t bh_ack(const char *client, int *code, char *reason, size_t reason_size, uint64_t *cid)
{
    bh_got_t g;
    assert_true(bh_take(client, TMQ_CMD_ACK, &g));
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
    bh_got_free(&g);
    return accepted;
}

bool bh_error(const char *rid, uint64_t *code, char *reason, size_t reason_size)
{
    bh_got_t g;
    if (!bh_take(rid, TMQ_CMD_ERROR, &g)) return false;
    const msgpack_object *r = bh_map_get(g.msg.body, "reason");
    assert_non_null(r);
    assert_int_equal(r->type, MSGPACK_OBJECT_STR);
    if (code) *code = bh_map_uint(g.msg.body, "code");
    if (reason) snprintf(reason, reason_size, "%.*s", (int)r->via.str.size, r->via.str.ptr);
    bh_got_free(&g);
    return true;
}

void bh_status(tmq_core_t *core, const char *client, bh_got_t *g)
{
    bh_signal(core, TMQ_SIDE_FRONTEND, client, TMQ_CMD_STATUS);
    bh_turn(core);
    assert_true(bh_take(client, TMQ_CMD_STATUS_REPLY, g));
}

const msgpack_object *bh_map_get(const msgpack_object *map, const char *key)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

uint64_t bh_map_uint(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = bh_map_get(map, key);
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return v->via.u64;
}

void bh_map_str_is(const msgpack_object *map, const char *key, const char *want)
{
    const msgpack_object *v = bh_map_get(map, key);
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_STR);
    assert_int_equal(v->via.str.size, strlen(want));
    assert_memory_equal(v->via.str.ptr, want, v->via.str.size);
}

size_t bh_queued(tmq_core_t *core)
{
    return tmq_jobtab_count(core->jobs, TMQ_JOB_QUEUED);
}

size_t bh_leased(tmq_core_t *core)
{
    return tmq_jobtab_count(core->jobs, TMQ_JOB_LEASED);
}

void bh_teach(tmq_core_t *core, const char *fn, double ms)
{
    bh_ready(core, "T", 1, fn, NULL);
    bh_submit(core, "TC", fn, 900000, 1);
    bh_turn(core);
    uint64_t jid = 0;
    assert_int_equal(bh_jobs("T", &jid, NULL, 1), 1);
    bh_done(core, "T", jid, 1, TMQ_ST_OK, "\x01", 1, ms);
    bh_signal(core, TMQ_SIDE_BACKEND, "T", TMQ_CMD_BYE);
    bh_signal(core, TMQ_SIDE_FRONTEND, "TC", TMQ_CMD_BYE);
    bh_turn(core);
    bh_forget();
}
