/* client/conn.h — the client's broker connection: a czmq actor that owns the DEALER.
 *
 * The user thread talks to the broker through the actor's pipe: every protocol message
 * ([header][body]) written to the pipe goes to the broker, and every message from the
 * broker except HEARTBEAT comes out of the pipe. The actor sends HELLO when it starts (the
 * body the user thread gave it: the client's session) and
 * HEARTBEAT whenever it has sent nothing for the broker's heartbeat interval, so a busy user
 * thread never gets its client expired. "$TERM" (tmq_actor_destroy) stops it; messages already
 * handed to the DEALER keep going out for TMQ_CONN_LINGER_MS, so a final BYE is delivered
 * (unless no broker answered, or it said BYE itself: then there is nobody to tell). A broker
 * that refuses the handshake (a key it does not allow, a non-loopback peer without keys, a
 * mechanism it does not use) comes out of the pipe as an ERROR with code 5, "wrong port",
 * and the reason: for the user thread it is the same — give up at once, with the reason.
 */
#ifndef TMQ_CLIENT_CONN_H
#define TMQ_CLIENT_CONN_H

#include "proto.h"

#include <czmq.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define TMQ_CONN_LINGER_MS 1000

/* What the user thread hands the actor, and the one fact it reads back without a message:
 * when the broker was last heard from (so a dead broker is noticed while results are due). */
typedef struct {
    zsock_t *dealer;  /* connected; the actor takes it */
    zsock_t *monitor; /* PAIR on the DEALER's handshake failures (set up before it
                         connected, so none is missed), or NULL; the actor takes it */
    bool curve;       /* it speaks CurveZMQ (how a refusal is told) */
    void *hello;      /* the body of the first HELLO (the client's session and
                         linger_ms, 5.7), or NULL for {oom: true}; the actor takes it */
    size_t hello_len;
    _Atomic int64_t last_heard; /* tmq_clock_ms() of the latest message from the broker */
} tmq_conn_shared_t;

/* Actor body for tmq_actor_new. args is a tmq_conn_shared_t that outlives the actor. */
void tmq_conn_actor(zsock_t *pipe, void *args);

#endif
