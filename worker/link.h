/* worker/link.h — the worker daemon's connection to the broker (Paranoid Pirate).
 *
 * One DEALER socket. The link sends READY on every (re)connection, adopts the heartbeat
 * interval from WELCOME, sends HEARTBEAT when nothing else went out for one interval, and
 * when the broker has been silent for 3 intervals (or says BYE) it drops the socket and
 * reconnects with a new one after a backoff of 250 ms doubling to 8 s. Control commands
 * (WELCOME, HEARTBEAT, RECONNECT, BYE, ERROR) are handled here; the rest go to the daemon.
 */
#ifndef TMQ_LINK_H
#define TMQ_LINK_H

#include "wire.h"

#include <stdbool.h>
#include <stdint.h>

#define TMQ_LINK_HEARTBEAT_MS 1000 /* until the broker's WELCOME says otherwise */
#define TMQ_LINK_LIVENESS 3
#define TMQ_LINK_BACKOFF_MIN_MS 250
#define TMQ_LINK_BACKOFF_MAX_MS 8000

typedef struct tmq_link_t tmq_link_t;

/* A link to endpoint announcing itself with the READY body (ready, ready_len: copied).
 * Connects at once. Returns NULL when the endpoint is invalid (errno set). */
tmq_link_t *tmq_link_new(const char *endpoint, const void *ready, size_t ready_len);
/* Closes the socket (pending messages are dropped unless tmq_link_bye ran) and nulls *self_p. */
void tmq_link_destroy(tmq_link_t **self_p);

/* The socket to poll, or NULL while waiting to reconnect. */
void *tmq_link_socket(tmq_link_t *self);
/* True when a message can be sent now without blocking. */
bool tmq_link_writable(tmq_link_t *self);

/* Receives the next message for the daemon without blocking: 1 with in->msg decoded (release
 * it with tmq_wire_in_release), 0 when nothing more is pending. Control commands and
 * malformed input are consumed here; *reset becomes true when the broker's view of this
 * worker was lost (RECONNECT or BYE): the daemon then drops its unstarted jobs. */
int tmq_link_recv(tmq_link_t *self, tmq_wire_in_t *in, bool *reset);

/* Sends cmd with *body_p (taken, nulled). Returns 0, or -1 when there is no socket or it
 * would block (the body is freed). */
int tmq_link_send(tmq_link_t *self, tmq_cmd_t cmd, void **body_p, size_t len);

/* Heartbeats, liveness and reconnection; call every loop turn. Returns true when the
 * connection was dropped for silence (the daemon then drops its unstarted jobs). */
bool tmq_link_tick(tmq_link_t *self);
/* Milliseconds (tmq_clock_ms) of the next thing tmq_link_tick has to do. */
int64_t tmq_link_next_ms(const tmq_link_t *self);

uint32_t tmq_link_max_payload(const tmq_link_t *self);

/* Says BYE (when connected) and lets it be delivered for up to 1 s when the link closes. */
void tmq_link_bye(tmq_link_t *self);

#endif
