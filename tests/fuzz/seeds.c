/* tests/fuzz/seeds.c — writes a seed corpus of valid messages of every command, so the
 * fuzzer starts from the real grammar (command byte + body). Run: seeds DIR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void s_write(const char *dir, const char *name, tmq_cmd_t cmd, const void *body, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    uint8_t c = (uint8_t)(cmd - 1);
    fwrite(&c, 1, 1, f);
    fwrite(body, 1, len, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    const char *dir = argv[1];
    tmq_batch_t b;
    tmq_batch_init(&b);
    size_t len;
    void *body;

    tmq_submit_item_t s = {1, "sum", 3, "\xcd\x03\xe8", 3, 500, -1, 256u << 20, true};
    tmq_batch_add_submit(&b, &s);
    s.cid = 2;
    s.fn = "echo";
    s.fn_len = 4;
    s.arg = "\x92\xa1x\xc0";
    s.arg_len = 4;
    tmq_batch_add_submit(&b, &s);
    body = tmq_batch_finish(&b, TMQ_CMD_SUBMIT, 0, &len);
    s_write(dir, "submit", TMQ_CMD_SUBMIT, body, len);
    free(body);

    tmq_reject_item_t r = {3, TMQ_REJ_QUEUE_FULL, "queue full", 10};
    tmq_batch_add_reject(&b, &r);
    body = tmq_batch_finish(&b, TMQ_CMD_ACK, 5, &len);
    s_write(dir, "ack", TMQ_CMD_ACK, body, len);
    free(body);

    tmq_result_item_t res = {1, TMQ_ST_OK, "\x2d", 1, "host:1", 6, 1.5, 1};
    tmq_batch_add_result(&b, &res);
    body = tmq_batch_finish(&b, TMQ_CMD_RESULTS, 0, &len);
    s_write(dir, "results", TMQ_CMD_RESULTS, body, len);
    free(body);

    tmq_job_item_t j = {77, 2, "primes", 6, "\x64", 1, 0, 0};
    tmq_batch_add_job(&b, &j);
    body = tmq_batch_finish(&b, TMQ_CMD_JOBS, 0, &len);
    s_write(dir, "jobs", TMQ_CMD_JOBS, body, len);
    free(body);

    tmq_done_item_t d = {77, 2, TMQ_ST_DIED, "executor died: SIGSEGV", 22, 999, 0.25};
    tmq_batch_add_done(&b, &d);
    body = tmq_batch_finish(&b, TMQ_CMD_DONE, 0, &len);
    s_write(dir, "done", TMQ_CMD_DONE, body, len);
    free(body);

    tmq_batch_add_ref(&b, 77, 2);
    body = tmq_batch_finish(&b, TMQ_CMD_CANCEL, 0, &len);
    s_write(dir, "cancel", TMQ_CMD_CANCEL, body, len);
    free(body);

    tmq_batch_add_cid(&b, 7);
    tmq_batch_add_cid(&b, 18446744073709551614u);
    body = tmq_batch_finish(&b, TMQ_CMD_WITHDRAW, 0, &len);
    s_write(dir, "withdraw", TMQ_CMD_WITHDRAW, body, len);
    free(body);

    const char *fns[] = {"sum", "echo"};
    tmq_ready_t ready = {
        .name = "w1", .name_len = 2, .procs = 2, .pid = 42, .version = "0.1.0", .version_len = 5};
    body = tmq_proto_ready_body(&ready, fns, 2, &len);
    s_write(dir, "ready", TMQ_CMD_READY, body, len);
    free(body);
    body = tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = 1000, .max_payload = 1 << 20}, &len);
    s_write(dir, "welcome", TMQ_CMD_WELCOME, body, len);
    free(body);
    body = tmq_proto_error_body(1, "malformed", &len);
    s_write(dir, "error", TMQ_CMD_ERROR, body, len);
    free(body);
    body = tmq_proto_empty_body(&len);
    s_write(dir, "hello", TMQ_CMD_HELLO, body, len);
    s_write(dir, "drain", TMQ_CMD_DRAIN, body, len);
    free(body);
    s_write(dir, "huge-count", TMQ_CMD_SUBMIT, "\x81\xa4jobs\xdd\xff\xff\xff\xff", 10);
    tmq_batch_destroy(&b);
    return 0;
}
