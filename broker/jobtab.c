/* broker/jobtab.c — see jobtab.h. Ids are consecutive from 1 and never reused, so they never
 * reach TMQ_IDMAP_NONE; the id map holds 16 bytes per slot at most half full. An argument's
 * home (argbox, a heap copy, or a tmq_bjob_ext_t) is fixed by TMQ_JOB_EXT and arg_len alone;
 * only s_new, s_ext and s_drop_arg change it. */
#include "jobtab.h"

#include <idmap.h>
#include <xalloc.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Every queued job costs one record plus its id map slots (2 x 16 bytes at worst): the budget
 * is 128 bytes a job beyond its payload, so the record is 104 bytes on LP64 with a 9-byte
 * argument inside (it was 112 plus a 32-byte malloc block for it). Rare fields (mem_limit, the
 * batch id) live in tmq_bjob_ext_t; retries fits int16 (capped at TMQ_MAX_RETRIES, 1000). A new
 * field must find room here or go there. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(tmq_bjob_t) <= 104, "tmq_bjob_t grew: mind the per-job memory");
#endif
_Static_assert(offsetof(tmq_bjob_t, argbox) % _Alignof(void *) == 0 &&
                   TMQ_BJOB_INLINE >= sizeof(void *),
               "argbox must hold an aligned pointer");

struct tmq_jobtab_t {
    tmq_idmap_t byid; /* jid -> record, for every record not FREE */
    tmq_bjob_t **chunks;
    size_t nchunks, chunks_cap;
    tmq_bjob_t *free_list; /* linked through link.next */
    uint64_t next_jid;
    size_t count[TMQ_JOB_STATES_];
    uint64_t entered[TMQ_JOB_STATES_];
};

/* Frees the argument's heap block, if it has one. */
static void s_drop_arg(tmq_bjob_t *job)
{
    if ((job->flags & TMQ_JOB_EXT) || job->arg_len > TMQ_BJOB_INLINE) free(tmq_bjob_heap_(job));
    job->flags &= (uint8_t)~TMQ_JOB_EXT;
    job->arg_len = 0;
}

/* job's tmq_bjob_ext_t, made on first use: the argument moves into it. */
static tmq_bjob_ext_t *s_ext(tmq_bjob_t *job)
{
    if (job->flags & TMQ_JOB_EXT) return tmq_bjob_heap_(job);
    tmq_bjob_ext_t *e = tmq_xmalloc(sizeof *e + job->arg_len);
    e->mem_limit = 0;
    e->batch = 0;
    if (job->arg_len) memcpy(e->arg, tmq_bjob_arg(job), job->arg_len);
    uint32_t arg_len = job->arg_len;
    s_drop_arg(job);
    job->arg_len = arg_len;
    memcpy(job->argbox, &e, sizeof e);
    job->flags |= TMQ_JOB_EXT;
    return e;
}

void tmq_bjob_set_mem_limit(tmq_bjob_t *job, uint64_t mem_limit)
{
    assert(job->state != TMQ_JOB_FREE);
    if (mem_limit || (job->flags & TMQ_JOB_EXT)) s_ext(job)->mem_limit = mem_limit;
}

void tmq_bjob_set_batch(tmq_bjob_t *job, uint32_t batch)
{
    assert(job->state != TMQ_JOB_FREE);
    if (batch || (job->flags & TMQ_JOB_EXT)) s_ext(job)->batch = batch;
}

tmq_jobtab_t *tmq_jobtab_new(void)
{
    tmq_jobtab_t *self = tmq_xcalloc(1, sizeof *self);
    tmq_idmap_init(&self->byid);
    self->next_jid = 1;
    return self;
}

void tmq_jobtab_destroy(tmq_jobtab_t **self_p)
{
    tmq_jobtab_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    for (size_t c = 0; c < self->nchunks; c++) {
        for (size_t i = 0; i < TMQ_JOBTAB_CHUNK; i++)
            if (self->chunks[c][i].state != TMQ_JOB_FREE) s_drop_arg(&self->chunks[c][i]);
        free(self->chunks[c]);
    }
    free(self->chunks);
    tmq_idmap_destroy(&self->byid);
    free(self);
    *self_p = NULL;
}

static tmq_bjob_t *s_take_record(tmq_jobtab_t *self)
{
    if (!self->free_list) {
        if (self->nchunks == self->chunks_cap) {
            self->chunks_cap = self->chunks_cap ? 2 * self->chunks_cap : 16;
            self->chunks = tmq_xrealloc(self->chunks, self->chunks_cap * sizeof *self->chunks);
        }
        tmq_bjob_t *chunk = tmq_xcalloc(TMQ_JOBTAB_CHUNK, sizeof *chunk);
        self->chunks[self->nchunks++] = chunk;
        for (size_t i = TMQ_JOBTAB_CHUNK; i-- > 0;) {
            chunk[i].link.next = (tmq_list_link_t *)self->free_list;
            self->free_list = &chunk[i];
        }
    }
    tmq_bjob_t *job = self->free_list;
    self->free_list = (tmq_bjob_t *)job->link.next;
    memset(job, 0, sizeof *job);
    return job;
}

/* A NEW record with id jid, findable; its argument inline when it fits. */
static tmq_bjob_t *s_new(tmq_jobtab_t *self, uint64_t jid, const void *arg, size_t arg_len)
{
    assert(arg_len <= UINT32_MAX);
    tmq_bjob_t *job = s_take_record(self);
    job->jid = jid;
    job->arg_len = (uint32_t)arg_len;
    if (arg_len <= TMQ_BJOB_INLINE) {
        if (arg_len) memcpy(job->argbox, arg, arg_len);
    } else {
        void *heap = tmq_xmemdup(arg, arg_len);
        memcpy(job->argbox, &heap, sizeof heap);
    }
    job->state = TMQ_JOB_NEW;
    self->count[TMQ_JOB_NEW]++;
    self->entered[TMQ_JOB_NEW]++;
    tmq_idmap_put(&self->byid, job->jid, job);
    return job;
}

tmq_bjob_t *tmq_jobtab_create(tmq_jobtab_t *self, const void *arg, size_t arg_len)
{
    return s_new(self, self->next_jid++, arg, arg_len);
}

tmq_bjob_t *tmq_jobtab_adopt(tmq_jobtab_t *self, uint64_t jid, const void *arg, size_t arg_len)
{
    if (jid == 0 || jid == TMQ_IDMAP_NONE || tmq_idmap_has(&self->byid, jid)) return NULL;
    if (jid >= self->next_jid) self->next_jid = jid + 1;
    return s_new(self, jid, arg, arg_len);
}

uint64_t tmq_jobtab_take_id(tmq_jobtab_t *self)
{
    return self->next_jid++;
}

void tmq_jobtab_skip_to(tmq_jobtab_t *self, uint64_t next_jid)
{
    if (next_jid > self->next_jid) self->next_jid = next_jid;
}

tmq_bjob_t *tmq_jobtab_find(const tmq_jobtab_t *self, uint64_t jid)
{
    return tmq_idmap_get(&self->byid, jid);
}

static inline int s_legal(int from, int to)
{
    switch (from) {
    case TMQ_JOB_NEW:
        return to == TMQ_JOB_QUEUED;
    case TMQ_JOB_QUEUED:
        return to == TMQ_JOB_LEASED || to == TMQ_JOB_CANCELLED || to == TMQ_JOB_FAILED;
    case TMQ_JOB_LEASED:
        return to == TMQ_JOB_QUEUED || to == TMQ_JOB_DONE || to == TMQ_JOB_FAILED ||
               to == TMQ_JOB_CANCELLED;
    default:
        return 0;
    }
}

void tmq_jobtab_transition(tmq_jobtab_t *self, tmq_bjob_t *job, tmq_bjob_state_t to)
{
    assert(s_legal(job->state, to));
    if (to == TMQ_JOB_LEASED) {
        if (job->flags & TMQ_JOB_KEEP_ATTEMPT)
            job->flags &= (uint8_t)~TMQ_JOB_KEEP_ATTEMPT;
        else
            job->attempt++;
    }
    self->count[job->state]--;
    self->count[to]++;
    self->entered[to]++;
    job->state = (uint8_t)to;
}

void tmq_jobtab_free(tmq_jobtab_t *self, tmq_bjob_t **job_p)
{
    tmq_bjob_t *job = *job_p;
    assert(job->state == TMQ_JOB_NEW || job->state >= TMQ_JOB_DONE);
    tmq_idmap_remove(&self->byid, job->jid, NULL);
    self->count[job->state]--;
    s_drop_arg(job);
    job->state = TMQ_JOB_FREE;
    job->link.next = (tmq_list_link_t *)self->free_list;
    self->free_list = job;
    *job_p = NULL;
}

size_t tmq_jobtab_count(const tmq_jobtab_t *self, tmq_bjob_state_t s)
{
    return self->count[s];
}

uint64_t tmq_jobtab_entered(const tmq_jobtab_t *self, tmq_bjob_state_t s)
{
    return self->entered[s];
}

size_t tmq_jobtab_size(const tmq_jobtab_t *self)
{
    return tmq_idmap_count(&self->byid);
}
