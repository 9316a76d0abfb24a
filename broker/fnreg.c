/* broker/fnreg.c — see fnreg.h. Names are at most 64 bytes without NUL, so they are used as
 * plain zhashx string keys. */
#include "fnreg.h"

#include <pacing.h>
#include <xalloc.h>

#include <czmq.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct tmq_fnreg_t {
    zhashx_t *map;        /* name -> tmq_fn_t* */
    tmq_fn_counts_t gone; /* counts of the records freed */
};

const double tmq_fn_bucket_ms[TMQ_FN_BUCKETS] = {0.5, 1,   2.5,  5,    10,   25,    50,    100,
                                                 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

tmq_fnreg_t *tmq_fnreg_new(void)
{
    tmq_fnreg_t *self = tmq_xcalloc(1, sizeof *self);
    self->map = zhashx_new();
    if (!self->map) tmq_oom();
    return self;
}

static void s_free_fn(tmq_fn_t *fn)
{
    free(fn->workers);
    free(fn);
}

void tmq_fnreg_destroy(tmq_fnreg_t **self_p)
{
    tmq_fnreg_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    for (tmq_fn_t *fn = zhashx_first(self->map); fn; fn = zhashx_next(self->map))
        s_free_fn(fn);
    zhashx_destroy(&self->map);
    free(self);
    *self_p = NULL;
}

static void s_key(char key[TMQ_PROTO_MAX_FNAME + 1], const char *name, size_t len)
{
    memcpy(key, name, len);
    key[len] = '\0';
}

tmq_fn_t *tmq_fnreg_find(tmq_fnreg_t *self, const char *name, size_t len)
{
    if (len == 0 || len > TMQ_PROTO_MAX_FNAME) return NULL;
    char key[TMQ_PROTO_MAX_FNAME + 1];
    s_key(key, name, len);
    return zhashx_lookup(self->map, key);
}

tmq_fn_t *tmq_fnreg_ref(tmq_fnreg_t *self, const char *name, size_t len)
{
    tmq_fn_t *fn = tmq_fnreg_find(self, name, len);
    if (!fn) {
        fn = tmq_xcalloc(1, sizeof *fn);
        s_key(fn->name, name, len);
        fn->name_len = len;
        tmq_list_init(&fn->queue);
        tmq_list_init(&fn->idle);
        tmq_list_init(&fn->cands);
        zhashx_insert(self->map, fn->name, fn);
    }
    fn->refs++;
    return fn;
}

/* A timed record stays: its run time outlives a worker's reconnection; so does one served
 * with jobs counted, or its labelled counters would go back to 0. Both need a worker to have
 * served the name, so they are bounded by what workers serve, never by what clients ask. */
static bool s_keep(const tmq_fn_t *fn)
{
    return fn->timed || (fn->served && fn->n.submitted > 0);
}

void tmq_fnreg_unref(tmq_fnreg_t *self, tmq_fn_t **fn_p)
{
    tmq_fn_t *fn = *fn_p;
    if (--fn->refs == 0 && !s_keep(fn)) {
        tmq_fn_counts_add(&self->gone, &fn->n);
        zhashx_delete(self->map, fn->name);
        s_free_fn(fn);
    }
    *fn_p = NULL;
}

void tmq_fnreg_attach(tmq_fnreg_t *self, tmq_fn_t *fn, struct tmq_bworker_t *w)
{
    (void)self;
    if (fn->nworkers == fn->workers_cap) {
        fn->workers_cap = fn->workers_cap ? 2 * fn->workers_cap : 4;
        fn->workers = tmq_xrealloc(fn->workers, fn->workers_cap * sizeof *fn->workers);
    }
    fn->workers[fn->nworkers++] = w;
    fn->refs++;
    fn->served = true;
}

void tmq_fnreg_detach(tmq_fnreg_t *self, tmq_fn_t *fn, struct tmq_bworker_t *w)
{
    for (size_t i = 0; i < fn->nworkers; i++) {
        if (fn->workers[i] == w) {
            /* keep the order: the prefetch rotation walks this array */
            memmove(&fn->workers[i], &fn->workers[i + 1],
                    (fn->nworkers - i - 1) * sizeof *fn->workers);
            fn->nworkers--;
            tmq_fnreg_unref(self, &fn);
            return;
        }
    }
}

void tmq_fn_observe(tmq_fn_t *fn, double ms)
{
    if (!isfinite(ms) || ms < 0) return;
    tmq_pace_ewma(&fn->ewma_ms, &fn->timed, ms);
    /* per result: a scan from the fast end, where most jobs land, and two additions */
    size_t b = 0;
    while (b < TMQ_FN_BUCKETS && ms > tmq_fn_bucket_ms[b])
        b++;
    fn->hist.count[b]++;
    fn->hist.sum_ms += ms;
}

uint32_t tmq_fn_prefetch(const tmq_fn_t *fn)
{
    if (!fn->timed) return 0;
    if (fn->ewma_ms * TMQ_PACE_MAX_BATCH <= TMQ_PACE_HORIZON_MS) return TMQ_PACE_MAX_BATCH;
    return (uint32_t)(TMQ_PACE_HORIZON_MS / fn->ewma_ms);
}

const tmq_fn_counts_t *tmq_fnreg_gone(const tmq_fnreg_t *self)
{
    return &self->gone;
}

size_t tmq_fnreg_size(const tmq_fnreg_t *self)
{
    return zhashx_size(self->map);
}

tmq_fn_t *tmq_fnreg_first(tmq_fnreg_t *self)
{
    return zhashx_first(self->map);
}

tmq_fn_t *tmq_fnreg_next(tmq_fnreg_t *self)
{
    return zhashx_next(self->map);
}
