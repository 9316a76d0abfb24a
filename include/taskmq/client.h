/* taskmq/client.h — the C client API of taskmq.
 *
 * Submit jobs to a taskmq broker and receive each result the moment it finishes
 * (completion order). Arguments and results are msgpack bytes. tmq_submit never waits for a
 * job's round trip: jobs are batched and pipelined within a bounded window; when the window
 * is full tmq_submit first takes in results that have arrived (kept for tmq_next).
 *
 * A client object is used from one thread at a time. Ownership follows czmq: a T ** argument
 * takes ownership and nulls the caller's pointer; const char * / const void * returns are
 * borrowed and live as long as their owner. A program may return from main or call exit()
 * without tmq_client_destroy: at exit the library says BYE for each live client and stops
 * its background thread before czmq tears down, so the process exits with its own status.
 * That is safe only while no other thread is inside a call on that client (tmq_next,
 * tmq_wait, tmq_submit, ...): exit() stops the client under the thread still using it, which
 * can crash. Have such threads leave the library first (wait with a timeout and check a
 * flag), or destroy the client before exiting.
 */
#ifndef TASKMQ_CLIENT_H
#define TASKMQ_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; tmq_version() gives the library's ("0.5.0"). */
#define TMQ_VERSION_MAJOR 0
#define TMQ_VERSION_MINOR 5
#define TMQ_VERSION_PATCH 0
const char *tmq_version(void);

typedef struct tmq_client_t tmq_client_t;
typedef struct tmq_result_t tmq_result_t;

/* A client connected (lazily, ZeroMQ-style) to the broker's frontend, e.g.
 * "tcp://127.0.0.1:5555" (also ipc://PATH, inproc://NAME). Returns NULL with errno EINVAL
 * when the endpoint is not one (syntax only: a host name is resolved by ZeroMQ as it
 * connects). Each client has a random session id of its own (PROTOCOL.md 5.7): a journaled
 * broker gives the session's jobs and results to whichever connection names it, so a client
 * must not be used from two processes (after fork(), make a new one in the child). */
tmq_client_t *tmq_client_new(const char *endpoint);

/* Like tmq_client_new, over CurveZMQ: cert_file is this client's secret certificate and
 * broker_cert_file the broker's public one (`taskmq keygen PATH` writes PATH and
 * PATH_secret). NULL when a file cannot be used, with errno EINVAL and why (if non-NULL, at
 * most why_len bytes) naming the file and the cause, or for a bad endpoint as tmq_client_new.
 * A broker that refuses the key does not answer: tmq_client_wait_ready times out. */
tmq_client_t *tmq_client_new_curve(const char *endpoint, const char *cert_file,
                                   const char *broker_cert_file, char *why, size_t why_len);

/* Waits until the broker has answered a handshake. Returns 0, or -1 when no broker answered
 * within timeout_ms (unreachable, or a refused security handshake), when what answered
 * refused us at once (a broker's worker port: ERROR "wrong port"), or when a signal
 * interrupted the wait; tmq_client_error says which. Optional: tmq_submit and tmq_next work
 * without it, but it is how a tool tells "no broker" apart from "slow jobs". */
int tmq_client_wait_ready(tmq_client_t *c, int timeout_ms);

/* Why the connection failed or ended, "" while all is well: "no broker answered at EP within
 * N ms", the broker's reason for refusing us (wrong port), "the broker shut down", "lost
 * contact with the broker (...)". Cleared when a broker answers again. Borrowed: valid until
 * the next call on c. */
const char *tmq_client_error(const tmq_client_t *c);

/* Why jobs were last failed TMQ_RESULT_LOST: tmq_client_error as it was then ("the broker
 * shut down" after its BYE, "lost contact with the broker (silent for 5000 ms)"), kept when
 * a broker answers again and tmq_client_error becomes "" — so it still explains LOST results
 * read after a reconnect; "" while no job was lost. Borrowed: valid until the next call on
 * c. */
const char *tmq_client_lost_reason(const tmq_client_t *c);

/* Default per-job settings for later submissions: time limit in ms (0 = none) and retries
 * after an executor dies (-1 = the broker's default). */
void tmq_client_set_timeout(tmq_client_t *c, uint32_t timeout_ms);
void tmq_client_set_retries(tmq_client_t *c, int retries);

/* Default memory limit for later submissions, in bytes: the job's executor is killed and
 * replaced once it uses more, and the job fails TMQ_RESULT_OUT_OF_MEMORY. A worker's own
 * --mem-limit, when smaller, still applies. 0 (the default) sets none: the worker's own
 * limit, if any, applies. */
void tmq_client_set_mem_limit(tmq_client_t *c, uint64_t bytes);
/* For later submissions: true retries a job that ran out of memory as one whose executor
 * died (on another process, counted against its retries; out of retries it fails
 * TMQ_RESULT_OUT_OF_MEMORY). false (the default): running out of memory is final. */
void tmq_client_set_retry_oom(tmq_client_t *c, bool on);

/* Sessions (docs/PROTOCOL.md 5.7). Every client has a session: 16 random bytes, the same for
 * its whole life, named in each HELLO. A broker started with --journal keeps a session's jobs
 * across its own restarts; its WELCOME says so. With such a broker, losing it (silent for 5
 * heartbeats while results are due, its BYE, or a restarted broker that does not know this
 * connection) fails nothing: the client greets it again (after 250 ms, doubling up to 2 s)
 * and, once welcomed, resubmits every batch the broker had not acknowledged; each job still
 * yields exactly one result (repeats the broker resends are dropped). A warning is logged when
 * the broker is lost and an info line when it is back. Only when no broker has answered for
 * the broker-loss timeout are the awaited jobs failed TMQ_RESULT_LOST ("lost contact with the
 * broker"; tmq_client_error then says "... no broker answered for N s"). A broker without a
 * journal ignores the session: a lost one fails every awaited job at once, as described at
 * tmq_next.
 *
 * How long to wait for a lost journaled broker, in ms (default 60000; 0: fail at once, as
 * without a journal). The broker is told it in HELLO (linger_ms: how long it keeps the
 * session's jobs while no connection holds it; at most 86,400,000): a change says HELLO
 * again. */
void tmq_client_set_broker_loss_timeout(tmq_client_t *c, uint32_t ms);
/* True when the broker's last WELCOME said it journals (the session's jobs survive its
 * restart); false before any WELCOME and with a broker without --journal. */
bool tmq_client_journaled(const tmq_client_t *c);
/* True while a lost journaled broker is awaited (its jobs neither failed nor cancelled: a
 * destroy now says BYE to nobody, and a broker back within the session's linger runs them). */
bool tmq_client_broker_away(const tmq_client_t *c);

/* When the broker's queue is full: false (default) holds the job and resubmits it as the
 * queue drains (backpressure); true reports it at once as a failed result ("queue full"). */
void tmq_client_set_fail_when_full(tmq_client_t *c, bool fail);

/* Submits one job: function name and its argument as msgpack bytes (copied). Sets *job_id
 * (if non-NULL) to the job's id: ids count up from 0 in submission order, so they double as
 * input indexes. A job that cannot be valid (empty or over-long function name, argument that
 * is not one msgpack object nested at most 32 deep, argument over the broker's size limit)
 * still takes its id and comes back from tmq_next as a failed result saying why. Returns 0;
 * -1 with errno EINVAL for a NULL client or function, EBUSY while a batch is attached
 * (tmq_client_attach), or EINTR when a signal interrupted the wait for window room (nothing
 * submitted). Never blocks on a round trip, but waits for
 * results to arrive while the in-flight window is full. */
int tmq_submit(tmq_client_t *c, const char *function, const void *arg, size_t arg_len,
               uint64_t *job_id);

/* Cancels a job awaiting its result: queued at the broker, it is dropped; running, its
 * executor is killed (and replaced). The request goes out with the next batch (tmq_next,
 * tmq_wait, tmq_flush send it), so cancelling many jobs in a row costs one message. The job
 * still yields exactly one result from tmq_next: TMQ_RESULT_CANCELLED ("cancelled by its
 * client"), or its own outcome when that was on its way first. Returns 0 (also when asked
 * twice); -1 with errno ENOENT when job_id is not awaited (its result has arrived, whether
 * tmq_next returned it yet or not, or it was never submitted), EINVAL for a NULL client.
 * Needs a 0.4 broker: an older one answers ERROR (logged once) and the job runs to its end,
 * returning its own result. */
int tmq_cancel(tmq_client_t *c, uint64_t job_id);

/* Sends every submitted job now (tmq_next does this itself). Returns 0. */
int tmq_flush(tmq_client_t *c);

/* The next finished job, in completion order. Jobs wait while no broker has answered yet
 * (ZeroMQ connects lazily; use tmq_client_wait_ready to give up instead); once a broker has
 * answered, a broker that shuts down (it says BYE) fails every job still awaited at once with
 * "broker shut down", and losing it (silent for 5 heartbeats, or restarted) fails them with
 * "lost contact with the broker" (both TMQ_RESULT_LOST) — unless it journals: then the jobs
 * wait for it up to the broker-loss timeout (see tmq_client_set_broker_loss_timeout). NULL when
 * none finished within timeout_ms (0 = poll, -1 = wait forever) or a signal interrupted the wait.
 * Every submitted job yields exactly one result, successful or failed (tmq_result_status says how).
 * The caller destroys the result. */
tmq_result_t *tmq_next(tmq_client_t *c, int timeout_ms);

/* For event loops that also read a file descriptor (e.g. a tool streaming stdin): sends
 * submitted jobs, then waits up to timeout_ms (-1 = forever) until a result is ready for
 * tmq_next or fd (if >= 0) is ready to read: readable, at end of file (a closed pipe) or in
 * error, so a read() will not block. Returns a mask of TMQ_WAIT_RESULT and TMQ_WAIT_FD,
 * 0 on timeout, -1 when a signal interrupted the wait. */
#define TMQ_WAIT_RESULT 1
#define TMQ_WAIT_FD 2
int tmq_wait(tmq_client_t *c, int fd, int timeout_ms);

/* The in-flight window: at most this many jobs await a result from the broker (default
 * 20,000); tmq_submit waits for results beyond it. */
void tmq_client_set_window(tmq_client_t *c, size_t jobs);

/* Jobs submitted whose result has not yet been returned by tmq_next (ids skipped by
 * tmq_client_set_next_id and results of an attached batch do not count). */
size_t tmq_pending(const tmq_client_t *c);

/* How a job ended. */
typedef enum {
    TMQ_RESULT_OK = 0,               /* the function returned a result */
    TMQ_RESULT_ERROR = 1,            /* the function failed: its error text */
    TMQ_RESULT_DIED = 2,             /* its executor died, retries exhausted */
    TMQ_RESULT_TIMEOUT = 3,          /* killed at its time limit */
    TMQ_RESULT_REJECTED = 4,         /* refused: queue full (fail_when_full), payload too
                                        large, bad job, bad SUBMIT, wrong port, the broker's
                                        journal cannot take it ("journal unavailable: ...") */
    TMQ_RESULT_UNKNOWN_FUNCTION = 5, /* no connected worker serves its function */
    TMQ_RESULT_LOST = 6,             /* the broker shut down or was lost first */
    TMQ_RESULT_OUT_OF_MEMORY = 7,    /* past its memory limit (tmq_client_set_mem_limit or
                                        the worker's): its executor was killed; the text says
                                        so ("out of memory (limit 512 MiB)"); not retried
                                        unless tmq_client_set_retry_oom */
    TMQ_RESULT_CANCELLED = 8,        /* tmq_cancel stopped it first */
} tmq_result_status_t;

uint64_t tmq_result_id(const tmq_result_t *r);
bool tmq_result_ok(const tmq_result_t *r); /* tmq_result_status(r) == TMQ_RESULT_OK */
tmq_result_status_t tmq_result_status(const tmq_result_t *r);
/* The msgpack result when ok, else the error text (not NUL-terminated; len is exact). */
const void *tmq_result_data(const tmq_result_t *r, size_t *len);
/* "name:pid" of the executor that ran it; "" when it never ran. */
const char *tmq_result_worker(const tmq_result_t *r);
double tmq_result_ms(const tmq_result_t *r);         /* execution time on the executor */
unsigned tmq_result_attempts(const tmq_result_t *r); /* times it was started */
void tmq_result_destroy(tmq_result_t **r);

/* Status of the broker as msgpack bytes of a map (queued, running, done, failed, rate,
 * version, workers: [{name, addr, pid, procs, busy, done, failed, version, functions,
 * seen_ms}...], functions: [{name, workers, procs, queued}...], ...; see docs/PROTOCOL.md).
 * Returns a malloc'd buffer the caller frees, or NULL when the broker did not answer within
 * timeout_ms. */
void *tmq_client_status(tmq_client_t *c, int timeout_ms, size_t *len);

/* ---- named batches (docs/PROTOCOL.md 5.8) ----
 *
 * A batch is a named run: its jobs and results are kept by the broker (in its journal when it
 * has one) until every result was delivered and the batch's ttl has passed after it completed,
 * so any client, from any host, can read them again (tmq_client_attach) and a half-done run
 * can be finished rather than redone (tmq_client_batch_done). A batch's results are named by
 * the submitter's job ids: keep ids equal to input positions (tmq_client_set_next_id skips
 * inputs a resume leaves out). A batch's jobs outlive a submitter that vanishes (killed, its
 * host gone); one that says goodbye (tmq_client_destroy) still cancels its unfinished jobs. */

/* Later submissions go to the batch name (1..128 bytes, no space or control byte; NULL: no
 * batch). ttl_ms: how long the broker keeps the batch once complete (0: the broker's default,
 * 1 hour; at most 604,800,000 = 7 days). Jobs already submitted and not yet sent go out first,
 * in the batch they were submitted to (but jobs held after "queue full" go, when resubmitted,
 * to the batch set then: change batches once nothing is pending). Returns 0, or -1 with errno
 * EINVAL for a NULL client or a name that is not a valid batch name. */
int tmq_client_set_batch(tmq_client_t *c, const char *name, uint32_t ttl_ms);

/* The input of the batch has ended: no more jobs will be submitted to it by this client. Sends
 * what is waiting with `batch_end` (an empty SUBMIT when nothing is), so the batch completes
 * once its jobs have ended, without waiting for this client to leave; later SUBMITs to the
 * batch (jobs held after "queue full") carry it too. Returns 0, or -1 with errno EINVAL when no
 * batch is set. */
int tmq_client_end_batch(tmq_client_t *c);

/* Ids below id are not used for jobs: the next tmq_submit gets id (ids still only grow). For a
 * resume: skip the inputs whose result the batch holds, keeping ids equal to input positions.
 * Skipped ids are not pending. Returns 0, or -1 with errno EINVAL when id is below the next id
 * (ids are never reused) or UINT64_MAX. */
int tmq_client_set_next_id(tmq_client_t *c, uint64_t id);

/* A batch's counts, as the broker's BATCH message says them. */
typedef struct {
    bool known;       /* the broker holds a batch by that name (false: the rest are 0) */
    uint64_t total;   /* inputs (ids) in it */
    uint64_t done;    /* ids with an OK result */
    uint64_t failed;  /* ids with a failed result */
    uint64_t running; /* jobs accepted and not finished (queued or running) */
    bool closed;      /* its submitter's input ended (tmq_client_end_batch) */
    bool complete;    /* no job left running and no more will come: every result is there */
    uint64_t cancelled; /* inputs cancelled before any result (Ctrl-C, tmq_cancel): it lacks
                           them until a resume runs them */
} tmq_batch_status_t;

/* Attaches to the batch name: waits up to timeout_ms (-1 forever) for the broker's answer, and
 * fills *st (if non-NULL) with the batch's counts then. From then on tmq_next returns the
 * batch's results like results of this client's own jobs (tmq_result_id is the submitter's id,
 * the input position): first every result the batch holds, in the order they finished, then
 * each new one as it finishes — each id once, also when the broker sends it again (a journaled
 * broker that restarted is attached again by the library once it is back, and resends them).
 * Loop on tmq_next until tmq_client_attach_state says TMQ_ATTACH_COMPLETE (every result
 * returned) or TMQ_ATTACH_LOST. The batch's results never count in tmq_pending, and attaching
 * reads only: nothing is cancelled when this client leaves. One batch at a time; a second
 * attach replaces the first (results of the first that arrived are still returned).
 * Returns 0; -1 with errno: EINVAL (NULL client, invalid name), ENOENT (the broker holds no
 * batch by that name: st->known is false; tmq_client_error says "no batch named NAME at EP"),
 * ENOTSUP (the broker does not know ATTACH: "this broker does not keep batches (taskmq 0.4 or
 * older)"), EBUSY (this client has jobs of its own pending: their ids would mix with the
 * batch's), ETIMEDOUT (no answer within timeout_ms, or the broker was lost), EINTR (a signal).
 * While a batch is attached, tmq_submit fails with EBUSY: submit from another client. */
int tmq_client_attach(tmq_client_t *c, const char *name, tmq_batch_status_t *st, int timeout_ms);

typedef enum {
    TMQ_ATTACH_NONE = 0, /* no batch attached */
    TMQ_ATTACH_READING,  /* results may still come (or wait for tmq_next) */
    TMQ_ATTACH_COMPLETE, /* the batch is complete and tmq_next has returned every result */
    TMQ_ATTACH_LOST,     /* the broker shut down or was lost before the batch completed
                            (one that journals: not back within the broker-loss timeout);
                            tmq_client_lost_reason says why. Results that arrived are still
                            returned by tmq_next */
} tmq_attach_state_t;

/* Where the attached batch stands (see tmq_client_attach). */
tmq_attach_state_t tmq_client_attach_state(const tmq_client_t *c);

/* The batch's latest counts (the last BATCH message: the answer to the attach, or the one
 * saying it is complete) into *st. Returns 0, or -1 when no batch was attached. */
int tmq_client_batch_status(const tmq_client_t *c, tmq_batch_status_t *st);

/* For a resume: asks the broker which inputs of the batch name have an OK result, without
 * attaching. *cids (malloc'd, the caller frees; NULL when n is 0) gets their ids, in the order
 * they finished, *n their number, *st (if non-NULL) the counts. A batch the broker does not
 * hold gives n 0 and st->known false: nothing is done, run everything. Returns 0, or -1 with
 * errno EINVAL, ENOTSUP, EBUSY (a batch is attached), ETIMEDOUT or EINTR as tmq_client_attach
 * (tmq_client_error says why). */
int tmq_client_batch_done(tmq_client_t *c, const char *name, uint64_t **cids, size_t *n,
                          tmq_batch_status_t *st, int timeout_ms);

/* Says goodbye to the broker (its queued jobs are cancelled, running results dropped) and
 * frees the client. Safe on NULL and twice. Does not hold up other threads creating or
 * destroying their own clients meanwhile. */
void tmq_client_destroy(tmq_client_t **c);

#ifdef __cplusplus
}
#endif

#endif
