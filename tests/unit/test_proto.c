/* tests/unit/test_proto.c — the wire codec: round trips of every command, truncation at every
 * byte offset, wrong types, huge declared sizes, deep nesting and garbage. Table-driven where
 * it can be: a failure names the case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonmp.h"
#include "proto.h"
#include "testutil.h"

static void test_header(void **state)
{
    (void)state;
    tmq_msg_t m;
    size_t len;
    void *body = tmq_proto_empty_body(&len);
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    int code = 0;

    tmq_proto_header(hdr, TMQ_CMD_HELLO);
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), 0);
    assert_int_equal(m.cmd, TMQ_CMD_HELLO);
    assert_string_equal(tmq_cmd_name(m.cmd), "HELLO");
    tmq_msg_release(&m);
    tmq_proto_header(hdr, TMQ_CMD_DRAIN); /* 0.5 */
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), 0);
    assert_int_equal(m.cmd, 19);
    assert_string_equal(tmq_cmd_name(m.cmd), "DRAIN");
    tmq_msg_release(&m);
    tmq_proto_header(hdr, TMQ_CMD_BATCH); /* the newest command (0.5) */
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), 0);
    assert_int_equal(m.cmd, 22);
    assert_string_equal(tmq_cmd_name(m.cmd), "BATCH");
    assert_string_equal(tmq_cmd_name(TMQ_CMD_ATTACH), "ATTACH");
    tmq_msg_release(&m);
    hdr[4] = TMQ_CMD_BATCH + 1; /* one past it is unknown */
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), -1);
    assert_int_equal(code, TMQ_ERR_COMMAND);

    hdr[3] = 99; /* version */
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), -1);
    assert_int_equal(code, TMQ_ERR_VERSION);
    hdr[3] = TMQ_PROTO_VERSION;
    hdr[4] = 200; /* command */
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), -1);
    assert_int_equal(code, TMQ_ERR_COMMAND);
    hdr[4] = 0;
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), -1);
    hdr[4] = TMQ_CMD_HELLO;
    hdr[0] = 'X'; /* signature */
    assert_int_equal(tmq_proto_decode(&m, hdr, sizeof hdr, body, len, &code), -1);
    assert_int_equal(code, TMQ_ERR_MALFORMED);
    hdr[0] = 'T';
    assert_int_equal(tmq_proto_decode(&m, hdr, 4, body, len, &code), -1);
    assert_int_equal(tmq_proto_decode(&m, NULL, 0, body, len, &code), -1);
    assert_string_equal(tmq_cmd_name(999), "?");
    free(body);
}

static void test_submit_roundtrip(void **state)
{
    (void)state;
    tmq_batch_t b;
    tmq_batch_init(&b);
    uint8_t arg[16];
    size_t alen = tu_pack_int(arg, 1000000);
    for (uint64_t i = 0; i < 300; i++) {
        tmq_submit_item_t it = {.cid = i,
                                .fn = "sum",
                                .fn_len = 3,
                                .arg = arg,
                                .arg_len = alen,
                                .timeout_ms = (uint32_t)i,
                                .retries = (int32_t)(i % 3) - 1};
        tmq_batch_add_submit(&b, &it);
    }
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    assert_int_equal(b.count, 0);
    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, len), 0);
    assert_int_equal(tmq_msg_count(&m), 300);
    for (size_t i = 0; i < 300; i++) {
        tmq_submit_item_t it;
        assert_int_equal(tmq_msg_submit_item(&m, i, &it), 0);
        assert_int_equal(it.cid, i);
        assert_int_equal(it.fn_len, 3);
        assert_memory_equal(it.fn, "sum", 3);
        assert_int_equal(it.arg_len, alen);
        assert_memory_equal(it.arg, arg, alen);
        assert_int_equal(it.timeout_ms, i);
        assert_int_equal(it.retries, (int32_t)(i % 3) - 1);
    }
    tmq_submit_item_t it;
    assert_int_equal(tmq_msg_submit_item(&m, 300, &it), -1); /* past the end */
    /* the wrong accessor for the item shape fails instead of misreading */
    tmq_done_item_t d;
    assert_int_equal(tmq_msg_done_item(&m, 0, &d), -1);
    tmq_msg_release(&m);
    tmq_msg_release(&m); /* safe twice */
    free(body);
    tmq_batch_destroy(&b);
}

static void test_other_batches_roundtrip(void **state)
{
    (void)state;
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_msg_t m;
    size_t len;
    void *body;

    /* ACK */
    tmq_reject_item_t rj = {
        .cid = 7, .code = TMQ_REJ_QUEUE_FULL, .reason = "queue full", .reason_len = 10};
    tmq_batch_add_reject(&b, &rj);
    body = tmq_batch_finish(&b, TMQ_CMD_ACK, 41, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_ACK, body, len), 0);
    uint64_t accepted = 0;
    assert_int_equal(tmq_msg_get_uint(&m, "accepted", &accepted), 0);
    assert_int_equal(accepted, 41);
    tmq_reject_item_t r2;
    assert_int_equal(tmq_msg_reject_item(&m, 0, &r2), 0);
    assert_int_equal(r2.cid, 7);
    assert_int_equal(r2.code, TMQ_REJ_QUEUE_FULL);
    assert_memory_equal(r2.reason, "queue full", 10);
    tmq_msg_release(&m);
    free(body);

    /* RESULTS */
    tmq_result_item_t res = {.cid = UINT64_MAX,
                             .status = TMQ_ST_DIED,
                             .data = "executor died",
                             .data_len = 13,
                             .worker = "hostA:12",
                             .worker_len = 8,
                             .ms = 3.25,
                             .attempts = 3};
    tmq_batch_add_result(&b, &res);
    body = tmq_batch_finish(&b, TMQ_CMD_RESULTS, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_RESULTS, body, len), 0);
    tmq_result_item_t r3;
    assert_int_equal(tmq_msg_result_item(&m, 0, &r3), 0);
    assert_true(r3.cid == UINT64_MAX);
    assert_int_equal(r3.status, TMQ_ST_DIED);
    assert_int_equal(r3.data_len, 13);
    assert_memory_equal(r3.worker, "hostA:12", 8);
    assert_true(r3.ms == 3.25);
    assert_int_equal(r3.attempts, 3);
    tmq_msg_release(&m);
    free(body);

    /* JOBS */
    tmq_job_item_t job = {.jid = 1ull << 40,
                          .attempt = 2,
                          .fn = "echo",
                          .fn_len = 4,
                          .arg = "\xc0",
                          .arg_len = 1,
                          .timeout_ms = 500};
    tmq_batch_add_job(&b, &job);
    body = tmq_batch_finish(&b, TMQ_CMD_JOBS, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_JOBS, body, len), 0);
    tmq_job_item_t j2;
    assert_int_equal(tmq_msg_job_item(&m, 0, &j2), 0);
    assert_true(j2.jid == 1ull << 40);
    assert_int_equal(j2.attempt, 2);
    assert_int_equal(j2.timeout_ms, 500);
    assert_int_equal(j2.arg_len, 1);
    tmq_msg_release(&m);
    free(body);

    /* DONE */
    tmq_done_item_t done = {.jid = 9,
                            .attempt = 1,
                            .status = TMQ_ST_OK,
                            .data = "\x2a",
                            .data_len = 1,
                            .pid = 4121,
                            .ms = 0.5};
    tmq_batch_add_done(&b, &done);
    body = tmq_batch_finish(&b, TMQ_CMD_DONE, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_DONE, body, len), 0);
    tmq_done_item_t d2;
    assert_int_equal(tmq_msg_done_item(&m, 0, &d2), 0);
    assert_int_equal(d2.jid, 9);
    assert_int_equal(d2.pid, 4121);
    assert_memory_equal(d2.data, "\x2a", 1);
    tmq_msg_release(&m);
    free(body);

    /* CANCEL / RETURNED */
    tmq_batch_add_ref(&b, 5, 3);
    body = tmq_batch_finish(&b, TMQ_CMD_CANCEL, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_CANCEL, body, len), 0);
    uint64_t jid;
    uint32_t att;
    assert_int_equal(tmq_msg_ref_item(&m, 0, &jid, &att), 0);
    assert_int_equal(jid, 5);
    assert_int_equal(att, 3);
    tmq_msg_release(&m);
    free(body);

    /* an empty batch is valid */
    body = tmq_batch_finish(&b, TMQ_CMD_RETURNED, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_RETURNED, body, len), 0);
    assert_int_equal(tmq_msg_count(&m), 0);
    tmq_msg_release(&m);
    free(body);
    tmq_batch_destroy(&b);
}

static void test_welcome_bounds(void **state)
{
    (void)state;
    tmq_msg_t m;
    size_t len;
    tmq_welcome_t w;
    void *body =
        tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = 250, .max_payload = 1024}, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_WELCOME, body, len), 0);
    tmq_msg_welcome(&m, &w);
    assert_int_equal(w.heartbeat_ms, 250);
    assert_int_equal(w.max_payload, 1024);
    assert_int_equal(w.version, TMQ_PROTO_VERSION);
    tmq_msg_release(&m);
    free(body);
    /* out of bounds: the defaults stay */
    body = tmq_proto_welcome_body(
        &(tmq_welcome_t){.heartbeat_ms = TMQ_PROTO_HEARTBEAT_MIN - 1, .max_payload = 0}, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_WELCOME, body, len), 0);
    tmq_msg_welcome(&m, &w);
    assert_int_equal(w.heartbeat_ms, TMQ_PROTO_HEARTBEAT_DEFAULT);
    assert_int_equal(w.max_payload, TMQ_PROTO_MAX_PAYLOAD);
    tmq_msg_release(&m);
    free(body);
    body = tmq_proto_welcome_body(
        &(tmq_welcome_t){.heartbeat_ms = TMQ_PROTO_HEARTBEAT_MAX + 1, .max_payload = 5}, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_WELCOME, body, len), 0);
    tmq_msg_welcome(&m, &w);
    assert_int_equal(w.heartbeat_ms, TMQ_PROTO_HEARTBEAT_DEFAULT);
    assert_int_equal(w.max_payload, 5);
    tmq_msg_release(&m);
    free(body);
}

static void test_ack_optional_keys(void **state)
{
    (void)state;
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_msg_t m;
    size_t len;
    const char *unserved[] = {"sum", "primes"};
    tmq_ack_info_t info = {.accepted = 3, .unserved = unserved, .nunserved = 2};
    tmq_reject_item_t rj = {
        .cid = 9, .code = TMQ_REJ_QUEUE_FULL, .reason = "queue full", .reason_len = 10};
    tmq_batch_add_reject(&b, &rj);
    void *body = tmq_proto_ack_body(&b, &info, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_ACK, body, len), 0);
    uint64_t acc;
    assert_int_equal(tmq_msg_get_uint(&m, "accepted", &acc), 0);
    assert_int_equal(acc, 3);
    assert_int_equal(tmq_msg_count(&m), 1);
    const msgpack_object *arr = tmq_msg_get(&m, "unserved");
    const char *s;
    size_t n;
    assert_int_equal(tmq_msg_str_at(arr, 1, &s, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(s, "primes", 6);
    assert_int_equal(tmq_msg_str_at(arr, 2, &s, &n), -1);
    assert_int_equal(tmq_msg_get_str(&m, "error", &s, &n), -1);
    tmq_msg_release(&m);
    free(body);

    info = (tmq_ack_info_t){.accepted = 0, .error = "item 2 has no job id"};
    body = tmq_proto_ack_body(&b, &info, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_ACK, body, len), 0);
    assert_int_equal(tmq_msg_count(&m), 0);
    assert_int_equal(tmq_msg_get_str(&m, "error", &s, &n), 0);
    assert_memory_equal(s, "item 2 has no job id", n);
    assert_null(tmq_msg_get(&m, "unserved"));
    tmq_msg_release(&m);
    free(body);
    tmq_batch_destroy(&b);
}

static void test_small_bodies(void **state)
{
    (void)state;
    tmq_msg_t m;
    size_t len;
    const char *fns[] = {"sum", "echo", "primes"};
    tmq_ready_t in = {.name = "hostA", .name_len = 5, .procs = 4, .pid = 777};
    void *body = tmq_proto_ready_body(&in, fns, 3, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_READY, body, len), 0);
    tmq_ready_t r;
    const char *got[2];
    size_t lens[2];
    assert_int_equal(tmq_msg_ready(&m, &r, got, lens, 2), 0);
    assert_int_equal(r.procs, 4);
    assert_int_equal(r.pid, 777);
    assert_int_equal(r.nfns, 3); /* all counted, only 2 returned */
    assert_memory_equal(got[1], "echo", 4);
    assert_memory_equal(r.name, "hostA", 5);
    assert_int_equal(r.version_len, 0); /* optional fields absent or defaulted */
    assert_int_equal(r.done, 0);
    tmq_msg_release(&m);
    free(body);

    in.version = "0.2.0";
    in.version_len = 5;
    in.done = 41;
    in.failed = 2;
    body = tmq_proto_ready_body(&in, fns, 1, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_READY, body, len), 0);
    assert_int_equal(tmq_msg_ready(&m, &r, got, lens, 2), 0);
    assert_int_equal(r.version_len, 5);
    assert_memory_equal(r.version, "0.2.0", 5);
    assert_int_equal(r.done, 41);
    assert_int_equal(r.failed, 2);
    tmq_msg_release(&m);
    free(body);

    body = tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = 250, .max_payload = 1024}, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_WELCOME, body, len), 0);
    uint64_t hb, mp;
    assert_int_equal(tmq_msg_get_uint(&m, "heartbeat", &hb), 0);
    assert_int_equal(tmq_msg_get_uint(&m, "max_payload", &mp), 0);
    assert_int_equal(hb, 250);
    assert_int_equal(mp, 1024);
    assert_int_equal(tmq_msg_get_uint(&m, "absent", &hb), -1);
    const char *s;
    size_t slen;
    assert_int_equal(tmq_msg_get_str(&m, "heartbeat", &s, &slen), -1); /* wrong type */
    tmq_msg_release(&m);
    free(body);

    body = tmq_proto_error_body(TMQ_ERR_COMMAND, "no such command", &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_ERROR, body, len), 0);
    assert_int_equal(tmq_msg_get_str(&m, "reason", &s, &slen), 0);
    assert_int_equal(slen, 15);
    tmq_msg_release(&m);
    free(body);

    body = tmq_proto_revoke_body(12, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_REVOKE, body, len), 0);
    assert_int_equal(tmq_msg_get_uint(&m, "n", &hb), 0);
    assert_int_equal(hb, 12);
    tmq_msg_release(&m);
    free(body);
}

/* Every proper prefix of a valid body must be refused, without crashing or leaking. */
static void test_truncation_every_offset(void **state)
{
    (void)state;
    tmq_batch_t b;
    tmq_batch_init(&b);
    uint8_t arg[16];
    size_t alen = tu_pack_int(arg, -5);
    for (int i = 0; i < 4; i++) {
        tmq_submit_item_t it = {.cid = (uint64_t)i * 100000,
                                .fn = "primes",
                                .fn_len = 6,
                                .arg = arg,
                                .arg_len = alen,
                                .timeout_ms = 70000,
                                .retries = 2};
        tmq_batch_add_submit(&b, &it);
    }
    size_t len;
    uint8_t *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    for (size_t cut = 0; cut < len; cut++) {
        tmq_msg_t m;
        assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, cut), -1);
        tmq_msg_release(&m);
    }
    /* trailing garbage after the one object is refused too */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, body, len);
    longer[len] = 0xc0;
    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, longer, len + 1), -1);
    free(longer);
    free(body);
    tmq_batch_destroy(&b);
}

typedef struct {
    const char *name;
    const uint8_t *bytes;
    size_t len;
} bad_case_t;

/* Bodies that must be refused: huge declared counts (msgpack-c#1013), reserved bytes,
 * non-map bodies, batches without their item array. */
static void test_hostile_bodies(void **state)
{
    (void)state;
    static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t huge_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0};
    static const uint8_t huge_str[] = {0x81, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    static const uint8_t huge_bin[] = {0x81, 0xa1, 'a', 0xc6, 0x7f, 0xff, 0xff, 0xff};
    static const uint8_t reserved[] = {0x81, 0xa1, 'a', 0xc1};
    static const uint8_t not_map[] = {0x93, 1, 2, 3};
    static const uint8_t empty[] = {0};
    static const uint8_t map_in_array_lie[] = {0x81, 0xa4, 'j', 'o', 'b', 's', 0xdc, 0xff, 0xff};
    static const uint8_t ext_trunc[] = {0x81, 0xa1, 'a', 0xc9, 0, 0, 0, 9, 1};
    static const bad_case_t cases[] = {
        {"huge array32", huge_array, sizeof huge_array},
        {"huge map32", huge_map, sizeof huge_map},
        {"huge str32", huge_str, sizeof huge_str},
        {"huge bin32", huge_bin, sizeof huge_bin},
        {"reserved 0xc1", reserved, sizeof reserved},
        {"array body", not_map, sizeof not_map},
        {"empty", empty, 0},
        {"items count lies", map_in_array_lie, sizeof map_in_array_lie},
        {"ext truncated", ext_trunc, sizeof ext_trunc},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tmq_msg_t m;
        int rc = tu_decode(&m, TMQ_CMD_SUBMIT, cases[i].bytes, cases[i].len);
        if (rc != -1) fail_msg("case '%s' was accepted", cases[i].name);
        tmq_msg_release(&m);
    }
    /* a valid map that lacks the batch key is refused for a batch command ... */
    static const uint8_t no_jobs[] = {0x81, 0xa1, 'x', 0x01};
    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, no_jobs, sizeof no_jobs), -1);
    /* ... and accepted for a command without a batch */
    assert_int_equal(tu_decode(&m, TMQ_CMD_STATUS, no_jobs, sizeof no_jobs), 0);
    assert_int_equal(tmq_msg_count(&m), 0);
    tmq_msg_release(&m);
}

static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t buf[200];
    /* {"a": [[[...]]]} nested n deep */
    for (int depth = 1; depth < 60; depth++) {
        size_t n = 0;
        buf[n++] = 0x81;
        buf[n++] = 0xa1;
        buf[n++] = 'a';
        for (int i = 0; i < depth; i++)
            buf[n++] = 0x91;
        buf[n++] = 0x01;
        tmq_msg_t m;
        int rc = tu_decode(&m, TMQ_CMD_STATUS, buf, n);
        /* the map counts 1, each array one more: allowed while at most 32 containers nest */
        if (depth + 1 <= TMQ_PROTO_MAX_DEPTH)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, -1);
        tmq_msg_release(&m);
    }
    assert_int_equal(tmq_proto_check("\x01", 1, 0), 0);
    assert_int_equal(tmq_proto_check("\x91\x01", 2, 0), -1);
    /* containers are counted whether or not they hold anything: 32 pass, 33 do not */
    for (int k = 31; k <= 34; k++) {
        size_t n = 0;
        for (int i = 0; i < k; i++)
            buf[n++] = 0x91;
        buf[n - 1] = 0x90; /* the innermost is empty */
        assert_int_equal(tmq_proto_check(buf, n, TMQ_PROTO_MAX_DEPTH), k <= 32 ? 0 : -1);
        buf[n - 1] = 0x80; /* an empty map counts the same */
        assert_int_equal(tmq_proto_check(buf, n, TMQ_PROTO_MAX_DEPTH), k <= 32 ? 0 : -1);
    }
}

/* A small body declaring a huge number of tiny objects would cost msgpack-c ~24 bytes each
 * to unpack: past TMQ_PROTO_MAX_OBJECTS it is refused before any allocation. */
static void test_object_budget(void **state)
{
    (void)state;
    size_t n = TMQ_PROTO_MAX_OBJECTS + 10;
    uint8_t *body = malloc(n + 16);
    size_t len = 0;
    body[len++] = 0x81;
    body[len++] = 0xa4;
    memcpy(body + len, "jobs", 4);
    len += 4;
    body[len++] = 0xdd; /* array32 */
    body[len++] = (uint8_t)(n >> 24);
    body[len++] = (uint8_t)(n >> 16);
    body[len++] = (uint8_t)(n >> 8);
    body[len++] = (uint8_t)n;
    memset(body + len, 0xc0, n); /* n nils: every count is honest, only the total is too big */
    len += n;
    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, len), -1);
    tmq_msg_release(&m);
    /* the same shape within the budget decodes */
    size_t ok = 1000;
    len = 7;
    body[len++] = (uint8_t)(ok >> 24);
    body[len++] = (uint8_t)(ok >> 16);
    body[len++] = (uint8_t)(ok >> 8);
    body[len++] = (uint8_t)ok;
    len += ok;
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, len), 0);
    assert_int_equal(tmq_msg_count(&m), ok);
    tmq_msg_release(&m);
    free(body);
}

/* Items with the wrong arity or types are refused one by one; their neighbours still decode. */
static void test_bad_items(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "jobs", 4);
    msgpack_pack_array(&pk, 6);
    /* 0: good */
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "sum", 3);
    msgpack_pack_bin(&pk, 1);
    msgpack_pack_bin_body(&pk, "\x05", 1);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_int32(&pk, -1);
    /* 1: wrong arity */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 2);
    msgpack_pack_nil(&pk);
    /* 2: cid is a string */
    msgpack_pack_array(&pk, 5);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "x", 1);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "sum", 3);
    msgpack_pack_bin(&pk, 0);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_int32(&pk, 0);
    /* 3: empty function name */
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, 3);
    msgpack_pack_str(&pk, 0);
    msgpack_pack_bin(&pk, 0);
    msgpack_pack_uint32(&pk, 0);
    msgpack_pack_int32(&pk, 0);
    /* 4: not an array */
    msgpack_pack_uint64(&pk, 4);
    /* 5: timeout negative */
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, 5);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "sum", 3);
    msgpack_pack_bin(&pk, 0);
    msgpack_pack_int32(&pk, -4);
    msgpack_pack_int32(&pk, 0);

    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, sb.data, sb.size), 0);
    assert_int_equal(tmq_msg_count(&m), 6);
    tmq_submit_item_t it;
    assert_int_equal(tmq_msg_submit_item(&m, 0, &it), 0);
    for (size_t i = 1; i < 6; i++) {
        if (tmq_msg_submit_item(&m, i, &it) != -1) fail_msg("bad item %zu accepted", i);
    }
    tmq_msg_release(&m);
    msgpack_sbuffer_destroy(&sb);
}

/* Random bytes must never crash the decoder (the fuzz target does this at scale). */
static void test_garbage(void **state)
{
    (void)state;
    uint8_t buf[64];
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t n = 1 + (seed % sizeof buf);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        tmq_msg_t m;
        if (tu_decode(&m, (tmq_cmd_t)(1 + round % (TMQ_CMD_MAX_ - 1)), buf, n) == 0) {
            for (size_t i = 0; i < tmq_msg_count(&m); i++) {
                tmq_submit_item_t s;
                tmq_done_item_t d;
                tmq_msg_submit_item(&m, i, &s);
                tmq_msg_done_item(&m, i, &d);
            }
            tmq_ready_t r;
            const char *f[4];
            size_t fl[4];
            tmq_msg_ready(&m, &r, f, fl, 4);
        }
        tmq_msg_release(&m);
    }
}

/* A body given as JSON (strings pack as str, which the decoders accept for bytes), decoded as
 * cmd. */
static int s_json_body(tmq_msg_t *m, int cmd, const char *json, msgpack_sbuffer *sb)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    assert_non_null(j);
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    assert_int_equal(tmq_json_pack(&pk, j), 0);
    json_decref(j);
    return tu_decode(m, cmd, sb->data, sb->size);
}

/* SUBMIT and JOBS items take an optional 6th element, a map of options; DONE and RESULTS
 * carry the out-of-memory status. */
static void test_job_options(void **state)
{
    (void)state;
    tmq_batch_t b;
    tmq_batch_init(&b);
    size_t len;
    tmq_msg_t m;

    /* packed only when set, and read back */
    tmq_submit_item_t in = {.cid = 7,
                            .fn = "sum",
                            .fn_len = 3,
                            .arg = "\x05",
                            .arg_len = 1,
                            .retries = -1,
                            .mem_limit = 512u << 20,
                            .retry_oom = true};
    tmq_batch_add_submit(&b, &in);
    in.cid = 8;
    in.mem_limit = 0;
    in.retry_oom = false;
    tmq_batch_add_submit(&b, &in);
    void *body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, len), 0);
    tmq_submit_item_t it;
    assert_int_equal(tmq_msg_submit_item(&m, 0, &it), 0);
    assert_true(it.mem_limit == 512u << 20);
    assert_true(it.retry_oom);
    assert_int_equal(m.items->via.array.ptr[1].via.array.size, 5);
    assert_int_equal(tmq_msg_submit_item(&m, 1, &it), 0);
    assert_true(it.mem_limit == 0);
    assert_false(it.retry_oom);
    tmq_msg_release(&m);
    free(body);

    /* unknown keys are ignored; a known key of the wrong type, a 6th element that is not a
     * map and a 7th element make the item malformed */
    msgpack_sbuffer sb;
    assert_int_equal(
        s_json_body(&m, TMQ_CMD_SUBMIT,
                    "{\"jobs\":[[1,\"sum\",\"x\",0,-1,{\"later\":[1],\"mem_limit\":4096}],"
                    "[2,\"sum\",\"x\",0,-1,{\"mem_limit\":\"1M\"}],"
                    "[3,\"sum\",\"x\",0,-1,{\"retry_oom\":1}],"
                    "[4,\"sum\",\"x\",0,-1,[]],"
                    "[5,\"sum\",\"x\",0,-1,{},{}],"
                    "[6,\"sum\",\"x\",0,-1,{\"mem_limit\":-1}]]}",
                    &sb),
        0);
    assert_int_equal(tmq_msg_submit_item(&m, 0, &it), 0);
    assert_true(it.mem_limit == 4096);
    for (size_t i = 1; i < 6; i++)
        assert_int_equal(tmq_msg_submit_item(&m, i, &it), -1);
    tmq_msg_release(&m);
    msgpack_sbuffer_destroy(&sb);

    /* JOBS: {mem_limit} when the job has one */
    tmq_job_item_t job = {.jid = 3,
                          .attempt = 1,
                          .fn = "echo",
                          .fn_len = 4,
                          .arg = "\xc0",
                          .arg_len = 1,
                          .mem_limit = 1u << 30};
    tmq_batch_add_job(&b, &job);
    job.mem_limit = 0;
    tmq_batch_add_job(&b, &job);
    body = tmq_batch_finish(&b, TMQ_CMD_JOBS, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_JOBS, body, len), 0);
    tmq_job_item_t j2;
    assert_int_equal(tmq_msg_job_item(&m, 0, &j2), 0);
    assert_true(j2.mem_limit == 1u << 30);
    assert_int_equal(m.items->via.array.ptr[1].via.array.size, 5);
    assert_int_equal(tmq_msg_job_item(&m, 1, &j2), 0);
    assert_true(j2.mem_limit == 0);
    tmq_msg_release(&m);
    free(body);

    /* OOM in DONE and RESULTS; REJECTED is not a worker's to say */
    assert_int_equal(s_json_body(&m, TMQ_CMD_DONE,
                                 "{\"results\":[[3,1,5,\"out of memory (limit 1 GiB)\",42,1.5],"
                                 "[4,1,4,\"no\",42,1.5],[5,1,6,\"?\",42,1.5]]}",
                                 &sb),
                     0);
    tmq_done_item_t d;
    assert_int_equal(tmq_msg_done_item(&m, 0, &d), 0);
    assert_int_equal(d.status, TMQ_ST_OOM);
    assert_int_equal(tmq_msg_done_item(&m, 1, &d), -1);
    assert_int_equal(tmq_msg_done_item(&m, 2, &d), -1);
    tmq_msg_release(&m);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(s_json_body(&m, TMQ_CMD_RESULTS,
                                 "{\"results\":[[3,5,\"out of memory\",\"w:1\",1.5,1],"
                                 "[4,6,\"cancelled\",\"\",0.0,0],[5,7,\"?\",\"w:1\",1.5,1]]}",
                                 &sb),
                     0);
    tmq_result_item_t r;
    assert_int_equal(tmq_msg_result_item(&m, 0, &r), 0);
    assert_int_equal(r.status, TMQ_ST_OOM);
    assert_int_equal(tmq_msg_result_item(&m, 1, &r), 0);
    assert_int_equal(r.status, TMQ_ST_CANCELLED);
    assert_int_equal(tmq_msg_result_item(&m, 2, &r), -1);
    tmq_msg_release(&m);
    msgpack_sbuffer_destroy(&sb);
    /* WITHDRAW: bare cids; anything else is a bad item */
    assert_int_equal(s_json_body(&m, TMQ_CMD_WITHDRAW, "{\"jobs\":[7,[8,1],\"9\"]}", &sb), 0);
    assert_int_equal(tmq_msg_count(&m), 3);
    uint64_t cid = 0;
    assert_int_equal(tmq_msg_cid_item(&m, 0, &cid), 0);
    assert_int_equal(cid, 7);
    assert_int_equal(tmq_msg_cid_item(&m, 1, &cid), -1);
    assert_int_equal(tmq_msg_cid_item(&m, 2, &cid), -1);
    assert_int_equal(tmq_msg_cid_item(&m, 3, &cid), -1);
    tmq_msg_release(&m);
    msgpack_sbuffer_destroy(&sb);
    tmq_batch_destroy(&b);

    /* who takes them: READY job_options (workers), HELLO oom (clients) */
    const char *fns[] = {"sum"};
    const char *got[1];
    size_t got_len[1];
    for (int with = 0; with < 2; with++) {
        tmq_ready_t ready = {.name = "w", .name_len = 1, .procs = 1, .pid = 2, .job_options = with};
        body = tmq_proto_ready_body(&ready, fns, 1, &len);
        assert_int_equal(tu_decode(&m, TMQ_CMD_READY, body, len), 0);
        tmq_ready_t back;
        assert_int_equal(tmq_msg_ready(&m, &back, got, got_len, 1), 0);
        assert_int_equal(back.job_options, with);
        assert_int_equal(back.python_len, 0); /* not a Python worker: no key */
        tmq_msg_release(&m);
        free(body);
    }
    tmq_ready_t pyready = {
        .name = "w", .name_len = 1, .procs = 1, .pid = 2, .python = "3.11.2", .python_len = 6};
    body = tmq_proto_ready_body(&pyready, fns, 1, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_READY, body, len), 0);
    tmq_ready_t back;
    assert_int_equal(tmq_msg_ready(&m, &back, got, got_len, 1), 0);
    assert_int_equal(back.python_len, 6);
    assert_memory_equal(back.python, "3.11.2", 6);
    tmq_msg_release(&m);
    free(body);
    body = tmq_proto_hello_body(NULL, 0, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_HELLO, body, len), 0);
    assert_true(tmq_msg_get_true(&m, "oom"));
    assert_false(tmq_msg_get_true(&m, "other"));
    tmq_msg_release(&m);
    free(body);
}

/* 0.5's session keys (5.7): HELLO session + linger, SUBMIT seq + session, ACK seq, WELCOME
 * journal + resumed, RACK; a session of the wrong size or type is not one. */
static void test_session_keys(void **state)
{
    (void)state;
    uint8_t sid[TMQ_PROTO_SESSION_LEN], back[TMQ_PROTO_SESSION_LEN];
    for (int i = 0; i < TMQ_PROTO_SESSION_LEN; i++)
        sid[i] = (uint8_t)(0xA0 + i);
    size_t len;
    tmq_msg_t m;
    void *body = tmq_proto_hello_body(sid, 5000, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_HELLO, body, len), 0);
    assert_true(tmq_msg_get_true(&m, "oom"));
    assert_int_equal(tmq_msg_session(&m, back), 0);
    assert_memory_equal(back, sid, sizeof sid);
    uint64_t v = 0;
    assert_int_equal(tmq_msg_get_uint(&m, "linger_ms", &v), 0);
    assert_int_equal(v, 5000);
    tmq_msg_release(&m);
    free(body);

    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_submit_item_t it = {.cid = 7, .fn = "f", .fn_len = 1, .arg = "\xc0", .arg_len = 1};
    tmq_batch_add_submit(&b, &it);
    body = tmq_proto_submit_body(&b, 42, sid, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, len), 0);
    assert_int_equal(tmq_msg_count(&m), 1);
    assert_int_equal(tmq_msg_get_uint(&m, "seq", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tmq_msg_session(&m, back), 0);
    assert_true(tmq_msg_get_true(&m, "oom"));
    tmq_msg_release(&m);
    free(body);
    tmq_batch_add_submit(&b, &it);
    body = tmq_proto_submit_body(&b, 0, NULL, &len); /* neither: as tmq_batch_finish */
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, len), 0);
    assert_int_not_equal(tmq_msg_get_uint(&m, "seq", &v), 0);
    assert_int_equal(tmq_msg_session(&m, back), -1);
    tmq_msg_release(&m);
    free(body);

    tmq_ack_info_t info = {.accepted = 3, .seq = 42};
    body = tmq_proto_ack_body(&b, &info, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_ACK, body, len), 0);
    assert_int_equal(tmq_msg_get_uint(&m, "seq", &v), 0);
    assert_int_equal(v, 42);
    tmq_msg_release(&m);
    free(body);
    tmq_batch_destroy(&b);

    tmq_welcome_t w = {
        .heartbeat_ms = 250, .max_payload = 9, .journal = true, .has_resumed = true, .resumed = 12};
    body = tmq_proto_welcome_body(&w, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_WELCOME, body, len), 0);
    tmq_welcome_t got;
    tmq_msg_welcome(&m, &got);
    assert_true(got.journal);
    assert_true(got.has_resumed);
    assert_int_equal(got.resumed, 12);
    tmq_msg_release(&m);
    free(body);
    body = tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = 250, .max_payload = 9}, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_WELCOME, body, len), 0);
    tmq_msg_welcome(&m, &got);
    assert_false(got.journal);
    assert_false(got.has_resumed);
    tmq_msg_release(&m);
    free(body);

    body = tmq_proto_rack_body(99, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_RACK, body, len), 0);
    assert_int_equal(tmq_msg_get_uint(&m, "received", &v), 0);
    assert_int_equal(v, 99);
    assert_string_equal(tmq_cmd_name(TMQ_CMD_RACK), "RACK");
    tmq_msg_release(&m);
    free(body);

    /* a session of 15 bytes, or a str, is none */
    static const uint8_t short_sid[] = {0x81, 0xa7, 's', 'e', 's', 's', 'i', 'o', 'n',
                                        0xc4, 15,   1,   2,   3,   4,   5,   6,   7,
                                        8,    9,    10,  11,  12,  13,  14,  15};
    assert_int_equal(tu_decode(&m, TMQ_CMD_HELLO, short_sid, sizeof short_sid), 0);
    assert_int_equal(tmq_msg_session(&m, back), -1);
    tmq_msg_release(&m);
}

/* 0.5's named batches (5.8): SUBMIT batch keys, ATTACH, BATCH; what a batch name may be. */
static void test_batch_keys(void **state)
{
    (void)state;
    assert_true(tmq_proto_batch_name_ok("nightly-2026.12.01", 18));
    assert_true(tmq_proto_batch_name_ok("\xc3\xa9t\xc3\xa9", 5)); /* UTF-8 */
    assert_false(tmq_proto_batch_name_ok("", 0));
    assert_false(tmq_proto_batch_name_ok("a b", 3));
    assert_false(tmq_proto_batch_name_ok("a\nb", 3));
    char big[TMQ_PROTO_MAX_BATCH_NAME + 1];
    memset(big, 'x', sizeof big);
    assert_true(tmq_proto_batch_name_ok(big, TMQ_PROTO_MAX_BATCH_NAME));
    assert_false(tmq_proto_batch_name_ok(big, sizeof big));

    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_submit_item_t it = {.cid = 3, .fn = "f", .fn_len = 1, .arg = "\xc0", .arg_len = 1};
    tmq_batch_add_submit(&b, &it);
    tmq_submit_info_t si = {
        .seq = 2, .batch = "run1", .batch_len = 4, .batch_ttl_ms = 5000, .batch_end = true};
    size_t len;
    void *body = tmq_proto_submit_body_ex(&b, &si, &len);
    tmq_msg_t m;
    assert_int_equal(tu_decode(&m, TMQ_CMD_SUBMIT, body, len), 0);
    const char *name;
    size_t nlen;
    assert_int_equal(tmq_msg_batch_name(&m, &name, &nlen), 0);
    assert_int_equal(nlen, 4);
    assert_memory_equal(name, "run1", 4);
    uint64_t v;
    assert_int_equal(tmq_msg_get_uint(&m, "batch_ttl_ms", &v), 0);
    assert_int_equal(v, 5000);
    assert_true(tmq_msg_get_true(&m, "batch_end"));
    tmq_msg_release(&m);
    free(body);
    tmq_batch_destroy(&b);

    body = tmq_proto_attach_body("run1", 4, true, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_ATTACH, body, len), 0);
    assert_int_equal(tmq_msg_batch_name(&m, &name, &nlen), 0);
    assert_true(tmq_msg_get_true(&m, "resume"));
    tmq_msg_release(&m);
    free(body);

    uint64_t ok[] = {0, 2, 5};
    tmq_batch_info_t bi = {.name = "run1",
                           .name_len = 4,
                           .known = true,
                           .total = 6,
                           .done = 3,
                           .failed = 1,
                           .running = 2,
                           .closed = true,
                           .ok = ok,
                           .nok = 3};
    body = tmq_proto_batch_body(&bi, &len);
    assert_int_equal(tu_decode(&m, TMQ_CMD_BATCH, body, len), 0);
    tmq_batch_info_t back;
    assert_int_equal(tmq_msg_batch_info(&m, &back), 0);
    assert_true(back.known && back.closed && !back.complete);
    assert_int_equal(back.total, 6);
    assert_int_equal(back.done, 3);
    assert_int_equal(back.failed, 1);
    assert_int_equal(back.running, 2);
    const msgpack_object *oks = tmq_msg_get(&m, "ok");
    assert_non_null(oks);
    assert_int_equal(oks->via.array.size, 3);
    assert_int_equal(oks->via.array.ptr[2].via.u64, 5);
    tmq_msg_release(&m);
    free(body);

    /* a SUBMIT whose batch is not a name */
    static const uint8_t bad[] = {0x81, 0xa5, 'b', 'a', 't', 'c', 'h', 0xa3, 'a', ' ', 'b'};
    assert_int_equal(tu_decode(&m, TMQ_CMD_HELLO, bad, sizeof bad), 0);
    assert_int_equal(tmq_msg_batch_name(&m, &name, &nlen), -2);
    tmq_msg_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_submit_roundtrip),
        cmocka_unit_test(test_other_batches_roundtrip),
        cmocka_unit_test(test_small_bodies),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_hostile_bodies),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_object_budget),
        cmocka_unit_test(test_bad_items),
        cmocka_unit_test(test_job_options),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_welcome_bounds),
        cmocka_unit_test(test_ack_optional_keys),
        cmocka_unit_test(test_session_keys),
        cmocka_unit_test(test_batch_keys),
    };
    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
