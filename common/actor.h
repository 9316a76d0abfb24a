/* common/actor.h — a czmq-style actor whose thread is joined when it is destroyed.
 *
 * zactor runs its body on a detached thread that closes its end of the pipe only after it
 * signalled the caller, so a program that exits right after zactor_destroy can still find
 * that socket open — and czmq's exit teardown then sleeps 200 ms waiting for it (or reports
 * it dangling). tmq_actor_t keeps zactor's contract (the body gets its end of a czmq pipe,
 * signals once it is ready, ends on "$TERM") on a thread tmq_actor_destroy joins, so every
 * socket the actor had is closed when destroy returns.
 */
#ifndef TMQ_ACTOR_H
#define TMQ_ACTOR_H

#include <czmq.h>

typedef struct tmq_actor_t tmq_actor_t;

/* Starts fn(pipe, args) on a new thread and waits for its first zsock_signal. NULL when the
 * thread could not be started. */
tmq_actor_t *tmq_actor_new(zactor_fn *fn, void *args);
/* Sends "$TERM", waits for the thread to end, closes the pipe and nulls *self_p. Safe on NULL. */
void tmq_actor_destroy(tmq_actor_t **self_p);
/* The caller's end of the pipe (borrowed), for zstr_send, zsock_resolve, polling. */
zsock_t *tmq_actor_sock(tmq_actor_t *self);

#endif
