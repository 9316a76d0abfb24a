/* tests/integration/tmq_garbage.c — hostile peer for integration tests.
 *
 *   tmq_garbage client EP N      N malformed messages to a broker frontend, then a handshake
 *   tmq_garbage worker EP N      N malformed messages to a broker backend, then a handshake
 *   tmq_garbage fakebroker N     binds a ROUTER on loopback (prints its endpoint), waits for a
 *                                worker's READY, sends it N malformed messages, then one real
 *                                echo job, and expects the right DONE back
 *   tmq_garbage hello EP         a client's HELLO to EP; prints the answer ("WELCOME" or
 *                                "ERROR code reason")
 *   tmq_garbage await-bye EP MS  HELLO to a broker frontend, prints "welcomed", then waits MS
 *                                for the broker's BYE and prints "BYE"
 *   tmq_garbage oomworker EP     a worker on broker backend EP serving big, flaky and exec,
 *                                one job at a time, as a worker with memory limits reports
 *                                them: a job with no mem_limit echoes its argument; with one,
 *                                big and exec end OOM "out of memory (limit 512 MiB)" (the
 *                                job's limit), flaky only on its first attempt. Runs until
 *                                the broker says BYE or 120 s pass.
 * Exits 0 when the peer under attack still answers correctly afterwards (hello: any answer;
 * await-bye: BYE came), 1 otherwise. Every wait is bounded. Random input comes from a fixed
 * seed, so a failure reproduces.
 */
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "proto.h"
#include "wire.h"

static uint32_t s_seed = 20261122;

static uint32_t s_rand(void)
{
    s_seed = s_seed * 1103515245u + 12345u;
    return s_seed >> 8;
}

static void s_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)s_rand();
}

/* One hostile message of a kind picked at random; rid is prepended on a ROUTER. */
static void s_send_garbage(zsock_t *sock, const void *rid, size_t rid_len, bool to_worker)
{
    uint8_t buf[512];
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    zmsg_t *m = zmsg_new();
    if (rid) zmsg_addmem(m, rid, rid_len);
    int kind = (int)(s_rand() % 8);
    size_t n = s_rand() % sizeof buf;
    s_fill(buf, n);
    switch (kind) {
    case 0: /* random frames, random count */
        for (int i = (int)(s_rand() % 4); i >= 0; i--)
            zmsg_addmem(m, buf, s_rand() % (n + 1));
        break;
    case 1: /* valid header, garbage body */
        tmq_proto_header(hdr, (tmq_cmd_t)(1 + s_rand() % (TMQ_CMD_MAX_ - 1)));
        zmsg_addmem(m, hdr, sizeof hdr);
        zmsg_addmem(m, buf, n);
        break;
    case 2: /* huge declared counts (msgpack-c#1013) */
        tmq_proto_header(hdr, to_worker ? TMQ_CMD_JOBS : TMQ_CMD_SUBMIT);
        zmsg_addmem(m, hdr, sizeof hdr);
        zmsg_addmem(m, "\x81\xa4jobs\xdd\xff\xff\xff\xff", 10);
        break;
    case 3: /* wrong version / unknown command */
        tmq_proto_header(hdr, TMQ_CMD_HELLO);
        hdr[s_rand() % 2 ? 3 : 4] = (uint8_t)(100 + s_rand() % 100);
        zmsg_addmem(m, hdr, sizeof hdr);
        zmsg_addmem(m, "\x80", 1);
        break;
    case 4: { /* batch with wrong-typed items */
        tmq_proto_header(hdr,
                         to_worker ? TMQ_CMD_JOBS : (s_rand() % 2 ? TMQ_CMD_SUBMIT : TMQ_CMD_DONE));
        zmsg_addmem(m, hdr, sizeof hdr);
        static const uint8_t bad[] = {0x81, 0xa4, 'j',  'o',  'b',  's',  0x93, 0x01, 0x92,
                                      0xa1, 'x',  0xc0, 0x95, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
        static const uint8_t badr[] = {0x81, 0xa7, 'r',  'e', 's',  'u', 'l', 't', 's',
                                       0x91, 0x96, 0xcf, 1,   2,    3,   4,   5,   6,
                                       7,    8,    1,    0,   0xc4, 0,   1,   0};
        if (hdr[4] == TMQ_CMD_DONE)
            zmsg_addmem(m, badr, sizeof badr);
        else
            zmsg_addmem(m, bad, sizeof bad);
        break;
    }
    case 5: /* a command from the wrong side (a broker's or a worker's command) */
        tmq_proto_header(hdr, to_worker ? TMQ_CMD_SUBMIT : TMQ_CMD_JOBS);
        zmsg_addmem(m, hdr, sizeof hdr);
        zmsg_addmem(m, "\x81\xa4jobs\x90", 7);
        break;
    case 6: /* header only */
        tmq_proto_header(hdr, TMQ_CMD_HEARTBEAT);
        zmsg_addmem(m, hdr, sizeof hdr);
        break;
    default: /* three frames after the header */
        tmq_proto_header(hdr, TMQ_CMD_STATUS);
        zmsg_addmem(m, hdr, sizeof hdr);
        zmsg_addmem(m, "\x80", 1);
        zmsg_addmem(m, buf, n);
        break;
    }
    zmsg_send(&m, sock);
}

/* Waits up to ms for a message with command cmd; returns 0 when it came. With keep, the
 * message is received into *keep (the caller releases it): a tmq_wire_in_t must not be
 * copied, since small ZeroMQ messages keep their bytes inside the zmq_msg_t itself. */
static int s_expect(zsock_t *sock, bool router, int cmd, int ms, tmq_wire_in_t *keep)
{
    int64_t deadline = zclock_mono() + ms;
    tmq_wire_in_t scratch;
    tmq_wire_in_t *in = keep ? keep : &scratch;
    while (zclock_mono() < deadline) {
        zpoller_t *p = zpoller_new(sock, NULL);
        void *which = zpoller_wait(p, 100);
        zpoller_destroy(&p);
        if (!which) continue;
        int code;
        int rc;
        while ((rc = tmq_wire_recv(sock, router, in, &code)) != 0) {
            if (rc == 1 && in->msg.cmd == cmd) {
                if (!keep) tmq_wire_in_release(in);
                return 0;
            }
            tmq_wire_in_release(in);
        }
    }
    return -1;
}

static int s_attack_broker(const char *ep, int n, bool as_worker)
{
    /* several connections, so per-peer state is exercised too */
    for (int round = 0; round < 4; round++) {
        zsock_t *s = zsock_new_dealer(ep);
        for (int i = 0; i < n / 4; i++)
            s_send_garbage(s, NULL, 0, false);
        zclock_sleep(50);
        zsock_destroy(&s);
    }
    zsock_t *s = zsock_new_dealer(ep);
    int rc;
    if (as_worker) {
        const char *fns[] = {"garbage-test-fn"};
        size_t len;
        tmq_ready_t r = {.name = "garbage", .name_len = 7, .procs = 1, .pid = (uint32_t)getpid()};
        void *body = tmq_proto_ready_body(&r, fns, 1, &len);
        tmq_wire_send(s, NULL, 0, TMQ_CMD_READY, &body, len);
        rc = s_expect(s, false, TMQ_CMD_WELCOME, 5000, NULL);
        tmq_wire_send_empty(s, NULL, 0, TMQ_CMD_BYE);
    } else {
        tmq_wire_send_empty(s, NULL, 0, TMQ_CMD_HELLO);
        rc = s_expect(s, false, TMQ_CMD_WELCOME, 5000, NULL);
    }
    zclock_sleep(100);
    zsock_destroy(&s);
    if (rc != 0) fprintf(stderr, "tmq_garbage: broker did not answer after the attack\n");
    return rc == 0 ? 0 : 1;
}

static int s_attack_worker(int n)
{
    zsock_t *r = zsock_new(ZMQ_ROUTER);
    zsock_set_sndhwm(r, 100000); /* a ROUTER silently drops what passes its HWM */
    int port = zsock_bind(r, "tcp://127.0.0.1:*");
    if (port < 0) return 1;
    printf("tcp://127.0.0.1:%d\n", port);
    fflush(stdout);
    tmq_wire_in_t in;
    if (s_expect(r, true, TMQ_CMD_READY, 10000, &in) != 0) {
        fprintf(stderr, "tmq_garbage: no worker READY\n");
        return 1;
    }
    uint8_t rid[TMQ_WIRE_MAX_RID];
    size_t rid_len = in.rid_len;
    memcpy(rid, in.rid, rid_len);
    tmq_wire_in_release(&in);
    size_t len;
    void *body = tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = 1000, .max_payload = TMQ_PROTO_MAX_PAYLOAD}, &len);
    tmq_wire_send(r, rid, rid_len, TMQ_CMD_WELCOME, &body, len);
    for (int i = 0; i < n; i++)
        s_send_garbage(r, rid, rid_len, true);

    /* Then a real job: echo 42 with a job id nobody else uses. */
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_job_item_t job = {.jid = 4242,
                          .attempt = 1,
                          .fn = "echo",
                          .fn_len = 4,
                          .arg = "\x2a",
                          .arg_len = 1,
                          .timeout_ms = 0};
    tmq_batch_add_job(&b, &job);
    body = tmq_batch_finish(&b, TMQ_CMD_JOBS, 0, &len);
    tmq_batch_destroy(&b);
    tmq_wire_send(r, rid, rid_len, TMQ_CMD_JOBS, &body, len);
    int64_t deadline = zclock_mono() + 10000;
    int ok = 1;
    while (ok && zclock_mono() < deadline) {
        if (s_expect(r, true, TMQ_CMD_DONE, 500, &in) != 0) continue;
        for (size_t i = 0; i < tmq_msg_count(&in.msg); i++) {
            tmq_done_item_t d;
            if (tmq_msg_done_item(&in.msg, i, &d) == 0 && d.jid == 4242 && d.status == TMQ_ST_OK &&
                d.data_len == 1 && ((const uint8_t *)d.data)[0] == 0x2a)
                ok = 0;
        }
        tmq_wire_in_release(&in);
    }
    tmq_wire_send_empty(r, rid, rid_len, TMQ_CMD_BYE);
    zclock_sleep(100);
    zsock_destroy(&r);
    if (ok) fprintf(stderr, "tmq_garbage: worker did not run a job after the attack\n");
    return ok;
}

/* Waits up to ms for the next well-formed message on a DEALER; returns its command, or 0. The
 * message is left in *in (release it) when one came. */
static int s_next(zsock_t *sock, int ms, tmq_wire_in_t *in)
{
    int64_t deadline = zclock_mono() + ms;
    while (zclock_mono() < deadline) {
        zpoller_t *p = zpoller_new(sock, NULL);
        void *which = zpoller_wait(p, 100);
        zpoller_destroy(&p);
        if (!which) continue;
        int code, rc;
        while ((rc = tmq_wire_recv(sock, false, in, &code)) != 0) {
            if (rc == 1) return in->msg.cmd;
            tmq_wire_in_release(in);
        }
    }
    return 0;
}

/* A client's HELLO; prints what came back. */
static int s_hello(const char *ep)
{
    zsock_t *s = zsock_new_dealer(ep);
    tmq_wire_send_empty(s, NULL, 0, TMQ_CMD_HELLO);
    tmq_wire_in_t in;
    int cmd = s_next(s, 5000, &in);
    if (cmd == TMQ_CMD_ERROR) {
        uint64_t code = 0;
        const char *reason = "";
        size_t len = 0;
        tmq_msg_get_uint(&in.msg, "code", &code);
        tmq_msg_get_str(&in.msg, "reason", &reason, &len);
        printf("ERROR %llu %.*s\n", (unsigned long long)code, (int)len, reason);
    } else if (cmd) {
        printf("%s\n", tmq_cmd_name(cmd));
    }
    if (cmd) tmq_wire_in_release(&in);
    zsock_destroy(&s);
    if (!cmd) fprintf(stderr, "tmq_garbage: no answer to HELLO\n");
    return cmd ? 0 : 1;
}

/* A client that is welcomed, then waits for the broker to say BYE. */
static int s_await_bye(const char *ep, int ms)
{
    zsock_t *s = zsock_new_dealer(ep);
    tmq_wire_send_empty(s, NULL, 0, TMQ_CMD_HELLO);
    int rc = 1;
    if (s_expect(s, false, TMQ_CMD_WELCOME, 5000, NULL) == 0) {
        printf("welcomed\n");
        fflush(stdout);
        int64_t deadline = zclock_mono() + ms;
        tmq_wire_in_t in;
        int cmd;
        while (rc && zclock_mono() < deadline &&
               (cmd = s_next(s, (int)(deadline - zclock_mono()), &in)) != 0) {
            tmq_wire_in_release(&in);
            if (cmd == TMQ_CMD_BYE) {
                printf("BYE\n");
                rc = 0;
            }
        }
    }
    zsock_destroy(&s);
    if (rc) fprintf(stderr, "tmq_garbage: no BYE from the broker\n");
    return rc;
}

/* One DONE for a JOBS item, as oomworker answers it. */
static void s_oom_answer(zsock_t *s, const tmq_job_item_t *job)
{
    char size[32], text[64];
    tmq_format_size(job->mem_limit, size, sizeof size);
    snprintf(text, sizeof text, "out of memory (limit %s)", size);
    bool flaky = job->fn_len == 5 && memcmp(job->fn, "flaky", 5) == 0;
    bool oom = job->mem_limit && (!flaky || job->attempt == 1);
    tmq_done_item_t d = {.jid = job->jid,
                         .attempt = job->attempt,
                         .status = oom ? TMQ_ST_OOM : TMQ_ST_OK,
                         .data = oom ? (const void *)text : job->arg,
                         .data_len = oom ? strlen(text) : job->arg_len,
                         .pid = (uint32_t)getpid(),
                         .ms = 1.0};
    tmq_batch_t b;
    tmq_batch_init(&b);
    tmq_batch_add_done(&b, &d);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_DONE, 0, &len);
    tmq_batch_destroy(&b);
    tmq_wire_send(s, NULL, 0, TMQ_CMD_DONE, &body, len);
}

static int s_oom_worker(const char *ep)
{
    zsock_t *s = zsock_new_dealer(ep);
    const char *fns[] = {"big", "flaky", "exec"};
    size_t len;
    tmq_ready_t r = {
        .name = "oomw", .name_len = 4, .procs = 1, .pid = (uint32_t)getpid(), .job_options = true};
    void *body = tmq_proto_ready_body(&r, fns, 3, &len);
    tmq_wire_send(s, NULL, 0, TMQ_CMD_READY, &body, len);
    int64_t deadline = zclock_mono() + 120000, beat = 0;
    int rc = 1;
    while (zclock_mono() < deadline) {
        if (zclock_mono() - beat >= 300) {
            tmq_wire_send_empty(s, NULL, 0, TMQ_CMD_HEARTBEAT);
            beat = zclock_mono();
        }
        tmq_wire_in_t in;
        int cmd = s_next(s, 300, &in);
        if (!cmd) continue;
        if (cmd == TMQ_CMD_JOBS) {
            for (size_t i = 0; i < tmq_msg_count(&in.msg); i++) {
                tmq_job_item_t job;
                if (tmq_msg_job_item(&in.msg, i, &job) == 0) s_oom_answer(s, &job);
            }
        }
        tmq_wire_in_release(&in);
        if (cmd == TMQ_CMD_BYE) {
            rc = 0;
            break;
        }
    }
    zsock_destroy(&s);
    return rc;
}

int main(int argc, char **argv)
{
    zsys_init();
    zsys_set_linger(100);
    if (argc == 4 && strcmp(argv[1], "client") == 0)
        return s_attack_broker(argv[2], atoi(argv[3]), false);
    if (argc == 4 && strcmp(argv[1], "worker") == 0)
        return s_attack_broker(argv[2], atoi(argv[3]), true);
    if (argc == 3 && strcmp(argv[1], "fakebroker") == 0) return s_attack_worker(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "hello") == 0) return s_hello(argv[2]);
    if (argc == 4 && strcmp(argv[1], "await-bye") == 0) return s_await_bye(argv[2], atoi(argv[3]));
    if (argc == 3 && strcmp(argv[1], "oomworker") == 0) return s_oom_worker(argv[2]);
    fprintf(stderr,
            "usage: tmq_garbage client|worker EP N | fakebroker N | hello EP | await-bye EP MS | "
            "oomworker EP\n");
    return 2;
}
