/* broker/broker.h — the broker as the rest of taskmq sees it: its configuration, and the
 * broker embedded as an actor.
 *
 * taskmq-broker's main() runs the loop (loop.h) itself, with its metrics endpoint beside it;
 * the client tool's --local mode starts tmq_broker_actor in-process (frontend inproc://,
 * backend tcp://127.0.0.1:*). Both bind a client-facing ROUTER (frontend) and a worker-facing
 * ROUTER (backend) and serve until told to stop. Everything below them (core, dispatch,
 * registries) is internal to broker/.
 */
#ifndef TMQ_BROKER_H
#define TMQ_BROKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *frontend;   /* endpoint clients connect to */
    const char *backend;    /* endpoint workers connect to */
    uint32_t heartbeat_ms;  /* heartbeat interval announced in WELCOME */
    size_t max_queue;       /* queued jobs accepted at most ("queue full" beyond) */
    uint32_t max_payload;   /* bytes per job argument or result */
    int retries;            /* default retries after an executor dies */
    bool insecure;          /* without keys, accept peers from any address, not loopback only */
    const char *curve_cert; /* the broker's secret certificate: CURVE on both ports */
    const char *curve_dir;  /* public certificates of the peers allowed in */
    const char *curve_worker_dir; /* when set, the only keys allowed on the worker port */
    const char *journal_dir;      /* --journal: sessions' jobs survive a restart (NULL: none) */
    int fsync_ms; /* --fsync: TMQ_JOURNAL_FSYNC_ALWAYS (0, the default), _NEVER (-1) or ms */
} tmq_broker_config_t;

/* Defaults: frontend on TCP port 5555 and backend on 5556 of every interface, heartbeat
 * 1000 ms, max_queue 1000000, max_payload TMQ_PROTO_MAX_PAYLOAD, retries 2. */
void tmq_broker_config_defaults(tmq_broker_config_t *cfg);

/* zactor body; args is a tmq_broker_config_t * (copied before the actor signals). Binds, then
 * signals 0 on success or 1 on failure. Answers the string command "ENDPOINTS" with one
 * message of two strings: the resolved frontend and backend endpoints. Ends on "$TERM".
 * zactor_new and tmq_actor_new discard the signal's status, so after a bind failure it stays to
 * answer "ENDPOINTS" with two empty strings: check for "" to detect it. */
void tmq_broker_actor(zsock_t *pipe, void *args);

#endif
