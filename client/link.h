/* client/link.h — the client's broker connection: its DEALER, used by the user thread itself,
 * and a heartbeat thread for the time the user thread is away.
 *
 * A job's path has no hand-off between threads on the client side: the user thread sends and
 * receives on the DEALER inside the API calls. Sends never block: a message the DEALER cannot
 * take yet waits in a FIFO, flushed as room comes. Messages from the broker are read only
 * inside the API, so while the application is elsewhere they wait in ZeroMQ's queues and push
 * back on the broker. HEARTBEATs are consumed here; after a WELCOME (its interval) and until a
 * BYE, one goes out whenever nothing was sent for an interval: from tmq_link_wait while the
 * user thread waits, and from the link's own thread while it is elsewhere (computing, reading
 * input), so a busy application never gets its client expired. A mutex hands the DEALER from
 * one thread to the other (libzmq lets a socket move between threads behind a full memory
 * barrier); every function here takes it, and only the user thread calls them.
 */
#ifndef TMQ_CLIENT_LINK_H
#define TMQ_CLIENT_LINK_H

#include "wire.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

/* How long a closing link lets messages already sent reach a broker that answered. */
#define TMQ_LINK_LINGER_MS 1000

typedef struct tmq_link_t tmq_link_t;

/* Takes the connected DEALER and its handshake monitor (a PAIR set up before it connected,
 * so no failure is missed; may be NULL) and starts the heartbeat thread; curve: the DEALER
 * speaks CurveZMQ (how a refusal is told). NULL when the thread cannot start: then nothing is
 * taken. */
tmq_link_t *tmq_link_new(zsock_t **dealer_p, zsock_t **monitor_p, bool curve);
/* Stops the thread and closes the DEALER. What was sent keeps going out for
 * TMQ_LINK_LINGER_MS towards a broker that answered and has not said BYE; with none there is
 * nobody to tell, and lingering would only delay the caller's exit. Safe on NULL. */
void tmq_link_destroy(tmq_link_t **self_p);

/* Sends header + body (takes the malloc'd *body_p and nulls it), never blocking. */
void tmq_link_send(tmq_link_t *self, tmq_cmd_t cmd, void **body_p, size_t len);
/* The next message from the broker, without blocking: tmq_wire_recv's returns (1, 0 when none
 * is pending, -1 malformed). HEARTBEATs never come out. */
int tmq_link_recv(tmq_link_t *self, tmq_wire_in_t *in, int *errcode);
/* Waits up to timeout_ms (-1 forever) for a message from the broker or a handshake refusal,
 * sending queued messages and heartbeats meanwhile. extra_fd >= 0 is polled for reading too:
 * *extra_revents is what zmq_poll said of it (0 when not polled). -1 when a signal interrupted
 * the wait, else 0. */
int tmq_link_wait(tmq_link_t *self, int timeout_ms, int extra_fd, short *extra_revents);
/* Why the broker refused our handshake (a key it does not allow, a non-loopback peer without
 * keys, a mechanism it does not use), once per refusal; NULL when it did not. */
const char *tmq_link_refused(tmq_link_t *self);
/* tmq_clock_ms() of the latest message read from the broker. */
int64_t tmq_link_last_heard(const tmq_link_t *self);

#endif
