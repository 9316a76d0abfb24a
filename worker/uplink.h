/* worker/uplink.h — the worker daemon's connection to the broker (Paranoid Pirate).
 *
 * One DEALER socket. The link sends READY on every (re)connection, adopts the heartbeat
 * interval from WELCOME, sends HEARTBEAT when nothing else went out for one interval, and
 * when the broker has been silent for 3 intervals (or says BYE) it drops the socket and
 * reconnects with a new one after a backoff of 250 ms doubling to 8 s. Control commands
 * (WELCOME, HEARTBEAT, RECONNECT, BYE, ERROR) are handled here; the rest go to the daemon.
 */
#ifndef TMQ_UPLINK_H
#define TMQ_UPLINK_H

#include "wire.h"

#include <czmq.h>

#include <stdbool.h>
#include <stdint.h>

#define TMQ_UPLINK_LIVENESS 3
#define TMQ_UPLINK_BACKOFF_MIN_MS 250
#define TMQ_UPLINK_BACKOFF_MAX_MS 8000

typedef struct tmq_uplink_t tmq_uplink_t;

/* Builds the READY body sent on every (re)connection (malloc'd, *len set), so it can carry
 * counts that change (done, failed). */
typedef void *(tmq_uplink_ready_fn)(void *arg, size_t *len);

/* A link to endpoint announcing itself with READY bodies from ready(arg). Connects at once;
 * over CurveZMQ when mine (this worker's secret certificate) and broker (the broker's public
 * one) are given: both taken, nulled, and applied to every socket. Returns NULL when libzmq
 * refuses the endpoint (errno set). */
tmq_uplink_t *tmq_uplink_new(const char *endpoint, zcert_t **mine, zcert_t **broker,
                             tmq_uplink_ready_fn *ready, void *arg);
/* Closes the socket (pending messages are dropped unless tmq_uplink_bye ran) and nulls *self_p. */
void tmq_uplink_destroy(tmq_uplink_t **self_p);

/* The socket to poll, or NULL while waiting to reconnect. */
void *tmq_uplink_socket(tmq_uplink_t *self);
/* True when a message can be sent now without blocking. */
bool tmq_uplink_writable(tmq_uplink_t *self);

/* Receives the next message for the daemon without blocking: 1 with in->msg decoded (release
 * it with tmq_wire_in_release), 0 when nothing more is pending. Control commands and
 * malformed input are consumed here; *reset becomes true when the broker's view of this
 * worker was lost (RECONNECT or BYE): the daemon then drops its unstarted jobs. */
int tmq_uplink_recv(tmq_uplink_t *self, tmq_wire_in_t *in, bool *reset);

/* Sends cmd with *body_p (taken, nulled). Returns 0, or -1 when there is no socket or it
 * would block (the body is freed). */
int tmq_uplink_send(tmq_uplink_t *self, tmq_cmd_t cmd, void **body_p, size_t len);

/* Heartbeats, liveness and reconnection; call every loop turn. Returns true when the
 * connection was dropped for silence (the daemon then drops its unstarted jobs). */
bool tmq_uplink_tick(tmq_uplink_t *self);
/* Milliseconds (tmq_clock_ms) of the next thing tmq_uplink_tick has to do. */
int64_t tmq_uplink_next_ms(const tmq_uplink_t *self);

uint32_t tmq_uplink_max_payload(const tmq_uplink_t *self);

/* The broker's reason when it refused this worker for good (ERROR "wrong port": this is its
 * client port; or its handshake refused our key, or wants keys we have not, or has none),
 * else NULL. The daemon then stops (exit 3): retrying cannot help. */
const char *tmq_uplink_refused(const tmq_uplink_t *self);

/* True while the broker knows this worker (WELCOME came on the current socket). */
bool tmq_uplink_registered(const tmq_uplink_t *self);

/* Says DRAIN (when registered, once per registration): the broker sends no more jobs. From
 * the first call on the link sends READY no more (on RECONNECT or a new socket): the daemon
 * is leaving. */
void tmq_uplink_drain(tmq_uplink_t *self);
/* True once the broker answered DRAIN with ERROR (a broker older than 0.5): it keeps sending
 * jobs, so the daemon stops at once (BYE requeues what it holds). */
bool tmq_uplink_drain_refused(const tmq_uplink_t *self);

/* Says BYE (when a READY went out on the socket) and lets it be delivered for up to 1 s (200 ms
 * when no WELCOME came) when the link closes. */
void tmq_uplink_bye(tmq_uplink_t *self);

#endif
