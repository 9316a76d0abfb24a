/* broker/stats.c — see stats.h. */
#include "stats.h"

#include <msgpack.h>
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

static void s_key(msgpack_packer *pk, const char *k)
{
    size_t n = strlen(k);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, k, n);
}

static void s_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
    s_key(pk, k);
    msgpack_pack_uint64(pk, v);
}

static void s_worker(msgpack_packer *pk, const tmq_bworker_t *w)
{
    msgpack_pack_map(pk, 5);
    s_key(pk, "name");
    size_t n = strlen(w->name);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, w->name, n);
    s_uint(pk, "pid", w->pid);
    s_uint(pk, "procs", w->procs);
    s_uint(pk, "busy", tmq_bworker_busy(w));
    s_uint(pk, "done", w->done);
}

void *tmq_bstats_status_body(const tmq_bstats_t *st, int64_t now, const tmq_bstats_view_t *v,
                             tmq_bworkers_t *workers, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 12);
    s_uint(&pk, "queued", v->queued);
    s_uint(&pk, "running", v->running);
    s_uint(&pk, "done", v->done);
    s_uint(&pk, "failed", v->failed);
    s_uint(&pk, "clients", v->clients);
    s_key(&pk, "rate");
    msgpack_pack_double(&pk, tmq_bstats_rate(st, now, v->done + v->failed));
    s_uint(&pk, "uptime_ms", (uint64_t)(now - st->started_ms));
    s_uint(&pk, "stale", st->stale);
    s_uint(&pk, "malformed", st->malformed);
    s_uint(&pk, "max_queue", v->max_queue);
    s_uint(&pk, "heartbeat", v->heartbeat_ms);
    s_key(&pk, "workers");
    size_t nw = tmq_bworkers_size(workers);
    msgpack_pack_array(&pk, (uint32_t)nw);
    for (size_t i = 0; i < nw; i++)
        s_worker(&pk, tmq_bworkers_at(workers, i));
    return tmq_proto_sbuffer_take(&sb, len);
}
