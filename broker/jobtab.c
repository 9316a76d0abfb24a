/* broker/jobtab.c — see jobtab.h. Ids are consecutive from 1 and never reused (adopted ones
 * are checked), so a new record's id is never in the table yet. An argument's home (argbox, a
 * heap copy, or a tmq_bjob_ext_t) is fixed by TMQ_JOB_EXT and arg_len alone; only s_new, s_ext
 * and s_drop_arg change it. A FREE record's jid is its record number (its place in the pool),
 * which is what the id table holds. */
#include "jobtab.h"

#include <idmap.h>
#include <xalloc.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Every queued job costs one record plus its id table slots (2 x 4 bytes at worst): the budget
 * is 128 bytes a job beyond its payload, and the record is 104 bytes on LP64 with a 9-byte
 * argument inside (it was 112 plus a 32-byte malloc block for it). Rare fields (mem_limit, the
 * batch id) live in tmq_bjob_ext_t; retries fits int16 (capped at TMQ_MAX_RETRIES, 1000). A new
 * field must find room here or go there. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(tmq_bjob_t) <= 104, "tmq_bjob_t grew: mind the per-job memory");
#endif
_Static_assert(offsetof(tmq_bjob_t, argbox) % _Alignof(void *) == 0 &&
                   TMQ_BJOB_INLINE >= sizeof(void *),
               "argbox must hold an aligned pointer");

/* The id table: jid -> record, for every record not FREE. It is common/idmap's table
 * (linear probing, backward-shift deletion, Fibonacci hashing, a power-of-two capacity at most
 * half full that grows and never shrinks) with a slot of 4 bytes, a record number (0:
 * empty), instead of idmap's 16 (the id again and a pointer): the key is the record's own
 * jid. It is the one map in taskmq that holds a million entries, 8.4 bytes a job then instead
 * of 33.5; the others keep idmap, whose values need not be records. */
typedef struct {
    uint32_t *slots;
    size_t mask;    /* capacity - 1 */
    unsigned shift; /* 64 - log2(capacity) */
    size_t count;
} s_ids_t;

#define S_IDS_INITIAL_BITS 10

struct tmq_jobtab_t {
    s_ids_t ids;
    tmq_bjob_t **chunks;
    size_t nchunks, chunks_cap;
    tmq_bjob_t *free_list; /* linked through link.next */
    uint64_t next_jid;
    size_t count[TMQ_JOB_STATES_];
    uint64_t entered[TMQ_JOB_STATES_];
};

/* The record numbered n: records are numbered from 1 in pool order, so that 0 marks an empty
 * slot of the id table. */
static inline tmq_bjob_t *s_rec(const tmq_jobtab_t *self, uint32_t n)
{
    return &self->chunks[(n - 1) / TMQ_JOBTAB_CHUNK][(n - 1) % TMQ_JOBTAB_CHUNK];
}

static inline size_t s_home(const s_ids_t *ids, uint64_t jid)
{
    return (size_t)((jid * 0x9E3779B97F4A7C15ull) >> ids->shift);
}

static void s_ids_alloc(s_ids_t *ids, unsigned bits)
{
    ids->slots = tmq_xcalloc((size_t)1 << bits, sizeof *ids->slots); /* all empty */
    ids->mask = ((size_t)1 << bits) - 1;
    ids->shift = 64 - bits;
}

/* The slot holding jid's record, or the empty slot where it would go. */
static inline size_t s_ids_probe(const tmq_jobtab_t *self, uint64_t jid)
{
    const s_ids_t *ids = &self->ids;
    size_t i = s_home(ids, jid);
    while (ids->slots[i] && s_rec(self, ids->slots[i])->jid != jid)
        i = (i + 1) & ids->mask;
    return i;
}

/* Puts record number n in the first empty slot of jid's run: jid is not in the table (no key
 * to compare, so no record is read). */
static inline void s_ids_place(s_ids_t *ids, uint64_t jid, uint32_t n)
{
    size_t i = s_home(ids, jid);
    while (ids->slots[i])
        i = (i + 1) & ids->mask;
    ids->slots[i] = n;
}

static void s_ids_grow(tmq_jobtab_t *self)
{
    s_ids_t *ids = &self->ids;
    uint32_t *old = ids->slots;
    size_t old_cap = ids->mask + 1;
    s_ids_alloc(ids, 64 - ids->shift + 1);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i]) s_ids_place(ids, s_rec(self, old[i])->jid, old[i]);
    free(old);
}

/* Files record number n under jid, which no live record has. */
static void s_ids_add(tmq_jobtab_t *self, uint64_t jid, uint32_t n)
{
    s_ids_t *ids = &self->ids;
    assert(!ids->slots[s_ids_probe(self, jid)]);
    if (2 * (ids->count + 1) > ids->mask + 1) s_ids_grow(self);
    s_ids_place(ids, jid, n);
    ids->count++;
}

/* Removes jid, which is in the table; returns its record number. */
static uint32_t s_ids_remove(tmq_jobtab_t *self, uint64_t jid)
{
    s_ids_t *ids = &self->ids;
    size_t hole = s_ids_probe(self, jid);
    uint32_t n = ids->slots[hole];
    assert(n);
    /* Backward shift: a later member of the probe run moves into the hole unless its home
     * lies cyclically within (hole, j]. */
    for (size_t j = (hole + 1) & ids->mask; ids->slots[j]; j = (j + 1) & ids->mask) {
        size_t home = s_home(ids, s_rec(self, ids->slots[j])->jid);
        if (((j - home) & ids->mask) >= ((j - hole) & ids->mask)) {
            ids->slots[hole] = ids->slots[j];
            hole = j;
        }
    }
    ids->slots[hole] = 0;
    ids->count--;
    return n;
}

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
    s_ids_alloc(&self->ids, S_IDS_INITIAL_BITS);
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
    free(self->ids.slots);
    free(self);
    *self_p = NULL;
}

/* A zeroed record from the pool; *n gets its record number. */
static tmq_bjob_t *s_take_record(tmq_jobtab_t *self, uint32_t *n)
{
    if (!self->free_list) {
        /* Record numbers are 32 bits: 4 billion records (over 400 GB) is out of memory on any
         * machine this runs on. */
        if (self->nchunks >= UINT32_MAX / TMQ_JOBTAB_CHUNK) tmq_oom();
        if (self->nchunks == self->chunks_cap) {
            self->chunks_cap = self->chunks_cap ? 2 * self->chunks_cap : 16;
            self->chunks = tmq_xrealloc(self->chunks, self->chunks_cap * sizeof *self->chunks);
        }
        tmq_bjob_t *chunk = tmq_xcalloc(TMQ_JOBTAB_CHUNK, sizeof *chunk);
        uint64_t first = (uint64_t)self->nchunks * TMQ_JOBTAB_CHUNK + 1;
        self->chunks[self->nchunks++] = chunk;
        for (size_t i = TMQ_JOBTAB_CHUNK; i-- > 0;) {
            chunk[i].jid = first + i;
            chunk[i].link.next = (tmq_list_link_t *)self->free_list;
            self->free_list = &chunk[i];
        }
    }
    tmq_bjob_t *job = self->free_list;
    self->free_list = (tmq_bjob_t *)job->link.next;
    *n = (uint32_t)job->jid;
    memset(job, 0, sizeof *job);
    return job;
}

/* A NEW record with id jid, findable; its argument inline when it fits. */
static tmq_bjob_t *s_new(tmq_jobtab_t *self, uint64_t jid, const void *arg, size_t arg_len)
{
    assert(arg_len <= UINT32_MAX);
    uint32_t n;
    tmq_bjob_t *job = s_take_record(self, &n);
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
    s_ids_add(self, jid, n);
    return job;
}

tmq_bjob_t *tmq_jobtab_create(tmq_jobtab_t *self, const void *arg, size_t arg_len)
{
    return s_new(self, self->next_jid++, arg, arg_len);
}

tmq_bjob_t *tmq_jobtab_adopt(tmq_jobtab_t *self, uint64_t jid, const void *arg, size_t arg_len)
{
    if (jid == 0 || jid == TMQ_IDMAP_NONE || tmq_jobtab_find(self, jid)) return NULL;
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
    uint32_t n = self->ids.slots[s_ids_probe(self, jid)];
    return n ? s_rec(self, n) : NULL;
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
    uint32_t n = s_ids_remove(self, job->jid);
    assert(s_rec(self, n) == job);
    self->count[job->state]--;
    s_drop_arg(job);
    job->state = TMQ_JOB_FREE;
    job->jid = n;
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
    return self->ids.count;
}
