/* broker/loop.h — the broker's sockets and its event loop.
 *
 * Each turn: poll, drain every readable socket until it would block (feeding the core),
 * tick the core, then flush at most one message per peer and batch kind, never blocking
 * (a peer that would block keeps its batch for the next turn). Then, should an extra source
 * be watched (the metrics endpoint) and be readable or due, it runs, in this same thread and
 * between turns, so it may read the core without locks.
 */
#ifndef TMQ_BROKER_LOOP_H
#define TMQ_BROKER_LOOP_H

#include "broker.h"

#include <stdint.h>

typedef struct tmq_broker_loop_t tmq_broker_loop_t;
struct tmq_core_t;

/* An extra event source the loop serves: fd is polled for input beside the sockets, and
 * run(ctx) is called after a turn in which fd was readable or in which the time due(ctx) named
 * (absolute tmq_clock_ms; INT64_MAX: none) has come. due is asked every turn: make it cheap. */
typedef struct {
    int fd;
    int64_t (*due)(void *ctx);
    void (*run)(void *ctx);
    void *ctx;
} tmq_loop_source_t;

/* Creates and binds both ROUTER sockets (a host name is bound at the address it resolves to);
 * NULL when either fails to bind, logged with a reason a person can act on ("port 5555 is
 * already in use (another broker?)"). */
tmq_broker_loop_t *tmq_broker_loop_new(const tmq_broker_config_t *cfg);
/* Sends BYE to every client (after the results it is owed) and every worker, waiting at most
 * half a second for them to go out, then closes the sockets. Safe on NULL and twice. */
void tmq_broker_loop_destroy(tmq_broker_loop_t **self_p);

/* Watches src (borrowed: it must outlive tmq_broker_loop_run) from the next turn on; one
 * source at most, a second replaces the first. */
void tmq_broker_loop_watch(tmq_broker_loop_t *self, const tmq_loop_source_t *src);
/* The core the loop drives (borrowed; it lives until tmq_broker_loop_destroy). */
struct tmq_core_t *tmq_broker_loop_core(tmq_broker_loop_t *self);

/* Resolved endpoints, e.g. "tcp://127.0.0.1:43123" (borrowed). */
const char *tmq_broker_loop_frontend(const tmq_broker_loop_t *self);
const char *tmq_broker_loop_backend(const tmq_broker_loop_t *self);

/* Serves until zsys_interrupted (set by czmq's own SIGINT/SIGTERM handler, which the broker
 * keeps: unlike the worker it swaps in none of its own), or, when pipe is non-NULL, until it says
 * "$TERM" (it also answers "ENDPOINTS"). Returns 0. */
int tmq_broker_loop_run(tmq_broker_loop_t *self, zsock_t *pipe);

#endif
