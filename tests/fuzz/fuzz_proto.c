/* tests/fuzz/fuzz_proto.c — libFuzzer target for the wire codec.
 *
 * The first byte picks the command, the rest is the body: decode it and, when it decodes,
 * read every batch item with every accessor. Built with clang -fsanitize=fuzzer when
 * TASKMQ_FUZZ is on; replay.c runs the committed corpus as an ordinary test otherwise.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, (tmq_cmd_t)(1 + data[0] % (TMQ_CMD_MAX_ - 1)));
    tmq_msg_t m;
    int code;
    if (tmq_proto_decode(&m, hdr, sizeof hdr, data + 1, size - 1, &code) == 0) {
        for (size_t i = 0; i < tmq_msg_count(&m); i++) {
            tmq_submit_item_t s;
            tmq_reject_item_t r;
            tmq_result_item_t res;
            tmq_job_item_t j;
            tmq_done_item_t d;
            uint64_t jid;
            uint32_t att;
            tmq_msg_submit_item(&m, i, &s);
            tmq_msg_reject_item(&m, i, &r);
            tmq_msg_result_item(&m, i, &res);
            tmq_msg_job_item(&m, i, &j);
            tmq_msg_done_item(&m, i, &d);
            tmq_msg_ref_item(&m, i, &jid, &att);
            tmq_msg_cid_item(&m, i, &jid);
        }
        tmq_ready_t rd;
        const char *fns[8];
        size_t lens[8];
        tmq_msg_ready(&m, &rd, fns, lens, 8);
        uint64_t u;
        tmq_msg_get_uint(&m, "heartbeat", &u);
    }
    tmq_msg_release(&m);
    return 0;
}
