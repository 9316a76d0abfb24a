/* broker/jobtab.h — job records, their id table and their one state machine.
 *
 * Records come from a pool (chunks of TMQ_JOBTAB_CHUNK, recycled through a free list, never
 * returned to the OS) and are found by their integer id through jobtab's own id table of
 * 4-byte record numbers (jobtab.c says why it is not common/idmap). An argument of at most
 * TMQ_BJOB_INLINE bytes lives in the record; a longer one in a heap copy; a job with a memory
 * limit or a named batch (rare) keeps those and its argument in one tmq_bjob_ext_t. Read them
 * through tmq_bjob_arg, tmq_bjob_mem_limit and tmq_bjob_batch; set the rare ones through
 * tmq_bjob_set_*. Every state change goes through tmq_jobtab_transition, which keeps the
 * per-state counts and the attempt number:
 *     NEW -> QUEUED -> LEASED -> DONE | FAILED,  LEASED -> QUEUED (requeue),
 *     QUEUED | LEASED -> CANCELLED (client left, or withdrew it), QUEUED -> FAILED.
 */
#ifndef TMQ_BROKER_JOBTAB_H
#define TMQ_BROKER_JOBTAB_H

#include <list.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    TMQ_JOB_FREE = 0,  /* in the pool */
    TMQ_JOB_NEW,       /* created, not yet queued */
    TMQ_JOB_QUEUED,    /* waiting in its function's queue */
    TMQ_JOB_LEASED,    /* sent to a worker, which holds it */
    TMQ_JOB_DONE,      /* finished OK (terminal) */
    TMQ_JOB_FAILED,    /* finished with an error, timeout or too many deaths (terminal) */
    TMQ_JOB_CANCELLED, /* its client left or withdrew it (terminal) */
    TMQ_JOB_STATES_
} tmq_bjob_state_t;

#define TMQ_JOB_KEEP_ATTEMPT 0x01 /* the next lease reuses the attempt (handed back unstarted) */
#define TMQ_JOB_LONG 0x02         /* leased without prefetch: counts as a whole process */
/* The client's retry_oom: an out-of-memory end is retried like a death (else it is final). */
#define TMQ_JOB_RETRY_OOM 0x04
/* jobtab's own: argbox holds a tmq_bjob_ext_t * (never set or cleared elsewhere) */
#define TMQ_JOB_EXT 0x08

/* Arguments up to this many bytes are kept in the record (a msgpack uint64 or float64 is 9;
 * a string of up to 13 bytes fits too): the room left in 104 bytes. */
#define TMQ_BJOB_INLINE 14
/* Revocation (broker/dispatch.c): the job was held when a REVOKE went out to its worker ... */
#define TMQ_JOB_ASKED 0x10
/* ... and the worker's RETURNED kept it, so it has started: it is not asked about again. Both
 * are cleared when the worker gives the job back or finishes it. */
#define TMQ_JOB_STARTED 0x20

struct tmq_bclient_t;
struct tmq_bworker_t;
struct tmq_fn_t;

/* A job's rare fields with its argument, one heap block (TMQ_JOB_EXT). */
typedef struct {
    uint64_t mem_limit;  /* bytes its executor may use; 0 = the worker's own limit */
    uint32_t batch;      /* the named batch it belongs to (batches.c), 0: none */
    unsigned char arg[]; /* arg_len bytes */
} tmq_bjob_ext_t;

typedef struct tmq_bjob_t {
    tmq_list_link_t link;  /* function queue while QUEUED, worker's held list while LEASED */
    tmq_list_link_t clink; /* the client's list of live jobs */
    uint64_t jid;          /* broker id, never reused (while FREE: its record number) */
    uint64_t cid;          /* the client's id for it */
    struct tmq_bclient_t *client;
    struct tmq_fn_t *fn;
    struct tmq_bworker_t *worker; /* holder while LEASED */
    /* The argument's bytes when arg_len <= TMQ_BJOB_INLINE and not TMQ_JOB_EXT; else the
     * bytes of a pointer (8-aligned here) to its heap copy, or to its tmq_bjob_ext_t with
     * TMQ_JOB_EXT. jobtab's own: read it through tmq_bjob_arg. */
    unsigned char argbox[TMQ_BJOB_INLINE];
    uint8_t state; /* tmq_bjob_state_t */
    uint8_t flags; /* TMQ_JOB_* */
    uint32_t arg_len;
    uint32_t timeout_ms;
    uint32_t attempt; /* current attempt: 0 before the first lease */
    int16_t retries;  /* deaths tolerated (0..TMQ_MAX_RETRIES): fails after retries + 1 deaths */
    uint16_t died;    /* attempts that ended with the executor dying (or out of memory, when
                         retried) */
} tmq_bjob_t;

/* The heap block argbox points to (only when the argument is not inline). */
static inline void *tmq_bjob_heap_(const tmq_bjob_t *job)
{
    void *p;
    memcpy(&p, job->argbox, sizeof p); /* argbox is a byte array: no type punning */
    return p;
}

/* The argument's arg_len bytes, borrowed: valid until the record is freed. */
static inline const void *tmq_bjob_arg(const tmq_bjob_t *job)
{
    if (job->flags & TMQ_JOB_EXT) return ((const tmq_bjob_ext_t *)tmq_bjob_heap_(job))->arg;
    return job->arg_len <= TMQ_BJOB_INLINE ? (const void *)job->argbox : tmq_bjob_heap_(job);
}

/* Its memory limit in bytes; 0: the worker's own. */
static inline uint64_t tmq_bjob_mem_limit(const tmq_bjob_t *job)
{
    return job->flags & TMQ_JOB_EXT ? ((const tmq_bjob_ext_t *)tmq_bjob_heap_(job))->mem_limit : 0;
}

/* The id of the named batch it belongs to; 0: none. */
static inline uint32_t tmq_bjob_batch(const tmq_bjob_t *job)
{
    return job->flags & TMQ_JOB_EXT ? ((const tmq_bjob_ext_t *)tmq_bjob_heap_(job))->batch : 0;
}

/* Set the rare fields of a live record. A non-zero value moves the argument into a
 * tmq_bjob_ext_t (once; tmq_bjob_arg then points there); out-of-memory aborts. */
void tmq_bjob_set_mem_limit(tmq_bjob_t *job, uint64_t mem_limit);
void tmq_bjob_set_batch(tmq_bjob_t *job, uint32_t batch);

#define TMQ_JOBTAB_CHUNK 1024

typedef struct tmq_jobtab_t tmq_jobtab_t;

tmq_jobtab_t *tmq_jobtab_new(void);
/* Frees every record and argument. Safe on NULL and twice. */
void tmq_jobtab_destroy(tmq_jobtab_t **self_p);

/* A new record in state NEW with a fresh id, findable at once; arg is copied (into the record
 * when it fits). Never NULL (out-of-memory aborts). */
tmq_bjob_t *tmq_jobtab_create(tmq_jobtab_t *self, const void *arg, size_t arg_len);

/* A record in state NEW with the id jid (a job replayed from the journal), or NULL when jid
 * is 0, TMQ_IDMAP_NONE or taken; later ids continue above it. */
tmq_bjob_t *tmq_jobtab_adopt(tmq_jobtab_t *self, uint64_t jid, const void *arg, size_t arg_len);
/* A fresh id no job will have (a journal record of its own, e.g. a batch's end). */
uint64_t tmq_jobtab_take_id(tmq_jobtab_t *self);
/* New ids start at next_jid or above (ids the journal held are never given again). */
void tmq_jobtab_skip_to(tmq_jobtab_t *self, uint64_t next_jid);

/* The live record with this id, or NULL. */
tmq_bjob_t *tmq_jobtab_find(const tmq_jobtab_t *self, uint64_t jid);

/* Moves job to state `to`. Illegal moves are programmer errors (assert). QUEUED -> LEASED
 * starts the next attempt unless TMQ_JOB_KEEP_ATTEMPT is set (the flag is then cleared). */
void tmq_jobtab_transition(tmq_jobtab_t *self, tmq_bjob_t *job, tmq_bjob_state_t to);

/* Returns a NEW or terminal record to the pool (no longer findable); nulls *job_p. */
void tmq_jobtab_free(tmq_jobtab_t *self, tmq_bjob_t **job_p);

/* Records currently in state s. */
size_t tmq_jobtab_count(const tmq_jobtab_t *self, tmq_bjob_state_t s);
/* How many records ever entered state s. */
uint64_t tmq_jobtab_entered(const tmq_jobtab_t *self, tmq_bjob_state_t s);
/* Records findable (not FREE). */
size_t tmq_jobtab_size(const tmq_jobtab_t *self);

#endif
