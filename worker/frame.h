/* worker/frame.h — the byte stream between the worker daemon and its executor processes.
 *
 * Each frame is a 4-byte big-endian length and that many bytes holding one msgpack array
 * whose first element is the frame kind. On the job stream (the executor's fd 3) JOB [1, tag,
 * fn, arg] goes from the daemon to the executor; RESULT [2, tag, status, data, ms] (one per
 * job it started, in the order the jobs were sent) and RETURNED [4, [tag, ...]] (jobs it
 * hands back unstarted, in their order, answering REVOKE) come back. REVOKE [3, n] travels
 * alone on the control stream (fd 4), so it is read at once even while a job computes. The tag is
 * the daemon's local job number. Encoding writes fixed-width forms; decoding accepts any msgpack
 * form of each field, checks every length against the bytes present and never allocates. The reader
 * accumulates bytes from a descriptor and hands out complete frames.
 */
#ifndef TMQ_FRAME_H
#define TMQ_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TMQ_FRAME_PREFIX 4
#define TMQ_FRAME_MAX (64u << 20) /* a frame over this is a protocol error */
#define TMQ_FRAME_MAX_TAGS 4096   /* tags one RETURNED frame may list */

typedef enum {
    TMQ_FRAME_JOB = 1,      /* daemon -> executor: run this */
    TMQ_FRAME_RESULT = 2,   /* executor -> daemon: a started job's outcome */
    TMQ_FRAME_REVOKE = 3,   /* daemon -> executor: hand back up to n jobs not yet started */
    TMQ_FRAME_RETURNED = 4, /* executor -> daemon: the jobs handed back (possibly none) */
    TMQ_FRAME_HELLO = 5,    /* executor -> daemon, its first frame: who it is, what it serves */
} tmq_frame_kind_t;

#define TMQ_EXECUTOR_PROTOCOL 1 /* the executor protocol version (docs/EXECUTOR.md) */
#define TMQ_FRAME_MAX_FNS 1024  /* functions one executor may announce */

/* ---- encoding ---- */

/* Bytes a job frame needs, prefix included. */
size_t tmq_frame_job_size(size_t fn_len, size_t arg_len);
/* Writes a job frame into out (tmq_frame_job_size bytes) and returns its length. */
size_t tmq_frame_job_write(uint8_t *out, uint64_t tag, const char *fn, size_t fn_len,
                           const void *arg, size_t arg_len);

size_t tmq_frame_result_size(size_t data_len);
/* Writes a result frame into out (tmq_frame_result_size bytes) and returns its length. */
size_t tmq_frame_result_write(uint8_t *out, uint64_t tag, int status, const void *data,
                              size_t data_len, double ms);

#define TMQ_FRAME_REVOKE_SIZE (TMQ_FRAME_PREFIX + 1 + 1 + 5)
/* Writes a REVOKE frame (TMQ_FRAME_REVOKE_SIZE bytes) and returns its length. */
size_t tmq_frame_revoke_write(uint8_t *out, uint32_t n);

size_t tmq_frame_returned_size(size_t ntags);
/* Writes a RETURNED frame listing tags[0..n) and returns its length. */
size_t tmq_frame_returned_write(uint8_t *out, const uint64_t *tags, size_t n);

/* ---- decoding: p/n is one frame's payload (after the prefix); fields point into it ---- */

typedef struct {
    uint64_t tag;
    const char *fn;
    size_t fn_len;
    const void *arg;
    size_t arg_len;
} tmq_frame_job_t;

typedef struct {
    uint64_t tag;
    int status;
    const void *data;
    size_t data_len;
    double ms;
} tmq_frame_result_t;

/* The kind of a frame's payload (tmq_frame_kind_t), or -1 when it does not start like one. */
int tmq_frame_kind(const uint8_t *p, size_t n);

/* Each returns 0, or -1 when the payload is not exactly such an array. */
int tmq_frame_job_decode(const uint8_t *p, size_t n, tmq_frame_job_t *out);
int tmq_frame_result_decode(const uint8_t *p, size_t n, tmq_frame_result_t *out);
int tmq_frame_revoke_decode(const uint8_t *p, size_t n, uint32_t *count);
/* Tags into tags[0..max); -1 also when more than max are listed. */
int tmq_frame_returned_decode(const uint8_t *p, size_t n, uint64_t *tags, size_t max,
                              size_t *ntags);

/* ---- HELLO: [5, {version, functions, revoke, error, python}] ---- */

/* An executor's announcement, owned (decoded copies). */
typedef struct {
    uint32_t version; /* the executor protocol it speaks */
    char **fns;       /* the functions it serves, NUL-terminated, 1..64 bytes each, no repeats */
    size_t nfns;
    bool revoke;  /* it answers REVOKE (on fd 4), so it may be handed jobs ahead */
    char *error;  /* it could not start: why (then fns may be empty); NULL when none */
    char *python; /* the Python version of an executor in Python ("3.11.2"); NULL when none */
} tmq_frame_hello_t;

/* A malloc'd HELLO frame (length prefix included) for h, *len set. */
void *tmq_frame_hello_write(const tmq_frame_hello_t *h, size_t *len);
/* Decodes a HELLO payload into out (owned; release with tmq_frame_hello_free). Keys other
 * than version, functions, revoke, error and python are ignored. Returns 0, or -1 with a one-line
 * reason in why (not a map, a missing or mistyped key, a bad or repeated function name). */
int tmq_frame_hello_decode(const uint8_t *p, size_t n, tmq_frame_hello_t *out, char *why,
                           size_t why_len);
void tmq_frame_hello_free(tmq_frame_hello_t *h);

/* ---- reading a stream ---- */

typedef struct {
    uint8_t *buf;
    size_t cap, len, off; /* bytes [off, len) are held and not yet handed out */
} tmq_frame_reader_t;

void tmq_frame_reader_init(tmq_frame_reader_t *r);
void tmq_frame_reader_destroy(tmq_frame_reader_t *r);
/* Reads once from fd into the buffer (making room first). Returns the bytes read, 0 at end
 * of file, or -1 with errno set (EAGAIN on a non-blocking fd with nothing to read). Frames
 * handed out earlier become invalid. */
ssize_t tmq_frame_reader_fill(tmq_frame_reader_t *r, int fd);
/* Appends bytes as if read (for tests). */
void tmq_frame_reader_feed(tmq_frame_reader_t *r, const void *data, size_t len);
/* Hands out the next complete frame's payload: returns 1 with *p and *n set (valid until the next
 * fill or feed), 0 when no complete frame is held, -1 when the declared length is over
 * TMQ_FRAME_MAX (the stream cannot be resynchronised). */
int tmq_frame_reader_next(tmq_frame_reader_t *r, const uint8_t **p, size_t *n);

#endif
