/* common/actor.c — see actor.h. */
#include "actor.h"

#include "xalloc.h"

#include <pthread.h>

struct tmq_actor_t {
    zsock_t *pipe;  /* the caller's end */
    zsock_t *child; /* the body's end, closed on the actor's thread before it ends */
    zactor_fn *fn;
    void *args;
    pthread_t thread;
};

static void *s_run(void *arg)
{
    tmq_actor_t *self = arg;
    self->fn(self->child, self->args);
    /* a body that ended without signalling must not leave tmq_actor_new waiting; a second
     * signal after the first is never read */
    zsock_signal(self->child, 0);
    zsock_destroy(&self->child);
    return NULL;
}

tmq_actor_t *tmq_actor_new(zactor_fn *fn, void *args)
{
    tmq_actor_t *self = tmq_xcalloc(1, sizeof *self);
    self->fn = fn;
    self->args = args;
    self->pipe = zsys_create_pipe(&self->child);
    if (!self->pipe) {
        free(self);
        return NULL;
    }
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        zsock_destroy(&self->child);
        zsock_destroy(&self->pipe);
        free(self);
        return NULL;
    }
    zsock_wait(self->pipe);
    return self;
}

void tmq_actor_destroy(tmq_actor_t **self_p)
{
    tmq_actor_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    /* A live body reads its pipe; one that already ended leaves nobody to read, so the send
     * may not wait forever (the join then returns at once). */
    zsock_set_sndtimeo(self->pipe, 1000);
    zstr_send(self->pipe, "$TERM");
    pthread_join(self->thread, NULL);
    zsock_destroy(&self->pipe);
    free(self);
    *self_p = NULL;
}

zsock_t *tmq_actor_sock(tmq_actor_t *self)
{
    return self->pipe;
}
