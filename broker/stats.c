/* broker/stats.c — see stats.h. */
#include "stats.h"

#include <xalloc.h>

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

void tmq_bstats_init(tmq_bstats_t *st, int64_t now)
{
    memset(st, 0, sizeof *st);
    st->started_ms = now;
    tmq_bstats_tick(st, now, 0);
}

void tmq_bstats_tick(tmq_bstats_t *st, int64_t now, uint64_t completed)
{
    if (st->nsamples && now < st->next_sample) return;
    st->sample_t[st->head] = now;
    st->sample_n[st->head] = completed;
    st->head = (st->head + 1) % TMQ_BSTATS_SAMPLES;
    if (st->nsamples < TMQ_BSTATS_SAMPLES) st->nsamples++;
    st->next_sample = now + 1000;
}

double tmq_bstats_rate(const tmq_bstats_t *st, int64_t now, uint64_t completed)
{
    if (st->nsamples == 0) return 0;
    int oldest = (st->head - st->nsamples + TMQ_BSTATS_SAMPLES) % TMQ_BSTATS_SAMPLES;
    int64_t span = now - st->sample_t[oldest];
    if (span <= 0) return 0;
    return (double)(completed - st->sample_n[oldest]) * 1000.0 / (double)span;
}

static void s_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void s_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
    s_cstr(pk, k);
    msgpack_pack_uint64(pk, v);
}

static void s_str(msgpack_packer *pk, const char *k, const char *v)
{
    s_cstr(pk, k);
    s_cstr(pk, v);
}

static void s_worker(msgpack_packer *pk, const tmq_bworker_t *w, int64_t now)
{
    msgpack_pack_map(pk, 11 + w->draining);
    s_str(pk, "name", w->name);
    s_uint(pk, "pid", w->pid);
    s_uint(pk, "procs", w->procs);
    s_uint(pk, "busy", tmq_bworker_busy(w));
    s_uint(pk, "done", w->done);
    s_uint(pk, "failed", w->failed);
    s_str(pk, "addr", w->addr);
    s_str(pk, "version", w->version);
    s_str(pk, "python", w->python);
    s_cstr(pk, "functions");
    msgpack_pack_array(pk, (uint32_t)w->nfns);
    for (size_t i = 0; i < w->nfns; i++)
        s_cstr(pk, w->fns[i]->name);
    s_uint(pk, "seen_ms", now > w->last_seen ? (uint64_t)(now - w->last_seen) : 0);
    if (w->draining) {
        s_cstr(pk, "draining");
        msgpack_pack_true(pk);
    }
}

static int s_by_name(const void *a, const void *b)
{
    return strcmp((*(const tmq_fn_t *const *)a)->name, (*(const tmq_fn_t *const *)b)->name);
}

/* Functions some connected worker serves or with jobs queued, sorted by name. */
static void s_functions(msgpack_packer *pk, tmq_fnreg_t *fns)
{
    size_t n = 0, cap = tmq_fnreg_size(fns);
    tmq_fn_t **list = tmq_xcalloc(cap ? cap : 1, sizeof *list);
    for (tmq_fn_t *fn = tmq_fnreg_first(fns); fn && n < cap; fn = tmq_fnreg_next(fns))
        if (fn->nworkers + fn->ndraining > 0 || fn->queue.size > 0) list[n++] = fn;
    qsort(list, n, sizeof *list, s_by_name);
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint64_t procs = 0;
        for (size_t k = 0; k < list[i]->nworkers; k++)
            procs += list[i]->workers[k]->procs;
        msgpack_pack_map(pk, 4);
        s_str(pk, "name", list[i]->name);
        s_uint(pk, "workers", list[i]->nworkers);
        s_uint(pk, "procs", procs);
        s_uint(pk, "queued", list[i]->queue.size);
    }
    free(list);
}

void *tmq_bstats_status_body(const tmq_bstats_t *st, int64_t now, const tmq_bstats_view_t *v,
                             tmq_bworkers_t *workers, tmq_fnreg_t *fns, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 18 + (v->batches != NULL) + v->journal);
    s_str(&pk, "version", TMQ_VERSION);
    s_uint(&pk, "queued", v->queued);
    s_uint(&pk, "running", v->running);
    s_uint(&pk, "prefetched", v->prefetched);
    s_uint(&pk, "done", v->done);
    s_uint(&pk, "failed", v->failed);
    s_uint(&pk, "cancelled", v->cancelled);
    s_uint(&pk, "refused", v->refused);
    s_cstr(&pk, "insecure");
    if (v->insecure)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    s_uint(&pk, "clients", v->clients);
    s_cstr(&pk, "rate");
    msgpack_pack_double(&pk, tmq_bstats_rate(st, now, v->done + v->failed));
    s_uint(&pk, "uptime_ms", (uint64_t)(now - st->started_ms));
    s_uint(&pk, "stale", st->stale);
    s_uint(&pk, "malformed", tmq_bstats_malformed(st));
    s_uint(&pk, "max_queue", v->max_queue);
    s_uint(&pk, "heartbeat", v->heartbeat_ms);
    s_cstr(&pk, "workers");
    size_t nw = tmq_bworkers_size(workers);
    msgpack_pack_array(&pk, (uint32_t)nw);
    for (size_t i = 0; i < nw; i++)
        s_worker(&pk, tmq_bworkers_at(workers, i), now);
    s_cstr(&pk, "functions");
    s_functions(&pk, fns);
    if (v->batches) {
        s_cstr(&pk, "batches");
        msgpack_sbuffer_write(&sb, v->batches, v->batches_len);
    }
    if (v->journal) {
        s_cstr(&pk, "journal");
        msgpack_pack_map(&pk, 4);
        s_uint(&pk, "live_jobs", v->journal_live);
        s_uint(&pk, "bytes", v->journal_bytes);
        s_uint(&pk, "sessions", v->sessions);
        s_str(&pk, "failed", v->journal_failed ? v->journal_failed : "");
    }
    return tmq_proto_sbuffer_take(&sb, len);
}
