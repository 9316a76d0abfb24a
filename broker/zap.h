/* broker/zap.h — who may connect: the broker's ZAP handler (ZeroMQ RFC 27).
 *
 * libzmq asks the handler bound at inproc://zeromq.zap.01 about every connection to a socket
 * that has a ZAP domain. Without CURVE keys the broker is protected like Redis' protected
 * mode: only peers from loopback addresses (127.0.0.0/8, ::1) are let in, unless --insecure
 * opens it to any address. With CURVE keys (curve_dir), every peer needs a key: a client's
 * public key must be in curve_dir, a worker's in curve_worker_dir when there is one (so a
 * client's key cannot register as a worker), else in curve_dir; the directories are read
 * again whenever they change (czmq's zcertstore), so new keys need no restart. The handler
 * must be running before the broker binds, or libzmq would let anyone in (the loop starts it
 * when keys are configured or an endpoint faces the network without --insecure).
 */
#ifndef TMQ_BROKER_ZAP_H
#define TMQ_BROKER_ZAP_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define TMQ_ZAP_DOMAIN_CLIENTS "taskmq-clients" /* the frontend's domain */
#define TMQ_ZAP_DOMAIN_WORKERS "taskmq-workers" /* the backend's */

typedef struct {
    bool insecure;                /* --insecure: peers from any address (without keys) */
    const char *curve_dir;        /* public certificates allowed to connect; NULL: no CURVE */
    const char *curve_worker_dir; /* ... to the worker port, when set */
} tmq_zap_policy_t;

typedef struct tmq_zap_t tmq_zap_t;

/* Starts the handler (bound to inproc://zeromq.zap.01 when this returns). NULL when it cannot
 * bind there (another handler runs in this process), logged. */
tmq_zap_t *tmq_zap_new(const tmq_zap_policy_t *policy);
void tmq_zap_destroy(tmq_zap_t **self_p);

/* Reads the key directories again now (SIGHUP), whether they changed or not; from the thread
 * that created self. A no-op without keys. */
void tmq_zap_reload(tmq_zap_t *self);
/* True when self has key directories (tmq_zap_reload does something). */
bool tmq_zap_reload_able(const tmq_zap_t *self);

/* Connections refused so far (read from any thread). */
uint64_t tmq_zap_refused(const tmq_zap_t *self);

/* True when a peer at this address ("10.0.0.7", "::1", "::ffff:127.0.0.1") is loopback. */
bool tmq_zap_is_loopback(const char *address);

/* True when binding ep (a bindable endpoint, host resolved) may face non-loopback peers:
 * tcp:// on any address but 127.0.0.0/8 or ::1 (ipc and inproc are local). */
bool tmq_zap_faces_network(const char *ep);

#endif
