/* tests/fuzz/fuzz_frame.c — libFuzzer target for the daemon <-> executor frames.
 *
 * The input is a byte stream as an executor (any program, in any language) might write it:
 * fed to the frame reader in two pieces, every complete frame is decoded with every decoder
 * (the daemon decodes RESULT, RETURNED and HELLO from executors it does not trust to be
 * well written; JOB and REVOKE come the other way but cost nothing to cover).
 */
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tmq_frame_reader_t rd;
    tmq_frame_reader_init(&rd);
    size_t half = size / 2;
    for (int piece = 0; piece < 2; piece++) {
        if (piece == 0)
            tmq_frame_reader_feed(&rd, data, half);
        else
            tmq_frame_reader_feed(&rd, data + half, size - half);
        const uint8_t *p;
        size_t n;
        while (tmq_frame_reader_next(&rd, &p, &n) == 1) {
            tmq_frame_job_t j;
            tmq_frame_result_t r;
            uint32_t count;
            uint64_t tags[16];
            size_t ntags;
            tmq_frame_hello_t h;
            char why[128];
            (void)tmq_frame_kind(p, n);
            tmq_frame_job_decode(p, n, &j);
            tmq_frame_result_decode(p, n, &r);
            tmq_frame_revoke_decode(p, n, &count);
            tmq_frame_returned_decode(p, n, tags, 16, &ntags);
            if (tmq_frame_hello_decode(p, n, &h, why, sizeof why) == 0) tmq_frame_hello_free(&h);
        }
    }
    tmq_frame_reader_destroy(&rd);
    return 0;
}
