/* common/proto.h — the taskmq wire codec (spec: docs/PROTOCOL.md).
 *
 * Pure: bytes in, structs out, and back. No sockets, no logging, no globals, so it can be
 * fuzzed and unit-tested alone. A message is a 5-byte header frame ('T','M','Q', version,
 * command) and one body frame holding a msgpack map. Batches (SUBMIT, ACK, RESULTS, JOBS,
 * DONE) carry their items under one key as an array of positional arrays. Every declared
 * count is checked against the bytes present and nesting is capped before msgpack-c unpacks.
 */
#ifndef TMQ_PROTO_H
#define TMQ_PROTO_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_PROTO_VERSION 1
#define TMQ_PROTO_HDR_LEN 5
#define TMQ_PROTO_MAX_DEPTH 32           /* nesting limit for any body (payloads included) */
#define TMQ_PROTO_MAX_BODY (64u << 20)   /* a body frame larger than this is refused */
#define TMQ_PROTO_MAX_PAYLOAD (1u << 20) /* default limit on one job argument or result */
#define TMQ_PROTO_MAX_FNAME 64           /* function names are 1..64 bytes */
#define TMQ_PROTO_MAX_OBJECTS                                                                      \
    (1u << 20)                           /* msgpack objects in one body: msgpack-c spends          \
                                            ~24 bytes per object, so this caps the memory          \
                                            one message can cost at ~24 MiB */
#define TMQ_PROTO_HEARTBEAT_MIN 10       /* WELCOME heartbeat bounds, ms: a value outside */
#define TMQ_PROTO_HEARTBEAT_MAX 3600000  /* them is ignored (the default stays) */
#define TMQ_PROTO_HEARTBEAT_DEFAULT 1000 /* until WELCOME says otherwise */

typedef enum {
    TMQ_CMD_HELLO = 1, /* client -> broker   {}                                         */
    TMQ_CMD_WELCOME,   /* broker -> peer     {heartbeat, max_payload, version}           */
    TMQ_CMD_SUBMIT,    /* client -> broker   {jobs:[[cid, fn, arg, timeout_ms, retries]]} */
    TMQ_CMD_ACK,       /* broker -> client   {accepted, rejected:[[cid, code, reason]]}  */
    TMQ_CMD_RESULTS, /* broker -> client   {results:[[cid, status, data, worker, ms, attempts]]} */
    TMQ_CMD_STATUS,  /* client -> broker   {}                                          */
    TMQ_CMD_STATUS_REPLY, /* broker -> client   {queued, running, done, failed, ..., workers:[...]}
                           */
    TMQ_CMD_READY,        /* worker -> broker   {name, procs, pid, functions:[str]}         */
    TMQ_CMD_JOBS,         /* broker -> worker   {jobs:[[jid, attempt, fn, arg, timeout_ms]]} */
    TMQ_CMD_DONE,         /* worker -> broker   {results:[[jid, attempt, status, data, pid, ms]]} */
    TMQ_CMD_HEARTBEAT,    /* any -> peer        {}                                          */
    TMQ_CMD_CANCEL,       /* broker -> worker   {jobs:[[jid, attempt]]}  (stop these jobs)   */
    TMQ_CMD_BYE,          /* client/worker -> broker, broker -> worker {}                   */
    TMQ_CMD_ERROR,        /* any -> peer        {code, reason}                              */
    TMQ_CMD_RECONNECT,    /* broker -> worker   {} : "I do not know you, send READY again"  */
    TMQ_CMD_REVOKE,       /* broker -> worker   {n}: hand back up to n jobs not yet started  */
    TMQ_CMD_RETURNED,     /* worker -> broker   {jobs:[[jid, attempt]]}: jobs handed back    */
    TMQ_CMD_WITHDRAW,     /* client -> broker   {jobs:[cid, ...]}: cancel these jobs of mine */
    TMQ_CMD_DRAIN,        /* worker -> broker   {}: send me no more jobs, I am leaving        */
    TMQ_CMD_RACK,         /* client -> broker   {received}: results received on this connection */
    TMQ_CMD_ATTACH,       /* client -> broker   {batch, resume}: send me this batch's results */
    TMQ_CMD_BATCH,        /* broker -> client   {batch, known, total, done, failed, running,
                             closed, complete} (+ ok: [cid] for a resume) */
    TMQ_CMD_MAX_
} tmq_cmd_t;

/* Status of one job outcome (DONE items from workers, RESULTS items to clients). */
typedef enum {
    TMQ_ST_OK = 0,        /* data is the msgpack result */
    TMQ_ST_ERROR = 1,     /* the function reported an error; data is its text; not retried */
    TMQ_ST_DIED = 2,      /* the executor died running it; data names the cause; retryable */
    TMQ_ST_TIMEOUT = 3,   /* past its time limit; the executor was killed; not retried */
    TMQ_ST_REJECTED = 4,  /* the broker refused it (RESULTS only); data is the reason */
    TMQ_ST_OOM = 5,       /* past its memory limit; the executor was replaced; data is the text
                             ("out of memory (limit 512 MiB)"); not retried unless retry_oom */
    TMQ_ST_CANCELLED = 6, /* withdrawn by its client (RESULTS only, and only to a client that
                             sent WITHDRAW); data says so */
} tmq_status_t;

/* The data of a CANCELLED result: the broker's, and the C library's for a job it ends itself. */
#define TMQ_CANCELLED_TEXT "cancelled by its client"

/* Why the broker rejects a job (ACK items). */
typedef enum {
    TMQ_REJ_QUEUE_FULL = 1,       /* retryable: the client may resubmit as the queue drains */
    TMQ_REJ_UNKNOWN_FUNCTION = 2, /* no connected worker serves the function */
    TMQ_REJ_TOO_LARGE = 3,        /* argument over the broker's payload limit */
    TMQ_REJ_BAD_JOB = 4,          /* malformed job item */
    TMQ_REJ_JOURNAL = 5,          /* the broker's journal cannot take it (disk full, I/O error):
                                     final; the reason says why ("journal unavailable: ...") */
} tmq_reject_t;

/* Error codes in ERROR bodies. */
typedef enum {
    TMQ_ERR_MALFORMED = 1,    /* frame count, header, or body did not parse */
    TMQ_ERR_VERSION = 2,      /* unsupported protocol version */
    TMQ_ERR_COMMAND = 3,      /* unknown command, or a command this peer may not send */
    TMQ_ERR_UNKNOWN_PEER = 4, /* a command that needs HELLO/READY first */
    TMQ_ERR_WRONG_PORT = 5    /* a client on the worker port or a worker on the client port:
                                 the reason names the right port; the peer gives up at once */
} tmq_errcode_t;

const char *tmq_cmd_name(int cmd); /* "SUBMIT" ...; "?" for unknown */

/* ---- header frame ---- */

/* Writes the 5-byte header for cmd into out. */
void tmq_proto_header(uint8_t out[TMQ_PROTO_HDR_LEN], tmq_cmd_t cmd);

/* ---- decoding ---- */

/* A decoded message. body points into the caller's body bytes (STR/BIN are not copied, not
 * NUL-terminated): keep those bytes alive while using it. Release with tmq_msg_release. */
typedef struct {
    int cmd;
    msgpack_unpacked up;
    const msgpack_object *body; /* the body map */
    const msgpack_object
        *items; /* the batch array for SUBMIT/ACK/RESULTS/JOBS/DONE/CANCEL/RETURNED/WITHDRAW */
    const char *error; /* static text describing why decode failed */
} tmq_msg_t;

/* Decodes a header and body. Returns 0, or -1 with m->error set and *errcode (if non-NULL)
 * set to a tmq_errcode_t. Checks signature, version, command, body size, that the body is one
 * map with nothing after it, nesting depth and every declared count. On -1 the message holds
 * nothing to release (release is still safe). */
int tmq_proto_decode(tmq_msg_t *m, const void *hdr, size_t hdr_len, const void *body,
                     size_t body_len, int *errcode);
void tmq_msg_release(tmq_msg_t *m);

/* Checks that data holds exactly one well-formed msgpack object within depth and count limits
 * (at most TMQ_PROTO_MAX_OBJECTS objects in all; max_depth above TMQ_PROTO_MAX_DEPTH counts as
 * TMQ_PROTO_MAX_DEPTH). Returns 0 or -1. Used for bodies and for job
 * arguments/results the broker never unpacks. */
int tmq_proto_check(const void *data, size_t len, int max_depth);
/* Skips the one object that starts at data[*pos], checked as tmq_proto_check checks: returns
 * 0 with *pos just past it, or -1 (then *pos is unspecified). */
int tmq_proto_skip(const void *data, size_t len, size_t *pos, int max_depth);

/* True when map key k is the string name. */
bool tmq_proto_key_is(const msgpack_object *k, const char *name);
/* Field lookup in the body map; NULL when absent. */
const msgpack_object *tmq_msg_get(const tmq_msg_t *m, const char *key);
/* Typed lookups: 0 when present with the right type, -1 otherwise (out untouched). */
int tmq_msg_get_uint(const tmq_msg_t *m, const char *key, uint64_t *out);
int tmq_msg_get_str(const tmq_msg_t *m, const char *key, const char **s, size_t *len);
/* True when key is present and the boolean true. */
bool tmq_msg_get_true(const tmq_msg_t *m, const char *key);

size_t tmq_msg_count(const tmq_msg_t *m); /* number of batch items; 0 when no batch */

/* Batch items, decoded by position. Each returns 0, or -1 when item i is malformed (wrong
 * arity or types, empty or over-long function name): the caller rejects that item alone. */
typedef struct {
    uint64_t cid;   /* client-chosen job id */
    const char *fn; /* function name, not NUL-terminated */
    size_t fn_len;
    const void *arg; /* msgpack bytes of the argument */
    size_t arg_len;
    uint32_t timeout_ms; /* 0 = none */
    int32_t retries;     /* -1 = broker default */
    /* The optional 6th element, a map of options (packed only when one is set): */
    uint64_t mem_limit; /* bytes the job may use on its executor; 0 = the worker's limit */
    bool retry_oom;     /* an out-of-memory failure is retried like an executor death */
} tmq_submit_item_t;
int tmq_msg_submit_item(const tmq_msg_t *m, size_t i, tmq_submit_item_t *out);

typedef struct {
    uint64_t cid;
    int code; /* tmq_reject_t */
    const char *reason;
    size_t reason_len;
} tmq_reject_item_t;
int tmq_msg_reject_item(const tmq_msg_t *m, size_t i, tmq_reject_item_t *out);

typedef struct {
    uint64_t cid;
    int status;       /* tmq_status_t */
    const void *data; /* msgpack result when OK, else error text */
    size_t data_len;
    const char *worker; /* "name:pid", may be empty */
    size_t worker_len;
    double ms; /* execution time on the executor */
    uint32_t attempts;
} tmq_result_item_t;
int tmq_msg_result_item(const tmq_msg_t *m, size_t i, tmq_result_item_t *out);

typedef struct {
    uint64_t jid;     /* broker job id */
    uint32_t attempt; /* 1 for the first attempt; results for other attempts are stale */
    const char *fn;
    size_t fn_len;
    const void *arg;
    size_t arg_len;
    uint32_t timeout_ms;
    uint64_t mem_limit; /* the optional 6th element {mem_limit: uint}; 0 = none */
} tmq_job_item_t;
int tmq_msg_job_item(const tmq_msg_t *m, size_t i, tmq_job_item_t *out);

typedef struct {
    uint64_t jid;
    uint32_t attempt;
    int status; /* tmq_status_t (not REJECTED) */
    const void *data;
    size_t data_len;
    uint32_t pid; /* executor process that ran it */
    double ms;
} tmq_done_item_t;
int tmq_msg_done_item(const tmq_msg_t *m, size_t i, tmq_done_item_t *out);

/* CANCEL and RETURNED items: [jid, attempt]. */
int tmq_msg_ref_item(const tmq_msg_t *m, size_t i, uint64_t *jid, uint32_t *attempt);

/* WITHDRAW items: a bare cid (uint). */
int tmq_msg_cid_item(const tmq_msg_t *m, size_t i, uint64_t *cid);

/* READY body. functions[] point into the body; at most max_fns are returned, *nfns is the
 * number present. Returns -1 when a required field (name, procs, pid, functions) is missing
 * or mistyped; the optional ones (version, done, failed, job_options, python) are "" / 0 / false
 * when absent or mistyped. */
typedef struct {
    const char *name;
    size_t name_len;
    uint32_t procs;
    uint32_t pid;
    size_t nfns;
    const char *version; /* the daemon's software version, e.g. "0.2.0" */
    size_t version_len;
    uint64_t done, failed; /* results the daemon reported since it started (ok / not ok) */
    bool job_options;      /* it takes JOBS items with options (a job's mem_limit) */
    const char *python;    /* its executors' Python version (--python), else NULL / "" */
    size_t python_len;
} tmq_ready_t;
int tmq_msg_ready(const tmq_msg_t *m, tmq_ready_t *out, const char **fns, size_t *fn_lens,
                  size_t max_fns);

/* WELCOME body. Fields absent or out of bounds keep their defaults (heartbeat
 * TMQ_PROTO_HEARTBEAT_DEFAULT, max_payload TMQ_PROTO_MAX_PAYLOAD, version 1). */
typedef struct {
    uint32_t heartbeat_ms;
    uint32_t max_payload;
    uint32_t version;
    bool journal;     /* the broker journals: a session's acknowledged jobs survive its restart */
    bool has_resumed; /* the WELCOME answers a session (HELLO, or a SUBMIT from a new
                         connection, 5.7): `resumed` is present */
    uint64_t resumed; /* the session's jobs the broker held when this connection took it over */
    uint64_t epoch;   /* with resumed: which WELCOME of the session this is (a RACK names it) */
} tmq_welcome_t;
void tmq_msg_welcome(const tmq_msg_t *m, tmq_welcome_t *out);

#define TMQ_PROTO_SESSION_LEN 16        /* bytes of a client session id (5.7) */
#define TMQ_PROTO_LINGER_DEFAULT 60000  /* ms a broker keeps a session with no connection */
#define TMQ_PROTO_LINGER_MAX 86400000u  /* larger linger_ms values are taken as this */

/* The `session` key of m (HELLO, SUBMIT): 0 with its 16 bytes in out, or -1 when absent or not
 * a 16-byte bin. */
int tmq_msg_session(const tmq_msg_t *m, uint8_t out[TMQ_PROTO_SESSION_LEN]);

/* A string element of an array object (e.g. ACK "unserved"): 0, or -1 when i is out of range
 * or the element is not a string. */
int tmq_msg_str_at(const msgpack_object *array, size_t i, const char **s, size_t *len);

/* ---- encoding ---- */

/* A batch under construction: items are appended to buf; tmq_batch_finish wraps them in
 * the body map. One batch per peer per loop turn is the intended use. */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    size_t count;
} tmq_batch_t;

void tmq_batch_init(tmq_batch_t *b);
void tmq_batch_destroy(tmq_batch_t *b);
void tmq_batch_reset(tmq_batch_t *b); /* forget items, keep the buffer's memory */

void tmq_batch_add_submit(tmq_batch_t *b, const tmq_submit_item_t *it);
void tmq_batch_add_reject(tmq_batch_t *b, const tmq_reject_item_t *it);
void tmq_batch_add_result(tmq_batch_t *b, const tmq_result_item_t *it);
void tmq_batch_add_job(tmq_batch_t *b, const tmq_job_item_t *it);
void tmq_batch_add_done(tmq_batch_t *b, const tmq_done_item_t *it);
void tmq_batch_add_ref(tmq_batch_t *b, uint64_t jid, uint32_t attempt);
void tmq_batch_add_cid(tmq_batch_t *b, uint64_t cid); /* a WITHDRAW item */

/* Builds the body for cmd from the batch: a map {key: [items...]} where key is "jobs" for
 * SUBMIT/JOBS/CANCEL/RETURNED/WITHDRAW, "results" for RESULTS/DONE, "rejected" for ACK (which also
 * gets "accepted": accepted). Returns a malloc'd buffer the caller frees (*len set), and
 * resets the batch. Aborts on out-of-memory. */
void *tmq_batch_finish(tmq_batch_t *b, tmq_cmd_t cmd, uint64_t accepted, size_t *len);

/* An ACK with its optional keys: `error` (non-NULL: the whole SUBMIT was refused and none of
 * its jobs accepted; rejected is then empty) and `unserved` (functions of accepted jobs that
 * wait because no worker is connected at all). Builds from the rejections in b (reset after). */
typedef struct {
    uint64_t accepted;
    uint64_t seq; /* the SUBMIT's `seq`, echoed (0: the SUBMIT had none; not packed) */
    const char *error;
    const char *const *unserved;
    size_t nunserved;
} tmq_ack_info_t;
void *tmq_proto_ack_body(tmq_batch_t *rejected, const tmq_ack_info_t *info, size_t *len);

/* Small bodies. Each returns a malloc'd buffer the caller frees, *len set. */
void *tmq_proto_empty_body(size_t *len);
/* WELCOME from w: heartbeat_ms, max_payload (version is always TMQ_PROTO_VERSION), `journal`
 * when true, `resumed` when has_resumed. */
void *tmq_proto_welcome_body(const tmq_welcome_t *w, size_t *len);
/* READY from r's name, procs, pid, version and python (each may be NULL: omitted), done,
 * failed and job_options (packed when true). */
/* A client's HELLO body: {oom: true}, "I know status OOM" (else the broker says ERROR), and
 * when session is not NULL its 16 bytes as `session` and linger_ms as `linger_ms` (5.7). */
void *tmq_proto_hello_body(const uint8_t *session, uint32_t linger_ms, size_t *len);
/* A SUBMIT body from the batch (reset after), as tmq_batch_finish builds it, plus `seq` (when
 * non-zero) and `session` (when not NULL), 5.7. */
void *tmq_proto_submit_body(tmq_batch_t *b, uint64_t seq, const uint8_t *session, size_t *len);
/* RACK: {received: n}, and `epoch` when non-zero (the WELCOME the count starts from). */
void *tmq_proto_rack_body(uint64_t received, size_t *len);
void *tmq_proto_rack_body_ex(uint64_t received, uint64_t epoch, size_t *len);

/* ---- named batches (PROTOCOL.md 5.8) ---- */

#define TMQ_PROTO_MAX_BATCH_NAME 128            /* bytes of a batch name */
#define TMQ_PROTO_BATCH_TTL_DEFAULT 3600000u    /* ms a complete batch is kept */
#define TMQ_PROTO_BATCH_TTL_MAX 604800000u      /* larger batch_ttl_ms values are taken as this */

/* A SUBMIT's optional keys. */
typedef struct {
    uint64_t seq;            /* 0: none */
    const uint8_t *session;  /* NULL: none */
    const char *batch;       /* NULL: not in a batch */
    size_t batch_len;
    uint32_t batch_ttl_ms;   /* 0: not packed (the broker's default) */
    bool batch_end;          /* the submitter's input ended: no more jobs for the batch */
} tmq_submit_info_t;
/* A SUBMIT body from the batch b (reset after) with the keys of info. */
void *tmq_proto_submit_body_ex(tmq_batch_t *b, const tmq_submit_info_t *info, size_t *len);

/* True when name (len bytes) may name a batch: 1..TMQ_PROTO_MAX_BATCH_NAME bytes of printable
 * ASCII other than space, or UTF-8 beyond it; no control byte. */
bool tmq_proto_batch_name_ok(const char *name, size_t len);
/* The `batch` key of m: 0 with *name and *len pointing into m, -1 when absent, -2 when present but
 * not a valid name (a str that tmq_proto_batch_name_ok refuses, or not a str). */
int tmq_msg_batch_name(const tmq_msg_t *m, const char **name, size_t *len);

/* ATTACH: {batch: name} (+ resume: true). */
void *tmq_proto_attach_body(const char *name, size_t name_len, bool resume, size_t *len);

typedef struct {
    const char *name;
    size_t name_len;
    bool known;
    uint64_t total, done, failed, running;
    uint64_t cancelled; /* inputs whose job was cancelled before any result (BYE, WITHDRAW) */
    bool closed, complete;
    const uint64_t *ok; /* with a resume: the cids with an OK result (encode); NULL: no `ok` */
    size_t nok;
} tmq_batch_info_t;
/* BATCH from info. */
void *tmq_proto_batch_body(const tmq_batch_info_t *info, size_t *len);
/* Decodes BATCH into out (name points into m; ok is not decoded: read tmq_msg_get(m, "ok")).
 * Returns -1 when `batch` or `known` is missing. */
int tmq_msg_batch_info(const tmq_msg_t *m, tmq_batch_info_t *out);
void *tmq_proto_ready_body(const tmq_ready_t *r, const char *const *fns, size_t nfns, size_t *len);
void *tmq_proto_error_body(int code, const char *reason, size_t *len);
void *tmq_proto_revoke_body(uint32_t n, size_t *len);

/* Helpers for msgpack payloads used by clients and built-in functions. */
void *tmq_proto_sbuffer_take(msgpack_sbuffer *sb, size_t *len); /* steal sb's bytes */

#endif
