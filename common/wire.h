/* common/wire.h — the one module that turns ZeroMQ frames into codec calls and back.
 *
 * It handles ROUTER envelopes (one routing-id frame), frame counts and non-blocking sends.
 * A message on the wire is [routing id] + header + body; anything else is malformed and is
 * drained whole so the next message starts clean.
 */
#ifndef TMQ_WIRE_H
#define TMQ_WIRE_H

#include "proto.h"

#include <stdbool.h>
#include <zmq.h>

#define TMQ_WIRE_MAX_RID 255
#define TMQ_WIRE_HWM 100000                                   /* messages, both directions */
#define TMQ_WIRE_MAX_MSG ((int64_t)TMQ_PROTO_MAX_BODY + 1024) /* larger frames are dropped */

/* The socket options every taskmq socket gets: send and receive high-water marks of
 * TMQ_WIRE_HWM messages and ZMQ_MAXMSGSIZE TMQ_WIRE_MAX_MSG, so libzmq drops an oversized
 * frame before it is read. zsock is a czmq zsock_t. */
void tmq_wire_setup(void *zsock);

/* A received message. Never copy one by value: small ZeroMQ messages keep their bytes inside
 * the zmq_msg_t, so a copy's decoded fields would point into the original. */
typedef struct {
    uint8_t rid[TMQ_WIRE_MAX_RID]; /* routing id (ROUTER sockets only) */
    size_t rid_len;
    zmq_msg_t hdr, body; /* kept alive: msg's STR/BIN point into body */
    tmq_msg_t msg;
    bool live; /* frames held, release needed */
} tmq_wire_in_t;

/* Receives one message without blocking. `sock` is a czmq zsock_t or a libzmq socket.
 * Returns 1 with in->msg decoded; 0 when nothing is pending; -1 when a message arrived but
 * was malformed (it is consumed; *errcode says why, in->rid names the sender when known, so
 * the caller can reply with ERROR, and in->msg.cmd is the command its header named, or 0
 * when the header itself was bad). Always call tmq_wire_in_release after 1 or -1. */
int tmq_wire_recv(void *sock, bool router, tmq_wire_in_t *in, int *errcode);
void tmq_wire_in_release(tmq_wire_in_t *in);

/* Sends header + body (to rid on a ROUTER, rid NULL otherwise), never blocking. Takes
 * ownership of the malloc'd *body_p and nulls it (freed once sent, or on failure). Returns 0,
 * or -1 with errno EAGAIN (peer full) or EHOSTUNREACH (peer unknown, ROUTER_MANDATORY). */
int tmq_wire_send(void *sock, const void *rid, size_t rid_len, tmq_cmd_t cmd, void **body_p,
                  size_t len);

/* The same in two steps, for a sender that must not give up its body until the peer has
 * room (the broker keeps unsent batches): the routing-id frame, never blocking (0, or -1 with
 * errno EAGAIN / EHOSTUNREACH); then, only after it succeeded, header + body (takes the body;
 * these frames go out atomically with the envelope). */
int tmq_wire_send_envelope(void *sock, const void *rid, size_t rid_len);
int tmq_wire_send_after_envelope(void *sock, tmq_cmd_t cmd, void **body_p, size_t len);

/* Sends a command with an empty map body. Same returns as tmq_wire_send. */
int tmq_wire_send_empty(void *sock, const void *rid, size_t rid_len, tmq_cmd_t cmd);

/* Sends an ERROR {code, reason}. */
int tmq_wire_send_error(void *sock, const void *rid, size_t rid_len, int code, const char *reason);

/* ---- relaying whole messages without decoding them (the client's link actor) ---- */

/* A message as its frames: header and body, moved between sockets, never copied. */
typedef struct {
    zmq_msg_t f[2];
    int n; /* frames the message had (only the first two are kept) */
} tmq_wire_frames_t;

/* Receives one whole message without blocking into fr (frames beyond two are read and
 * dropped; fr->n still counts them). Returns 1, or 0 when nothing is pending. Close with
 * tmq_wire_frames_close unless it was sent. */
int tmq_wire_frames_recv(void *sock, tmq_wire_frames_t *fr);
/* Sends the two frames without blocking: 0 when sent (the frames are consumed), -1 with
 * errno EAGAIN when the socket would block (fr untouched, try again later); any other failure
 * closes the frames and returns 0 (the message is dropped: nothing can be retried). */
int tmq_wire_frames_send(void *sock, tmq_wire_frames_t *fr);
/* Moves src into dst (dst uninitialized; src left empty but still to be closed). */
void tmq_wire_frames_move(tmq_wire_frames_t *dst, tmq_wire_frames_t *src);
void tmq_wire_frames_close(tmq_wire_frames_t *fr);
/* The command the header frame names, or 0 when it is not a valid header. */
int tmq_wire_frames_cmd(const tmq_wire_frames_t *fr);

#endif
