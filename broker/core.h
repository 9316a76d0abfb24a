/* broker/core.h — the broker as a pure state machine: decoded messages in, outboxes out.
 *
 * The core owns the job table, function queues and the client and worker registries. The
 * loop feeds it each decoded message with the current time, then calls tmq_core_tick once
 * per turn (dispatch, heartbeats, expiry, revocation) and tmq_core_flush with a send
 * callback. No sockets and no clock of its own, so tests drive it message by message.
 * Handlers are split by side: frontend.c (clients), backend.c (workers), dispatch.c.
 *
 * Jobs never wait for nothing: while no worker at all is connected they stay queued (so a
 * cluster may start in any order), but once some worker is connected, a function with queued
 * jobs that no connected worker serves gets TMQ_UNSERVED_GRACE heartbeats for one to arrive;
 * then each of its queued jobs fails with "unknown function: NAME", once, to its client.
 */
#ifndef TMQ_BROKER_CORE_H
#define TMQ_BROKER_CORE_H

#include "clients.h"
#include "fnreg.h"
#include "jobtab.h"
#include "outbox.h"
#include "ridmap.h"
#include "stats.h"
#include "workers.h"

#include <czmq.h>
#include <log.h>
#include <proto.h>
#include <stdbool.h>
#include <stdint.h>

#define TMQ_CLIENT_LIVENESS 5    /* heartbeats of silence before a client is dropped */
#define TMQ_WORKER_LIVENESS 3    /* ... before a worker is dropped and its jobs requeued */
#define TMQ_REVOKE_AFTER_MS 4    /* a process idle this long may reclaim prefetched jobs */
#define TMQ_REVOKE_RETRY_MS 1000 /* an unanswered REVOKE may be repeated after this */
#define TMQ_UNSERVED_GRACE 3     /* heartbeats queued jobs of an unserved function may wait */
#define TMQ_MAX_TRANSIENT 1024   /* replies to unregistered peers kept per turn */
#define TMQ_MAX_RETRIES 1000
#define TMQ_READY_MAX_FNS 1024

typedef struct {
    uint32_t heartbeat_ms; /* > 0 */
    size_t max_queue;      /* QUEUED jobs accepted at most */
    uint32_t max_payload;  /* bytes per argument or result */
    int retries;           /* default deaths tolerated per job */
    size_t max_pending;    /* bytes owed to a client past which it gets no more (SUBMIT is
                              refused "queue full", STATUS unanswered); 0 = the default,
                              TMQ_OUTBOX_MAX_PENDING */
    const char *frontend;  /* the bound endpoints, named in the "wrong port" ERROR (only read */
    const char *backend;   /* by tmq_core_new); NULL: the default ports 5555 and 5556 */
    bool insecure;         /* --insecure: said in STATUS_REPLY */
    const struct tmq_zap_t *zap;   /* the connection checks, if running (refusals counted) */
    struct tmq_journal_t *journal; /* --journal: sessions' jobs are journaled (borrowed; NULL:
                                      none, and sessions are ignored) */
} tmq_core_config_t;

#define TMQ_CORE_REASON_MAX 512 /* bytes of a "wrong port" reason */

typedef struct tmq_core_t {
    tmq_core_config_t cfg;
    tmq_jobtab_t *jobs;
    tmq_fnreg_t *fns;
    tmq_bworkers_t *workers;
    tmq_bclients_t *clients;
    tmq_bstats_t stats;
    tmq_rate_t log_rate;  /* bad-input log lines */
    tmq_rate_t err_rate;  /* log lines about ERROR messages from peers */
    int64_t now;          /* time of the call being handled */
    int64_t next_scan;    /* heartbeats and expiry */
    tmq_outbox_t **flush; /* outboxes with something to send */
    size_t nflush, flush_cap, ntransient;
    tmq_fn_t **dfns; /* functions whose queue grew (dispatch them) */
    size_t ndfns, dfns_cap;
    tmq_bworker_t **dworkers; /* workers whose credit grew */
    size_t ndworkers, dworkers_cap;
    tmq_outbox_t **gone; /* peers found unreachable during a flush */
    size_t ngone, gone_cap;
    int64_t next_revoke;       /* earliest next revocation scan */
    uint64_t revoke_gen;       /* tmq_bworkers_gen at the last revocation scan */
    zhashx_t *unserved;        /* name -> functions that may have queued jobs and no worker */
    int64_t workers_since;     /* when the first worker arrived while none was connected */
    bool closing;              /* tmq_core_shutdown was called */
    tmq_batch_t scratch;       /* ACK rejections under construction */
    uint64_t submit_seq;       /* SUBMITs handled (marks tmq_fn_t.ack_seq) */
    const char **ack_unserved; /* the ACK's `unserved` names under construction */
    size_t nack_unserved, ack_unserved_cap;
    char wrong_port[2][TMQ_CORE_REASON_MAX]; /* ERROR 5 reason, by the side it arrived on */
    /* sessions (session.c), with cfg.journal only */
    zhashx_t *sessions;   /* hex session id -> its tmq_bclient_t, attached or not */
    tmq_list_t detached;  /* session records no connection holds, linked through dlink */
    msgpack_sbuffer jbuf; /* a journal record's body under construction */
    bool journal_down;    /* the journal failed and that was logged (once per failure) */
    uint64_t replayed_jobs, replayed_results; /* what the journal handed over at start */
    bool replaying;                           /* inside tmq_session_replay */
    tmq_idmap_t jrefs;  /* jid -> holders (2) of a record a batch and a session both hold */
    uint64_t *deferred; /* forgets asked for during the replay, done after it */
    size_t ndeferred, deferred_cap;
    /* named batches (batches.c) */
    zhashx_t *batches;     /* name -> tmq_bbatch_t */
    tmq_idmap_t batch_ids; /* id -> tmq_bbatch_t */
    uint32_t next_batch;
    msgpack_sbuffer listing;           /* STATUS_REPLY's `batches` under construction */
    struct tmq_bbatch_t *submit_batch; /* the batch of the SUBMIT being handled */
} tmq_core_t;

/* ---- driving the core (the loop and tests) ---- */

tmq_core_t *tmq_core_new(const tmq_core_config_t *cfg, int64_t now);

/* The deaths a job tolerates, from what its SUBMIT (or its journal record) asked: below 0 the
 * broker's --retries, above TMQ_MAX_RETRIES that cap. */
static inline int16_t tmq_core_retries(const tmq_core_t *self, int64_t asked)
{
    return (int16_t)(asked < 0                 ? self->cfg.retries
                     : asked > TMQ_MAX_RETRIES ? TMQ_MAX_RETRIES
                                               : asked);
}
void tmq_core_destroy(tmq_core_t **self_p);

/* One decoded message from a client (frontend) or worker (backend). The message is only
 * borrowed: everything kept is copied. Never fails: bad input is answered, counted, dropped.
 * addr is the worker's address as the loop sees the connection ("IP:PORT"; NULL or "" when
 * unknown); only READY reads it. */
void tmq_core_frontend(tmq_core_t *self, int64_t now, const void *rid, size_t rid_len,
                       const tmq_msg_t *msg);
void tmq_core_backend(tmq_core_t *self, int64_t now, const void *rid, size_t rid_len,
                      const char *addr, const tmq_msg_t *msg);
/* A message that did not decode (tmq_wire_recv returned -1); cmd is the command its header
 * named (0: none). Counted; when rid is known it is answered: a SUBMIT on the frontend by one
 * ACK refusing it whole (`error`: why), another side's command by ERROR "wrong port", anything
 * else by ERROR errcode. */
void tmq_core_malformed(tmq_core_t *self, int64_t now, int side, const void *rid, size_t rid_len,
                        int cmd, int errcode, const char *why);

/* End of the turn's input: dispatch, heartbeats, expiry, failing the queued jobs of
 * functions past their grace period, revocation, rate sampling.
 * Returns when it next has timed work to do (absolute ms). */
int64_t tmq_core_tick(tmq_core_t *self, int64_t now);

/* Sends what one outbox holds, in order, never blocking: returns 0 when all went, 1 when the
 * peer would block (the rest stays for the next flush), -1 when the peer is unreachable. */
typedef int(tmq_core_send_fn)(void *ctx, tmq_outbox_t *ob);
/* Offers every outbox with pending output to send. Unreachable peers are dropped as if they
 * had left (a client's jobs are cancelled, a worker's requeued). */
void tmq_core_flush(tmq_core_t *self, int64_t now, tmq_core_send_fn *send, void *ctx);
/* True when output or dispatch work is waiting (after a flush: a peer would block, or a
 * peer found unreachable left jobs to requeue or cancel). */
bool tmq_core_pending(const tmq_core_t *self);
/* True when dispatch work is waiting (run the next turn at once); output a peer would not
 * take yet does not count. */
bool tmq_core_ready(const tmq_core_t *self);

/* The broker is shutting down: queues BYE to every worker (dropping the jobs not yet sent to
 * it) and to every client (after the results it is still owed); flush afterwards. */
void tmq_core_shutdown(tmq_core_t *self);

tmq_bclient_t *tmq_core_client(tmq_core_t *self, const void *rid, size_t rid_len);
tmq_bworker_t *tmq_core_worker(tmq_core_t *self, const void *rid, size_t rid_len);

/* ---- shared by core.c, frontend.c, backend.c and dispatch.c ---- */

/* Puts ob on the flush list / takes it off. */
void tmq_core_mark(tmq_core_t *self, tmq_outbox_t *ob);
void tmq_core_unmark(tmq_core_t *self, tmq_outbox_t *ob);
/* Queues a control message (takes *body_p) for a registered peer and marks it. */
void tmq_core_send(tmq_core_t *self, tmq_outbox_t *ob, int cmd, void **body_p, size_t len);
/* Queues a one-off message for a peer that may not be registered (takes *body_p). */
void tmq_core_reply(tmq_core_t *self, int side, const void *rid, size_t rid_len, int cmd,
                    void **body_p, size_t len);
void tmq_core_reply_error(tmq_core_t *self, int side, const void *rid, size_t rid_len, int code,
                          const char *reason);
/* Counts bad input and logs it through the rate limiter. */
void tmq_core_bad_input(tmq_core_t *self, int side, const char *what, const char *why);
/* An ERROR a peer sent us: logged through its own rate limiter, neither counted nor answered
 * (answering could start an endless exchange of ERRORs). */
void tmq_core_peer_error(tmq_core_t *self, int side, const tmq_msg_t *msg);
/* True when cmd is the other peer kind's command (READY, DONE, RETURNED on the frontend;
 * HELLO, SUBMIT, STATUS on the backend): the peer connected to the wrong port. */
bool tmq_core_wrong_side(int side, int cmd);
/* Tells the peer so: ERROR TMQ_ERR_WRONG_PORT naming the right port (counted, logged). */
void tmq_core_wrong_port(tmq_core_t *self, int side, const void *rid, size_t rid_len, int cmd);
/* frontend.c: a SUBMIT refused whole (it did not decode): one ACK {accepted: 0, rejected: [],
 * error: why} to rid, registered as a client as any SUBMIT would register it. */
void tmq_core_bad_submit(tmq_core_t *self, const void *rid, size_t rid_len, const char *why);

/* How log lines name a peer: its routing id in hex (at most 16 bytes of it). Use as
 * tmq_core_peer_id(ob).s within one expression. */
typedef struct {
    char s[33];
} tmq_peer_id_t;
static inline tmq_peer_id_t tmq_core_peer_id(const tmq_outbox_t *ob)
{
    tmq_peer_id_t id;
    tmq_ridmap_hex(id.s, sizeof id.s, ob->rid, ob->rid_len);
    return id;
}

void tmq_core_fn_dirty(tmq_core_t *self, tmq_fn_t *fn);
void tmq_core_worker_dirty(tmq_core_t *self, tmq_bworker_t *w);

/* Job lifecycle. lease: QUEUED job (already unlinked from its queue) -> w, appended to w's
 * JOBS batch. requeue: LEASED -> QUEUED at the front or back of its function's queue.
 * finish: LEASED -> DONE/FAILED, result to the client's RESULTS batch, record freed. */
void tmq_core_lease(tmq_core_t *self, tmq_bjob_t *job, tmq_bworker_t *w, bool is_long);
void tmq_core_requeue(tmq_core_t *self, tmq_bjob_t *job, bool front);
void tmq_core_finish(tmq_core_t *self, tmq_bjob_t *job, int status, const void *data, size_t len,
                     const char *worker, size_t worker_len, double ms);

/* The job's client withdrew it (WITHDRAW): a RESULTS item CANCELLED to the client, then
 * queued, it is dropped; leased, its worker is told to stop it (CANCEL). Record freed. */
void tmq_core_withdraw(tmq_core_t *self, tmq_bjob_t *job);

/* A client left (BYE, expiry, unreachable): queued jobs dropped, running ones cancelled. */
void tmq_core_drop_client(tmq_core_t *self, tmq_bclient_t **c_p);
/* Puts every job w holds back at the front of its queue, in order (not counted as a death;
 * the next lease is a new attempt). */
void tmq_core_requeue_held(tmq_core_t *self, tmq_bworker_t *w);
/* A worker left (BYE, expiry, unreachable): its held jobs are requeued, the record freed. */
void tmq_core_drop_worker(tmq_core_t *self, tmq_bworker_t **w_p);
/* w is about to stop serving its functions (it leaves or registers again): those with queued
 * jobs it alone serves start their grace period. Call after its held jobs were requeued. */
void tmq_core_detaching(tmq_core_t *self, tmq_bworker_t *w);
/* fn has queued jobs (or is about to) and may have no worker: watched from now on. */
void tmq_core_unserved(tmq_core_t *self, tmq_fn_t *fn);

/* ---- sessions (session.c): PROTOCOL.md 5.7; all no-ops without cfg.journal ---- */

/* Sets up / frees the session registry (tmq_core_new / tmq_core_destroy). */
void tmq_session_setup(tmq_core_t *self);
void tmq_session_teardown(tmq_core_t *self);
/* A HELLO, or a SUBMIT from a routing id not known, carrying session sid: the record for sid
 * now answers at rid (a detached one attached, one another connection held moved, or a new
 * one), with WELCOME {journal, resumed} queued and every result not yet acknowledged queued
 * again after it. c is rid's current record (NULL if none). Returns the record for rid. */
tmq_bclient_t *tmq_session_claim(tmq_core_t *self, const void *rid, size_t rid_len,
                                 tmq_bclient_t *c, const uint8_t *sid, uint32_t linger_ms);
/* c's connection is gone (expired, unreachable): a session is detached and kept for its
 * linger, anything else dropped (tmq_core_drop_client). Nulls *c_p. */
void tmq_session_lose(tmq_core_t *self, tmq_bclient_t **c_p);
/* True when c is a session that already holds cid (live or with a result): a resubmission. */
bool tmq_session_holds(const tmq_bclient_t *c, uint64_t cid);
/* Journals the ACCEPT of job (NEW, fields set, of session client c). 0, or -1 when the
 * journal refused it (the reason in tmq_session_refusal). */
int tmq_session_accept(tmq_core_t *self, tmq_bclient_t *c, tmq_bjob_t *job);
const char *tmq_session_refusal(const tmq_core_t *self);
/* job was leased (journals its attempt). */
void tmq_session_started(tmq_core_t *self, tmq_bjob_t *job);
/* The outcome it of job (a result, or CANCELLED for a withdrawn one), for a session client:
 * journaled, held until acknowledged, and queued to the client. batch_keeps: its batch keeps
 * it too (the record goes when both let go). */
void tmq_session_result(tmq_core_t *self, tmq_bjob_t *job, const tmq_result_item_t *it,
                        bool batch_keeps);
/* A session's job ends without a result kept (cancelled): the journal forgets it. */
void tmq_session_forget(tmq_core_t *self, tmq_bjob_t *job);
/* Before c is removed: its held results are forgotten and freed, it leaves the registry. */
void tmq_session_release(tmq_core_t *self, tmq_bclient_t *c);
/* Its held results are forgotten and freed (it stays a session). */
void tmq_session_drop_held(tmq_core_t *self, tmq_bclient_t *c);
/* RACK from c: the results it received are forgotten. */
void tmq_session_rack(tmq_core_t *self, tmq_bclient_t *c, const tmq_msg_t *msg);
/* Drops detached sessions past their linger (their jobs cancelled). */
void tmq_session_scan(tmq_core_t *self);
/* Replays the journal into the core (once, before serving): returns the jobs handed over,
 * or -1 (logged). */
long tmq_session_replay(tmq_core_t *self);
/* Once per turn, before the flush: commits the journal (group commit) and runs its upkeep. */
void tmq_session_commit(tmq_core_t *self, int64_t now);
/* When the journal next wants a commit of its own (absolute ms), INT64_MAX for never. */
int64_t tmq_session_due(const tmq_core_t *self, int64_t now);
/* Before a send: opens ob's held messages up to what is durable; false when nothing of it
 * may go now (it stays on the flush list). */
bool tmq_session_may_send(const tmq_core_t *self, tmq_outbox_t *ob);
/* The hold for an ACK of c accepting `accepted` jobs (numbered: its SUBMIT had a seq): the
 * latest append made for c (0: none). */
uint64_t tmq_session_ack_hold(const tmq_core_t *self, const struct tmq_bclient_t *c,
                              uint64_t accepted, bool numbered);

/* A client whose connection vanished (no BYE) and that has no session: its jobs are cancelled
 * but for those in named batches, for which the record is kept (a keeper) until they end. */
void tmq_core_release_client(tmq_core_t *self, tmq_bclient_t **c_p);

/* session.c, for batches: journals c's batch_end of b (returns its record's id, 0 when not
 * journaled), and forgets a record by id. */
uint64_t tmq_session_batch_end(tmq_core_t *self, tmq_bclient_t *c, const struct tmq_bbatch_t *b);
void tmq_session_forget_id(tmq_core_t *self, uint64_t jid);

/* ---- named batches (batches.c, PROTOCOL.md 5.8) ---- */

struct tmq_bbatch_t;
void tmq_batches_setup(tmq_core_t *self);
void tmq_batches_teardown(tmq_core_t *self);
struct tmq_bbatch_t *tmq_batches_find(tmq_core_t *self, const char *name, size_t len);
struct tmq_bbatch_t *tmq_batches_by_id(const tmq_core_t *self, uint32_t id);
/* The batch of that name, made if need be. */
struct tmq_bbatch_t *tmq_batches_get(tmq_core_t *self, const char *name, size_t len);
/* job (accepted, queued) joins b. */
void tmq_batches_join(tmq_core_t *self, struct tmq_bbatch_t *b, tmq_bjob_t *job);
/* A SUBMIT's batch_ttl_ms (0: unchanged; capped at TMQ_PROTO_BATCH_TTL_MAX). */
void tmq_batches_ttl(struct tmq_bbatch_t *b, uint64_t ttl_ms);
/* After a SUBMIT to b from c: c counts as submitting; the input ended when end. */
void tmq_batches_submit(tmq_core_t *self, struct tmq_bbatch_t *b, tmq_bclient_t *c, bool end);
/* job of a batch ended: with its result it (status raw; delivered: its client got it), or
 * cancelled (it NULL). */
void tmq_batches_ended(tmq_core_t *self, tmq_bjob_t *job, const tmq_result_item_t *it,
                       bool delivered);
/* c's connection was WELCOMEd again (its outbox cleared): its attachment's stream restarts. */
void tmq_batches_rewind(tmq_core_t *self, tmq_bclient_t *c);
/* c leaves its batches: attached to none, submitting to none. */
void tmq_batches_left(tmq_core_t *self, tmq_bclient_t *c);
void tmq_batches_attach(tmq_core_t *self, tmq_bclient_t *c, const tmq_msg_t *msg);
/* Forgets the complete batches past their time. */
void tmq_batches_scan(tmq_core_t *self);
/* STATUS_REPLY's `batches` array. */
void tmq_batches_pack(tmq_core_t *self, msgpack_packer *pk);
/* Replay: a result of b, its end; completion once every record is in. */
void tmq_batches_replayed(tmq_core_t *self, struct tmq_bbatch_t *b, uint64_t jid,
                          const tmq_result_item_t *it);
void tmq_batches_replayed_end(tmq_core_t *self, struct tmq_bbatch_t *b, uint64_t jid);
void tmq_batches_after_replay(tmq_core_t *self);

/* dispatch.c */
void tmq_dispatch_run(tmq_core_t *self);
/* For each function with workers idle for TMQ_REVOKE_AFTER_MS, sends REVOKE to workers
 * serving it that hold jobs which may be unstarted (tmq_bworker_revocable) and have none
 * outstanding, oldest candidate first, until the jobs asked (outstanding ones included) cover
 * one job per idle process; returns when another REVOKE could next be due (INT64_MAX: not
 * until some worker's load changes or a REVOKE is answered). */
int64_t tmq_dispatch_revoke(tmq_core_t *self);

#endif
