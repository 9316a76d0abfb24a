/* tests/unit/testutil.h — helpers every unit test shares (include after cmocka.h).
 *
 * Packing one msgpack integer, decoding a body under the header of a command, and taking a
 * decoded message apart; all static so each test binary gets its own copy without a library.
 */
#ifndef TMQ_TESTUTIL_H
#define TMQ_TESTUTIL_H

#include "proto.h"

#include <msgpack.h>
#include <stdint.h>
#include <string.h>

/* The msgpack bytes of v (at most 9) into buf; returns their length. */
static inline size_t tu_pack_int(uint8_t *buf, int64_t v)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_int64(&pk, v);
    size_t n = sb.size;
    memcpy(buf, sb.data, n);
    msgpack_sbuffer_destroy(&sb);
    return n;
}

/* Decodes body as the body of cmd (a header is made for it). Same returns as
 * tmq_proto_decode; release m afterwards. */
static inline int tu_decode(tmq_msg_t *m, int cmd, const void *body, size_t len)
{
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, (tmq_cmd_t)cmd);
    return tmq_proto_decode(m, hdr, sizeof hdr, body, len, NULL);
}

#endif
