/* client/client.c — libtaskmq's public API on the user's thread (see taskmq/client.h).
 *
 * The user thread owns the job state; the conn actor (conn.c) owns the socket. tmq_submit
 * packs a job into the current SUBMIT batch, sent at 512 jobs / 256 KiB, on tmq_flush and
 * whenever the caller waits (tmq_next, tmq_wait). Every submitted id is in `inflight` from
 * tmq_submit until its result is queued, so the window is its count and a result whose id is
 * not there is a duplicate. Messages from the broker are only read while the caller is inside
 * the API, and always drained completely: ACKs go to acks.c, results are de-duplicated by id
 * and queued for tmq_next in arrival order. Every live client is in a registry, so that at
 * exit its actor is stopped before czmq's own teardown runs (atexit is LIFO).
 * Every client has a session (16 random bytes, PROTOCOL.md 5.7) named in its HELLOs. Once a
 * WELCOME says the broker journals, SUBMITs are numbered and ACKs matched by number, RESULTS
 * items are counted and acknowledged (RACK), and losing the broker fails nothing: the client
 * greets again with backoff and resubmits what was not ACKed, until the loss timeout. Without
 * a journal everything is as it always was: a lost broker fails every awaited job at once.
 * The session's rules are plain data in session.c; this file does what they say.
 * Named batches (5.8): SUBMITs carry the batch set by tmq_client_set_batch; an attachment
 * (attach.c says what its messages mean) takes RESULTS items that are not our own jobs' into
 * the same queue, marked, so they count in neither `inflight` nor tmq_pending.
 */
#include "taskmq/client.h"
#include "acks.h"
#include "actor.h"
#include "attach.h"
#include "conn.h"
#include "curve.h"
#include "endpoint.h"
#include "idmap.h"
#include "list.h"
#include "log.h"
#include "platform.h"
#include "result.h"
#include "session.h"
#include "wire.h"
#include "xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_BATCH_JOBS 512           /* flush a SUBMIT at this many jobs */
#define S_BATCH_BYTES (256u << 10) /* ... or at this many bytes */
#define S_WINDOW 20000             /* jobs awaiting a result from the broker */
#define S_BROKER_LIVENESS 5        /* heartbeats of broker silence before giving up */
/* The error text of jobs failed TMQ_RESULT_LOST (taskmq/client.h states both); the client's
 * error says the same in a sentence ("the broker shut down", "lost contact ... (why)"). */
#define S_SHUT_DOWN "broker shut down"
#define S_LOST "lost contact with the broker"
#define S_CANCELLED TMQ_CANCELLED_TEXT /* as the broker says it */

struct tmq_client_t {
    tmq_list_link_t live;     /* in s_live while not destroyed (first: see s_at_exit) */
    uint64_t epoch;           /* the latest WELCOME's `epoch` (0: none): RACK names it */
    tmq_actor_t *conn;        /* owns the DEALER (conn.c); NULL once stopped at exit */
    tmq_conn_shared_t shared; /* with the actor: when the broker was last heard */
    void *pipe;               /* raw handle of the actor's pipe, this thread's end */
    char *endpoint;
    uint64_t next_id;
    uint64_t submitted;  /* jobs submitted (ids skipped by tmq_client_set_next_id are not) */
    uint64_t returned;   /* results of our own jobs handed out by tmq_next */
    uint32_t timeout_ms; /* defaults for later submissions */
    int32_t retries;
    uint64_t mem_limit; /* 0 = none (the worker's) */
    bool retry_oom;
    bool fail_when_full;
    bool welcomed;
    bool hello_sent;       /* a HELLO is out (the actor sends the first) and unanswered */
    bool refused;          /* the peer said wrong port: waiting for it is pointless */
    uint32_t max_payload;  /* from WELCOME; 0 until then */
    uint32_t heartbeat_ms; /* from WELCOME */
    size_t window;
    tmq_batch_t batch;    /* submitted, not yet sent */
    uint64_t *batch_cids; /* the client ids of batch's jobs, in order (batch.count of them) */
    size_t batch_cids_cap;
    tmq_idmap_t inflight;  /* ids awaiting a result (values unused) */
    tmq_idmap_t withdrawn; /* ids tmq_cancel asked to withdraw, awaiting a result */
    tmq_batch_t withdraw;  /* their WITHDRAW, sent after the next SUBMIT */
    bool told_old;         /* said the broker does not know WITHDRAW */
    tmq_acks_t acks;
    tmq_resq_t results; /* arrived, not yet returned by tmq_next */
    uint32_t status_asked, status_answered;
    void *status_body; /* the answer to the latest STATUS, once it arrived */
    size_t status_len;
    tmq_rate_t log_rate;
    char error[256];     /* tmq_client_error */
    char lost_why[256];  /* tmq_client_lost_reason: error when jobs were last failed LOST */
    tmq_csession_t sess; /* our session (5.7): seq, RACK count, the wait for a lost broker */
    char batch_name[TMQ_PROTO_MAX_BATCH_NAME + 1]; /* SUBMITs go to this batch (5.8); "" none */
    size_t batch_name_len;
    uint32_t batch_ttl_ms; /* 0: the broker's default */
    bool batch_end;        /* the batch's input ended (tmq_client_end_batch) */
    bool batch_end_sent;   /* ... and the broker was told: every SUBMIT was answered, none held */
    tmq_cattach_t att;     /* the batch attached, or asked about (attach.h) */
};

/* ---- the registry of live clients, for a clean exit without tmq_client_destroy ---- */

static pthread_mutex_t s_live_lock = PTHREAD_MUTEX_INITIALIZER;
static tmq_list_t s_live;
static pthread_once_t s_exit_once = PTHREAD_ONCE_INIT;
static pid_t s_exit_pid; /* the process that registered the handler (not a forked child) */

static void s_stop_conn(tmq_client_t *c);

/* Runs before czmq's zsys_shutdown (registered after it): stops every live client's actor,
 * saying BYE, so czmq finds no socket left behind. The clients themselves stay allocated and
 * listed (a later tmq_client_destroy, e.g. from an older atexit handler, still works). */
static void s_at_exit(void)
{
    if (getpid() != s_exit_pid) return; /* a forked child: those threads are not ours */
    pthread_mutex_lock(&s_live_lock);
    for (tmq_list_link_t *l = s_live.head; l; l = l->next)
        s_stop_conn(TMQ_LIST_ENTRY(l, tmq_client_t, live));
    pthread_mutex_unlock(&s_live_lock);
}

static void s_register_at_exit(void)
{
    s_exit_pid = getpid();
    atexit(s_at_exit);
}

/* ---- sending to the actor ---- */

/* Hands header + body (taken, nulled) to the actor. Waits for room in the pipe first: the
 * actor always reads it, so the wait is short, and the send then cannot fail for lack of
 * room (only this thread writes to the pipe). */
static void s_send(tmq_client_t *c, tmq_cmd_t cmd, void **body_p, size_t len)
{
    if (!c->pipe) { /* stopped at exit */
        free(*body_p);
        *body_p = NULL;
        return;
    }
    int events = 0;
    size_t size = sizeof events;
    while (zmq_getsockopt(c->pipe, ZMQ_EVENTS, &events, &size) == 0 && !(events & ZMQ_POLLOUT)) {
        zmq_pollitem_t it = {c->pipe, 0, ZMQ_POLLOUT, 0};
        if (zmq_poll(&it, 1, -1) < 0 && errno != EINTR) break;
    }
    if (tmq_wire_send(c->pipe, NULL, 0, cmd, body_p, len) != 0)
        tmq_debug("client: message to the connection thread lost: %s", zmq_strerror(errno));
}

static void s_send_empty(tmq_client_t *c, tmq_cmd_t cmd)
{
    size_t len;
    void *body = tmq_proto_empty_body(&len);
    s_send(c, cmd, &body, len);
}

/* Our HELLO: the session and, as linger_ms, how long we would wait for the broker. */
static void *s_hello_body(const tmq_client_t *c, size_t *len)
{
    return tmq_proto_hello_body(c->sess.id, tmq_csession_linger(&c->sess), len);
}

static void s_send_hello(tmq_client_t *c)
{
    size_t len;
    void *body = s_hello_body(c, &len);
    s_send(c, TMQ_CMD_HELLO, &body, len);
    tmq_csession_hello_sent(&c->sess, tmq_clock_ms());
}

/* Sends the current batch as one SUBMIT (a copy kept until its ACK); an empty one only when
 * empty_ok (the end of a named batch's input, said alone). */
static void s_send_submit_ex(tmq_client_t *c, bool empty_ok)
{
    if (c->batch.count == 0 && !empty_ok) return;
    size_t len, n = c->batch.count;
    tmq_submit_info_t info = {.seq = tmq_csession_next_seq(&c->sess)}; /* its ACK echoes seq */
    if (info.seq) info.session = c->sess.id;
    if (c->batch_name_len) {
        info.batch = c->batch_name;
        info.batch_len = c->batch_name_len;
        info.batch_ttl_ms = c->batch_ttl_ms;
        info.batch_end = c->batch_end_sent;
    }
    void *body = tmq_proto_submit_body_ex(&c->batch, &info, &len);
    tmq_acks_sent(&c->acks, body, len, c->batch_cids, n, info.seq);
    s_send(c, TMQ_CMD_SUBMIT, &body, len);
}

static void s_send_submit(tmq_client_t *c)
{
    s_send_submit_ex(c, false);
}

/* The SUBMIT, then the pending WITHDRAW, if any (it may only follow the SUBMITs of the jobs
 * it names). */
static void s_send_batch(tmq_client_t *c)
{
    s_send_submit(c);
    if (c->withdraw.count) {
        size_t len;
        void *body = tmq_batch_finish(&c->withdraw, TMQ_CMD_WITHDRAW, 0, &len);
        s_send(c, TMQ_CMD_WITHDRAW, &body, len);
    }
}

/* Appends one job to the current batch, flushing by count and size. */
static void s_enqueue(tmq_client_t *c, const tmq_submit_item_t *it)
{
    if (c->batch.count > 0 && c->batch.buf.size + it->arg_len + it->fn_len + 32 > S_BATCH_BYTES)
        s_send_batch(c);
    if (c->batch.count == c->batch_cids_cap) {
        c->batch_cids_cap = c->batch_cids_cap ? c->batch_cids_cap * 2 : S_BATCH_JOBS;
        c->batch_cids = tmq_xrealloc(c->batch_cids, c->batch_cids_cap * sizeof *c->batch_cids);
    }
    c->batch_cids[c->batch.count] = it->cid;
    tmq_batch_add_submit(&c->batch, it);
    if (c->batch.count >= S_BATCH_JOBS || c->batch.buf.size >= S_BATCH_BYTES) s_send_batch(c);
}

static void s_fail(void *arg, uint64_t id, tmq_result_status_t status, const char *text,
                   size_t len);

/* Resubmits held "queue full" jobs when their time has come, in SUBMITs of their own. A held
 * job withdrawn meanwhile (its WITHDRAW found nothing at the broker) ends CANCELLED here. */
static void s_resubmit(tmq_client_t *c, int64_t now)
{
    tmq_submit_item_t it;
    if (!tmq_acks_next_due(&c->acks, now, &it)) return;
    s_send_batch(c);
    size_t sent = 0;
    do {
        if (tmq_idmap_count(&c->withdrawn) && tmq_idmap_has(&c->withdrawn, it.cid)) {
            s_fail(c, it.cid, TMQ_RESULT_CANCELLED, S_CANCELLED, strlen(S_CANCELLED));
        } else {
            s_enqueue(c, &it);
            sent++;
        }
    } while (tmq_acks_next_due(&c->acks, now, &it));
    s_send_batch(c);
    if (sent == 0) tmq_acks_round_void(&c->acks, now); /* no ACK will set the next round */
}

/* ---- outcomes ---- */

/* A failed result for id, if it is still in flight (tmq_acks_fail_fn). */
static void s_fail(void *arg, uint64_t id, tmq_result_status_t status, const char *text, size_t len)
{
    tmq_client_t *c = arg;
    if (!tmq_idmap_remove(&c->inflight, id, NULL)) return;
    if (tmq_idmap_count(&c->withdrawn)) tmq_idmap_remove(&c->withdrawn, id, NULL);
    tmq_resq_push(&c->results, tmq_result_failed(id, status, text, len));
}

typedef struct {
    tmq_resq_t *results;
    tmq_result_status_t status;
    const char *why;
} s_fail_all_t;

static void s_fail_drained(uint64_t id, void *value, void *arg)
{
    (void)value;
    s_fail_all_t *f = arg;
    tmq_resq_push(f->results, tmq_result_failed(id, f->status, f->why, strlen(f->why)));
}

/* Every job still awaiting a result fails at once with why (the broker is gone, or never
 * was ours): callers waiting for them are released. Jobs not yet sent are dropped too. LOST
 * ones keep the client's error as the reason they were lost. */
static void s_fail_all(tmq_client_t *c, tmq_result_status_t status, const char *why)
{
    if (status == TMQ_RESULT_LOST && tmq_idmap_count(&c->inflight))
        snprintf(c->lost_why, sizeof c->lost_why, "%s", c->error);
    tmq_acks_reset(&c->acks); /* their ACKs will not come */
    tmq_batch_reset(&c->batch);
    tmq_batch_reset(&c->withdraw);
    tmq_idmap_destroy(&c->withdrawn);
    tmq_idmap_init(&c->withdrawn);
    s_fail_all_t f = {&c->results, status, why};
    tmq_idmap_drain(&c->inflight, s_fail_drained, &f);
    if (tmq_cattach_active(&c->att)) {
        if (status == TMQ_RESULT_LOST) /* what tmq_client_lost_reason explains */
            snprintf(c->lost_why, sizeof c->lost_why, "%s", c->error);
        tmq_cattach_lose(&c->att); /* the batch's results that did not come will not */
    }
}

/* The broker fell silent with results due, or restarted and forgot us. */
static void s_broker_lost(tmq_client_t *c, const char *how)
{
    snprintf(c->error, sizeof c->error, "%s (%s)", S_LOST, how);
    tmq_info("client: %s; failing %zu jobs", c->error, tmq_idmap_count(&c->inflight));
    c->welcomed = false; /* until a broker answers again */
    s_fail_all(c, TMQ_RESULT_LOST, S_LOST);
}

/* "60 s", or "250 ms" for a timeout that is not whole seconds, into buf. */
static const char *s_span(uint32_t ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%u s", ms / 1000);
    else
        snprintf(buf, len, "%u ms", ms);
    return buf;
}

/* A journaled broker went away (how: how we noticed): nothing fails. The session outlives
 * the broker process, so say HELLO again (now, then with backoff) until one answers or the
 * loss timeout runs out (s_lost_tick). False when this is not such a broker (or the loss
 * timeout is 0): the caller fails every awaited job as it always did. */
static bool s_journal_wait(tmq_client_t *c, const char *how)
{
    if (tmq_csession_waiting(&c->sess)) return true; /* the backoff greets it */
    if (!tmq_csession_lose(&c->sess, tmq_clock_ms(), how)) return false;
    c->welcomed = false;
    c->hello_sent = true;
    char span[32];
    snprintf(c->error, sizeof c->error, "lost the broker (%s); waiting up to %s for it", how,
             s_span(c->sess.loss_timeout_ms, span, sizeof span));
    tmq_warn("client: lost the broker at %s (%s); waiting up to %s for it (it journals)",
             c->endpoint, how, span);
    s_send_hello(c);
    return true;
}

/* While a journaled broker is away: greet it again when due, and give up on it (fail every
 * awaited job LOST, as without a journal) once the loss timeout has passed. */
static void s_lost_tick(tmq_client_t *c, int64_t now)
{
    switch (tmq_csession_tick(&c->sess, now)) {
    case TMQ_SESSION_IDLE:
        return;
    case TMQ_SESSION_HELLO:
        s_send_hello(c);
        return;
    case TMQ_SESSION_GIVE_UP: {
        char span[32];
        snprintf(c->error, sizeof c->error, "%s (%s; no broker answered for %s)", S_LOST,
                 c->sess.how, s_span(c->sess.loss_timeout_ms, span, sizeof span));
        tmq_info("client: %s; failing %zu jobs", c->error, tmq_idmap_count(&c->inflight));
        c->hello_sent = false; /* a later wait for a broker greets again */
        s_fail_all(c, TMQ_RESULT_LOST, S_LOST);
        return;
    }
    }
}

/* RACK: every RESULTS item received since the WELCOME is acknowledged, so the broker may
 * forget those results (session.h says when). */
static void s_rack(tmq_client_t *c, int64_t now)
{
    uint64_t n;
    if (!tmq_csession_rack(&c->sess, c->welcomed, c->heartbeat_ms, now, &n)) return;
    size_t len;
    void *body = tmq_proto_rack_body_ex(n, c->epoch, &len); /* counted from that WELCOME */
    s_send(c, TMQ_CMD_RACK, &body, len);
}

/* ---- receiving from the actor ---- */

static void s_on_results(tmq_client_t *c, const tmq_msg_t *m)
{
    size_t n = tmq_msg_count(m), got = 0;
    tmq_csession_received(&c->sess, n); /* RACK counts every item, valid or not, repeated too */
    for (size_t i = 0; i < n; i++) {
        tmq_result_item_t it;
        if (tmq_msg_result_item(m, i, &it) != 0) continue;
        bool own = tmq_idmap_remove(&c->inflight, it.cid, NULL);
        if (!own && !tmq_cattach_take(&c->att, it.cid)) continue; /* duplicate or unknown */
        if (own && tmq_idmap_count(&c->withdrawn)) tmq_idmap_remove(&c->withdrawn, it.cid, NULL);
        tmq_result_status_t st = tmq_result_status_of(it.status, it.data, it.data_len);
        tmq_result_t *r = tmq_result_new(it.cid, st, it.data, it.data_len, it.worker, it.worker_len,
                                         it.ms, it.attempts);
        if (!own) tmq_result_set_batch(r);
        tmq_resq_push(&c->results, r);
        got += own;
    }
    tmq_acks_drained(&c->acks, got);
}

static void s_on_status(tmq_client_t *c, const tmq_wire_in_t *in)
{
    c->status_answered++;
    if (c->status_answered != c->status_asked) return; /* answer to a request given up on */
    free(c->status_body);
    c->status_len = zmq_msg_size((zmq_msg_t *)&in->body);
    c->status_body = tmq_xmemdup(zmq_msg_data((zmq_msg_t *)&in->body), c->status_len);
}

typedef struct {
    tmq_client_t *c;
    size_t jobs;
} s_resend_t;

static void s_resend(void *arg, const tmq_acks_sent_t *s)
{
    s_resend_t *r = arg;
    void *body = tmq_xmemdup(s->body, s->len);
    s_send(r->c, TMQ_CMD_SUBMIT, &body, s->len);
    r->jobs += s->ncids;
}

typedef struct {
    tmq_idmap_t *keep;
    tmq_batch_t *withdraw;
} s_rewithdraw_t;

static void s_rewithdraw(uint64_t id, void *value, void *arg)
{
    s_rewithdraw_t *r = arg;
    tmq_idmap_put(r->keep, id, value);
    tmq_batch_add_cid(r->withdraw, id);
}

/* A journaled broker took our session over (it came back, or met us anew): every SUBMIT not
 * yet ACKed goes again, as it was, in seq order; the broker counts the jobs it holds
 * accepted and creates nothing twice. Jobs held after "queue full" stay held. The jobs
 * withdrawn and not yet answered are named again in a WITHDRAW after them (the first may
 * have gone to a process that is gone; one for a job that has ended is ignored). Returns
 * the jobs resubmitted. */
static size_t s_resume(tmq_client_t *c)
{
    tmq_acks_number(&c->acks, &c->sess.seq, c->sess.id); /* sent before we knew: numbered now */
    s_resend_t r = {c, 0};
    tmq_acks_each_sent(&c->acks, s_resend, &r);
    if (tmq_idmap_count(&c->withdrawn)) {
        tmq_idmap_t keep;
        tmq_idmap_init(&keep);
        tmq_batch_reset(&c->withdraw); /* named again below, with all the others */
        s_rewithdraw_t rw = {&keep, &c->withdraw};
        tmq_idmap_drain(&c->withdrawn, s_rewithdraw, &rw);
        tmq_idmap_destroy(&c->withdrawn);
        c->withdrawn = keep;
        s_send_batch(c); /* the unsent SUBMIT first: the WITHDRAW may name its jobs */
    }
    return r.jobs;
}

/* ---- a broker back without our jobs ---- */

static void s_keep_cid(void *arg, uint64_t cid)
{
    tmq_idmap_put(arg, cid, NULL);
}

static void s_keep_copy(void *arg, const tmq_acks_sent_t *s)
{
    for (size_t i = 0; i < s->ncids; i++)
        tmq_idmap_put(arg, s->cids[i], NULL);
}

typedef struct {
    tmq_client_t *c;
    tmq_idmap_t *keep, *still;
    size_t failed;
} s_forgotten_t;

static void s_sort_forgotten(uint64_t id, void *value, void *arg)
{
    (void)value;
    s_forgotten_t *f = arg;
    if (tmq_idmap_has(f->keep, id)) {
        tmq_idmap_put(f->still, id, NULL);
        return;
    }
    static const char why[] = S_LOST " (it came back without our acknowledged jobs: its "
                                     "journal was lost or replaced)";
    if (tmq_idmap_count(&f->c->withdrawn)) tmq_idmap_remove(&f->c->withdrawn, id, NULL);
    tmq_resq_push(&f->c->results, tmq_result_failed(id, TMQ_RESULT_LOST, why, sizeof why - 1));
    f->failed++;
}

/* A journaled broker took our session over holding none of its jobs (a new, emptied or
 * replaced journal): the jobs it had acknowledged will never come. They fail LOST at once;
 * the ones it never acknowledged (kept copies, held after "queue full", not yet sent) stay,
 * resubmitted. */
static void s_fail_forgotten(tmq_client_t *c)
{
    tmq_idmap_t keep, still;
    tmq_idmap_init(&keep);
    tmq_idmap_init(&still);
    tmq_acks_each_sent(&c->acks, s_keep_copy, &keep);
    tmq_acks_each_held(&c->acks, s_keep_cid, &keep);
    for (size_t i = 0; i < c->batch.count; i++)
        tmq_idmap_put(&keep, c->batch_cids[i], NULL);
    s_forgotten_t f = {c, &keep, &still, 0};
    tmq_idmap_drain(&c->inflight, s_sort_forgotten, &f);
    tmq_idmap_destroy(&c->inflight);
    c->inflight = still;
    tmq_idmap_destroy(&keep);
    if (f.failed) {
        snprintf(c->lost_why, sizeof c->lost_why,
                 "the broker at %s came back without %zu of our acknowledged jobs", c->endpoint,
                 f.failed);
        tmq_warn("client: %s (its journal was lost or replaced): they fail", c->lost_why);
    }
}

/* ATTACH for the batch c->att names (and asks about). */
static void s_send_attach(tmq_client_t *c)
{
    size_t len;
    void *body = tmq_proto_attach_body(c->att.name, c->att.name_len, c->att.resume, &len);
    s_send(c, TMQ_CMD_ATTACH, &body, len);
}

static void s_on_welcome(tmq_client_t *c, const tmq_msg_t *m)
{
    tmq_welcome_t w;
    tmq_msg_welcome(m, &w);
    tmq_csession_welcome_t sw =
        tmq_csession_welcome(&c->sess, w.journal, c->welcomed, tmq_clock_ms());
    if (sw.gone) /* what answers now keeps no journal: the session's jobs went with the old one */
        s_broker_lost(c, "it came back without a journal");
    c->max_payload = w.max_payload;
    c->heartbeat_ms = w.heartbeat_ms;
    c->epoch = w.epoch;
    c->welcomed = true;
    c->hello_sent = false;
    c->refused = false;
    c->error[0] = '\0';
    size_t resent = sw.resume ? s_resume(c) : 0;
    if (sw.resume && w.journal && w.has_resumed && w.resumed == 0) s_fail_forgotten(c);
    if (sw.resume && tmq_cattach_again(&c->att)) s_send_attach(c); /* the results come again */
    if (sw.gone) /* said by s_broker_lost: nothing is "back" */
        ;
    else if (sw.away_ms >= 0)
        tmq_info("client: the broker at %s answered again %.1f s after we found it gone; "
                 "resubmitted %zu unacknowledged jobs (it held %llu of ours)",
                 c->endpoint, (double)sw.away_ms / 1000.0, resent, (unsigned long long)w.resumed);
    else if (sw.resume)
        tmq_debug("client: WELCOME again from %s; resubmitted %zu unacknowledged jobs", c->endpoint,
                  resent);
    else
        tmq_info("client: the broker at %s answered (TMQ/%u, heartbeat %u ms, max payload %u "
                 "bytes%s)",
                 c->endpoint, w.version, w.heartbeat_ms, w.max_payload,
                 w.journal ? ", journaled" : "");
}

/* BYE: the broker shuts down. Nothing awaited will come; a later wait_ready greets again. */
static void s_on_bye(tmq_client_t *c)
{
    if (s_journal_wait(c, "it shut down")) return; /* it may come back: the session waits */
    snprintf(c->error, sizeof c->error, "the " S_SHUT_DOWN);
    tmq_info("client: the broker at %s shut down; failing %zu jobs", c->endpoint,
             tmq_idmap_count(&c->inflight));
    c->welcomed = false;
    c->hello_sent = false;
    s_fail_all(c, TMQ_RESULT_LOST, S_SHUT_DOWN);
}

static void s_on_error(tmq_client_t *c, const tmq_msg_t *m)
{
    const char *reason = "";
    size_t len = 0;
    uint64_t code = 0;
    tmq_msg_get_str(m, "reason", &reason, &len);
    tmq_msg_get_uint(m, "code", &code);
    if (code == TMQ_ERR_WRONG_PORT) {
        /* Not a broker's client port: give up at once, with the broker's words. */
        snprintf(c->error, sizeof c->error, "%.*s", (int)len, reason);
        tmq_info("client: %s refused us: %s", c->endpoint, c->error);
        c->refused = true;
        c->welcomed = false;
        c->hello_sent = false;
        s_fail_all(c, TMQ_RESULT_REJECTED, c->error);
        return;
    }
    if (code == TMQ_ERR_COMMAND && tmq_cattach_on_refusal(&c->att)) {
        snprintf(c->error, sizeof c->error,
                 "this broker does not keep batches (taskmq 0.4 or older): %s", c->endpoint);
        return;
    }
    if (code == TMQ_ERR_COMMAND && tmq_idmap_count(&c->withdrawn)) {
        /* a 0.3 broker: the withdrawn jobs run on and bring their own results */
        if (!c->told_old)
            tmq_warn("client: the broker does not know WITHDRAW (taskmq 0.3 or older): "
                     "cancelled jobs run to their end and return their own results");
        c->told_old = true;
        return;
    }
    if (code != TMQ_ERR_UNKNOWN_PEER) {
        tmq_log_limited(TMQ_LOG_WARN, &c->log_rate, 5, "client: the broker reported an error: %.*s",
                        (int)len, reason);
        return;
    }
    /* the broker restarted and does not know us: the jobs it held are gone, unless it
     * journals (then the session takes them over: HELLO says which) */
    if (s_journal_wait(c, "it restarted and does not know us")) return;
    if (tmq_idmap_count(&c->inflight) || tmq_cattach_active(&c->att))
        s_broker_lost(c, "it restarted and does not know us");
    s_send_hello(c);
    c->hello_sent = true;
}

static void s_dispatch(tmq_client_t *c, const tmq_wire_in_t *in)
{
    const tmq_msg_t *m = &in->msg;
    switch (m->cmd) {
    case TMQ_CMD_RESULTS:
        s_on_results(c, m);
        break;
    case TMQ_CMD_ACK:
        tmq_acks_on_ack(&c->acks, m, &c->inflight, !c->fail_when_full, s_fail, c);
        break;
    case TMQ_CMD_WELCOME:
        s_on_welcome(c, m);
        break;
    case TMQ_CMD_STATUS_REPLY:
        s_on_status(c, in);
        break;
    case TMQ_CMD_BATCH:
        tmq_cattach_on_batch(&c->att, m);
        break;
    case TMQ_CMD_BYE:
        s_on_bye(c);
        break;
    case TMQ_CMD_ERROR:
        s_on_error(c, m);
        break;
    default:
        break;
    }
}

/* When the broker must have been heard from again (results are due and it heartbeats
 * when idle), or INT64_MAX when nothing is due. */
static int64_t s_liveness_deadline(const tmq_client_t *c)
{
    if (!c->welcomed || (tmq_idmap_count(&c->inflight) == 0 && !tmq_cattach_active(&c->att)))
        return INT64_MAX;
    int64_t heard = atomic_load_explicit(&c->shared.last_heard, memory_order_relaxed);
    return heard + (int64_t)S_BROKER_LIVENESS * c->heartbeat_ms;
}

/* Reads every message the actor has for us, without blocking; then resubmits held jobs
 * when due and gives up on a silent broker. */
/* The end of a named batch's input goes to the broker only once every job of it is there:
 * each SUBMIT answered and none held after "queue full" (a job the broker never took would
 * otherwise be missing from a batch it thinks complete). Called as ACKs come. */
static void s_batch_end(tmq_client_t *c)
{
    if (!c->batch_end || c->batch_end_sent || !c->batch_name_len || c->batch.count ||
        tmq_acks_unanswered(&c->acks) || tmq_acks_held(&c->acks))
        return;
    c->batch_end_sent = true;
    s_send_submit_ex(c, true); /* an empty SUBMIT says it */
}

static void s_drain(tmq_client_t *c)
{
    if (!c->pipe) return;
    for (;;) {
        tmq_wire_in_t in;
        int err = 0;
        int rc = tmq_wire_recv(c->pipe, false, &in, &err);
        if (rc == 0) break;
        if (rc == 1)
            s_dispatch(c, &in);
        else
            tmq_debug("client: malformed message from the broker (code %d)", err);
        tmq_wire_in_release(&in);
    }
    int64_t now = tmq_clock_ms();
    if (!tmq_csession_waiting(&c->sess)) s_resubmit(c, now); /* held stay held meanwhile */
    if (now >= s_liveness_deadline(c)) {
        char how[64];
        snprintf(how, sizeof how, "silent for %u ms", S_BROKER_LIVENESS * c->heartbeat_ms);
        if (!s_journal_wait(c, how)) s_broker_lost(c, how);
    }
    s_lost_tick(c, now);
    s_rack(c, now);
    s_batch_end(c);
}

/* Shortens timeout_ms (-1: forever) so the wait ends by `at`. */
static int s_until(int timeout_ms, int64_t at)
{
    if (at == INT64_MAX) return timeout_ms;
    int64_t left = at - tmq_clock_ms();
    if (left < 0) left = 0;
    return (timeout_ms < 0 || left < timeout_ms) ? (int)left : timeout_ms;
}

/* A descriptor is ready to read when it has data and also at end of file or in error: a
 * closed pipe reports POLLHUP alone, which zmq_poll shows as ZMQ_POLLERR. */
static bool s_fd_ready(const zmq_pollitem_t *it)
{
    return it->revents & (ZMQ_POLLIN | ZMQ_POLLERR);
}

/* Waits up to timeout_ms (-1 forever; shortened to the next resubmission time and the
 * broker's liveness deadline) for the actor, then drains it. extra_fd >= 0 is polled too;
 * returns its readiness as 2, or 0, or -1 when a signal interrupted the wait. */
static int s_pump(tmq_client_t *c, int timeout_ms, int extra_fd)
{
    if (!c->pipe) return -1;
    if (!tmq_csession_waiting(&c->sess))
        timeout_ms = s_until(timeout_ms, tmq_acks_retry_at(&c->acks));
    timeout_ms = s_until(timeout_ms, s_liveness_deadline(c));
    timeout_ms = s_until(timeout_ms, tmq_csession_deadline(&c->sess));
    zmq_pollitem_t items[2] = {{c->pipe, 0, ZMQ_POLLIN, 0}, {NULL, extra_fd, ZMQ_POLLIN, 0}};
    int rc = zmq_poll(items, extra_fd >= 0 ? 2 : 1, timeout_ms);
    if (rc < 0) return errno == EINTR ? -1 : 0;
    s_drain(c);
    return extra_fd >= 0 && s_fd_ready(&items[1]) ? 2 : 0;
}

/* Milliseconds left until deadline (timeout -1: forever). */
static int s_left(int timeout_ms, int64_t deadline)
{
    if (timeout_ms < 0) return -1;
    int64_t left = deadline - tmq_clock_ms();
    return left > 0 ? (int)left : 0;
}

const char *tmq_version(void)
{
    return TMQ_VERSION;
}

/* ---- lifecycle ---- */

/* czmq installs SIGINT/SIGTERM handlers when first used; a library must not take the
 * application's Ctrl-C away, so the handlers in place before are put back. */
/* mine, broker: CURVE certificates (both NULL: none). *monitor: its handshake failures. */
static zsock_t *s_new_dealer(const char *endpoint, zcert_t *mine, zcert_t *broker,
                             zsock_t **monitor)
{
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!dealer) return NULL;
    /* czmq is initialized now (its atexit teardown registered): ours goes after it. */
    pthread_once(&s_exit_once, s_register_at_exit);
    tmq_wire_setup(dealer);
    if (mine) tmq_curve_client(dealer, mine, broker);
    *monitor = tmq_curve_monitor(dealer); /* before connecting: no failure goes unseen */
    if (zsock_connect(dealer, "%s", endpoint) != 0) {
        tmq_curve_unmonitor(dealer, monitor);
        zsock_destroy(&dealer);
        return NULL;
    }
    return dealer;
}

static tmq_client_t *s_client_new(const char *endpoint, zcert_t *mine, zcert_t *broker)
{
    char why[256];
    if (!endpoint || tmq_endpoint_check(endpoint, false, why, sizeof why) != TMQ_EP_OK) {
        errno = EINVAL;
        return NULL;
    }
    zsock_t *monitor = NULL;
    zsock_t *dealer = s_new_dealer(endpoint, mine, broker, &monitor);
    if (!dealer) {
        errno = EINVAL;
        return NULL;
    }
    tmq_client_t *c = tmq_xcalloc(1, sizeof *c);
    if (tmq_csession_init(&c->sess) != 0) { /* no random source: no session id to make up */
        int err = errno;
        tmq_curve_unmonitor(dealer, &monitor);
        zsock_destroy(&dealer);
        free(c);
        errno = err;
        return NULL;
    }
    c->shared.hello = s_hello_body(c, &c->shared.hello_len);
    tmq_csession_hello_sent(&c->sess, tmq_clock_ms()); /* the actor sends it as it starts */
    c->shared.dealer = dealer;
    c->shared.monitor = monitor;
    c->shared.curve = mine != NULL;
    atomic_init(&c->shared.last_heard, tmq_clock_ms());
    c->conn = tmq_actor_new(tmq_conn_actor, &c->shared);
    if (!c->conn) {
        free(c->shared.hello); /* NULL when the actor took it */
        tmq_curve_unmonitor(dealer, &monitor);
        zsock_destroy(&dealer);
        free(c);
        return NULL;
    }
    c->pipe = zsock_resolve(tmq_actor_sock(c->conn));
    c->endpoint = tmq_xstrdup(endpoint);
    c->retries = -1;
    c->hello_sent = true; /* by the actor, as it starts */
    c->heartbeat_ms = TMQ_PROTO_HEARTBEAT_DEFAULT;
    c->window = S_WINDOW;
    tmq_batch_init(&c->batch);
    tmq_idmap_init(&c->inflight);
    tmq_idmap_init(&c->withdrawn);
    tmq_batch_init(&c->withdraw);
    tmq_acks_init(&c->acks);
    tmq_resq_init(&c->results);
    tmq_cattach_init(&c->att);
    pthread_mutex_lock(&s_live_lock);
    tmq_list_push_back(&s_live, &c->live);
    pthread_mutex_unlock(&s_live_lock);
    tmq_info("client: connecting to the broker at %s", endpoint);
    return c;
}

tmq_client_t *tmq_client_new(const char *endpoint)
{
    return s_client_new(endpoint, NULL, NULL);
}

tmq_client_t *tmq_client_new_curve(const char *endpoint, const char *cert_file,
                                   const char *broker_cert_file, char *why, size_t why_len)
{
    char buf[512];
    if (!why || why_len == 0) {
        why = buf;
        why_len = sizeof buf;
    }
    if (!cert_file || !broker_cert_file) {
        snprintf(why, why_len, "both certificates are needed: this client's and the broker's");
        errno = EINVAL;
        return NULL;
    }
    zcert_t *mine = tmq_curve_load(cert_file, true, why, why_len);
    zcert_t *broker = mine ? tmq_curve_load(broker_cert_file, false, why, why_len) : NULL;
    tmq_client_t *c = NULL;
    if (broker) {
        c = s_client_new(endpoint, mine, broker);
        if (!c) snprintf(why, why_len, "cannot connect to %s", endpoint ? endpoint : "(null)");
    } else {
        errno = EINVAL;
    }
    zcert_destroy(&mine);
    zcert_destroy(&broker);
    return c;
}

/* Says BYE and stops the actor. BYE goes through the pipe ahead of $TERM; the actor's
 * DEALER lingers to deliver it. */
static void s_stop_conn(tmq_client_t *c)
{
    if (!c->conn) return;
    s_send_empty(c, TMQ_CMD_BYE);
    tmq_actor_destroy(&c->conn);
    c->pipe = NULL;
}

void tmq_client_destroy(tmq_client_t **cp)
{
    if (!cp || !*cp) return;
    tmq_client_t *c = *cp;
    *cp = NULL;
    /* Off the list under the lock, stopped outside it: stopping joins the actor's thread,
     * which must not hold up other clients' new/destroy (nor exit). Once off the list the
     * exit handler no longer touches c, so only this thread stops it. */
    pthread_mutex_lock(&s_live_lock);
    tmq_list_remove(&s_live, &c->live);
    pthread_mutex_unlock(&s_live_lock);
    /* every job of an ended batch has its result (so the broker took each): its last ACK
       may still be on the way, the end need not wait for it */
    if (c->batch_end && !c->batch_end_sent && c->conn && tmq_idmap_count(&c->inflight) == 0 &&
        !tmq_acks_held(&c->acks)) {
        c->batch_end_sent = true;
        s_send_submit_ex(c, true);
    }
    s_stop_conn(c);
    tmq_batch_destroy(&c->batch);
    free(c->batch_cids);
    tmq_idmap_destroy(&c->inflight);
    tmq_idmap_destroy(&c->withdrawn);
    tmq_batch_destroy(&c->withdraw);
    tmq_resq_destroy(&c->results);
    tmq_acks_destroy(&c->acks);
    tmq_cattach_destroy(&c->att);
    free(c->status_body);
    free(c->endpoint);
    free(c);
}

const char *tmq_client_error(const tmq_client_t *c)
{
    return c ? c->error : "";
}

const char *tmq_client_lost_reason(const tmq_client_t *c)
{
    return c ? c->lost_why : "";
}

int tmq_client_wait_ready(tmq_client_t *c, int timeout_ms)
{
    if (!c) return -1;
    int64_t deadline = tmq_clock_ms() + timeout_ms;
    if (!c->welcomed && !c->hello_sent) {
        /* The broker we knew was lost, or refused us: greet whichever answers now. */
        c->refused = false;
        s_send_hello(c);
        c->hello_sent = true;
    }
    s_drain(c);
    while (!c->welcomed) {
        if (c->refused) return -1;
        int left = s_left(timeout_ms, deadline);
        if (left == 0) {
            snprintf(c->error, sizeof c->error, "no broker answered at %s within %d ms",
                     c->endpoint, timeout_ms);
            return -1;
        }
        if (s_pump(c, left, -1) < 0) return -1;
    }
    return 0;
}

void tmq_client_set_timeout(tmq_client_t *c, uint32_t timeout_ms)
{
    if (c) c->timeout_ms = timeout_ms;
}

void tmq_client_set_retries(tmq_client_t *c, int retries)
{
    if (c) c->retries = retries < 0 ? -1 : retries;
}

void tmq_client_set_mem_limit(tmq_client_t *c, uint64_t bytes)
{
    if (c) c->mem_limit = bytes;
}

void tmq_client_set_retry_oom(tmq_client_t *c, bool on)
{
    if (c) c->retry_oom = on;
}

void tmq_client_set_broker_loss_timeout(tmq_client_t *c, uint32_t ms)
{
    if (!c || c->sess.loss_timeout_ms == ms) return;
    c->sess.loss_timeout_ms = ms;
    /* The broker learns it as our session's linger_ms from HELLO: say it again. */
    if (c->conn) s_send_hello(c);
}

bool tmq_client_journaled(const tmq_client_t *c)
{
    return c && c->sess.journal;
}

bool tmq_client_broker_away(const tmq_client_t *c)
{
    return c && tmq_csession_waiting(&c->sess);
}

void tmq_client_set_fail_when_full(tmq_client_t *c, bool fail)
{
    if (c) c->fail_when_full = fail;
}

void tmq_client_set_window(tmq_client_t *c, size_t jobs)
{
    if (c) c->window = jobs ? jobs : 1;
}

/* ---- jobs ---- */

/* The biggest argument worth sending: the broker's limit once known, else what fits a
 * body. A larger one fails at once instead of making the broker drop a whole batch. */
static size_t s_max_arg(const tmq_client_t *c)
{
    if (c->max_payload) return c->max_payload;
    return TMQ_PROTO_MAX_BODY - 4096;
}

/* Why a job cannot be valid, into why; false when it can. */
static bool s_invalid(const tmq_client_t *c, size_t fn_len, const void *arg, size_t arg_len,
                      char *why, size_t len)
{
    if (fn_len == 0 || fn_len > TMQ_PROTO_MAX_FNAME)
        snprintf(why, len, "bad job: function name must be 1 to %d bytes, not %zu",
                 TMQ_PROTO_MAX_FNAME, fn_len);
    else if (!arg || tmq_proto_check(arg, arg_len, TMQ_PROTO_MAX_DEPTH) != 0)
        snprintf(why, len, "bad job: argument is not one msgpack value nested at most %d deep",
                 TMQ_PROTO_MAX_DEPTH);
    else if (arg_len > s_max_arg(c))
        snprintf(why, len, "payload too large: %zu bytes (limit %zu)", arg_len, s_max_arg(c));
    else
        return false;
    return true;
}

int tmq_submit(tmq_client_t *c, const char *function, const void *arg, size_t arg_len,
               uint64_t *job_id)
{
    if (!c || !function) {
        errno = EINVAL;
        return -1;
    }
    if (c->att.attached) { /* the batch's ids and ours would mix */
        errno = EBUSY;
        return -1;
    }
    /* A job the broker would refuse still takes an id and fails as a result, so ids stay
     * input positions and every submitted job yields exactly one result. */
    size_t fn_len = strlen(function);
    char why[128];
    bool bad = s_invalid(c, fn_len, arg, arg_len, why, sizeof why);
    if (tmq_idmap_count(&c->inflight) >= c->window) {
        s_send_batch(c);
        while (tmq_idmap_count(&c->inflight) >= c->window) {
            if (s_pump(c, -1, -1) < 0) {
                errno = EINTR;
                return -1;
            }
        }
    }
    uint64_t id = c->next_id++;
    c->submitted++;
    if (job_id) *job_id = id;
    tmq_idmap_put(&c->inflight, id, NULL);
    if (bad) {
        s_fail(c, id, TMQ_RESULT_REJECTED, why, strlen(why));
        return 0;
    }
    tmq_submit_item_t it = {.cid = id,
                            .fn = function,
                            .fn_len = fn_len,
                            .arg = arg,
                            .arg_len = arg_len,
                            .timeout_ms = c->timeout_ms,
                            .retries = c->retries,
                            .mem_limit = c->mem_limit,
                            .retry_oom = c->retry_oom};
    s_enqueue(c, &it);
    return 0;
}

int tmq_cancel(tmq_client_t *c, uint64_t job_id)
{
    if (!c) {
        errno = EINVAL;
        return -1;
    }
    if (!tmq_idmap_has(&c->inflight, job_id)) {
        errno = ENOENT;
        return -1;
    }
    if (tmq_acks_drop_held(&c->acks, job_id)) { /* "queue full": the broker does not hold it */
        s_fail(c, job_id, TMQ_RESULT_CANCELLED, S_CANCELLED, strlen(S_CANCELLED));
        return 0;
    }
    if (!tmq_idmap_put(&c->withdrawn, job_id, NULL)) return 0; /* asked already */
    s_send_submit(c); /* the SUBMIT carrying the job goes first, the WITHDRAW with the next */
    tmq_batch_add_cid(&c->withdraw, job_id); /* batch (tmq_next, tmq_wait, tmq_flush) */
    return 0;
}

int tmq_flush(tmq_client_t *c)
{
    if (c) s_send_batch(c);
    return 0;
}

static tmq_result_t *s_take(tmq_client_t *c)
{
    tmq_result_t *r = tmq_resq_pop(&c->results);
    if (r && tmq_result_is_batch(r))
        tmq_cattach_returned(&c->att);
    else if (r)
        c->returned++;
    return r;
}

tmq_result_t *tmq_next(tmq_client_t *c, int timeout_ms)
{
    if (!c) return NULL;
    s_send_batch(c);
    if (c->results.count) return s_take(c);
    s_drain(c);
    int64_t deadline = tmq_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (c->results.count == 0) {
        int left = s_left(timeout_ms, deadline);
        if (left == 0) return NULL;
        if (s_pump(c, left, -1) < 0) return NULL;
    }
    return s_take(c);
}

int tmq_wait(tmq_client_t *c, int fd, int timeout_ms)
{
    if (!c) return -1;
    s_send_batch(c);
    s_drain(c);
    int64_t deadline = tmq_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int ready = c->results.count ? TMQ_WAIT_RESULT : 0;
        if (ready) {
            /* A result is ready: only look at fd, do not wait for it. */
            zmq_pollitem_t it = {NULL, fd, ZMQ_POLLIN, 0};
            if (fd >= 0 && zmq_poll(&it, 1, 0) > 0 && s_fd_ready(&it)) ready |= TMQ_WAIT_FD;
            return ready;
        }
        int left = s_left(timeout_ms, deadline);
        int rc = s_pump(c, left, fd);
        if (rc < 0) return -1;
        if (rc > 0) return TMQ_WAIT_FD | (c->results.count ? TMQ_WAIT_RESULT : 0);
        if (c->results.count) continue;
        if (s_left(timeout_ms, deadline) == 0) return 0;
    }
}

size_t tmq_pending(const tmq_client_t *c)
{
    return c ? (size_t)(c->submitted - c->returned) : 0;
}

void *tmq_client_status(tmq_client_t *c, int timeout_ms, size_t *len)
{
    if (!c) return NULL;
    int64_t deadline = tmq_clock_ms() + timeout_ms;
    free(c->status_body);
    c->status_body = NULL;
    c->status_asked++;
    s_send_empty(c, TMQ_CMD_STATUS);
    while (!c->status_body) {
        int left = s_left(timeout_ms, deadline);
        if (left == 0 || c->refused) return NULL;
        if (s_pump(c, left, -1) < 0) return NULL;
    }
    void *body = c->status_body;
    if (len) *len = c->status_len;
    c->status_body = NULL;
    return body;
}

/* ---- named batches (5.8) ---- */

int tmq_client_set_batch(tmq_client_t *c, const char *name, uint32_t ttl_ms)
{
    size_t len = name ? strlen(name) : 0;
    if (!c || (name && !tmq_proto_batch_name_ok(name, len))) {
        errno = EINVAL;
        return -1;
    }
    s_send_batch(c); /* jobs submitted so far go to the batch they were submitted to */
    memcpy(c->batch_name, name ? name : "", len);
    c->batch_name[len] = '\0';
    c->batch_name_len = len;
    c->batch_ttl_ms = ttl_ms > TMQ_PROTO_BATCH_TTL_MAX ? TMQ_PROTO_BATCH_TTL_MAX : ttl_ms;
    c->batch_end = c->batch_end_sent = false;
    return 0;
}

int tmq_client_end_batch(tmq_client_t *c)
{
    if (!c || !c->batch_name_len) {
        errno = EINVAL;
        return -1;
    }
    c->batch_end = true;
    s_send_batch(c);
    s_batch_end(c);
    return 0;
}

int tmq_client_set_next_id(tmq_client_t *c, uint64_t id)
{
    if (!c || id < c->next_id || id == TMQ_IDMAP_NONE) {
        errno = EINVAL;
        return -1;
    }
    c->next_id = id;
    return 0;
}

/* Sends ATTACH (resume: only asking) and waits for its answer. Returns 0 once answered, or -1
 * with errno and c->error set. */
static int s_ask_batch(tmq_client_t *c, const char *name, bool resume, int timeout_ms)
{
    size_t len = name ? strlen(name) : 0;
    if (!c || !name || !tmq_proto_batch_name_ok(name, len)) {
        errno = EINVAL;
        return -1;
    }
    if (resume ? c->att.attached : tmq_pending(c) > 0) {
        errno = EBUSY;
        return -1;
    }
    s_send_batch(c);
    tmq_cattach_ask(&c->att, name, len, resume);
    s_send_attach(c);
    int64_t deadline = tmq_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    s_drain(c);
    while (!c->att.answered) {
        int left = s_left(timeout_ms, deadline);
        if (left == 0 || c->refused || tmq_cattach_state(&c->att) == TMQ_ATTACH_LOST ||
            (c->att.phase == TMQ_CATTACH_NONE && !c->att.answered)) {
            if (!c->refused && !*c->error)
                snprintf(c->error, sizeof c->error, "no answer from the broker at %s within %d ms",
                         c->endpoint, timeout_ms);
            c->att.phase = TMQ_CATTACH_NONE; /* a late answer is dropped */
            errno = ETIMEDOUT;
            return -1;
        }
        if (s_pump(c, left, -1) < 0) {
            errno = EINTR;
            return -1;
        }
    }
    if (c->att.refused) {
        errno = ENOTSUP;
        return -1;
    }
    return 0;
}

int tmq_client_attach(tmq_client_t *c, const char *name, tmq_batch_status_t *st, int timeout_ms)
{
    if (s_ask_batch(c, name, false, timeout_ms) != 0) return -1;
    if (st) *st = c->att.answer; /* later BATCHes may have been read with it */
    if (!c->att.answer.known) {
        snprintf(c->error, sizeof c->error, "no batch named %s at %s", name, c->endpoint);
        errno = ENOENT;
        return -1;
    }
    return 0;
}

tmq_attach_state_t tmq_client_attach_state(const tmq_client_t *c)
{
    return c ? tmq_cattach_state(&c->att) : TMQ_ATTACH_NONE;
}

int tmq_client_batch_status(const tmq_client_t *c, tmq_batch_status_t *st)
{
    if (!c || !c->att.attached || !st) return -1;
    *st = c->att.st;
    return 0;
}

int tmq_client_batch_done(tmq_client_t *c, const char *name, uint64_t **cids, size_t *n,
                          tmq_batch_status_t *st, int timeout_ms)
{
    if (!cids || !n) {
        errno = EINVAL;
        return -1;
    }
    *cids = NULL;
    *n = 0;
    if (s_ask_batch(c, name, true, timeout_ms) != 0) return -1;
    if (st) *st = c->att.answer;
    *cids = c->att.ok; /* handed over */
    *n = c->att.nok;
    c->att.ok = NULL;
    c->att.nok = 0;
    return 0;
}
