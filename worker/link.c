/* worker/link.c — see link.h. Time is tmq_clock_ms; anything received from the broker, even
 * malformed, proves it alive. */
#include "link.h"

#include "log.h"
#include "platform.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tmq_link_t {
    char *endpoint;
    zsock_t *sock; /* NULL while waiting to reconnect */
    void *ready;   /* READY body, re-sent on every connection */
    size_t ready_len;
    bool registered; /* WELCOME received on this socket */
    bool ever_registered;
    uint32_t heartbeat_ms;
    uint32_t max_payload;
    int64_t last_recv, last_send;
    int64_t reconnect_at;
    int64_t backoff_ms;
    tmq_rate_t rate;
};

static void s_send_ready(tmq_link_t *self)
{
    void *body = malloc(self->ready_len);
    if (!body) abort();
    memcpy(body, self->ready, self->ready_len);
    self->registered = false;
    tmq_link_send(self, TMQ_CMD_READY, &body, self->ready_len);
}

/* A new socket, connected, with READY queued. Returns 0 or -1 (errno set). */
static int s_connect(tmq_link_t *self)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) return -1;
    tmq_wire_setup(sock);
    zsock_set_linger(sock, 0);
    if (zsock_connect(sock, "%s", self->endpoint) != 0) {
        int err = errno;
        zsock_destroy(&sock);
        errno = err;
        return -1;
    }
    self->sock = sock;
    self->last_recv = self->last_send = tmq_clock_ms();
    s_send_ready(self);
    return 0;
}

static void s_disconnect(tmq_link_t *self)
{
    zsock_destroy(&self->sock);
    self->registered = false;
    self->reconnect_at = tmq_clock_ms() + self->backoff_ms;
    self->backoff_ms *= 2;
    if (self->backoff_ms > TMQ_LINK_BACKOFF_MAX_MS) self->backoff_ms = TMQ_LINK_BACKOFF_MAX_MS;
}

tmq_link_t *tmq_link_new(const char *endpoint, const void *ready, size_t ready_len)
{
    tmq_link_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->endpoint = strdup(endpoint);
    self->ready = malloc(ready_len);
    if (!self->endpoint || !self->ready) abort();
    memcpy(self->ready, ready, ready_len);
    self->ready_len = ready_len;
    self->heartbeat_ms = TMQ_LINK_HEARTBEAT_MS;
    self->max_payload = TMQ_PROTO_MAX_PAYLOAD;
    self->backoff_ms = TMQ_LINK_BACKOFF_MIN_MS;
    if (s_connect(self) != 0) {
        int err = errno;
        tmq_link_destroy(&self);
        errno = err;
        return NULL;
    }
    return self;
}

void tmq_link_destroy(tmq_link_t **self_p)
{
    if (!self_p || !*self_p) return;
    tmq_link_t *self = *self_p;
    zsock_destroy(&self->sock);
    free(self->endpoint);
    free(self->ready);
    free(self);
    *self_p = NULL;
}

void *tmq_link_socket(tmq_link_t *self)
{
    return self->sock;
}

bool tmq_link_writable(tmq_link_t *self)
{
    return self->sock && (zsock_events(self->sock) & ZMQ_POLLOUT);
}

int tmq_link_send(tmq_link_t *self, tmq_cmd_t cmd, void **body_p, size_t len)
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

static void s_on_welcome(tmq_link_t *self, const tmq_msg_t *m)
{
    uint64_t hb, maxp;
    if (tmq_msg_get_uint(m, "heartbeat", &hb) == 0 && hb >= 10 && hb <= 3600000)
        self->heartbeat_ms = (uint32_t)hb;
    if (tmq_msg_get_uint(m, "max_payload", &maxp) == 0 && maxp > 0 && maxp <= UINT32_MAX)
        self->max_payload = (uint32_t)maxp;
    if (!self->registered)
        tmq_info("%s broker %s (heartbeat %u ms)",
                 self->ever_registered ? "registered again with" : "registered with",
                 self->endpoint, self->heartbeat_ms);
    self->registered = self->ever_registered = true;
    self->backoff_ms = TMQ_LINK_BACKOFF_MIN_MS;
}

static void s_complain(tmq_link_t *self, int code, const char *what, const char *detail)
{
    uint32_t suppressed;
    if (tmq_rate_ok(&self->rate, 5, &suppressed))
        tmq_warn("%s from the broker: %s%s", what, detail,
                 suppressed ? " (similar lines suppressed)" : "");
    if (code) tmq_wire_send_error(self->sock, NULL, 0, code, detail);
}

/* Handles a control command. Returns true when it is the daemon's to handle. */
static bool s_control(tmq_link_t *self, tmq_wire_in_t *in, bool *reset)
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
    case TMQ_CMD_ERROR:
        if (tmq_msg_get_str(m, "reason", &reason, &rlen) != 0) {
            reason = "(no reason)";
            rlen = strlen(reason);
        }
        char text[256];
        snprintf(text, sizeof text, "%.*s", (int)(rlen > 200 ? 200 : rlen), reason);
        s_complain(self, 0, "ERROR", text);
        break;
    default:
        s_complain(self, TMQ_ERR_COMMAND, "unexpected command", tmq_cmd_name(m->cmd));
    }
    return false;
}

int tmq_link_recv(tmq_link_t *self, tmq_wire_in_t *in, bool *reset)
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

bool tmq_link_tick(tmq_link_t *self)
{
    int64_t now = tmq_clock_ms();
    if (!self->sock) {
        if (now >= self->reconnect_at && s_connect(self) != 0) {
            tmq_error("cannot connect to %s: %s", self->endpoint, strerror(errno));
            self->reconnect_at = now + self->backoff_ms;
        }
        return false;
    }
    if (now - self->last_recv >= (int64_t)TMQ_LINK_LIVENESS * self->heartbeat_ms) {
        tmq_warn("broker %s silent for %lld ms; reconnecting in %lld ms", self->endpoint,
                 (long long)(now - self->last_recv), (long long)self->backoff_ms);
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

int64_t tmq_link_next_ms(const tmq_link_t *self)
{
    if (!self->sock) return self->reconnect_at;
    int64_t next = self->last_recv + (int64_t)TMQ_LINK_LIVENESS * self->heartbeat_ms;
    if (self->registered && self->last_send + self->heartbeat_ms < next)
        next = self->last_send + self->heartbeat_ms;
    return next;
}

uint32_t tmq_link_max_payload(const tmq_link_t *self)
{
    return self->max_payload;
}

void tmq_link_bye(tmq_link_t *self)
{
    if (!self->sock) return;
    zsock_set_linger(self->sock, 1000);
    tmq_wire_send_empty(self->sock, NULL, 0, TMQ_CMD_BYE);
}
