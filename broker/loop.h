/* broker/loop.h — the broker's sockets and its event loop.
 *
 * Each turn: poll, drain every readable socket until it would block (feeding the core),
 * tick the core, then flush at most one message per peer and batch kind, never blocking
 * (a peer that would block keeps its batch for the next turn).
 */
#ifndef TMQ_BROKER_LOOP_H
#define TMQ_BROKER_LOOP_H

#include "broker.h"

typedef struct tmq_broker_loop_t tmq_broker_loop_t;

/* Creates and binds both ROUTER sockets (a host name is bound at the address it resolves to);
 * NULL when either fails to bind, logged with a reason a person can act on ("port 5555 is
 * already in use (another broker?)"). */
tmq_broker_loop_t *tmq_broker_loop_new(const tmq_broker_config_t *cfg);
/* Sends BYE to every client (after the results it is owed) and every worker, waiting at most
 * half a second for them to go out, then closes the sockets. Safe on NULL and twice. */
void tmq_broker_loop_destroy(tmq_broker_loop_t **self_p);

/* Resolved endpoints, e.g. "tcp://127.0.0.1:43123" (borrowed). */
const char *tmq_broker_loop_frontend(const tmq_broker_loop_t *self);
const char *tmq_broker_loop_backend(const tmq_broker_loop_t *self);

/* Serves until zsys_interrupted, or, when pipe is non-NULL, until it says "$TERM" (it also
 * answers "ENDPOINTS"). Returns 0. */
int tmq_broker_loop_run(tmq_broker_loop_t *self, zsock_t *pipe);

#endif
