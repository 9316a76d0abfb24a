/* tests/unit/test_client_lib.c — libtaskmq against a fake broker, over inproc.
 *
 * The fake (a czmq actor with a ROUTER) answers HELLO with WELCOME, every SUBMIT with one
 * ACK (rejecting function "nosuch", and jobs beyond max_queue with "queue full"), STATUS
 * with a reply in the shape of contract §6, and completes queued jobs by echoing their
 * argument ("fail": a job error; "gone": REJECTED "unknown function: gone"; "oom": out of
 * memory at the job's mem_limit), all at once or
 * `drip` per ~1 ms turn. Told so, it refuses every SUBMIT (ACK error), answers as a worker
 * port would (ERROR 5), or says BYE on command. It counts what it saw, so the tests check
 * batching, the in-flight window, duplicates, queue-full resubmission, heartbeats and BYE.
 * Every test runs with one fixture: a fake with the test's settings and a client of it. The
 * status reply is also rendered as `taskmq status` and `taskmq functions` show it.
 * With `journal` it plays a --journal broker (PROTOCOL.md 5.7): WELCOME says journal, ACKs
 * echo seq, a resubmitted cid creates nothing, results are kept until a RACK covers them and
 * resent when the session is taken over; on command it restarts (forgets the connection:
 * ERROR 4 to the next HEARTBEAT), goes silent (drops everything, as a dead process), says BYE
 * and goes silent, or comes back as a restarted process.
 * With `batch` it holds a named batch (PROTOCOL.md 5.8) of `batch_n` echo results (cids
 * 0..n-1): ATTACH gets BATCH, the results (the first half twice) and BATCH complete; with
 * `batch_split` the first ATTACH gets only the first half and no end (the batch runs on); a
 * resume ATTACH gets the even cids as `ok`; `old_batches` answers ATTACH with ERROR 3 as a 0.4
 * broker does. SUBMITs' batch keys are counted.
 */
#include "acks.h"
#include "idmap.h"
#include "jsonmp.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "render.h"
#include "taskmq/client.h"
#include "wire.h"

#include <czmq.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "testutil.h"

/* ---- the fake broker ---- */

typedef struct {
    uint32_t heartbeat_ms; /* sent in WELCOME (default 1000) */
    uint32_t max_payload;  /* sent in WELCOME (default 1 MiB) */
    size_t max_queue;      /* 0 = unlimited */
    size_t drip;           /* jobs completed per ~1 ms turn; 0 = all at once */
    bool duplicate;        /* send every result twice */
    bool hold;             /* complete nothing (a hung or dead broker) */
    bool beat;             /* send HEARTBEAT every heartbeat_ms (a live one) */
    bool wrong_port;       /* answer every command with ERROR 5, as a worker port does */
    const char *refuse;    /* non-NULL: every SUBMIT is refused whole, ACK {error: refuse} */
    const char *unserved;  /* non-NULL: every ACK says this function has no worker */
    bool journal;          /* a --journal broker: sessions, seq, RACK (5.7) */
    bool dup_ack;          /* send every ACK twice (the second a duplicate) */
    bool resend_all;       /* on a takeover resend every result, RACKed or not */
    const char *batch;     /* the name of the batch it holds (5.8), or NULL */
    size_t batch_n;        /* its results: cids 0..batch_n-1 */
    bool batch_split;      /* the first ATTACH gets half of them and no end */
    bool old_batches;      /* ERROR 3 to ATTACH (a broker without batches) */
} fake_cfg_t;

typedef struct {
    fake_cfg_t cfg;
    const char *endpoint;
    /* counters, readable while it runs */
    atomic_size_t submits, jobs_in, max_batch, rejected_full, results_out, max_outstanding;
    atomic_size_t heartbeats, byes, hellos, statuses, withdrawn, withdraw_msgs;
    atomic_size_t jobs_with_options; /* SUBMIT items with the 6th element (an options map) */
    /* sessions */
    atomic_size_t hello_sessions;  /* HELLOs carrying a session, every one the first's */
    atomic_size_t other_sessions;  /* HELLOs or SUBMITs with a session not the first's */
    atomic_size_t seq_submits;     /* SUBMITs with seq */
    atomic_size_t session_submits; /* SUBMITs with our client's session */
    atomic_size_t racks, errors4, welcomes, dedup, resent, dropped_while_down;
    _Atomic uint64_t last_rack;      /* the latest RACK's count */
    _Atomic uint64_t conn_results;   /* RESULTS items sent since the latest WELCOME */
    _Atomic uint64_t linger_ms;      /* of the latest HELLO */
    _Atomic uint64_t last_mem_limit; /* the options of the last job received */
    atomic_bool last_retry_oom;
    /* named batches */
    atomic_size_t attaches, resumes; /* ATTACHes received (resume ones counted apart too) */
    atomic_size_t batch_submits;     /* SUBMITs naming batch "b1" */
    atomic_size_t batch_ends;        /* SUBMITs with batch_end */
    atomic_size_t batch_end_jobs;    /* jobs in the last SUBMIT with batch_end */
    _Atomic uint64_t batch_ttl;      /* batch_ttl_ms of the latest SUBMIT (0: none) */
    _Atomic uint64_t last_cid;       /* cid of the last job received */
} fake_broker_t;

#define S_WRONG_PORT "this is a broker's worker port (5556); clients connect to 5555"

/* The STATUS_REPLY: one worker with every key of contract §6, one as an old broker sends
 * it (name, pid, procs, busy, done only). */
static const char s_status_json[] =
    "{\"queued\":7,\"running\":1,\"done\":1234,\"failed\":5,\"clients\":2,\"rate\":24.6,"
    "\"uptime_ms\":3723000,\"stale\":0,\"malformed\":0,\"max_queue\":1000000,\"heartbeat\":1000,"
    "\"version\":\"0.2.0\","
    "\"workers\":[{\"name\":\"vm\",\"pid\":4121,\"procs\":2,\"busy\":1,\"done\":1200,"
    "\"failed\":4,\"addr\":\"10.0.0.7:41822\",\"version\":\"0.2.0\","
    "\"functions\":[\"echo\",\"sum\"],\"seen_ms\":312},"
    "{\"name\":\"old\",\"pid\":77,\"procs\":1,\"busy\":0,\"done\":34}],"
    "\"functions\":[{\"name\":\"echo\",\"workers\":1,\"procs\":2,\"queued\":0},"
    "{\"name\":\"sum\",\"workers\":1,\"procs\":2,\"queued\":7},"
    "{\"name\":\"render\",\"workers\":0,\"procs\":0,\"queued\":3}]}";

typedef struct {
    uint64_t cid;
    int status;
    void *data;
    size_t len;
} s_job_t;

typedef struct {
    fake_broker_t *fb;
    zsock_t *router;
    uint8_t rid[256];
    size_t rid_len;
    s_job_t *jobs; /* FIFO of queued jobs */
    size_t head, count, cap;
    /* journal */
    bool known; /* the client's connection is known (a restart forgets it) */
    bool down;  /* a dead process: every message dropped, nothing sent */
    bool has_session;
    uint8_t session[TMQ_PROTO_SESSION_LEN];
    tmq_idmap_t cids; /* every cid accepted in the session: a resubmission creates nothing */
    s_job_t *sent;    /* every result sent, in order (data kept for resends) */
    bool *acked;      /* ... and whether a RACK covered it */
    size_t nsent, sent_cap;
    size_t *conn; /* indexes into sent of this connection's results since its WELCOME */
    size_t nconn, conn_cap;
    bool hold; /* complete nothing (cfg.hold, then HOLD / RUN) */
} s_fake_t;

static void s_push(s_fake_t *f, uint64_t cid, int status, const void *data, size_t len)
{
    if (f->head + f->count == f->cap) {
        if (f->head > 0) {
            memmove(f->jobs, f->jobs + f->head, f->count * sizeof *f->jobs);
            f->head = 0;
        } else {
            f->cap = f->cap ? f->cap * 2 : 1024;
            f->jobs = realloc(f->jobs, f->cap * sizeof *f->jobs);
        }
    }
    s_job_t *j = &f->jobs[f->head + f->count++];
    j->cid = cid;
    j->status = status;
    j->data = malloc(len ? len : 1);
    memcpy(j->data, data, len);
    j->len = len;
}

static void s_max(atomic_size_t *a, size_t v)
{
    size_t cur = atomic_load(a);
    while (v > cur && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

static bool s_is(const tmq_submit_item_t *it, const char *fn)
{
    return it->fn_len == strlen(fn) && memcmp(it->fn, fn, it->fn_len) == 0;
}

/* Queues an out-of-memory end at the job's limit, as a worker reports it. */
static void s_push_oom(s_fake_t *f, const tmq_submit_item_t *it)
{
    char size[32], text[64];
    tmq_format_size(it->mem_limit, size, sizeof size);
    int n = snprintf(text, sizeof text, "out of memory (limit %s)", size);
    s_push(f, it->cid, TMQ_ST_OOM, text, (size_t)n);
}

/* Queues an accepted job with the outcome its function stands for. */
static void s_accept(s_fake_t *f, const tmq_submit_item_t *it)
{
    if (s_is(it, "fail"))
        s_push(f, it->cid, TMQ_ST_ERROR, "boom", 4);
    else if (s_is(it, "gone"))
        s_push(f, it->cid, TMQ_ST_REJECTED, "unknown function: gone", 22);
    else if (s_is(it, "oom"))
        s_push_oom(f, it);
    else
        s_push(f, it->cid, TMQ_ST_OK, it->arg, it->arg_len);
}

/* The session of a HELLO or SUBMIT: counted, and checked against the first one seen. */
static bool s_session(s_fake_t *f, const tmq_msg_t *m)
{
    uint8_t sess[TMQ_PROTO_SESSION_LEN];
    if (tmq_msg_session(m, sess) != 0) return false;
    if (!f->has_session) {
        memcpy(f->session, sess, sizeof sess);
        f->has_session = true;
    }
    if (memcmp(f->session, sess, sizeof sess) != 0) {
        atomic_fetch_add(&f->fb->other_sessions, 1);
        return false;
    }
    return true;
}

/* A result on its way to the client: kept, and counted on this connection (journal). */
static void s_record(s_fake_t *f, size_t index)
{
    if (f->nconn == f->conn_cap) {
        f->conn_cap = f->conn_cap ? f->conn_cap * 2 : 256;
        f->conn = realloc(f->conn, f->conn_cap * sizeof *f->conn);
    }
    f->conn[f->nconn++] = index;
    atomic_store(&f->fb->conn_results, f->nconn);
}

static void s_keep_sent(s_fake_t *f, s_job_t *j)
{
    if (f->nsent == f->sent_cap) {
        f->sent_cap = f->sent_cap ? f->sent_cap * 2 : 256;
        f->sent = realloc(f->sent, f->sent_cap * sizeof *f->sent);
        f->acked = realloc(f->acked, f->sent_cap * sizeof *f->acked);
    }
    f->sent[f->nsent] = *j; /* takes its data */
    f->acked[f->nsent] = false;
    s_record(f, f->nsent++);
}

static void s_result_of(const s_job_t *j, tmq_result_item_t *r)
{
    *r = (tmq_result_item_t){.cid = j->cid,
                             .status = j->status,
                             .data = j->data,
                             .data_len = j->len,
                             .worker = "fake:1",
                             .worker_len = 6,
                             .ms = 1.5,
                             .attempts = 1};
}

/* A connection takes the session over: WELCOME (journal, resumed), the count starts again,
 * and every result not yet RACKed (resend_all: every one) goes again. */
static void s_takeover(s_fake_t *f)
{
    f->known = true;
    f->nconn = 0;
    atomic_store(&f->fb->conn_results, 0);
    size_t unacked = 0;
    for (size_t i = 0; i < f->nsent; i++)
        unacked += !f->acked[i];
    tmq_welcome_t w = {.heartbeat_ms = f->fb->cfg.heartbeat_ms,
                       .max_payload = f->fb->cfg.max_payload,
                       .journal = true,
                       .has_resumed = true,
                       .resumed = f->count + unacked};
    size_t len;
    void *body = tmq_proto_welcome_body(&w, &len);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_WELCOME, &body, len);
    atomic_fetch_add(&f->fb->welcomes, 1);
    tmq_batch_t b;
    tmq_batch_init(&b);
    for (size_t i = 0; i < f->nsent; i++) {
        if (f->acked[i] && !f->fb->cfg.resend_all) continue;
        tmq_result_item_t r;
        s_result_of(&f->sent[i], &r);
        tmq_batch_add_result(&b, &r);
        s_record(f, i);
        atomic_fetch_add(&f->fb->resent, 1);
    }
    if (b.count) {
        body = tmq_batch_finish(&b, TMQ_CMD_RESULTS, 0, &len);
        tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_RESULTS, &body, len);
    }
    tmq_batch_destroy(&b);
}

/* RACK n: the first n results of this connection's count are the client's. */
static void s_on_rack(s_fake_t *f, const tmq_msg_t *m)
{
    uint64_t n = 0;
    if (tmq_msg_get_uint(m, "received", &n) != 0) return;
    atomic_fetch_add(&f->fb->racks, 1);
    atomic_store(&f->fb->last_rack, n);
    for (size_t k = 0; k < n && k < f->nconn; k++)
        f->acked[f->conn[k]] = true;
}

static void s_on_submit(s_fake_t *f, const tmq_msg_t *m)
{
    fake_cfg_t *cfg = &f->fb->cfg;
    tmq_batch_t rej;
    tmq_batch_init(&rej);
    size_t n = tmq_msg_count(m), accepted = 0;
    uint64_t seq = 0;
    if (tmq_msg_get_uint(m, "seq", &seq) == 0) atomic_fetch_add(&f->fb->seq_submits, 1);
    if (s_session(f, m)) atomic_fetch_add(&f->fb->session_submits, 1);
    const char *bname;
    size_t blen;
    if (tmq_msg_batch_name(m, &bname, &blen) == 0 && blen == 2 && memcmp(bname, "b1", 2) == 0)
        atomic_fetch_add(&f->fb->batch_submits, 1);
    uint64_t ttl = 0;
    (void)tmq_msg_get_uint(m, "batch_ttl_ms", &ttl);
    atomic_store(&f->fb->batch_ttl, ttl);
    if (tmq_msg_get_true(m, "batch_end")) {
        atomic_fetch_add(&f->fb->batch_ends, 1);
        atomic_store(&f->fb->batch_end_jobs, tmq_msg_count(m));
    }
    if (!cfg->journal) seq = 0; /* a broker without a journal echoes nothing */
    atomic_fetch_add(&f->fb->submits, 1);
    atomic_fetch_add(&f->fb->jobs_in, n);
    s_max(&f->fb->max_batch, n);
    for (size_t i = 0; i < n && !cfg->refuse; i++) {
        tmq_submit_item_t it;
        if (tmq_msg_submit_item(m, i, &it) != 0) continue;
        if (m->items->via.array.ptr[i].via.array.size == 6)
            atomic_fetch_add(&f->fb->jobs_with_options, 1);
        atomic_store(&f->fb->last_mem_limit, it.mem_limit);
        atomic_store(&f->fb->last_cid, it.cid);
        atomic_store(&f->fb->last_retry_oom, it.retry_oom);
        tmq_reject_item_t r = {.cid = it.cid};
        if (cfg->journal && tmq_idmap_has(&f->cids, it.cid)) { /* a resubmission */
            atomic_fetch_add(&f->fb->dedup, 1);
            accepted++;
            continue;
        }
        if (s_is(&it, "nosuch")) {
            r.code = TMQ_REJ_UNKNOWN_FUNCTION;
            r.reason = "unknown function: nosuch";
        } else if (s_is(&it, "nojournal")) {
            r.code = TMQ_REJ_JOURNAL;
            r.reason = "journal unavailable: No space left on device";
        } else if (cfg->max_queue && f->count >= cfg->max_queue) {
            r.code = TMQ_REJ_QUEUE_FULL;
            r.reason = "queue full";
            atomic_fetch_add(&f->fb->rejected_full, 1);
        } else {
            s_accept(f, &it);
            if (cfg->journal) tmq_idmap_put(&f->cids, it.cid, NULL);
            accepted++;
            continue;
        }
        r.reason_len = strlen(r.reason);
        tmq_batch_add_reject(&rej, &r);
    }
    const char *unserved[] = {cfg->unserved};
    tmq_ack_info_t info = {.accepted = accepted,
                           .seq = seq,
                           .error = cfg->refuse,
                           .unserved = unserved,
                           .nunserved = cfg->unserved ? 1 : 0};
    size_t len;
    void *body = tmq_proto_ack_body(&rej, &info, &len);
    if (cfg->dup_ack) {
        void *twin = malloc(len);
        memcpy(twin, body, len);
        tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_ACK, &body, len);
        body = twin;
    }
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_ACK, &body, len);
    tmq_batch_destroy(&rej);
    s_max(&f->fb->max_outstanding, f->count);
}

static void s_on_status(s_fake_t *f)
{
    size_t len;
    void *body = tmq_json_arg_to_msgpack(s_status_json, strlen(s_status_json), &len);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_STATUS_REPLY, &body, len);
}

#define S_WITHDRAWN (-1) /* status of a queued job its client withdrew: skipped */

/* WITHDRAW: each named job still queued ends at once, CANCELLED, as the broker does it. */
static void s_on_withdraw(s_fake_t *f, const tmq_msg_t *m)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    atomic_fetch_add(&f->fb->withdraw_msgs, 1);
    for (size_t i = 0; i < tmq_msg_count(m); i++) {
        uint64_t cid;
        if (tmq_msg_cid_item(m, i, &cid) != 0) continue;
        atomic_fetch_add(&f->fb->withdrawn, 1);
        for (size_t k = f->head; k < f->head + f->count; k++) {
            s_job_t *j = &f->jobs[k];
            if (j->cid != cid || j->status == S_WITHDRAWN) continue;
            j->status = S_WITHDRAWN;
            tmq_result_item_t r = {.cid = cid,
                                   .status = TMQ_ST_CANCELLED,
                                   .data = "cancelled by its client",
                                   .data_len = 23,
                                   .worker = ""};
            tmq_batch_add_result(&b, &r);
        }
    }
    if (b.count) {
        size_t len;
        void *body = tmq_batch_finish(&b, TMQ_CMD_RESULTS, 0, &len);
        tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_RESULTS, &body, len);
    }
    tmq_batch_destroy(&b);
}

/* BATCH for the batch held (known), or for name (unknown). */
static void s_send_batch_info(s_fake_t *f, const char *name, size_t len, bool known, bool complete,
                              const uint64_t *ok, size_t nok)
{
    size_t n = f->fb->cfg.batch_n;
    tmq_batch_info_t info = {.name = name,
                             .name_len = len,
                             .known = known,
                             .total = known ? n : 0,
                             .done = known ? n : 0,
                             .closed = known,
                             .complete = complete,
                             .ok = ok,
                             .nok = nok};
    size_t blen;
    void *body = tmq_proto_batch_body(&info, &blen);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_BATCH, &body, blen);
}

/* RESULTS for the batch's cids [from, to), each echoing its cid. */
static void s_send_batch_results(s_fake_t *f, uint64_t from, uint64_t to)
{
    tmq_batch_t b;
    tmq_batch_init(&b);
    uint8_t arg[16];
    for (uint64_t cid = from; cid < to; cid++) {
        tmq_result_item_t r = {.cid = cid,
                               .status = TMQ_ST_OK,
                               .data = arg,
                               .data_len = tu_pack_int(arg, (int64_t)cid),
                               .worker = "fake:1",
                               .worker_len = 6,
                               .ms = 1.0,
                               .attempts = 1};
        tmq_batch_add_result(&b, &r);
    }
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_RESULTS, 0, &len);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_RESULTS, &body, len);
    tmq_batch_destroy(&b);
}

/* ATTACH, as 5.8 says a broker answers it. */
static void s_on_attach(s_fake_t *f, const tmq_msg_t *m)
{
    const fake_cfg_t *cfg = &f->fb->cfg;
    size_t k = atomic_fetch_add(&f->fb->attaches, 1);
    if (cfg->old_batches) {
        tmq_wire_send_error(f->router, f->rid, f->rid_len, TMQ_ERR_COMMAND,
                            "command not allowed from a client");
        return;
    }
    const char *name;
    size_t len;
    if (tmq_msg_batch_name(m, &name, &len) != 0) return;
    bool known = cfg->batch && len == strlen(cfg->batch) && memcmp(name, cfg->batch, len) == 0;
    size_t n = cfg->batch_n;
    if (tmq_msg_get_true(m, "resume")) {
        atomic_fetch_add(&f->fb->resumes, 1);
        uint64_t ok[64];
        size_t nok = 0;
        for (uint64_t cid = 0; known && cid < n && nok < 64; cid += 2)
            ok[nok++] = cid;
        s_send_batch_info(f, name, len, known, known, ok, nok);
        return;
    }
    s_send_batch_info(f, name, len, known, false, NULL, 0);
    if (!known) return;
    if (cfg->batch_split && k == 0) { /* half, and the batch runs on */
        s_send_batch_results(f, 0, n / 2);
        return;
    }
    s_send_batch_results(f, 0, n / 2); /* the first half twice: each cid is delivered once */
    s_send_batch_results(f, 0, n);
    s_send_batch_info(f, name, len, true, true, NULL, 0);
}

static void s_on_message(s_fake_t *f, tmq_wire_in_t *in)
{
    memcpy(f->rid, in->rid, in->rid_len);
    f->rid_len = in->rid_len;
    if (in->msg.cmd == TMQ_CMD_HELLO) atomic_fetch_add(&f->fb->hellos, 1);
    if (f->down) { /* a dead process hears nothing */
        atomic_fetch_add(&f->fb->dropped_while_down, 1);
        return;
    }
    if (in->msg.cmd == TMQ_CMD_HELLO) {
        if (s_session(f, &in->msg)) atomic_fetch_add(&f->fb->hello_sessions, 1);
        uint64_t linger = 0;
        if (tmq_msg_get_uint(&in->msg, "linger_ms", &linger) == 0)
            atomic_store(&f->fb->linger_ms, linger);
    }
    if (f->fb->cfg.journal && in->msg.cmd == TMQ_CMD_HELLO) {
        s_takeover(f);
        return;
    }
    if (f->fb->cfg.journal && !f->known) { /* a restarted process meets this connection */
        uint8_t sess[TMQ_PROTO_SESSION_LEN];
        if (in->msg.cmd == TMQ_CMD_SUBMIT && tmq_msg_session(&in->msg, sess) == 0) {
            s_takeover(f); /* WELCOME unasked, before its ACK */
        } else {
            if (in->msg.cmd == TMQ_CMD_HEARTBEAT) {
                atomic_fetch_add(&f->fb->errors4, 1);
                tmq_wire_send_error(f->router, f->rid, f->rid_len, TMQ_ERR_UNKNOWN_PEER,
                                    "unknown client");
            }
            return;
        }
    }
    if (in->msg.cmd == TMQ_CMD_RACK) {
        s_on_rack(f, &in->msg);
        return;
    }
    if (f->fb->cfg.wrong_port && in->msg.cmd != TMQ_CMD_BYE && in->msg.cmd != TMQ_CMD_HEARTBEAT) {
        tmq_wire_send_error(f->router, f->rid, f->rid_len, TMQ_ERR_WRONG_PORT, S_WRONG_PORT);
        return;
    }
    switch (in->msg.cmd) {
    case TMQ_CMD_HELLO: {
        size_t len;
        void *body =
            tmq_proto_welcome_body(&(tmq_welcome_t){.heartbeat_ms = f->fb->cfg.heartbeat_ms,
                                                    .max_payload = f->fb->cfg.max_payload},
                                   &len);
        tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_WELCOME, &body, len);
        break;
    }
    case TMQ_CMD_SUBMIT:
        s_on_submit(f, &in->msg);
        break;
    case TMQ_CMD_WITHDRAW:
        s_on_withdraw(f, &in->msg);
        break;
    case TMQ_CMD_ATTACH:
        s_on_attach(f, &in->msg);
        break;
    case TMQ_CMD_STATUS:
        atomic_fetch_add(&f->fb->statuses, 1);
        s_on_status(f);
        break;
    case TMQ_CMD_HEARTBEAT:
        atomic_fetch_add(&f->fb->heartbeats, 1);
        break;
    case TMQ_CMD_BYE:
        atomic_fetch_add(&f->fb->byes, 1);
        break;
    default:
        break;
    }
}

/* Completes queued jobs, as the settings allow, in one RESULTS message. */
static void s_complete(s_fake_t *f)
{
    if (f->count == 0 || f->hold || f->down || (f->fb->cfg.journal && !f->known)) return;
    size_t drip = f->fb->cfg.drip;
    size_t n = drip && drip < f->count ? drip : f->count;
    tmq_batch_t b;
    tmq_batch_init(&b);
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        s_job_t *j = &f->jobs[f->head++];
        f->count--;
        if (j->status == S_WITHDRAWN) {
            free(j->data);
            continue;
        }
        sent++;
        tmq_result_item_t r;
        s_result_of(j, &r);
        tmq_batch_add_result(&b, &r);
        if (f->fb->cfg.duplicate) tmq_batch_add_result(&b, &r);
        if (f->fb->cfg.journal)
            s_keep_sent(f, j); /* until a RACK covers it */
        else
            free(j->data);
    }
    /* counted before they go: a client may have them all before this thread runs again */
    atomic_fetch_add(&f->fb->results_out, sent);
    size_t len;
    void *body = tmq_batch_finish(&b, TMQ_CMD_RESULTS, 0, &len);
    tmq_wire_send(f->router, f->rid, f->rid_len, TMQ_CMD_RESULTS, &body, len);
    tmq_batch_destroy(&b);
}

/* A command from the test on the actor pipe: "$TERM" (stop; returns true), "BYE" (say
 * BYE to the client, as a broker shutting down does) or "FORGET" (drop every queued job and
 * answer as a restarted broker does to a client it does not know: ERROR unknown peer). */
static bool s_command(s_fake_t *f, zsock_t *pipe)
{
    char *cmd = zstr_recv(pipe);
    bool term = !cmd || strcmp(cmd, "$TERM") == 0;
    if (cmd && strcmp(cmd, "BYE") == 0) {
        tmq_wire_send_empty(f->router, f->rid, f->rid_len, TMQ_CMD_BYE);
        zsock_signal(pipe, 0);
    }
    /* journal: RESTART forgets the connection (the process restarted and replayed its
     * journal: jobs kept); SILENT drops everything from now on (a dead process); BYEDOWN says
     * BYE first (a clean shutdown); BACK is a restarted process again; HOLD / RUN stop and
     * start completing jobs. */
    if (cmd && strcmp(cmd, "RESTART") == 0) f->known = false;
    if (cmd && strcmp(cmd, "BYEDOWN") == 0)
        tmq_wire_send_empty(f->router, f->rid, f->rid_len, TMQ_CMD_BYE);
    if (cmd && (strcmp(cmd, "SILENT") == 0 || strcmp(cmd, "BYEDOWN") == 0)) f->down = true;
    if (cmd && strcmp(cmd, "BACK") == 0) {
        f->down = false;
        f->known = false;
    }
    if (cmd && strcmp(cmd, "HOLD") == 0) f->hold = true;
    if (cmd && strcmp(cmd, "RUN") == 0) f->hold = false;
    if (cmd &&
        (strcmp(cmd, "RESTART") == 0 || strcmp(cmd, "SILENT") == 0 || strcmp(cmd, "BYEDOWN") == 0 ||
         strcmp(cmd, "BACK") == 0 || strcmp(cmd, "HOLD") == 0 || strcmp(cmd, "RUN") == 0))
        zsock_signal(pipe, 0);
    if (cmd && strcmp(cmd, "FORGET") == 0) {
        while (f->count) {
            free(f->jobs[f->head++].data);
            f->count--;
        }
        tmq_wire_send_error(f->router, f->rid, f->rid_len, TMQ_ERR_UNKNOWN_PEER, "unknown peer");
        zsock_signal(pipe, 0);
    }
    zstr_free(&cmd);
    return term;
}

static void s_fake_actor(zsock_t *pipe, void *args)
{
    s_fake_t f = {.fb = args};
    f.hold = f.fb->cfg.hold;
    tmq_idmap_init(&f.cids);
    f.router = zsock_new(ZMQ_ROUTER);
    zsock_set_sndhwm(f.router, 0);
    zsock_set_rcvhwm(f.router, 0);
    int rc = zsock_bind(f.router, "%s", f.fb->endpoint) < 0 ? -1 : 0;
    int64_t last_beat = 0;
    zsock_signal(pipe, rc == 0 ? 0 : 1);
    while (rc == 0) {
        zmq_pollitem_t items[2] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                                   {zsock_resolve(f.router), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, f.count ? 1 : 20) < 0) break;
        if (f.fb->cfg.beat && f.rid_len && !f.down && (!f.fb->cfg.journal || f.known) &&
            zclock_mono() - last_beat >= f.fb->cfg.heartbeat_ms) {
            tmq_wire_send_empty(f.router, f.rid, f.rid_len, TMQ_CMD_HEARTBEAT);
            last_beat = zclock_mono();
        }
        if ((items[0].revents & ZMQ_POLLIN) && s_command(&f, pipe)) break;
        for (;;) {
            tmq_wire_in_t in;
            int err;
            int got = tmq_wire_recv(f.router, true, &in, &err);
            if (got == 0) break;
            if (got == 1) s_on_message(&f, &in);
            tmq_wire_in_release(&in);
        }
        s_complete(&f);
    }
    while (f.count)
        free(f.jobs[f.head + --f.count].data);
    free(f.jobs);
    for (size_t i = 0; i < f.nsent; i++)
        free(f.sent[i].data);
    free(f.sent);
    free(f.acked);
    free(f.conn);
    tmq_idmap_destroy(&f.cids);
    zsock_destroy(&f.router);
}

/* ---- the fixture: a fake broker with the test's settings and a client of it ---- */

typedef struct {
    fake_broker_t fb;
    char endpoint[64];
    zactor_t *fake;
    tmq_client_t *c;
} fx_t;

/* Settings come as the test's prestate (a fake_cfg_t), or defaults. */
static int s_setup(void **state)
{
    static int seq;
    fx_t *x = calloc(1, sizeof *x);
    if (*state) x->fb.cfg = *(const fake_cfg_t *)*state;
    if (!x->fb.cfg.heartbeat_ms) x->fb.cfg.heartbeat_ms = 1000;
    if (!x->fb.cfg.max_payload) x->fb.cfg.max_payload = TMQ_PROTO_MAX_PAYLOAD;
    snprintf(x->endpoint, sizeof x->endpoint, "inproc://fake-broker-%d", ++seq);
    x->fb.endpoint = x->endpoint;
    x->fake = zactor_new(s_fake_actor, &x->fb);
    x->c = tmq_client_new(x->endpoint);
    *state = x;
    return x->fake && x->c ? 0 : -1;
}

static int s_teardown(void **state)
{
    fx_t *x = *state;
    tmq_client_destroy(&x->c);
    zactor_destroy(&x->fake);
    free(x);
    return 0;
}

#define S_TEST(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
#define S_TEST_WITH(f, cfg)                                                                        \
    cmocka_unit_test_prestate_setup_teardown(f, s_setup, s_teardown, (void *)(cfg))

/* The text of a failed result, NUL-terminated, into buf. */
static const char *s_text(const tmq_result_t *r, char *buf, size_t len)
{
    size_t n;
    const char *data = tmq_result_data(r, &n);
    snprintf(buf, len, "%.*s", (int)n, data);
    return buf;
}

/* Collects n results (2 s each at most) into seen[] (by id); returns how many failed. Each
 * failure must say fail_text (when non-NULL). */
static size_t s_collect(tmq_client_t *c, size_t n, uint8_t *seen, size_t seen_len,
                        const char *fail_text)
{
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        tmq_result_t *r = tmq_next(c, 2000);
        if (!r) fail_msg("result %zu of %zu did not arrive", i, n);
        uint64_t id = tmq_result_id(r);
        assert_true(id < seen_len);
        if (seen[id]) fail_msg("job %llu reported twice", (unsigned long long)id);
        seen[id] = 1;
        if (!tmq_result_ok(r)) {
            failed++;
            char text[256];
            if (fail_text && strcmp(s_text(r, text, sizeof text), fail_text) != 0)
                fail_msg("job %llu failed with '%s'", (unsigned long long)id, text);
        }
        tmq_result_destroy(&r);
    }
    return failed;
}

/* Submits n echo jobs of 0..n-1. */
static void s_submit_echo(tmq_client_t *c, size_t n)
{
    uint8_t arg[16];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, (int64_t)i), NULL), 0);
}

/* ---- tests ---- */

static void test_lib_round_trip(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    assert_int_equal(atomic_load(&x->fb.hellos), 1);
    assert_string_equal(tmq_client_error(c), "");
    assert_string_equal(tmq_client_lost_reason(c), "");

    uint8_t arg[16];
    for (uint64_t i = 0; i < 3; i++) {
        uint64_t id = 99;
        assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, 1000 + (int64_t)i), &id), 0);
        assert_int_equal(id, i); /* ids count from 0 */
    }
    assert_int_equal(tmq_pending(c), 3);
    for (int i = 0; i < 3; i++) {
        tmq_result_t *r = tmq_next(c, 2000);
        assert_non_null(r);
        assert_true(tmq_result_ok(r));
        assert_int_equal(tmq_result_status(r), TMQ_RESULT_OK);
        size_t len;
        const uint8_t *data = tmq_result_data(r, &len);
        uint8_t want[16];
        size_t want_len = tu_pack_int(want, 1000 + (int64_t)tmq_result_id(r));
        assert_int_equal(len, want_len);
        assert_memory_equal(data, want, len);
        assert_string_equal(tmq_result_worker(r), "fake:1");
        assert_true(tmq_result_ms(r) == 1.5);
        assert_int_equal(tmq_result_attempts(r), 1);
        tmq_result_destroy(&r);
    }
    assert_int_equal(tmq_pending(c), 0);
    assert_null(tmq_next(c, 0));
    tmq_client_destroy(&x->c);
    assert_null(x->c);
    tmq_client_destroy(&x->c); /* twice is safe */
    assert_string_equal(tmq_version(), TMQ_VERSION);
}

static void test_lib_bad_arguments(void **state)
{
    (void)state;
    tmq_client_t *c = tmq_client_new("inproc://nobody-bad-args");
    assert_non_null(c);
    char fn[80];
    memset(fn, 'f', 65);
    fn[65] = '\0';
    uint64_t id = 42;
    errno = 0;
    assert_int_equal(tmq_submit(c, NULL, "\x01", 1, &id), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(id, 42);
    /* Jobs that cannot be valid still take their ids (input positions) and fail as results. */
    static const struct {
        const char *fn;
        const char *arg;
        size_t len;
        const char *why;
    } bad[] = {
        {"", "\x01", 1, "function name must be 1 to 64 bytes, not 0"},
        {NULL, "\x01", 1, "function name must be 1 to 64 bytes, not 65"}, /* 65 bytes */
        {"echo", NULL, 0, "argument"},
        {"echo", "\xc1", 1, "argument"},     /* not msgpack */
        {"echo", "\x01\x02", 2, "argument"}, /* two objects */
        {"echo", "\x92\x01", 2, "argument"}, /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tmq_submit(c, bad[i].fn ? bad[i].fn : fn, bad[i].arg, bad[i].len, &id), 0);
        assert_int_equal(id, i);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tmq_result_t *r = tmq_next(c, 0);
        assert_non_null(r);
        assert_int_equal(tmq_result_id(r), i);
        assert_false(tmq_result_ok(r));
        assert_int_equal(tmq_result_status(r), TMQ_RESULT_REJECTED);
        char text[128];
        s_text(r, text, sizeof text);
        if (strncmp(text, "bad job: ", 9) != 0 || !strstr(text, bad[i].why))
            fail_msg("job %zu failed with '%s'", i, text);
        tmq_result_destroy(&r);
    }
    assert_int_equal(tmq_pending(c), 0);
    fn[64] = '\0';
    assert_int_equal(tmq_submit(c, fn, "\x01", 1, &id), 0); /* 64 bytes is fine */
    assert_int_equal(id, 6);
    tmq_client_destroy(&c);

    errno = 0;
    assert_null(tmq_client_new("bogus"));
    assert_int_equal(errno, EINVAL);
    assert_null(tmq_client_new("tcp://127.0.0.1")); /* no port */
    assert_null(tmq_client_new("tcp://*:5555"));    /* '*' is for binding */
    assert_null(tmq_client_new(""));
    assert_null(tmq_client_new(NULL));
    assert_null(tmq_next(NULL, 0));
    assert_int_equal(tmq_pending(NULL), 0);
    assert_string_equal(tmq_client_error(NULL), "");
}

static void test_lib_batching(void **state)
{
    fx_t *x = *state;
    enum { N = 2000 };
    s_submit_echo(x->c, N);
    tmq_flush(x->c);
    static uint8_t seen[N + 40];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(x->c, N, seen, N, NULL), 0);
    assert_int_equal(atomic_load(&x->fb.jobs_in), N);
    assert_int_equal(atomic_load(&x->fb.max_batch), 512);
    assert_int_equal(atomic_load(&x->fb.submits), 4); /* 512 + 512 + 512 + 464 */

    /* Big arguments: batches stop at 256 KiB. */
    size_t before = atomic_load(&x->fb.submits);
    static uint8_t big[20000 + 8];
    big[0] = 0xc5; /* bin 16 */
    big[1] = (uint8_t)(20000 >> 8);
    big[2] = (uint8_t)(20000 & 0xff);
    for (int i = 0; i < 40; i++)
        assert_int_equal(tmq_submit(x->c, "echo", big, 20003, NULL), 0);
    assert_int_equal(s_collect(x->c, 40, seen, N + 40, NULL), 0);
    size_t batches = atomic_load(&x->fb.submits) - before;
    assert_true(batches >= 4); /* at most 13 per 256 KiB */
}

static const fake_cfg_t s_drip7 = {.drip = 7};

static void test_lib_window(void **state)
{
    fx_t *x = *state;
    tmq_client_set_window(x->c, 100);
    enum { N = 3000 };
    s_submit_echo(x->c, N);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(x->c, N, seen, N, NULL), 0);
    assert_true(atomic_load(&x->fb.max_outstanding) <= 100);
    assert_true(atomic_load(&x->fb.max_outstanding) >= 50);
}

static const fake_cfg_t s_duplicate = {.duplicate = true};

static void test_lib_duplicates_dropped(void **state)
{
    fx_t *x = *state;
    enum { N = 1000 };
    s_submit_echo(x->c, N);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(x->c, N, seen, N, NULL), 0);
    assert_null(tmq_next(x->c, 200)); /* the second copies never surface */
    assert_int_equal(tmq_pending(x->c), 0);
}

/* Rejections and job failures come back as failed results with the right status. */
static void test_lib_rejections_fail(void **state)
{
    fx_t *x = *state;
    static const struct {
        const char *fn;
        tmq_result_status_t status;
        const char *text;
        const char *worker;
    } jobs[] = {
        {"echo", TMQ_RESULT_OK, NULL, "fake:1"},
        {"nosuch", TMQ_RESULT_UNKNOWN_FUNCTION, "unknown function: nosuch", ""}, /* ACK */
        {"fail", TMQ_RESULT_ERROR, "boom", "fake:1"},
        {"gone", TMQ_RESULT_UNKNOWN_FUNCTION, "unknown function: gone", "fake:1"}, /* RESULTS */
    };
    enum { N = 4 * 3 };
    uint8_t arg[16];
    size_t len = tu_pack_int(arg, 5);
    for (int i = 0; i < N; i++)
        assert_int_equal(tmq_submit(x->c, jobs[i % 4].fn, arg, len, NULL), 0);
    for (int i = 0; i < N; i++) {
        tmq_result_t *r = tmq_next(x->c, 2000);
        assert_non_null(r);
        size_t k = tmq_result_id(r) % 4;
        assert_int_equal(tmq_result_status(r), jobs[k].status);
        assert_int_equal(tmq_result_ok(r), jobs[k].status == TMQ_RESULT_OK);
        char text[128];
        if (jobs[k].text) assert_string_equal(s_text(r, text, sizeof text), jobs[k].text);
        assert_string_equal(tmq_result_worker(r), jobs[k].worker);
        if (k == 1) assert_int_equal(tmq_result_attempts(r), 0);
        tmq_result_destroy(&r);
    }
    assert_int_equal(tmq_pending(x->c), 0);
}

static const fake_cfg_t s_full = {.max_queue = 50, .drip = 10};

static void s_queue_full(fx_t *x, bool fail_when_full)
{
    tmq_client_set_fail_when_full(x->c, fail_when_full);
    enum { N = 3000 };
    s_submit_echo(x->c, N);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    size_t failed = s_collect(x->c, N, seen, N, "queue full");
    assert_true(atomic_load(&x->fb.rejected_full) > 0);
    if (fail_when_full) {
        assert_int_equal(failed, atomic_load(&x->fb.rejected_full));
        assert_int_equal(atomic_load(&x->fb.results_out), N - failed);
    } else {
        assert_int_equal(failed, 0);
        assert_int_equal(atomic_load(&x->fb.results_out), N);
    }
    assert_null(tmq_next(x->c, 50));
}

static void test_lib_queue_full_resubmits(void **state)
{
    s_queue_full(*state, false);
}

static void test_lib_queue_full_fails_when_asked(void **state)
{
    s_queue_full(*state, true);
}

/* The job options go out with every later SUBMIT item (the 6th element only when one is
 * set), and an out-of-memory result arrives as TMQ_RESULT_OUT_OF_MEMORY with its text. */
static void test_lib_job_options(void **state)
{
    fx_t *x = *state;
    uint8_t arg[16];
    size_t alen = tu_pack_int(arg, 1);
    assert_int_equal(tmq_submit(x->c, "echo", arg, alen, NULL), 0);
    tmq_result_t *r = tmq_next(x->c, 2000);
    assert_non_null(r);
    assert_true(tmq_result_ok(r));
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&x->fb.jobs_with_options), 0); /* none set: 5 elements */

    tmq_client_set_mem_limit(x->c, 512u << 20);
    uint64_t id;
    assert_int_equal(tmq_submit(x->c, "oom", arg, alen, &id), 0);
    r = tmq_next(x->c, 2000);
    assert_non_null(r);
    assert_int_equal(tmq_result_id(r), id);
    assert_false(tmq_result_ok(r));
    assert_int_equal(tmq_result_status(r), TMQ_RESULT_OUT_OF_MEMORY);
    char text[128];
    assert_string_equal(s_text(r, text, sizeof text), "out of memory (limit 512 MiB)");
    assert_string_equal(tmq_result_worker(r), "fake:1");
    assert_int_equal(tmq_result_attempts(r), 1);
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&x->fb.jobs_with_options), 1);
    assert_true(atomic_load(&x->fb.last_mem_limit) == 512u << 20);
    assert_false(atomic_load(&x->fb.last_retry_oom));

    tmq_client_set_retry_oom(x->c, true); /* both set */
    assert_int_equal(tmq_submit(x->c, "echo", arg, alen, NULL), 0);
    r = tmq_next(x->c, 2000);
    assert_non_null(r);
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&x->fb.jobs_with_options), 2);
    assert_true(atomic_load(&x->fb.last_mem_limit) == 512u << 20);
    assert_true(atomic_load(&x->fb.last_retry_oom));

    tmq_client_set_mem_limit(x->c, 0); /* only retry_oom: still an options map */
    assert_int_equal(tmq_submit(x->c, "echo", arg, alen, NULL), 0);
    r = tmq_next(x->c, 2000);
    assert_non_null(r);
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&x->fb.jobs_with_options), 3);
    assert_true(atomic_load(&x->fb.last_mem_limit) == 0);
    assert_true(atomic_load(&x->fb.last_retry_oom));

    tmq_client_set_retry_oom(x->c, false); /* neither: back to 5 elements */
    assert_int_equal(tmq_submit(x->c, "echo", arg, alen, NULL), 0);
    r = tmq_next(x->c, 2000);
    assert_non_null(r);
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&x->fb.jobs_with_options), 3);
    assert_int_equal(atomic_load(&x->fb.jobs_in), 5);
    tmq_client_set_mem_limit(NULL, 1); /* NULL is ignored, as by the other setters */
    tmq_client_set_retry_oom(NULL, true);
}

/* Jobs held after "queue full" are resubmitted with the options they were sent with. */
static void test_lib_queue_full_keeps_options(void **state)
{
    fx_t *x = *state;
    tmq_client_set_mem_limit(x->c, 3u << 30);
    tmq_client_set_retry_oom(x->c, true);
    enum { N = 1000 };
    s_submit_echo(x->c, N);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(x->c, N, seen, N, NULL), 0);
    assert_true(atomic_load(&x->fb.rejected_full) > 0); /* some were held and sent again */
    assert_int_equal(atomic_load(&x->fb.jobs_in), N + atomic_load(&x->fb.rejected_full));
    assert_int_equal(atomic_load(&x->fb.jobs_with_options), atomic_load(&x->fb.jobs_in));
    assert_true(atomic_load(&x->fb.last_mem_limit) == 3ull << 30);
    assert_true(atomic_load(&x->fb.last_retry_oom));
}

static void test_lib_status(void **state)
{
    fx_t *x = *state;
    for (int round = 0; round < 2; round++) {
        size_t len = 0;
        void *body = tmq_client_status(x->c, 2000, &len);
        assert_non_null(body);
        json_t *j = tmq_json_from_msgpack(body, len);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "queued")), 7);
        json_t *w = json_array_get(json_object_get(j, "workers"), 0);
        assert_string_equal(json_string_value(json_object_get(w, "name")), "vm");
        json_decref(j);
        free(body);
    }
    assert_int_equal(atomic_load(&x->fb.statuses), 2);
}

/* Renders text through fn into a string (caller frees). */
static char *s_rendered(const json_t *st, bool functions, bool json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (functions)
        assert_int_equal(tmq_render_functions(out, st, json), 0);
    else
        tmq_render_status(out, st, "tcp://b:5555");
    fclose(out);
    return text;
}

/* `taskmq status` / `taskmq functions` from the fake's reply: every field of contract §6
 * shown, and an old broker's worker (fewer fields) shown with what is there. */
static void test_lib_status_rendered(void **state)
{
    fx_t *x = *state;
    size_t len = 0;
    void *body = tmq_client_status(x->c, 2000, &len);
    assert_non_null(body);
    json_t *st = tmq_json_from_msgpack(body, len);
    free(body);
    char *text = s_rendered(st, false, false);
    assert_string_equal(text,
                        "broker   tcp://b:5555  version 0.2.0  up 1h02m03s  clients 2  heartbeat "
                        "1000 ms\n"
                        "jobs     queued 7  running 1  done 1234  failed 5  rate 24.6 jobs/s\n"
                        "queue    limit 1000000\n"
                        "workers  2 with 3 processes: 1 busy, 2 idle\n"
                        "  vm 10.0.0.7:41822  pid 4121  2 processes, 1 busy  done 1200  failed 4\n"
                        "    version 0.2.0  seen 0.3 s ago  functions echo, sum\n"
                        "  old  pid 77  1 process, 0 busy  done 34\n");
    free(text);

    text = s_rendered(st, true, false);
    assert_string_equal(text, "FUNCTION                 WORKERS   PROCS  QUEUED\n"
                              "echo                           1       2       0\n"
                              "render                         0       0       3  no worker "
                              "serves it\n"
                              "sum                            1       2       7\n");
    free(text);
    text = s_rendered(st, true, true);
    assert_string_equal(text, "[{\"name\":\"echo\",\"workers\":1,\"procs\":2,\"queued\":0},"
                              "{\"name\":\"render\",\"workers\":0,\"procs\":0,\"queued\":3},"
                              "{\"name\":\"sum\",\"workers\":1,\"procs\":2,\"queued\":7}]\n");
    free(text);

    /* An older broker: no functions list, so it is gathered from the workers (no queued). */
    json_object_del(st, "functions");
    text = s_rendered(st, true, false);
    assert_string_equal(text, "FUNCTION                 WORKERS   PROCS  QUEUED\n"
                              "echo                           1       2       -\n"
                              "sum                            1       2       -\n");
    free(text);
    /* ... and with no functions at all there is nothing to say. */
    json_object_del(json_array_get(json_object_get(st, "workers"), 0), "functions");
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(tmq_render_functions(devnull, st, false), -1);
    fclose(devnull);
    /* The oldest reply: only counts. */
    json_t *old = json_pack("{s:i, s:[{s:s, s:i, s:i}]}", "queued", 0, "workers", "name", "w1",
                            "procs", 2, "busy", 0);
    text = s_rendered(old, false, false);
    assert_string_equal(text, "broker   tcp://b:5555\n"
                              "jobs     queued 0\n"
                              "workers  1 with 2 processes: 0 busy, 2 idle\n"
                              "  w1  2 processes, 0 busy\n");
    free(text);
    json_decref(old);
    json_decref(st);
}

static void test_lib_no_broker(void **state)
{
    (void)state;
    tmq_client_t *c = tmq_client_new("inproc://nobody-listens-here");
    assert_non_null(c);
    int64_t t0 = zclock_mono();
    assert_int_equal(tmq_client_wait_ready(c, 150), -1);
    int64_t took = zclock_mono() - t0;
    assert_true(took >= 140 && took < 1000);
    assert_string_equal(tmq_client_error(c),
                        "no broker answered at inproc://nobody-listens-here within 150 ms");
    assert_null(tmq_client_status(c, 50, NULL));
    assert_null(tmq_next(c, 20));
    tmq_client_destroy(&c);

    c = tmq_client_new("tcp://127.0.0.1:9"); /* discard port: nothing answers */
    assert_non_null(c);
    assert_int_equal(tmq_client_wait_ready(c, 100), -1);
    tmq_client_destroy(&c);
}

static const fake_cfg_t s_hb30 = {.heartbeat_ms = 30};

static void test_lib_heartbeats_and_bye(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    usleep(330 * 1000); /* the user thread is busy elsewhere */
    size_t hb = atomic_load(&x->fb.heartbeats);
    assert_true(hb >= 5);
    assert_true(hb <= 13);
    tmq_client_destroy(&x->c);
    for (int i = 0; i < 200 && atomic_load(&x->fb.byes) == 0; i++)
        usleep(5000);
    assert_int_equal(atomic_load(&x->fb.byes), 1);
}

static const fake_cfg_t s_small_payload = {.max_payload = 100};

static void test_lib_payload_too_large(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    uint8_t arg[203] = {0xc4, 200}; /* bin 8, 200 bytes */
    assert_int_equal(tmq_submit(x->c, "echo", arg, 202, NULL), 0);
    tmq_result_t *r = tmq_next(x->c, 2000);
    assert_non_null(r);
    assert_int_equal(tmq_result_status(r), TMQ_RESULT_REJECTED);
    char text[128];
    assert_string_equal(s_text(r, text, sizeof text), "payload too large: 202 bytes (limit 100)");
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&x->fb.jobs_in), 0);
}

static void test_lib_wait_with_fd(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(tmq_wait(c, fds[0], 50), 0); /* nothing yet */
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(tmq_wait(c, fds[0], 1000), TMQ_WAIT_FD);
    char ch;
    assert_int_equal(read(fds[0], &ch, 1), 1);
    uint8_t arg[16];
    tmq_submit(c, "echo", arg, tu_pack_int(arg, 1), NULL);
    assert_int_equal(tmq_wait(c, fds[0], 2000), TMQ_WAIT_RESULT); /* sends the job itself */
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(tmq_wait(c, fds[0], 0), TMQ_WAIT_RESULT | TMQ_WAIT_FD);
    tmq_result_t *r = tmq_next(c, 0);
    assert_non_null(r);
    tmq_result_destroy(&r);
    assert_int_equal(tmq_wait(c, -1, 20), 0);
    assert_int_equal(read(fds[0], &ch, 1), 1);

    /* The writer goes away: end of file is ready to read (POLLHUP without POLLIN), at once
     * and every time it is asked, with or without a result waiting. */
    close(fds[1]);
    int64_t t0 = zclock_mono();
    for (int i = 0; i < 3; i++)
        assert_int_equal(tmq_wait(c, fds[0], 2000), TMQ_WAIT_FD);
    assert_true(zclock_mono() - t0 < 1000);
    assert_int_equal(read(fds[0], &ch, 1), 0);
    tmq_submit(c, "echo", arg, tu_pack_int(arg, 2), NULL);
    assert_int_equal(tmq_wait(c, -1, 2000), TMQ_WAIT_RESULT);
    assert_int_equal(tmq_wait(c, fds[0], 2000), TMQ_WAIT_RESULT | TMQ_WAIT_FD);
    r = tmq_next(c, 0);
    tmq_result_destroy(&r);
    close(fds[0]);
}

static const fake_cfg_t s_silent = {.heartbeat_ms = 40, .hold = true};

/* A broker that goes silent with results due: the jobs fail LOST after 5 heartbeats. */
static void test_lib_broker_lost(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    s_submit_echo(x->c, 3);
    int64_t t0 = zclock_mono();
    static uint8_t seen[3];
    assert_int_equal(s_collect(x->c, 3, seen, 3, "lost contact with the broker"), 3);
    int64_t took = zclock_mono() - t0;
    assert_true(took >= 150 && took < 1500);
    assert_int_equal(tmq_pending(x->c), 0);
    assert_string_equal(tmq_client_error(x->c), "lost contact with the broker (silent for 200 ms)");
    assert_string_equal(tmq_client_lost_reason(x->c), tmq_client_error(x->c));
    /* Waiting for a broker again greets it again, and all is well once it answers; why the
     * jobs were lost is still known. */
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    assert_int_equal(atomic_load(&x->fb.hellos), 2);
    assert_string_equal(tmq_client_error(x->c), "");
    assert_string_equal(tmq_client_lost_reason(x->c),
                        "lost contact with the broker (silent for 200 ms)");
}

static const fake_cfg_t s_beating = {.heartbeat_ms = 40, .hold = true, .beat = true};

/* One that heartbeats keeps its slow jobs. */
static void test_lib_broker_alive_keeps_jobs(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    s_submit_echo(x->c, 1);
    assert_null(tmq_next(x->c, 600));
    assert_int_equal(tmq_pending(x->c), 1);
}

static const fake_cfg_t s_held = {.hold = true};

/* BYE from the broker (contract §1): every awaited job fails at once, LOST, "broker shut
 * down"; the client is unwelcomed and greets again when asked to wait for a broker. */
static void test_lib_broker_bye(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    enum { N = 5 };
    s_submit_echo(x->c, N);
    tmq_flush(x->c);
    while (atomic_load(&x->fb.jobs_in) < N)
        usleep(1000);
    assert_null(tmq_next(x->c, 50)); /* held by the broker */
    int64_t t0 = zclock_mono();
    zstr_send(x->fake, "BYE");
    zsock_wait(x->fake);
    for (int i = 0; i < N; i++) {
        tmq_result_t *r = tmq_next(x->c, 2000);
        assert_non_null(r);
        assert_int_equal(tmq_result_status(r), TMQ_RESULT_LOST);
        char text[64];
        assert_string_equal(s_text(r, text, sizeof text), "broker shut down");
        assert_string_equal(tmq_result_worker(r), "");
        tmq_result_destroy(&r);
    }
    assert_true(zclock_mono() - t0 < 500); /* at once, not after 5 heartbeats */
    assert_int_equal(tmq_pending(x->c), 0);
    assert_string_equal(tmq_client_error(x->c), "the broker shut down");
    assert_string_equal(tmq_client_lost_reason(x->c), "the broker shut down");
    assert_int_equal(atomic_load(&x->fb.hellos), 1);
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0); /* says HELLO again */
    assert_int_equal(atomic_load(&x->fb.hellos), 2);
    assert_string_equal(tmq_client_error(x->c), "");
    assert_string_equal(tmq_client_lost_reason(x->c), "the broker shut down");
}

/* A restarted broker does not know us (ERROR unknown peer): the jobs it held fail LOST and
 * the client greets it at once, so by the time the results are read the error is cleared;
 * tmq_client_lost_reason still says why they were lost, which is what the tool prints. */
static void test_lib_lost_reason_after_restart(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    s_submit_echo(x->c, 3);
    tmq_flush(x->c);
    while (atomic_load(&x->fb.jobs_in) < 3)
        usleep(1000);
    zstr_send(x->fake, "FORGET");
    zsock_wait(x->fake);
    static uint8_t seen[3];
    assert_int_equal(s_collect(x->c, 3, seen, 3, "lost contact with the broker"), 3);
    for (int i = 0; i < 200 && atomic_load(&x->fb.hellos) < 2; i++)
        usleep(5000);
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0); /* the WELCOME cleared the error */
    assert_string_equal(tmq_client_error(x->c), "");
    assert_string_equal(tmq_client_lost_reason(x->c),
                        "lost contact with the broker (it restarted and does not know us)");
}

/* Two echo jobs, once a broker answered: their ids in *a and *b. */
static void s_submit_two(fx_t *x, uint64_t *a, uint64_t *b)
{
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    uint8_t arg[16];
    size_t alen = tu_pack_int(arg, 1);
    assert_int_equal(tmq_submit(x->c, "echo", arg, alen, a), 0);
    assert_int_equal(tmq_submit(x->c, "echo", arg, alen, b), 0);
}

/* tmq_cancel: the broker ends the job CANCELLED; exactly one result; asking twice sends
 * one WITHDRAW; an id not awaited (returned, never submitted) is ENOENT. */
static void test_lib_cancel(void **state)
{
    fx_t *x = *state;
    uint64_t a, b;
    s_submit_two(x, &a, &b);
    assert_int_equal(tmq_cancel(x->c, b), 0); /* sends the batch first, then the WITHDRAW */
    assert_int_equal(tmq_cancel(x->c, b), 0);
    tmq_result_t *r = tmq_next(x->c, 2000);
    assert_non_null(r);
    assert_int_equal(tmq_result_id(r), b);
    assert_int_equal(tmq_result_status(r), TMQ_RESULT_CANCELLED);
    char text[64];
    assert_string_equal(s_text(r, text, sizeof text), "cancelled by its client");
    tmq_result_destroy(&r);
    assert_null(tmq_next(x->c, 100)); /* a is held by the broker; b gave one result */
    assert_int_equal(atomic_load(&x->fb.withdrawn), 1);
    assert_int_equal(tmq_pending(x->c), 1);
    assert_int_equal(tmq_cancel(x->c, b), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(tmq_cancel(x->c, 99), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(tmq_cancel(NULL, a), -1);
    assert_int_equal(errno, EINVAL);
    /* cancels in a row go out as one WITHDRAW, with the next batch */
    uint64_t ids[3];
    uint8_t arg[16];
    size_t alen = tu_pack_int(arg, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tmq_submit(x->c, "echo", arg, alen, &ids[i]), 0);
    size_t msgs = atomic_load(&x->fb.withdraw_msgs);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tmq_cancel(x->c, ids[i]), 0);
    for (int i = 0; i < 3; i++) {
        r = tmq_next(x->c, 2000);
        assert_non_null(r);
        assert_int_equal(tmq_result_status(r), TMQ_RESULT_CANCELLED);
        tmq_result_destroy(&r);
    }
    assert_int_equal(atomic_load(&x->fb.withdraw_msgs), msgs + 1);
}

static const fake_cfg_t s_full_held = {.hold = true, .max_queue = 1};

/* A job held after "queue full" is not at the broker: cancelling it ends it (here, or when
 * a resubmission in flight comes back refused again) and it is never resubmitted after. */
static void test_lib_cancel_held_job(void **state)
{
    fx_t *x = *state;
    uint64_t a, b;
    s_submit_two(x, &a, &b);
    assert_null(tmq_next(x->c, 100));                    /* sent; b refused "queue full" and held */
    assert_true(atomic_load(&x->fb.rejected_full) >= 1); /* and maybe resubmitted, refused */
    assert_int_equal(tmq_cancel(x->c, b), 0);
    tmq_result_t *r = tmq_next(x->c, 2000);
    assert_non_null(r);
    assert_int_equal(tmq_result_id(r), b);
    assert_int_equal(tmq_result_status(r), TMQ_RESULT_CANCELLED);
    tmq_result_destroy(&r);
    assert_null(tmq_next(x->c, 300));
    size_t jobs_in = atomic_load(&x->fb.jobs_in);
    assert_null(tmq_next(x->c, 500)); /* resubmission rounds are over: nothing is held */
    assert_int_equal(atomic_load(&x->fb.jobs_in), jobs_in);
    assert_int_equal(tmq_pending(x->c), 1);
}

/* Jobs cancelled before their ACK says "queue full" are held, then ended when their
 * resubmission round comes: rounds that send nothing at all must not stall the rest (no ACK
 * comes to schedule the next). Every one ends, CANCELLED. */
static void test_lib_cancel_many_held(void **state)
{
    fx_t *x = *state;
    enum { N = 600 }; /* three rounds' worth */
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    s_submit_echo(x->c, N); /* ids 0..N-1; the broker takes the first, refuses the rest */
    for (uint64_t id = 1; id < N; id++) /* before any ACK is read */
        assert_int_equal(tmq_cancel(x->c, id), 0);
    for (size_t got = 0; got < N - 1; got++) {
        tmq_result_t *r = tmq_next(x->c, 3000);
        if (!r) fail_msg("%zu of %d cancelled jobs ended; the rest hang", got, N - 1);
        assert_int_equal(tmq_result_status(r), TMQ_RESULT_CANCELLED);
        assert_true(tmq_result_id(r) > 0);
        tmq_result_destroy(&r);
    }
    assert_int_equal(tmq_pending(x->c), 1); /* job 0, held by the broker */
}

static const fake_cfg_t s_worker_port = {.wrong_port = true};

/* ERROR 5 (contract §2): give up at once with the broker's reason; jobs fail with it. */
static void test_lib_wrong_port(void **state)
{
    fx_t *x = *state;
    int64_t t0 = zclock_mono();
    assert_int_equal(tmq_client_wait_ready(x->c, 5000), -1);
    assert_true(zclock_mono() - t0 < 1000);
    assert_string_equal(tmq_client_error(x->c), S_WRONG_PORT);
    assert_int_equal(tmq_client_wait_ready(x->c, 5000), -1); /* asks again, refused again */
    assert_int_equal(atomic_load(&x->fb.hellos), 2);
    assert_null(tmq_client_status(x->c, 5000, NULL));
    s_submit_echo(x->c, 2);
    for (int i = 0; i < 2; i++) {
        tmq_result_t *r = tmq_next(x->c, 2000);
        assert_non_null(r);
        assert_int_equal(tmq_result_status(r), TMQ_RESULT_REJECTED);
        char text[128];
        assert_string_equal(s_text(r, text, sizeof text), S_WRONG_PORT);
        tmq_result_destroy(&r);
    }
}

static const fake_cfg_t s_refusing = {.refuse = "item 0: client id is not a uint"};

/* ACK with `error` (contract §3): every job of that SUBMIT fails, REJECTED, "bad SUBMIT". */
static void test_lib_ack_error(void **state)
{
    fx_t *x = *state;
    enum { N = 600 }; /* two SUBMITs */
    s_submit_echo(x->c, N);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    assert_int_equal(s_collect(x->c, N, seen, N, "bad SUBMIT: item 0: client id is not a uint"), N);
    assert_int_equal(atomic_load(&x->fb.submits), 2);
    assert_int_equal(tmq_pending(x->c), 0);
}

static const fake_cfg_t s_unserved = {.hold = true, .unserved = "sum"};

/* ACK `unserved` (contract §4) is said once as a warning — shown at the default level of
 * the tool and the shared library — not once per ACK. */
static void test_lib_unserved_logged_once(void **state)
{
    fx_t *x = *state;
    char path[] = "/tmp/test_client_lib.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    int level = tmq_log_level;
    tmq_log_level = TMQ_LOG_WARN;
    uint8_t arg[16];
    for (int i = 0; i < 1200; i++) /* three SUBMITs, three ACKs */
        tmq_submit(x->c, "sum", arg, tu_pack_int(arg, i), NULL);
    tmq_flush(x->c);
    while (atomic_load(&x->fb.submits) < 3)
        usleep(1000);
    tmq_next(x->c, 100); /* reads the ACKs */
    tmq_log_level = level;
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char log[4096] = "";
    ssize_t n = pread(fd, log, sizeof log - 1, 0);
    close(fd);
    unlink(path);
    log[n > 0 ? n : 0] = '\0';
    const char *said = "jobs for 'sum' wait at the broker: no worker is connected yet";
    char *first = strstr(log, said);
    if (!first) fail_msg("not logged at warning level: %s", log);
    assert_null(strstr(first + 1, said));
    assert_non_null(strstr(log, " WARN client: jobs for 'sum'"));
}

/* ---- acks.c alone: the kept copy of a SUBMIT ---- */

typedef struct {
    uint64_t cid[8];
    tmq_result_status_t status[8];
    char text[8][64];
    size_t n;
} s_fails_t;

static void s_record_fail(void *arg, uint64_t cid, tmq_result_status_t status, const char *text,
                          size_t len)
{
    s_fails_t *f = arg;
    assert_true(f->n < 8);
    f->cid[f->n] = cid;
    f->status[f->n] = status;
    snprintf(f->text[f->n], sizeof f->text[0], "%.*s", (int)len, text);
    f->n++;
}

/* An ACK for the kept SUBMIT, decoded into m (release it and free *body after). */
static void s_ack(tmq_msg_t *m, void **body, const char *error, uint64_t rejected_cid, int code,
                  const char *reason)
{
    tmq_batch_t rej;
    tmq_batch_init(&rej);
    if (reason) {
        tmq_reject_item_t r = {
            .cid = rejected_cid, .code = code, .reason = reason, .reason_len = strlen(reason)};
        tmq_batch_add_reject(&rej, &r);
    }
    tmq_ack_info_t info = {.error = error};
    size_t len;
    *body = tmq_proto_ack_body(&rej, &info, &len);
    tmq_batch_destroy(&rej);
    assert_int_equal(tu_decode(m, TMQ_CMD_ACK, *body, len), 0);
}

/* ---- sessions and a journaled broker (PROTOCOL.md 5.7) ---- */

/* Calls into the client (so it reads and RACKs) until cond holds, 3 s at most. */
#define S_PUMP_UNTIL(x, cond)                                                                      \
    do {                                                                                           \
        for (int i_ = 0; i_ < 300 && !(cond); i_++)                                                \
            assert_null(tmq_next((x)->c, 10));                                                     \
        assert_true(cond);                                                                         \
    } while (0)

/* A command to the fake, answered once it is done. */
static void s_tell(fx_t *x, const char *cmd)
{
    zstr_send(x->fake, cmd);
    zsock_wait(x->fake);
}

/* n echo jobs, sent, and their ACKs read (the fake holds them: it completes nothing). */
static void s_submit_held(fx_t *x, size_t n)
{
    size_t before = atomic_load(&x->fb.jobs_in);
    s_submit_echo(x->c, n);
    tmq_flush(x->c);
    while (atomic_load(&x->fb.jobs_in) < before + n)
        usleep(1000);
    assert_null(tmq_next(x->c, 50)); /* reads the ACK */
}

/* Without a journal the session is harmless: HELLO carries it, nothing else changes. */
static void test_lib_session_without_journal(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    assert_false(tmq_client_journaled(x->c));
    assert_int_equal(atomic_load(&x->fb.hello_sessions), 1);
    assert_int_equal(atomic_load(&x->fb.linger_ms), 60000);
    s_submit_echo(x->c, 3);
    static uint8_t seen[3];
    assert_int_equal(s_collect(x->c, 3, seen, 3, NULL), 0);
    assert_null(tmq_next(x->c, 50));
    assert_int_equal(atomic_load(&x->fb.seq_submits), 0);
    assert_int_equal(atomic_load(&x->fb.session_submits), 0);
    assert_int_equal(atomic_load(&x->fb.racks), 0);
}

static const fake_cfg_t s_journal = {.journal = true};

/* journal: every SUBMIT carries seq (1, 2, 3) and the HELLO's session; results are RACKed
 * with the count of RESULTS items on the connection. */
static void test_lib_journal_submit_seq(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    assert_true(tmq_client_journaled(x->c));
    static uint8_t seen[6];
    for (int b = 0; b < 3; b++) {
        s_submit_echo(x->c, 2);
        tmq_flush(x->c);
    }
    assert_int_equal(s_collect(x->c, 6, seen, 6, NULL), 0);
    assert_int_equal(atomic_load(&x->fb.submits), 3);
    assert_int_equal(atomic_load(&x->fb.seq_submits), 3);
    assert_int_equal(atomic_load(&x->fb.session_submits), 3);
    assert_int_equal(atomic_load(&x->fb.other_sessions), 0);
    S_PUMP_UNTIL(x, atomic_load(&x->fb.last_rack) == 6);
    assert_int_equal(atomic_load(&x->fb.conn_results), 6);
    assert_true(atomic_load(&x->fb.racks) >= 1);
}

static const fake_cfg_t s_journal_dup_ack = {
    .journal = true, .dup_ack = true, .max_queue = 50, .drip = 10};

/* Every ACK comes twice: matched by seq, the twin is ignored, so no later SUBMIT loses its
 * ACK (its "queue full" jobs are held and resubmitted, none fails). */
static void test_lib_journal_dup_ack(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    enum { N = 600 };
    s_submit_echo(x->c, N);
    static uint8_t seen[N];
    assert_int_equal(s_collect(x->c, N, seen, N, "queue full"), 0);
    assert_true(atomic_load(&x->fb.rejected_full) > 0);
    assert_int_equal(atomic_load(&x->fb.results_out), N);
    assert_null(tmq_next(x->c, 50));
}

static const fake_cfg_t s_journal_live = {
    .journal = true, .heartbeat_ms = 40, .beat = true, .hold = true};

/* A restarted journaled broker answers our HEARTBEAT with ERROR 4: the client greets it
 * with the same session, fails nothing, and gets every result once. Then one that meets us
 * first by a SUBMIT sends WELCOME unasked: the unACKed SUBMIT goes again and is deduped. */
static void test_lib_journal_restart_error4(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    s_submit_held(x, 5);
    s_tell(x, "RESTART");
    S_PUMP_UNTIL(x, atomic_load(&x->fb.welcomes) >= 2);
    assert_true(atomic_load(&x->fb.errors4) >= 1);
    assert_int_equal(atomic_load(&x->fb.hello_sessions), atomic_load(&x->fb.hellos));
    assert_int_equal(atomic_load(&x->fb.other_sessions), 0);
    assert_int_equal(tmq_pending(x->c), 5);
    assert_string_equal(tmq_client_error(x->c), "");

    s_tell(x, "RESTART");
    size_t welcomes = atomic_load(&x->fb.welcomes);
    s_submit_echo(x->c, 3);
    tmq_flush(x->c);
    S_PUMP_UNTIL(x, atomic_load(&x->fb.welcomes) > welcomes);
    s_tell(x, "RUN");
    static uint8_t seen[8];
    assert_int_equal(s_collect(x->c, 8, seen, 8, NULL), 0);
    assert_null(tmq_next(x->c, 100));
    assert_int_equal(atomic_load(&x->fb.results_out), 8);
    assert_true(atomic_load(&x->fb.dedup) >= 3); /* the SUBMIT the WELCOME overtook */
    S_PUMP_UNTIL(x, atomic_load(&x->fb.last_rack) == atomic_load(&x->fb.conn_results));
    assert_int_equal(tmq_client_lost_reason(x->c)[0], '\0');
}

static const fake_cfg_t s_journal_resend = {
    .journal = true, .heartbeat_ms = 40, .beat = true, .hold = true, .resend_all = true};

/* A journaled broker that falls silent (dies) and comes back: the SUBMIT it never saw is
 * resubmitted, the results it resends (every one, RACKed or not) are delivered once. */
static void test_lib_journal_silent_back(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    static uint8_t seen[11];
    s_submit_held(x, 4);
    s_tell(x, "RUN");
    assert_int_equal(s_collect(x->c, 4, seen, 11, NULL), 0);
    S_PUMP_UNTIL(x, atomic_load(&x->fb.last_rack) == 4);
    s_tell(x, "HOLD");
    s_submit_held(x, 4); /* ACKed: the broker holds them */
    s_tell(x, "SILENT");
    s_submit_echo(x->c, 3); /* never seen by it: not ACKed */
    tmq_flush(x->c);
    size_t hellos = atomic_load(&x->fb.hellos);
    S_PUMP_UNTIL(x, atomic_load(&x->fb.hellos) >= hellos + 2); /* noticed; greets, backs off */
    assert_non_null(strstr(tmq_client_error(x->c), "waiting up to 60 s"));
    assert_int_equal(tmq_pending(x->c), 7);
    size_t seqs = atomic_load(&x->fb.seq_submits);
    s_tell(x, "BACK");
    s_tell(x, "RUN");
    assert_int_equal(s_collect(x->c, 7, seen, 11, NULL), 0);
    assert_null(tmq_next(x->c, 100));
    assert_int_equal(tmq_pending(x->c), 0);
    assert_int_equal(atomic_load(&x->fb.results_out), 11);
    assert_true(atomic_load(&x->fb.resent) >= 4);             /* the 4 delivered came again */
    assert_true(atomic_load(&x->fb.seq_submits) >= seqs + 1); /* the unseen SUBMIT again */
    assert_int_equal(atomic_load(&x->fb.other_sessions), 0);
    assert_string_equal(tmq_client_error(x->c), "");
    S_PUMP_UNTIL(x, atomic_load(&x->fb.last_rack) == atomic_load(&x->fb.conn_results));
}

/* A WITHDRAW that went to a broker process that died is said again once one is back: the
 * job ends CANCELLED, the other finishes. */
static void test_lib_journal_withdraw_again(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    s_submit_held(x, 2);
    s_tell(x, "SILENT");
    assert_int_equal(tmq_cancel(x->c, 1), 0);
    size_t hellos = atomic_load(&x->fb.hellos);
    S_PUMP_UNTIL(x, atomic_load(&x->fb.hellos) > hellos); /* sent it, then lost the broker */
    assert_int_equal(atomic_load(&x->fb.withdraw_msgs), 0);
    s_tell(x, "BACK");
    tmq_result_t *r = tmq_next(x->c, 3000);
    assert_non_null(r);
    assert_true(atomic_load(&x->fb.withdraw_msgs) >= 1); /* said again */
    assert_int_equal(tmq_result_id(r), 1);
    assert_int_equal(tmq_result_status(r), TMQ_RESULT_CANCELLED);
    tmq_result_destroy(&r);
    s_tell(x, "RUN");
    r = tmq_next(x->c, 2000);
    assert_non_null(r);
    assert_int_equal(tmq_result_id(r), 0);
    assert_true(tmq_result_ok(r));
    tmq_result_destroy(&r);
    assert_null(tmq_next(x->c, 100));
}

/* BYE from a journaled broker: nothing fails; it comes back and the jobs finish. */
static void test_lib_journal_bye_back(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    s_submit_held(x, 3);
    s_tell(x, "BYEDOWN");
    assert_null(tmq_next(x->c, 300));
    assert_int_equal(tmq_pending(x->c), 3);
    s_tell(x, "BACK");
    s_tell(x, "RUN");
    static uint8_t seen[3];
    assert_int_equal(s_collect(x->c, 3, seen, 3, NULL), 0);
    assert_null(tmq_next(x->c, 50));
}

/* One that never comes back: the jobs fail LOST once the loss timeout has passed. */
static void test_lib_journal_never_back(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    tmq_client_set_broker_loss_timeout(x->c, 300);
    S_PUMP_UNTIL(x, atomic_load(&x->fb.linger_ms) == 300); /* HELLO told it */
    s_submit_held(x, 3);
    s_tell(x, "SILENT");
    int64_t t0 = zclock_mono();
    static uint8_t seen[3];
    assert_int_equal(s_collect(x->c, 3, seen, 3, "lost contact with the broker"), 3);
    int64_t took = zclock_mono() - t0;
    assert_true(took >= 450 && took < 3000);
    assert_string_equal(tmq_client_error(x->c),
                        "lost contact with the broker (silent for 200 ms; no broker answered "
                        "for 300 ms)");
    assert_string_equal(tmq_client_lost_reason(x->c), tmq_client_error(x->c));
    assert_int_equal(tmq_pending(x->c), 0);
}

static const fake_cfg_t s_journal_held = {.journal = true, .hold = true};

/* A loss timeout of 0: fail at once, as without a journal. */
static void test_lib_journal_timeout_zero(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    tmq_client_set_broker_loss_timeout(x->c, 0);
    s_submit_held(x, 2);
    int64_t t0 = zclock_mono();
    s_tell(x, "BYEDOWN");
    static uint8_t seen[2];
    assert_int_equal(s_collect(x->c, 2, seen, 2, "broker shut down"), 2);
    assert_true(zclock_mono() - t0 < 500);
}

/* ACK code 5: the job fails REJECTED with the broker's reason; it is not held as "queue
 * full". */
static void test_lib_journal_rejected(void **state)
{
    fx_t *x = *state;
    assert_int_equal(tmq_client_wait_ready(x->c, 2000), 0);
    uint8_t arg[16];
    assert_int_equal(tmq_submit(x->c, "nojournal", arg, tu_pack_int(arg, 1), NULL), 0);
    tmq_result_t *r = tmq_next(x->c, 2000);
    assert_non_null(r);
    assert_int_equal(tmq_result_status(r), TMQ_RESULT_REJECTED);
    char text[128];
    assert_string_equal(s_text(r, text, sizeof text),
                        "journal unavailable: No space left on device");
    tmq_result_destroy(&r);
    assert_int_equal(atomic_load(&x->fb.submits), 1); /* not resubmitted */
    assert_null(tmq_next(x->c, 50));
}

/* The jobs of a SUBMIT the broker refused whole are failed by the ids kept beside its copy:
 * even a copy that does not decode (ours always do) strands none of them. A "queue full"
 * job the copy cannot show is failed instead of held. */
static void test_acks_kept_ids(void **state)
{
    (void)state;
    static const char garbage[] = "\xc1 not a SUBMIT body";
    const uint64_t cids[] = {3, 5, 9};
    tmq_idmap_t inflight;
    tmq_idmap_init(&inflight);
    tmq_idmap_put(&inflight, 3, NULL);
    tmq_idmap_put(&inflight, 5, NULL); /* 9 already has its result */
    tmq_acks_t a;
    tmq_acks_init(&a);
    tmq_acks_sent(&a, garbage, sizeof garbage - 1, cids, 3, 0);
    tmq_acks_sent(&a, garbage, sizeof garbage - 1, cids, 3, 0);

    tmq_msg_t m;
    void *body;
    s_fails_t f = {0};
    s_ack(&m, &body, "item 0: client id is not a uint", 0, 0, NULL);
    tmq_acks_on_ack(&a, &m, &inflight, true, s_record_fail, &f);
    tmq_msg_release(&m);
    free(body);
    assert_int_equal(f.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(f.cid[i], cids[i]);
        assert_int_equal(f.status[i], TMQ_RESULT_REJECTED);
        assert_string_equal(f.text[i], "bad SUBMIT: item 0: client id is not a uint");
    }

    memset(&f, 0, sizeof f);
    s_ack(&m, &body, NULL, 5, TMQ_REJ_QUEUE_FULL, "queue full");
    tmq_acks_on_ack(&a, &m, &inflight, true, s_record_fail, &f);
    tmq_msg_release(&m);
    free(body);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.cid[0], 5);
    assert_string_equal(f.text[0], "queue full");
    assert_int_equal(tmq_acks_held(&a), 0);

    /* An ACK with no copy left (a late one after we gave up) fails nothing it cannot name. */
    memset(&f, 0, sizeof f);
    s_ack(&m, &body, "late", 0, 0, NULL);
    tmq_acks_on_ack(&a, &m, &inflight, true, s_record_fail, &f);
    tmq_msg_release(&m);
    free(body);
    assert_int_equal(f.n, 0);
    tmq_acks_destroy(&a);
    tmq_idmap_destroy(&inflight);
}

/* An ACK for SUBMIT seq: rejecting cid with code (reason NULL: none). */
static void s_ack_seq(tmq_msg_t *m, void **body, uint64_t seq, uint64_t cid, int code,
                      const char *reason)
{
    tmq_batch_t rej;
    tmq_batch_init(&rej);
    if (reason) {
        tmq_reject_item_t r = {
            .cid = cid, .code = code, .reason = reason, .reason_len = strlen(reason)};
        tmq_batch_add_reject(&rej, &r);
    }
    tmq_ack_info_t info = {.seq = seq};
    size_t len;
    *body = tmq_proto_ack_body(&rej, &info, &len);
    tmq_batch_destroy(&rej);
    assert_int_equal(tu_decode(m, TMQ_CMD_ACK, *body, len), 0);
}

/* ACKs with seq answer the copy with that seq, in any order; a second ACK for a seq is a
 * duplicate and changes nothing (its "queue full" does not fail the held job); code 5 fails
 * the job REJECTED with the broker's reason. */
static void test_acks_seq(void **state)
{
    (void)state;
    tmq_idmap_t inflight;
    tmq_idmap_init(&inflight);
    tmq_acks_t a;
    tmq_acks_init(&a);
    uint8_t arg[16];
    size_t arg_len = tu_pack_int(arg, 7);
    for (uint64_t cid = 1; cid <= 3; cid++) {
        tmq_idmap_put(&inflight, cid, NULL);
        tmq_batch_t b;
        tmq_batch_init(&b);
        tmq_submit_item_t it = {
            .cid = cid, .fn = "echo", .fn_len = 4, .arg = arg, .arg_len = arg_len, .retries = -1};
        tmq_batch_add_submit(&b, &it);
        size_t len;
        void *body = tmq_proto_submit_body(&b, cid, (const uint8_t *)"0123456789abcdef", &len);
        tmq_acks_sent(&a, body, len, &cid, 1, cid);
        free(body);
        tmq_batch_destroy(&b);
    }
    struct {
        uint64_t seq, cid;
        int code;
        const char *reason;
        bool answered;
        size_t held, fails;
    } steps[] = {
        {2, 2, TMQ_REJ_QUEUE_FULL, "queue full", true, 1, 0},
        {2, 2, TMQ_REJ_QUEUE_FULL, "queue full", false, 1, 0},
        {1, 0, 0, NULL, true, 1, 0},
        {3, 3, TMQ_REJ_JOURNAL, "journal unavailable: disk full", true, 1, 1},
        {3, 3, TMQ_REJ_JOURNAL, "journal unavailable: disk full", false, 1, 1},
    };
    s_fails_t f = {0};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        tmq_msg_t m;
        void *body;
        s_ack_seq(&m, &body, steps[i].seq, steps[i].cid, steps[i].code, steps[i].reason);
        assert_int_equal(tmq_acks_on_ack(&a, &m, &inflight, true, s_record_fail, &f),
                         steps[i].answered);
        tmq_msg_release(&m);
        free(body);
        assert_int_equal(tmq_acks_held(&a), steps[i].held);
        assert_int_equal(f.n, steps[i].fails);
        if (f.n) tmq_idmap_remove(&inflight, f.cid[f.n - 1], NULL);
    }
    assert_int_equal(f.cid[0], 3);
    assert_int_equal(f.status[0], TMQ_RESULT_REJECTED);
    assert_string_equal(f.text[0], "journal unavailable: disk full");
    assert_int_equal(tmq_acks_each_sent(&a, NULL, NULL), 0);
    tmq_acks_destroy(&a);
    tmq_idmap_destroy(&inflight);
}

/* ---- named batches (5.8) ---- */

/* SUBMITs carry the batch set, its ttl and, once the input ended, batch_end (on what waits,
 * or alone in an empty SUBMIT); ids skip ahead with tmq_client_set_next_id and skipped ids
 * are not pending. */
static void test_lib_batch_submit(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    assert_int_equal(tmq_client_wait_ready(c, 2000), 0);
    assert_int_equal(tmq_client_set_batch(c, "bad name", 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(tmq_client_set_batch(c, "", 0), -1);
    assert_int_equal(tmq_client_end_batch(c), -1); /* no batch set */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(tmq_client_set_batch(c, "b1", 5000), 0);
    uint8_t arg[16];
    uint64_t id;
    assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, 0), &id), 0);
    assert_int_equal(id, 0);
    assert_int_equal(tmq_client_set_next_id(c, 5), 0);
    assert_int_equal(tmq_client_set_next_id(c, 3), -1); /* ids only grow */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, 5), &id), 0);
    assert_int_equal(id, 5);
    assert_int_equal(tmq_pending(c), 2);
    assert_int_equal(tmq_client_end_batch(c), 0);
    static uint8_t seen[6];
    assert_int_equal(s_collect(c, 2, seen, 6, NULL), 0);
    assert_true(seen[0] && seen[5]);
    assert_int_equal(tmq_pending(c), 0);
    assert_null(tmq_next(c, 50)); /* a turn more: every SUBMIT answered, none held */
    /* the end goes alone, once the broker has every job: an empty SUBMIT */
    assert_int_equal(atomic_load(&x->fb.batch_submits), 2);
    assert_int_equal(atomic_load(&x->fb.batch_ends), 1);
    assert_int_equal(atomic_load(&x->fb.batch_end_jobs), 0);
    assert_int_equal(atomic_load(&x->fb.batch_ttl), 5000);
    assert_int_equal(tmq_client_end_batch(c), 0); /* said once */
    assert_null(tmq_next(c, 50));
    assert_int_equal(atomic_load(&x->fb.batch_ends), 1);
    assert_int_equal(atomic_load(&x->fb.batch_submits), 2);
    /* no batch: SUBMITs carry none */
    assert_int_equal(tmq_client_set_batch(c, NULL, 0), 0);
    assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, 6), &id), 0);
    assert_int_equal(id, 6);
    assert_int_equal(s_collect(c, 1, (uint8_t[8]){0}, 8, NULL), 0);
    assert_int_equal(atomic_load(&x->fb.batch_submits), 2);
    assert_int_equal(atomic_load(&x->fb.batch_ttl), 0);
}

static const fake_cfg_t s_batch20 = {.batch = "b1", .batch_n = 20};

/* Reads the attached batch's results until the library says complete: each cid once. */
static size_t s_read_batch(tmq_client_t *c, uint8_t *seen, size_t n)
{
    size_t got = 0;
    for (int i = 0; i < 300 && tmq_client_attach_state(c) == TMQ_ATTACH_READING; i++) {
        tmq_result_t *r;
        while ((r = tmq_next(c, 10))) {
            uint64_t id = tmq_result_id(r);
            assert_true(id < n);
            if (seen[id]) fail_msg("batch result %llu returned twice", (unsigned long long)id);
            seen[id] = 1;
            assert_true(tmq_result_ok(r));
            got++;
            assert_int_equal(tmq_pending(c), 0); /* the batch's results are not ours */
            tmq_result_destroy(&r);
        }
    }
    return got;
}

/* ATTACH: BATCH's counts, then every result once (the fake sends half of them twice), then
 * complete; tmq_submit is refused while attached; a second attach reads it all again. */
static void test_lib_attach(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_NONE);
    tmq_batch_status_t st;
    assert_int_equal(tmq_client_batch_status(c, &st), -1);
    assert_int_equal(tmq_client_attach(c, "b1", &st, 2000), 0);
    assert_true(st.known);
    assert_int_equal(st.total, 20);
    assert_false(st.complete);
    static uint8_t seen[20];
    assert_int_equal(s_read_batch(c, seen, 20), 20);
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_COMPLETE);
    assert_int_equal(tmq_client_batch_status(c, &st), 0);
    assert_true(st.complete);
    assert_null(tmq_next(c, 20));
    uint8_t arg[16];
    assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, 1), NULL), -1);
    assert_int_equal(errno, EBUSY);
    uint64_t *ids;
    size_t n;
    assert_int_equal(tmq_client_batch_done(c, "b1", &ids, &n, NULL, 2000), -1);
    assert_int_equal(errno, EBUSY);

    memset(seen, 0, sizeof seen);
    assert_int_equal(tmq_client_attach(c, "b1", NULL, 2000), 0);
    assert_int_equal(s_read_batch(c, seen, 20), 20);
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_COMPLETE);
    assert_int_equal(atomic_load(&x->fb.attaches), 2);
}

/* An unknown batch: ENOENT and "no batch named NAME at EP"; an invalid name: EINVAL; a client
 * with jobs pending: EBUSY. */
static void test_lib_attach_refused(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    tmq_batch_status_t st = {.known = true};
    assert_int_equal(tmq_client_attach(c, "nosuch", &st, 2000), -1);
    assert_int_equal(errno, ENOENT);
    assert_false(st.known);
    char want[128];
    snprintf(want, sizeof want, "no batch named nosuch at %s", x->endpoint);
    assert_string_equal(tmq_client_error(c), want);
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_NONE);
    assert_int_equal(tmq_client_attach(c, "a b", &st, 2000), -1);
    assert_int_equal(errno, EINVAL);
    /* not attached: submitting works, and then attaching is refused */
    uint8_t arg[16];
    assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, 1), NULL), 0);
    assert_int_equal(tmq_client_attach(c, "b1", &st, 2000), -1);
    assert_int_equal(errno, EBUSY);
    assert_int_equal(s_collect(c, 1, (uint8_t[1]){0}, 1, NULL), 0);
}

/* A resume's question: the cids with an OK result, no results, not attached; an unknown
 * batch: none, known false. */
static void test_lib_batch_done(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    uint64_t *ids;
    size_t n;
    tmq_batch_status_t st;
    assert_int_equal(tmq_client_batch_done(c, "b1", &ids, &n, &st, 2000), 0);
    assert_true(st.known);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ids[i], 2 * i);
    free(ids);
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_NONE);
    assert_null(tmq_next(c, 50)); /* no results came */
    assert_int_equal(tmq_client_batch_done(c, "other", &ids, &n, &st, 2000), 0);
    assert_false(st.known);
    assert_int_equal(n, 0);
    assert_null(ids);
    assert_int_equal(atomic_load(&x->fb.resumes), 2);
    /* then submitting, with ids after the skipped ones */
    assert_int_equal(tmq_client_set_batch(c, "b1", 0), 0);
    assert_int_equal(tmq_client_set_next_id(c, 1), 0);
    uint8_t arg[16];
    assert_int_equal(tmq_submit(c, "echo", arg, tu_pack_int(arg, 1), NULL), 0);
    assert_int_equal(s_collect(c, 1, (uint8_t[2]){0}, 2, NULL), 0);
    assert_int_equal(atomic_load(&x->fb.last_cid), 1);
}

static const fake_cfg_t s_old_batches = {.old_batches = true};

/* A broker that does not know ATTACH (ERROR 3): ENOTSUP, and the error says so. */
static void test_lib_attach_old_broker(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    assert_int_equal(tmq_client_attach(c, "b1", NULL, 2000), -1);
    assert_int_equal(errno, ENOTSUP);
    assert_non_null(
        strstr(tmq_client_error(c), "this broker does not keep batches (taskmq 0.4 or older)"));
    uint64_t *ids;
    size_t n;
    assert_int_equal(tmq_client_batch_done(c, "b1", &ids, &n, NULL, 2000), -1);
    assert_int_equal(errno, ENOTSUP);
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_NONE);
}

static const fake_cfg_t s_batch_journal = {.journal = true,
                                           .heartbeat_ms = 40,
                                           .beat = true,
                                           .batch = "b1",
                                           .batch_n = 20,
                                           .batch_split = true};

/* A journaled broker restarts while a batch is attached (half of it read): the client ATTACHes
 * again after the new WELCOME and delivers each cid once (the first half comes again). */
static void test_lib_attach_journal_restart(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    assert_int_equal(tmq_client_attach(c, "b1", NULL, 2000), 0);
    static uint8_t seen[20];
    size_t got = 0;
    while (got < 10) {
        tmq_result_t *r = tmq_next(c, 2000);
        assert_non_null(r);
        assert_false(seen[tmq_result_id(r)]);
        seen[tmq_result_id(r)] = 1;
        got++;
        tmq_result_destroy(&r);
    }
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_READING);
    s_tell(x, "RESTART");
    got += s_read_batch(c, seen, 20);
    assert_int_equal(got, 20);
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_COMPLETE);
    assert_int_equal(atomic_load(&x->fb.attaches), 2);
    assert_true(atomic_load(&x->fb.welcomes) >= 2);
    assert_string_equal(tmq_client_lost_reason(c), "");
}

static const fake_cfg_t s_batch_silent = {
    .heartbeat_ms = 40, .batch = "b1", .batch_n = 20, .batch_split = true};

/* A broker without a journal falls silent while a batch is attached: the attachment is lost
 * (the results that came are still returned). */
static void test_lib_attach_lost(void **state)
{
    fx_t *x = *state;
    tmq_client_t *c = x->c;
    assert_int_equal(tmq_client_attach(c, "b1", NULL, 2000), 0);
    s_tell(x, "SILENT");
    static uint8_t seen[20];
    assert_int_equal(s_read_batch(c, seen, 20), 10);
    assert_int_equal(tmq_client_attach_state(c), TMQ_ATTACH_LOST);
    assert_non_null(strstr(tmq_client_lost_reason(c), "lost contact with the broker"));
}

int main(void)
{
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        S_TEST(test_lib_round_trip),
        cmocka_unit_test(test_lib_bad_arguments),
        S_TEST(test_lib_batching),
        S_TEST_WITH(test_lib_window, &s_drip7),
        S_TEST_WITH(test_lib_duplicates_dropped, &s_duplicate),
        S_TEST(test_lib_rejections_fail),
        S_TEST_WITH(test_lib_queue_full_resubmits, &s_full),
        S_TEST_WITH(test_lib_queue_full_fails_when_asked, &s_full),
        S_TEST(test_lib_job_options),
        S_TEST_WITH(test_lib_queue_full_keeps_options, &s_full),
        S_TEST(test_lib_status),
        S_TEST(test_lib_status_rendered),
        cmocka_unit_test(test_lib_no_broker),
        S_TEST_WITH(test_lib_cancel, &s_held),
        S_TEST_WITH(test_lib_cancel_held_job, &s_full_held),
        S_TEST_WITH(test_lib_cancel_many_held, &s_full_held),
        S_TEST_WITH(test_lib_heartbeats_and_bye, &s_hb30),
        S_TEST_WITH(test_lib_payload_too_large, &s_small_payload),
        S_TEST(test_lib_wait_with_fd),
        S_TEST_WITH(test_lib_broker_lost, &s_silent),
        S_TEST_WITH(test_lib_broker_alive_keeps_jobs, &s_beating),
        S_TEST_WITH(test_lib_broker_bye, &s_held),
        S_TEST_WITH(test_lib_lost_reason_after_restart, &s_held),
        S_TEST_WITH(test_lib_wrong_port, &s_worker_port),
        S_TEST_WITH(test_lib_ack_error, &s_refusing),
        S_TEST_WITH(test_lib_unserved_logged_once, &s_unserved),
        S_TEST(test_lib_batch_submit),
        S_TEST_WITH(test_lib_attach, &s_batch20),
        S_TEST_WITH(test_lib_attach_refused, &s_batch20),
        S_TEST_WITH(test_lib_batch_done, &s_batch20),
        S_TEST_WITH(test_lib_attach_old_broker, &s_old_batches),
        S_TEST_WITH(test_lib_attach_journal_restart, &s_batch_journal),
        S_TEST_WITH(test_lib_attach_lost, &s_batch_silent),
        cmocka_unit_test(test_acks_kept_ids),
        cmocka_unit_test(test_acks_seq),
        S_TEST(test_lib_session_without_journal),
        S_TEST_WITH(test_lib_journal_submit_seq, &s_journal),
        S_TEST_WITH(test_lib_journal_dup_ack, &s_journal_dup_ack),
        S_TEST_WITH(test_lib_journal_restart_error4, &s_journal_live),
        S_TEST_WITH(test_lib_journal_silent_back, &s_journal_resend),
        S_TEST_WITH(test_lib_journal_bye_back, &s_journal_live),
        S_TEST_WITH(test_lib_journal_withdraw_again, &s_journal_live),
        S_TEST_WITH(test_lib_journal_never_back, &s_journal_live),
        S_TEST_WITH(test_lib_journal_timeout_zero, &s_journal_held),
        S_TEST_WITH(test_lib_journal_rejected, &s_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
