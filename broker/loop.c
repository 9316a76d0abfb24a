/* broker/loop.c — see loop.h.
 *
 * Both sockets are ROUTERs with ROUTER_MANDATORY, so a send to a full peer fails with EAGAIN
 * instead of blocking or dropping. The routing-id frame goes first and alone decides that:
 * only once it is accepted is the next message taken out of the outbox and its header and
 * body sent (libzmq checks the high-water mark on a message's first frame only), so a peer
 * that would block keeps its batch intact for the next turn. ZeroMQ cannot say when one
 * ROUTER peer will take more, so while output waits the loop retries on a timer that backs off
 * from 1 ms to TMQ_LOOP_BACKOFF_MS (incoming messages still wake it at once).
 */
#include "loop.h"
#include "core.h"
#include "journal.h"
#include "zap.h"

#include <curve.h>
#include <endpoint.h>
#include <log.h>
#include <platform.h>
#include <wire.h>
#include <xalloc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TMQ_LOOP_DRAIN_MAX 4096   /* messages per socket per turn, so neither side starves */
#define TMQ_LOOP_MAX_WAIT_MS 1000 /* poll timeout cap */
#define TMQ_LOOP_LINGER_MS 500    /* to deliver BYE to clients and workers at exit */
#define TMQ_LOOP_BACKOFF_MS 50    /* longest retry interval while a peer would block */
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
#define S_ZAP_ENFORCE_DOMAIN ZMQ_ZAP_ENFORCE_DOMAIN
#else
#define S_ZAP_ENFORCE_DOMAIN 93 /* libzmq 4.3's (a draft option in its header) */
#endif

struct tmq_broker_loop_t {
    tmq_zap_t *zap; /* who may connect; NULL when every peer is let in (loopback-only binds,
                       --insecure) */
    zsock_t *frontend, *backend;
    void *fe, *be; /* their libzmq handles */
    char *fe_endpoint, *be_endpoint;
    tmq_core_t *core;
    tmq_journal_t *journal;          /* --journal, or NULL */
    const tmq_loop_source_t *source; /* watched beside the sockets, or NULL */
};

/* Why a bind of ep failed, in words a person can act on. */
static void s_bind_error(const char *ep, int err, char *out, size_t len)
{
    char port[16];
    tmq_endpoint_port(ep, port, sizeof port);
    if (err == EADDRINUSE && port[0]) {
        snprintf(out, len, "port %s is already in use (another broker?)", port);
    } else if ((err == ENODEV || err == EADDRNOTAVAIL) && port[0]) {
        const char *host = ep + strlen("tcp://");
        int host_len = (int)(strrchr(host, ':') - host);
        snprintf(out, len,
                 "'%.*s' is not an address or interface of this machine; use tcp://*:%s or one "
                 "of its addresses",
                 host_len, host, port);
    } else {
        snprintf(out, len, "%s", zmq_strerror(err));
    }
}

/* True when binding endpoint may let in peers from other hosts; also when that cannot be
 * told (a host name that does not resolve now may at the bind): the checks then run. */
static bool s_faces_network(const char *endpoint)
{
    char ep[1024], why[512];
    return tmq_endpoint_bindable(endpoint, ep, sizeof ep, why, sizeof why) != TMQ_EP_OK ||
           tmq_zap_faces_network(ep);
}

/* domain: the socket's ZAP domain (its peers are checked), or NULL; cert: the broker's
 * CURVE certificate (the socket a CURVE server), or NULL. */
static zsock_t *s_bind(const char *endpoint, const char *what, const char *domain, zcert_t *cert,
                       char **resolved)
{
    char ep[1024], why[512];
    if (tmq_endpoint_bindable(endpoint, ep, sizeof ep, why, sizeof why) != TMQ_EP_OK) {
        tmq_error("cannot bind the %s to %s: %s", what, endpoint, why);
        return NULL;
    }
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    if (!sock) {
        tmq_error("cannot create the %s socket", what);
        return NULL;
    }
    zsock_set_router_mandatory(sock, 1);
    zsock_set_router_handover(sock, 1);
    tmq_wire_setup(sock);
    if (domain) {
        zsock_set_zap_domain(sock, domain);
        int on = 1; /* no handler answering: refuse, never let in (libzmq's default) */
        if (zmq_setsockopt(zsock_resolve(sock), S_ZAP_ENFORCE_DOMAIN, &on, sizeof on) != 0)
            tmq_debug("ZMQ_ZAP_ENFORCE_DOMAIN not available: %s", zmq_strerror(zmq_errno()));
    }
    if (cert) {
        zcert_apply(cert, sock);
        zsock_set_curve_server(sock, 1);
    }
    if (zsock_bind(sock, "%s", ep) < 0) {
        s_bind_error(ep, zmq_errno(), why, sizeof why);
        tmq_error("cannot bind the %s to %s: %s", what, endpoint, why);
        zsock_destroy(&sock);
        return NULL;
    }
    *resolved = zsock_last_endpoint(sock);
    if (!*resolved) *resolved = tmq_xstrdup(ep);
    tmq_info("%s bound to %s", what, *resolved);
    return sock;
}

tmq_broker_loop_t *tmq_broker_loop_new(const tmq_broker_config_t *cfg)
{
    tmq_broker_loop_t *self = tmq_xcalloc(1, sizeof *self);
    if (cfg->journal_dir) { /* first: a second broker on the same journal stops here */
        char why[1024];
        tmq_journal_opts_t jo;
        tmq_journal_opts_init(&jo);
        jo.fsync_ms = cfg->fsync_ms;
        self->journal = tmq_journal_open(cfg->journal_dir, &jo, why, sizeof why);
        if (!self->journal) {
            tmq_error("--journal %s: %s", cfg->journal_dir, why);
            tmq_broker_loop_destroy(&self);
            return NULL;
        }
    }
    bool fe_net = s_faces_network(cfg->frontend), be_net = s_faces_network(cfg->backend);
    bool network = fe_net || be_net;
    zcert_t *cert = NULL;
    if (cfg->curve_cert) {
        char why[512];
        cert = tmq_curve_load(cfg->curve_cert, true, why, sizeof why);
        if (!cert) {
            tmq_error("--curve-cert: %s", why);
            tmq_broker_loop_destroy(&self);
            return NULL;
        }
    }
    if (cert || (network && !cfg->insecure)) { /* before any bind: else all get in */
        tmq_zap_policy_t policy = {.insecure = cfg->insecure,
                                   .curve_dir = cert ? cfg->curve_dir : NULL,
                                   .curve_worker_dir = cert ? cfg->curve_worker_dir : NULL};
        self->zap = tmq_zap_new(&policy);
        if (!self->zap) {
            zcert_destroy(&cert);
            tmq_broker_loop_destroy(&self);
            return NULL;
        }
    }
    /* checked: every socket with keys, else those facing the network (an ipc or loopback
     * endpoint beside a tcp:// one on every address lets its local peers in) */
    bool check_fe = self->zap && (cert || fe_net);
    bool check_be = self->zap && (cert || be_net);
    const char *fe_domain = check_fe ? TMQ_ZAP_DOMAIN_CLIENTS : NULL;
    const char *be_domain = check_be ? TMQ_ZAP_DOMAIN_WORKERS : NULL;
    self->frontend = s_bind(cfg->frontend, "frontend", fe_domain, cert, &self->fe_endpoint);
    if (self->frontend)
        self->backend = s_bind(cfg->backend, "backend", be_domain, cert, &self->be_endpoint);
    zcert_destroy(&cert); /* applied: the sockets keep the keys */
    if (!self->backend) {
        tmq_broker_loop_destroy(&self);
        return NULL;
    }
    self->fe = zsock_resolve(self->frontend);
    self->be = zsock_resolve(self->backend);
    tmq_core_config_t cc = {.heartbeat_ms = cfg->heartbeat_ms,
                            .max_queue = cfg->max_queue,
                            .max_payload = cfg->max_payload,
                            .retries = cfg->retries,
                            .frontend = self->fe_endpoint,
                            .backend = self->be_endpoint,
                            .insecure = cfg->insecure && !cfg->curve_cert, /* keys rule */
                            .zap = self->zap,
                            .journal = self->journal};
    if (cfg->curve_cert)
        tmq_info("CURVE: clients need a key in %s, workers one in %s (directories read again "
                 "when they change)",
                 cfg->curve_dir, cfg->curve_worker_dir ? cfg->curve_worker_dir : cfg->curve_dir);
    else if (self->zap)
        tmq_info("accepting connections from loopback addresses only: the broker has no CURVE "
                 "keys (--insecure accepts any address)");
    else if (network)
        tmq_warn("--insecure: any host that reaches %s or %s can submit jobs and register as a "
                 "worker; use it on a trusted network only",
                 self->fe_endpoint, self->be_endpoint);
    self->core = tmq_core_new(&cc, tmq_clock_ms());
    if (self->journal) {
        if (tmq_session_replay(self->core) < 0) {
            tmq_broker_loop_destroy(&self);
            return NULL;
        }
        char fsync[32];
        if (cfg->fsync_ms == TMQ_JOURNAL_FSYNC_ALWAYS)
            snprintf(fsync, sizeof fsync, "always");
        else if (cfg->fsync_ms == TMQ_JOURNAL_FSYNC_NEVER)
            snprintf(fsync, sizeof fsync, "never");
        else
            snprintf(fsync, sizeof fsync, "every %d ms", cfg->fsync_ms);
        tmq_info("journal in %s (fsync %s): clients' sessions survive a restart", cfg->journal_dir,
                 fsync);
    }
    return self;
}

/* tmq_core_send_fn: writes ob's messages until it is empty or the peer would block. */
static int s_send(void *ctx, tmq_outbox_t *ob)
{
    tmq_broker_loop_t *self = ctx;
    void *sock = ob->side == TMQ_SIDE_FRONTEND ? self->fe : self->be;
    while (tmq_outbox_pending(ob)) {
        if (tmq_wire_send_envelope(sock, ob->rid, ob->rid_len) != 0)
            return errno == EAGAIN || errno == EINTR ? 1 : -1;
        int cmd;
        size_t len;
        void *body = tmq_outbox_take(ob, &cmd, &len); /* only now: the peer has room */
        if (tmq_wire_send_after_envelope(sock, (tmq_cmd_t)cmd, &body, len) != 0)
            return -1; /* the pipe went away mid-message */
    }
    return 0;
}

void tmq_broker_loop_destroy(tmq_broker_loop_t **self_p)
{
    tmq_broker_loop_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    if (self->core) {
        /* BYE to every peer; a peer that would block gets until the deadline to take it */
        tmq_core_shutdown(self->core);
        int64_t deadline = tmq_clock_ms() + TMQ_LOOP_LINGER_MS;
        tmq_session_commit(self->core, tmq_clock_ms());
        tmq_core_flush(self->core, tmq_clock_ms(), s_send, self);
        while (self->core->nflush > 0 && tmq_clock_ms() < deadline) {
            zclock_sleep(1);
            tmq_session_commit(self->core, tmq_clock_ms());
            tmq_core_flush(self->core, tmq_clock_ms(), s_send, self);
        }
        tmq_core_destroy(&self->core);
    }
    if (self->journal) {
        if (tmq_journal_commit(self->journal, tmq_clock_ms()) != 0)
            tmq_warn("journal: the last records were not written at shutdown: %s",
                     tmq_journal_last_error(self->journal));
        tmq_journal_close(&self->journal);
    }
    /* czmq's default linger is 0: what was just queued would be discarded at close */
    if (self->frontend) zsock_set_linger(self->frontend, TMQ_LOOP_LINGER_MS);
    if (self->backend) zsock_set_linger(self->backend, TMQ_LOOP_LINGER_MS);
    zsock_destroy(&self->frontend);
    zsock_destroy(&self->backend);
    tmq_zap_destroy(&self->zap); /* after the sockets it answers for */
    zstr_free(&self->fe_endpoint);
    zstr_free(&self->be_endpoint);
    free(self);
    *self_p = NULL;
}

void tmq_broker_loop_watch(tmq_broker_loop_t *self, const tmq_loop_source_t *src)
{
    self->source = src;
}

tmq_core_t *tmq_broker_loop_core(tmq_broker_loop_t *self)
{
    return self->core;
}

const char *tmq_broker_loop_frontend(const tmq_broker_loop_t *self)
{
    return self->fe_endpoint;
}

const char *tmq_broker_loop_backend(const tmq_broker_loop_t *self)
{
    return self->be_endpoint;
}

/* The address of the connection m came in on: "IP:PORT" of the socket ZeroMQ read it from
 * (ZMQ_SRCFD, then getpeername), else the IP alone from its "Peer-Address" property, else ""
 * (inproc, ipc). Once per READY, not per message, in the turn it arrived. ZMQ_SRCFD is
 * deprecated in libzmq 4.3 and the descriptor could in principle be closed and reused by
 * another connection before we ask; that would only show another peer's address in
 * `taskmq status` (the worker's identity is its routing id, never this). A socket monitor's
 * ACCEPTED events are the robust replacement if libzmq drops it. */
static void s_peer_addr(zmq_msg_t *m, char *out, size_t len)
{
    out[0] = '\0';
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = zmq_msg_get(m, ZMQ_SRCFD);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
                inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof ip);
                snprintf(out, len, "%s:%u", ip, (unsigned)ntohs(a->sin6_port));
            } else {
                inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
                snprintf(out, len, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
            }
        }
        return; /* a unix socket (ipc) has no address worth showing */
    }
    const char *ip = zmq_msg_gets(m, "Peer-Address");
    if (ip) snprintf(out, len, "%s", ip);
}

/* Feeds the core every message waiting on sock. Returns true when it stopped at the cap
 * with more to read. */
static bool s_drain(tmq_broker_loop_t *self, void *sock, int side, int64_t now)
{
    tmq_wire_in_t in;
    for (int i = 0; i < TMQ_LOOP_DRAIN_MAX; i++) {
        int errcode = TMQ_ERR_MALFORMED;
        in.msg.error = NULL;
        int rc = tmq_wire_recv(sock, true, &in, &errcode);
        if (rc == 0) return false;
        if (rc == 1 && side == TMQ_SIDE_FRONTEND) {
            tmq_core_frontend(self->core, now, in.rid, in.rid_len, &in.msg);
        } else if (rc == 1) {
            char addr[TMQ_BWORKER_ADDR] = "";
            if (in.msg.cmd == TMQ_CMD_READY) s_peer_addr(&in.hdr, addr, sizeof addr);
            tmq_core_backend(self->core, now, in.rid, in.rid_len, addr, &in.msg);
        } else {
            tmq_core_malformed(self->core, now, side, in.rid, in.rid_len, in.msg.cmd, errcode,
                               in.msg.error ? in.msg.error : "wrong frame count");
        }
        tmq_wire_in_release(&in);
    }
    return true;
}

/* Handles one actor command; returns false when told to stop. */
static bool s_pipe_command(tmq_broker_loop_t *self, zsock_t *pipe)
{
    char *cmd = zstr_recv(pipe);
    if (!cmd) return false; /* interrupted */
    bool go_on = true;
    if (streq(cmd, "$TERM"))
        go_on = false;
    else if (streq(cmd, "ENDPOINTS"))
        zstr_sendx(pipe, self->fe_endpoint, self->be_endpoint, NULL);
    else
        tmq_warn("broker actor: unknown command '%s'", cmd);
    zstr_free(&cmd);
    return go_on;
}

static volatile sig_atomic_t s_hangup; /* SIGHUP arrived: read the keys again */

static void s_on_hangup(int sig)
{
    (void)sig;
    s_hangup = 1;
}

int tmq_broker_loop_run(tmq_broker_loop_t *self, zsock_t *pipe)
{
    if (!pipe) { /* the program, not an embedded broker: SIGHUP reloads, never kills */
        struct sigaction sa = {.sa_handler = s_on_hangup};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);
    }
    zmq_pollitem_t items[4] = {
        {.socket = self->fe, .events = ZMQ_POLLIN},
        {.socket = self->be, .events = ZMQ_POLLIN},
    };
    int nitems = 2, pipe_at = -1, source_at = -1;
    if (pipe) {
        pipe_at = nitems++;
        items[pipe_at] = (zmq_pollitem_t){.socket = zsock_resolve(pipe), .events = ZMQ_POLLIN};
    }
    const tmq_loop_source_t *src = self->source;
    if (src) {
        source_at = nitems++;
        items[source_at] = (zmq_pollitem_t){.fd = src->fd, .events = ZMQ_POLLIN};
    }
    int64_t next = tmq_clock_ms();
    bool more = false;
    long blocked_wait = 1; /* retry interval while a peer would block: 1 ms doubling */
    while (!zsys_interrupted) {
        int64_t now = tmq_clock_ms();
        int64_t src_due = src ? src->due(src->ctx) : INT64_MAX;
        int64_t until = src_due < next ? src_due : next;
        long wait = until > now ? (long)(until - now) : 0;
        if (wait > TMQ_LOOP_MAX_WAIT_MS) wait = TMQ_LOOP_MAX_WAIT_MS;
        if (more || tmq_core_ready(self->core)) {
            wait = 0;
        } else if (tmq_core_pending(self->core)) { /* a peer would block */
            if (wait > blocked_wait) wait = blocked_wait;
            blocked_wait =
                blocked_wait * 2 > TMQ_LOOP_BACKOFF_MS ? TMQ_LOOP_BACKOFF_MS : blocked_wait * 2;
        } else {
            blocked_wait = 1;
        }
        if (s_hangup) {
            s_hangup = 0;
            if (self->zap && tmq_zap_reload_able(self->zap))
                tmq_zap_reload(self->zap);
            else
                tmq_info("SIGHUP: no key directories to read again (the broker has no keys)");
        }
        if (zmq_poll(items, nitems, wait) < 0) {
            if (errno == EINTR) continue;
            tmq_error("poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (pipe_at >= 0 && (items[pipe_at].revents & ZMQ_POLLIN) && !s_pipe_command(self, pipe))
            break;
        now = tmq_clock_ms();
        more = false;
        if (items[0].revents & ZMQ_POLLIN) more |= s_drain(self, self->fe, TMQ_SIDE_FRONTEND, now);
        if (items[1].revents & ZMQ_POLLIN) more |= s_drain(self, self->be, TMQ_SIDE_BACKEND, now);
        next = tmq_core_tick(self->core, now);
        tmq_session_commit(self->core, now); /* group commit: what this turn appended */
        tmq_core_flush(self->core, now, s_send, self);
        if (src && ((items[source_at].revents & ZMQ_POLLIN) || now >= src_due))
            src->run(src->ctx); /* between turns: the core is consistent, nothing in flight */
    }
    return 0;
}
