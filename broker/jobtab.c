/* broker/jobtab.c — see jobtab.h. Ids are consecutive, so a Fibonacci hash spreads them evenly;
 * slots hold record pointers only (the key is the record's jid), 8 bytes per slot. */
#include "jobtab.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct tmq_jobtab_t {
    tmq_bjob_t **slots; /* open addressing, NULL = empty */
    size_t mask;        /* capacity - 1 (capacity is a power of two) */
    unsigned shift;     /* 64 - log2(capacity) */
    size_t live;        /* records in slots */
    tmq_bjob_t **chunks;
    size_t nchunks, chunks_cap;
    tmq_bjob_t *free_list; /* linked through link.next */
    uint64_t next_jid;
    size_t count[TMQ_JOB_STATES_];
    uint64_t entered[TMQ_JOB_STATES_];
};

static void *s_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    return p;
}

static size_t s_hash(const tmq_jobtab_t *self, uint64_t jid)
{
    return (size_t)((jid * 0x9E3779B97F4A7C15ull) >> self->shift);
}

static void s_insert(tmq_jobtab_t *self, tmq_bjob_t *job)
{
    size_t i = s_hash(self, job->jid);
    while (self->slots[i])
        i = (i + 1) & self->mask;
    self->slots[i] = job;
}

static void s_resize(tmq_jobtab_t *self, unsigned bits)
{
    tmq_bjob_t **old = self->slots;
    size_t old_cap = old ? self->mask + 1 : 0;
    self->slots = s_alloc(sizeof(tmq_bjob_t *) << bits);
    self->mask = ((size_t)1 << bits) - 1;
    self->shift = 64 - bits;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i]) s_insert(self, old[i]);
    free(old);
}

tmq_jobtab_t *tmq_jobtab_new(void)
{
    tmq_jobtab_t *self = s_alloc(sizeof *self);
    s_resize(self, 10);
    self->next_jid = 1;
    return self;
}

void tmq_jobtab_destroy(tmq_jobtab_t **self_p)
{
    tmq_jobtab_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    for (size_t c = 0; c < self->nchunks; c++) {
        for (size_t i = 0; i < TMQ_JOBTAB_CHUNK; i++)
            if (self->chunks[c][i].state != TMQ_JOB_FREE) free(self->chunks[c][i].arg);
        free(self->chunks[c]);
    }
    free(self->chunks);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

static tmq_bjob_t *s_take_record(tmq_jobtab_t *self)
{
    if (!self->free_list) {
        if (self->nchunks == self->chunks_cap) {
            self->chunks_cap = self->chunks_cap ? 2 * self->chunks_cap : 16;
            self->chunks = realloc(self->chunks, self->chunks_cap * sizeof *self->chunks);
            if (!self->chunks) abort();
        }
        tmq_bjob_t *chunk = s_alloc(sizeof(tmq_bjob_t) * TMQ_JOBTAB_CHUNK);
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

tmq_bjob_t *tmq_jobtab_create(tmq_jobtab_t *self, const void *arg, size_t arg_len)
{
    if (2 * (self->live + 1) > self->mask + 1) s_resize(self, 64 - self->shift + 1);
    tmq_bjob_t *job = s_take_record(self);
    job->jid = self->next_jid++;
    job->arg = malloc(arg_len ? arg_len : 1);
    if (!job->arg) abort();
    if (arg_len) memcpy(job->arg, arg, arg_len);
    job->arg_len = (uint32_t)arg_len;
    job->state = TMQ_JOB_NEW;
    self->count[TMQ_JOB_NEW]++;
    self->entered[TMQ_JOB_NEW]++;
    s_insert(self, job);
    self->live++;
    return job;
}

tmq_bjob_t *tmq_jobtab_find(const tmq_jobtab_t *self, uint64_t jid)
{
    size_t i = s_hash(self, jid);
    for (tmq_bjob_t *j; (j = self->slots[i]) != NULL; i = (i + 1) & self->mask)
        if (j->jid == jid) return j;
    return NULL;
}

/* Backward-shift deletion: no tombstones, so probes stay short under churn. */
static void s_remove(tmq_jobtab_t *self, tmq_bjob_t *job)
{
    size_t i = s_hash(self, job->jid);
    while (self->slots[i] != job) {
        assert(self->slots[i]);
        i = (i + 1) & self->mask;
    }
    size_t hole = i;
    for (;;) {
        i = (i + 1) & self->mask;
        tmq_bjob_t *j = self->slots[i];
        if (!j) break;
        size_t home = s_hash(self, j->jid);
        /* j may fill the hole when its home is not cyclically within (hole, i] */
        if (((i - home) & self->mask) >= ((i - hole) & self->mask)) {
            self->slots[hole] = j;
            hole = i;
        }
    }
    self->slots[hole] = NULL;
    self->live--;
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
    s_remove(self, job);
    self->count[job->state]--;
    free(job->arg);
    job->arg = NULL;
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
    return self->live;
}
