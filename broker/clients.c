/* broker/clients.c — see clients.h. */
#include "clients.h"

#include <xalloc.h>

#include <assert.h>
#include <stdlib.h>

struct tmq_bclients_t {
    tmq_ridmap_t *map;
};

tmq_bclients_t *tmq_bclients_new(void)
{
    tmq_bclients_t *self = tmq_xcalloc(1, sizeof *self);
    self->map = tmq_ridmap_new();
    return self;
}

void tmq_bclients_destroy(tmq_bclients_t **self_p)
{
    tmq_bclients_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    while (tmq_ridmap_size(self->map)) {
        tmq_bclient_t *c = (tmq_bclient_t *)tmq_ridmap_at(self->map, 0);
        tmq_list_init(&c->jobs); /* jobs are freed with the jobs table */
        tmq_bclients_remove(self, &c);
    }
    tmq_ridmap_destroy(&self->map);
    free(self);
    *self_p = NULL;
}

tmq_bclient_t *tmq_bclients_find(tmq_bclients_t *self, const void *rid, size_t rid_len)
{
    return (tmq_bclient_t *)tmq_ridmap_find(self->map, rid, rid_len);
}

tmq_bclient_t *tmq_bclients_add(tmq_bclients_t *self, const void *rid, size_t rid_len, int64_t now)
{
    tmq_bclient_t *c = tmq_xcalloc(1, sizeof *c);
    tmq_outbox_init(&c->out, TMQ_SIDE_FRONTEND, rid, rid_len, TMQ_CMD_RESULTS, 0);
    c->out.owner = c;
    c->out.last_sent = now;
    c->last_seen = now;
    tmq_list_init(&c->jobs);
    tmq_ridmap_insert(self->map, &c->out);
    return c;
}

void tmq_bclients_remove(tmq_bclients_t *self, tmq_bclient_t **c_p)
{
    tmq_bclient_t *c = *c_p;
    assert(tmq_list_empty(&c->jobs));
    tmq_ridmap_remove(self->map, &c->out);
    tmq_outbox_fini(&c->out);
    free(c);
    *c_p = NULL;
}

size_t tmq_bclients_size(const tmq_bclients_t *self)
{
    return tmq_ridmap_size(self->map);
}

tmq_bclient_t *tmq_bclients_at(const tmq_bclients_t *self, size_t i)
{
    return (tmq_bclient_t *)tmq_ridmap_at(self->map, i);
}
