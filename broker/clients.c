/* broker/clients.c — see clients.h. */
#include "clients.h"

#include <xalloc.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

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
        tmq_list_init(&c->jobs); /* jobs are freed with the jobs table, results by the core */
        tmq_list_init(&c->held);
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

static tmq_bclient_t *s_new(const void *rid, size_t rid_len, int64_t now)
{
    tmq_bclient_t *c = tmq_xcalloc(1, sizeof *c);
    tmq_outbox_init(&c->out, TMQ_SIDE_FRONTEND, rid, rid_len, TMQ_CMD_RESULTS, 0);
    c->out.owner = c;
    c->out.last_sent = now;
    c->last_seen = now;
    tmq_list_init(&c->jobs);
    tmq_list_init(&c->held);
    tmq_idmap_init(&c->cids);
    return c;
}

tmq_bclient_t *tmq_bclients_add(tmq_bclients_t *self, const void *rid, size_t rid_len, int64_t now)
{
    tmq_bclient_t *c = s_new(rid, rid_len, now);
    tmq_ridmap_insert(self->map, &c->out);
    c->attached = true;
    return c;
}

tmq_bclient_t *tmq_bclients_add_detached(tmq_bclients_t *self, int64_t now)
{
    (void)self;
    return s_new("", 0, now);
}

void tmq_bclients_detach(tmq_bclients_t *self, tmq_bclient_t *c)
{
    if (!c->attached) return;
    tmq_ridmap_remove(self->map, &c->out);
    tmq_outbox_clear(&c->out);
    c->attached = false;
    c->out.rid_len = 0;
}

void tmq_bclients_attach(tmq_bclients_t *self, tmq_bclient_t *c, const void *rid, size_t rid_len)
{
    assert(!c->attached);
    if (rid_len > TMQ_WIRE_MAX_RID) rid_len = TMQ_WIRE_MAX_RID;
    memcpy(c->out.rid, rid, rid_len);
    c->out.rid_len = (uint8_t)rid_len;
    tmq_ridmap_insert(self->map, &c->out);
    c->attached = true;
}

void tmq_bclients_remove(tmq_bclients_t *self, tmq_bclient_t **c_p)
{
    tmq_bclient_t *c = *c_p;
    assert(tmq_list_empty(&c->jobs) && tmq_list_empty(&c->held));
    if (c->attached) tmq_ridmap_remove(self->map, &c->out);
    tmq_outbox_fini(&c->out);
    tmq_idmap_destroy(&c->cids);
    free(c->subs);
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
