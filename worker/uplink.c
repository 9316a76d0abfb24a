/* worker/uplink.c — see uplink.h. Time is tmq_clock_ms; anything received from the broker, even
 * malformed, proves it alive. */
#include "uplink.h"

#include "curve.h"
#include "log.h"
#include "platform.h"
#include "xalloc.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tmq_uplink_t {
    char *endpoint;
    zcert_t *mine, *broker;     /* CURVE certificates, or NULL */
    zsock_t *monitor;           /* sock's handshake failures (a broker refusing us), or NULL */
    zsock_t *sock;              /* NULL while waiting to reconnect */
    tmq_uplink_ready_fn *ready; /* builds the READY body for every connection */
    void *ready_arg;
    char *refused;      /* the broker's reason when it refused us for good */
    bool registered;    /* WELCOME received on this socket */
    bool ready_sent;    /* READY went out on this socket (the broker may know us) */
    bool draining;      /* DRAIN went out on this socket */
    bool leaving;       /* the daemon drains: no READY again (RECONNECT, a new socket) */
    bool drain_refused; /* the broker answered DRAIN with ERROR: it is older than DRAIN */
    bool ever_registered;
    uint32_t heartbeat_ms;
    uint32_t max_payload;
    int64_t last_recv, last_send;
    int64_t reconnect_at;
    int64_t backoff_ms;
    tmq_rate_t rate;
};

static void s_send_ready(tmq_uplink_t *self)
{
    self->registered = self->draining = false;
    if (self->leaving) return; /* registering again would only bring jobs to hand back */
    size_t len;
    void *body = self->ready(self->ready_arg, &len);
    if (tmq_uplink_send(self, TMQ_CMD_READY, &body, len) == 0) self->ready_sent = true;
}

/* A new socket, connected, with READY queued. Returns 0 or -1 (errno set). */
static int s_connect(tmq_uplink_t *self)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) return -1;
    tmq_wire_setup(sock);
    zsock_set_linger(sock, 0);
    if (self->mine) tmq_curve_client(sock, self->mine, self->broker);
    self->monitor = tmq_curve_monitor(sock); /* before connecting */
    if (zsock_connect(sock, "%s", self->endpoint) != 0) {
        int err = errno;
        tmq_curve_unmonitor(sock, &self->monitor);
        zsock_destroy(&sock);
        errno = err;
        return -1;
    }
    self->sock = sock;
    self->ready_sent = false;
    self->last_recv = self->last_send = tmq_clock_ms();
    s_send_ready(self);
    return 0;
}

static void s_disconnect(tmq_uplink_t *self)
{
    tmq_curve_unmonitor(self->sock, &self->monitor);
    zsock_destroy(&self->sock);
    self->registered = false;
    self->reconnect_at = tmq_clock_ms() + self->backoff_ms;
    self->backoff_ms *= 2;
    if (self->backoff_ms > TMQ_UPLINK_BACKOFF_MAX_MS) self->backoff_ms = TMQ_UPLINK_BACKOFF_MAX_MS;
}

tmq_uplink_t *tmq_uplink_new(const char *endpoint, zcert_t **mine, zcert_t **broker,
                             tmq_uplink_ready_fn *ready, void *arg)
{
    tmq_uplink_t *self = tmq_xcalloc(1, sizeof *self);
    self->endpoint = tmq_xstrdup(endpoint);
    if (mine) {
        self->mine = *mine;
        *mine = NULL;
    }
    if (broker) {
        self->broker = *broker;
        *broker = NULL;
    }
    self->ready = ready;
    self->ready_arg = arg;
    self->heartbeat_ms = TMQ_PROTO_HEARTBEAT_DEFAULT;
    self->max_payload = TMQ_PROTO_MAX_PAYLOAD;
    self->backoff_ms = TMQ_UPLINK_BACKOFF_MIN_MS;
    if (s_connect(self) != 0) {
        int err = errno;
        tmq_uplink_destroy(&self);
        errno = err;
        return NULL;
    }
    return self;
}

void tmq_uplink_destroy(tmq_uplink_t **self_p)
{
    if (!self_p || !*self_p) return;
    tmq_uplink_t *self = *self_p;
    tmq_curve_unmonitor(self->sock, &self->monitor);
    zsock_destroy(&self->sock);
    zcert_destroy(&self->mine);
    zcert_destroy(&self->broker);
    free(self->endpoint);
    free(self->refused);
    free(self);
    *self_p = NULL;
}

void *tmq_uplink_socket(tmq_uplink_t *self)
{
    return self->sock;
}

bool tmq_uplink_writable(tmq_uplink_t *self)
{
    return self->sock && (zsock_events(self->sock) & ZMQ_POLLOUT);
}

int tmq_uplink_send(tmq_uplink_t *self, tmq_cmd_t cmd, void **body_p, size_t len)
{
    if (!self->sock) {
        free(*body_p);
        *body_p = NULL;
        return -1;
    }
    if (tmq_wire_send(self->sock, NULL, 0, cmd, body_p, len) != 0) return -1;
    self->last_send = tmq_clock_ms();
    return 0;
}

static void s_on_welcome(tmq_uplink_t *self, const tmq_msg_t *m)
{
    tmq_welcome_t w;
    tmq_msg_welcome(m, &w);
    self->heartbeat_ms = w.heartbeat_ms;
    self->max_payload = w.max_payload;
    if (!self->registered)
        tmq_info("%s broker %s (heartbeat %u ms)",
                 self->ever_registered ? "registered again with" : "registered with",
                 self->endpoint, self->heartbeat_ms);
    self->registered = self->ever_registered = true;
    self->backoff_ms = TMQ_UPLINK_BACKOFF_MIN_MS;
}

static void s_complain(tmq_uplink_t *self, int code, const char *what, const char *detail)
{
    tmq_log_limited(TMQ_LOG_WARN, &self->rate, 5, "%s from the broker: %s", what, detail);
    if (code) tmq_wire_send_error(self->sock, NULL, 0, code, detail);
}

/* Handles a control command. Returns true when it is the daemon's to handle. */
static bool s_control(tmq_uplink_t *self, tmq_wire_in_t *in, bool *reset)
{
    const tmq_msg_t *m = &in->msg;
    const char *reason;
    size_t rlen;
    switch (m->cmd) {
    case TMQ_CMD_JOBS:
    case TMQ_CMD_CANCEL:
    case TMQ_CMD_REVOKE:
        return true;
    case TMQ_CMD_WELCOME:
        s_on_welcome(self, m);
        break;
    case TMQ_CMD_HEARTBEAT:
        break;
    case TMQ_CMD_RECONNECT:
        tmq_info("broker does not know this worker; sending READY again");
        *reset = true;
        s_send_ready(self);
        break;
    case TMQ_CMD_ERROR: {
        uint64_t code = 0;
        (void)tmq_msg_get_uint(m, "code", &code);
        if (tmq_msg_get_str(m, "reason", &reason, &rlen) != 0) {
            reason = "(no reason)";
            rlen = strlen(reason);
        }
        char text[256];
        tmq_printable(text, sizeof text, reason, rlen);
        if (code == TMQ_ERR_WRONG_PORT) {
            if (!self->refused) self->refused = tmq_xstrdup(text);
            break;
        }
        if (self->draining && !self->drain_refused) {
            tmq_warn("the broker did not take DRAIN (older than taskmq 0.5?): %s", text);
            self->drain_refused = true; /* it would keep sending jobs: the daemon stops now */
            break;
        }
        s_complain(self, 0, "ERROR", text);
        break;
    }
    default:
        s_complain(self, TMQ_ERR_COMMAND, "unexpected command", tmq_cmd_name(m->cmd));
    }
    return false;
}

int tmq_uplink_recv(tmq_uplink_t *self, tmq_wire_in_t *in, bool *reset)
{
    while (self->sock) {
        int err = TMQ_ERR_MALFORMED;
        memset(&in->msg, 0, sizeof in->msg);
        int rc = tmq_wire_recv(self->sock, false, in, &err);
        if (rc == 0) return 0;
        self->last_recv = tmq_clock_ms();
        if (rc < 0) {
            const char *why = in->msg.error ? in->msg.error : "bad frames";
            s_complain(self, err, "malformed message", why);
            tmq_wire_in_release(in);
            continue;
        }
        if (in->msg.cmd == TMQ_CMD_BYE) {
            tmq_wire_in_release(in);
            tmq_info("broker is shutting down; reconnecting in %lld ms",
                     (long long)self->backoff_ms);
            *reset = true;
            s_disconnect(self);
            return 0;
        }
        if (s_control(self, in, reset)) return 1;
        tmq_wire_in_release(in);
    }
    return 0;
}

bool tmq_uplink_tick(tmq_uplink_t *self)
{
    int64_t now = tmq_clock_ms();
    const char *why = self->monitor ? tmq_curve_refused(self->monitor, self->mine != NULL) : NULL;
    if (why && self->mine && strncmp(why, "the broker refused our key", 26) == 0)
        why = "the broker refused our key (this certificate is not among the keys it lets in "
              "on its worker port: --curve-worker-dir, or --curve-dir when it has none)";
    if (why && !self->refused) self->refused = tmq_xstrdup(why); /* the daemon stops: exit 3 */
    if (!self->sock) {
        if (now >= self->reconnect_at && s_connect(self) != 0) {
            tmq_error("cannot connect to %s: %s", self->endpoint, strerror(errno));
            self->reconnect_at = now + self->backoff_ms;
        }
        return false;
    }
    if (now - self->last_recv >= (int64_t)TMQ_UPLINK_LIVENESS * self->heartbeat_ms) {
        if (self->registered)
            tmq_warn("broker %s silent for %lld ms; reconnecting in %lld ms", self->endpoint,
                     (long long)(now - self->last_recv), (long long)self->backoff_ms);
        else
            tmq_warn("no answer from a broker at %s yet; trying again in %lld ms%s", self->endpoint,
                     (long long)self->backoff_ms,
                     self->mine ? " (with keys, a wrong --broker-cert looks the same: check it is "
                                  "the broker's public certificate)"
                                : "");
        s_disconnect(self);
        return true;
    }
    if (self->registered && now - self->last_send >= self->heartbeat_ms) {
        /* Counted as sent even when the socket is full, so a stuck peer does not make the
         * loop spin; the liveness check above deals with a broker that stopped reading. */
        tmq_wire_send_empty(self->sock, NULL, 0, TMQ_CMD_HEARTBEAT);
        self->last_send = now;
    }
    return false;
}

int64_t tmq_uplink_next_ms(const tmq_uplink_t *self)
{
    if (!self->sock) return self->reconnect_at;
    int64_t next = self->last_recv + (int64_t)TMQ_UPLINK_LIVENESS * self->heartbeat_ms;
    if (self->registered && self->last_send + self->heartbeat_ms < next)
        next = self->last_send + self->heartbeat_ms;
    return next;
}

uint32_t tmq_uplink_max_payload(const tmq_uplink_t *self)
{
    return self->max_payload;
}

const char *tmq_uplink_refused(const tmq_uplink_t *self)
{
    return self->refused;
}

bool tmq_uplink_registered(const tmq_uplink_t *self)
{
    return self->sock && self->registered;
}

bool tmq_uplink_drain_refused(const tmq_uplink_t *self)
{
    return self->drain_refused;
}

void tmq_uplink_drain(tmq_uplink_t *self)
{
    self->leaving = true;
    if (!self->sock || !self->registered || self->draining) return;
    tmq_wire_send_empty(self->sock, NULL, 0, TMQ_CMD_DRAIN);
    self->last_send = tmq_clock_ms();
    self->draining = true;
}

void tmq_uplink_bye(tmq_uplink_t *self)
{
    /* Said whenever a READY went out on this socket: a broker that got it but whose WELCOME
     * has not come yet would otherwise keep a worker that is gone, and send it jobs until it
     * expires. Unregistered, the wait is short: there may be no broker at all. */
    if (!self->sock || !self->ready_sent) return;
    zsock_set_linger(self->sock, self->registered ? 1000 : 200);
    tmq_wire_send_empty(self->sock, NULL, 0, TMQ_CMD_BYE);
}
