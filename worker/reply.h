/* worker/reply.h — a job's reply (the SDK's tmq_reply_t) as the worker drives it.
 *
 * The registry owns one reply and reuses it for every job. tmq_reply_begin points it at the
 * caller's buffer; the job function writes through the public tmq_reply_* calls
 * (taskmq/plugin.h), which pack msgpack into that buffer while counting the items each open
 * map or array still wants; tmq_reply_end turns what was written, and what the function
 * returned, into a status: TMQ_ST_OK with exactly one well-formed msgpack value in the
 * buffer, or TMQ_ST_ERROR with text saying why. Outside a call every write is refused. The
 * built-in functions write their outcome into the buffer themselves (tmq_reply_buffer, then
 * tmq_reply_raw), unpacking with the reply's zone.
 */
#ifndef TMQ_WORKER_REPLY_H
#define TMQ_WORKER_REPLY_H

#include "proto.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <taskmq/plugin.h>

#define TMQ_REPLY_ERROR_MAX 4096 /* bytes of error text kept */

struct tmq_reply_t {
    msgpack_sbuffer *out; /* the caller's, during a call; NULL outside one */
    msgpack_packer pk;
    msgpack_zone zone; /* the built-ins unpack with it; cleared after each call */
    const char *fn;    /* the function's name, for messages */
    int status;        /* TMQ_ST_ERROR once an error was replied */
    bool raw;          /* a built-in wrote its outcome itself */
    bool wrote;        /* a value was started */
    char misuse[160];  /* why the reply is not a result (first misuse), "" when none */
    int depth;         /* open containers */
    uint64_t left[TMQ_PROTO_MAX_DEPTH + 1]; /* items each level still wants ([0]: the result;
                                               a map of 2^32 - 1 pairs wants 2^33 - 2) */
    bool map[TMQ_PROTO_MAX_DEPTH + 1];      /* that level is a map */
};

void tmq_reply_init(tmq_reply_t *r);
void tmq_reply_destroy(tmq_reply_t *r);

/* Starts a call of fn (borrowed until tmq_reply_end): out is emptied and receives the
 * outcome. */
void tmq_reply_begin(tmq_reply_t *r, msgpack_sbuffer *out, const char *fn);
/* Ends the call whose function returned rc. Returns TMQ_ST_OK (out holds one msgpack value)
 * or TMQ_ST_ERROR (out holds the text: the function's error, or why its reply is not a
 * result: "FN: returned without a result", "FN: the reply is incomplete: ..."). */
int tmq_reply_end(tmq_reply_t *r, int rc);

/* For built-in functions: the buffer to write into, the zone to unpack with, and the status
 * of what they wrote (tmq_status_t). tmq_reply_raw returns 0 for TMQ_ST_OK, else -1. */
msgpack_sbuffer *tmq_reply_buffer(tmq_reply_t *r);
msgpack_zone *tmq_reply_zone(tmq_reply_t *r);
int tmq_reply_raw(tmq_reply_t *r, int status);

#endif
