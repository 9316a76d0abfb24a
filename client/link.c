/* client/link.c — see link.h. One mutex guards everything below it in tmq_link_t; the user
 * thread holds it inside each call (for the whole poll in tmq_link_wait, which heartbeats on
 * its own), the heartbeat thread while it looks at the clock and sends.
 */
#include "link.h"
#include "curve.h"
#include "log.h"
#include "platform.h"
#include "xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#define S_IDLE_MS 1000 /* the heartbeat thread's nap while no broker has set an interval */

struct tmq_link_t {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the heartbeat thread's: stop, or the interval changed */
    pthread_t thread;
    void *dealer; /* raw libzmq handle of dealer_sock */
    zsock_t *dealer_sock;
    zsock_t *monitor; /* its handshake failures, or NULL */
    bool curve;
    tmq_wire_frames_t *outq; /* ring of messages waiting for the DEALER */
    size_t out_head, out_count, out_cap;
    int64_t last_send;
    uint32_t heartbeat_ms; /* from the latest WELCOME; 0 before it and after a BYE */
    bool stop;
    int64_t last_heard; /* the user thread's alone */
};

static void s_outq_push(tmq_link_t *self, tmq_wire_frames_t *fr)
{
    if (self->out_count == self->out_cap) {
        size_t cap = self->out_cap ? self->out_cap * 2 : 64;
        tmq_wire_frames_t *q = tmq_xmalloc(cap * sizeof *q);
        for (size_t i = 0; i < self->out_count; i++) {
            tmq_wire_frames_t *src = &self->outq[(self->out_head + i) % self->out_cap];
            tmq_wire_frames_move(&q[i], src);
            tmq_wire_frames_close(src);
        }
        free(self->outq);
        self->outq = q;
        self->out_cap = cap;
        self->out_head = 0;
    }
    tmq_wire_frames_move(&self->outq[(self->out_head + self->out_count) % self->out_cap], fr);
    self->out_count++;
}

/* Sends queued messages until the DEALER would block. */
static void s_flush(tmq_link_t *self)
{
    while (self->out_count > 0) {
        if (tmq_wire_frames_send(self->dealer, &self->outq[self->out_head]) != 0) return;
        self->last_send = tmq_clock_ms();
        self->out_head = (self->out_head + 1) % self->out_cap;
        self->out_count--;
    }
}

/* When the next heartbeat is due, or INT64_MAX when none will be (no interval, or messages
 * are queued: they go first and count as sending). */
static int64_t s_heartbeat_at(const tmq_link_t *self)
{
    if (!self->heartbeat_ms || self->out_count > 0) return INT64_MAX;
    return self->last_send + self->heartbeat_ms;
}

static void s_heartbeat(tmq_link_t *self, int64_t now)
{
    if (now < s_heartbeat_at(self)) return;
    if (tmq_wire_send_empty(self->dealer, NULL, 0, TMQ_CMD_HEARTBEAT) == 0 || errno != EAGAIN)
        self->last_send = now;
}

static void s_abs_time(struct timespec *ts, int64_t ms_from_now)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms_from_now / 1000;
    ts->tv_nsec += (long)(ms_from_now % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The heartbeat thread: sends what the user thread left queued and a heartbeat when due,
 * then naps until the next one is. While the user thread is inside a call it waits for the
 * lock, and the call heartbeats itself. */
static void *s_heartbeat_thread(void *arg)
{
    tmq_link_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stop) {
        int64_t now = tmq_clock_ms();
        s_flush(self);
        s_heartbeat(self, now);
        int64_t at = s_heartbeat_at(self);
        int64_t nap = at == INT64_MAX ? S_IDLE_MS : at - now;
        if (nap > S_IDLE_MS) nap = S_IDLE_MS; /* queued messages are retried at this pace */
        struct timespec ts;
        s_abs_time(&ts, nap > 0 ? nap : 1);
        pthread_cond_timedwait(&self->wake, &self->lock, &ts);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

tmq_link_t *tmq_link_new(zsock_t **dealer_p, zsock_t **monitor_p, bool curve)
{
    tmq_link_t *self = tmq_xcalloc(1, sizeof *self);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&self->lock, NULL);
    self->dealer_sock = *dealer_p;
    self->dealer = zsock_resolve(*dealer_p);
    self->monitor = *monitor_p;
    self->curve = curve;
    self->last_send = self->last_heard = tmq_clock_ms();
    /* The thread takes no signal: the application's (Ctrl-C, SIGTERM) interrupt its own
     * thread's wait, as they would without the library. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&self->thread, NULL, s_heartbeat_thread, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&self->wake);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    *dealer_p = NULL;
    *monitor_p = NULL;
    return self;
}

void tmq_link_destroy(tmq_link_t **self_p)
{
    if (!self_p || !*self_p) return;
    tmq_link_t *self = *self_p;
    *self_p = NULL;
    pthread_mutex_lock(&self->lock);
    self->stop = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    /* Best effort: anything still queued goes to the DEALER, which lingers to deliver it. */
    s_flush(self);
    for (; self->out_count > 0; self->out_count--) {
        tmq_wire_frames_close(&self->outq[self->out_head]);
        self->out_head = (self->out_head + 1) % self->out_cap;
    }
    free(self->outq);
    zsock_set_linger(self->dealer_sock, self->heartbeat_ms ? TMQ_LINK_LINGER_MS : 0);
    tmq_curve_unmonitor(self->dealer_sock, &self->monitor);
    zsock_destroy(&self->dealer_sock);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
}

void tmq_link_send(tmq_link_t *self, tmq_cmd_t cmd, void **body_p, size_t len)
{
    tmq_wire_frames_t fr;
    tmq_wire_frames_make(&fr, cmd, body_p, len);
    pthread_mutex_lock(&self->lock);
    s_flush(self); /* keeps the order: nothing overtakes what is queued */
    if (self->out_count == 0 && tmq_wire_frames_send(self->dealer, &fr) == 0)
        self->last_send = tmq_clock_ms();
    else
        s_outq_push(self, &fr);
    pthread_mutex_unlock(&self->lock);
}

/* WELCOME sets the heartbeat interval (through the one decoder of its bounds); BYE ends it:
 * a broker that shut down expects nothing more from us. */
static void s_learn(tmq_link_t *self, const tmq_msg_t *m)
{
    uint32_t was = self->heartbeat_ms;
    if (m->cmd == TMQ_CMD_WELCOME) {
        tmq_welcome_t w;
        tmq_msg_welcome(m, &w);
        self->heartbeat_ms = w.heartbeat_ms;
    } else if (m->cmd == TMQ_CMD_BYE) {
        self->heartbeat_ms = 0;
    }
    if (self->heartbeat_ms != was) pthread_cond_signal(&self->wake); /* its nap changes */
}

int tmq_link_recv(tmq_link_t *self, tmq_wire_in_t *in, int *errcode)
{
    pthread_mutex_lock(&self->lock);
    int rc;
    while ((rc = tmq_wire_recv(self->dealer, false, in, errcode)) != 0) {
        self->last_heard = tmq_clock_ms();
        if (rc == 1 && in->msg.cmd == TMQ_CMD_HEARTBEAT) {
            tmq_wire_in_release(in);
            continue;
        }
        if (rc == 1) s_learn(self, &in->msg);
        break;
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

int tmq_link_wait(tmq_link_t *self, int timeout_ms, int extra_fd, short *extra_revents)
{
    pthread_mutex_lock(&self->lock);
    int64_t now = tmq_clock_ms(), at = s_heartbeat_at(self);
    if (at != INT64_MAX && (timeout_ms < 0 || at - now < timeout_ms))
        timeout_ms = at > now ? (int)(at - now) : 0;
    zmq_pollitem_t items[3] = {
        {self->dealer, 0, ZMQ_POLLIN | (self->out_count ? ZMQ_POLLOUT : 0), 0}};
    int n = 1, extra = -1;
    if (self->monitor)
        items[n++] = (zmq_pollitem_t){zsock_resolve(self->monitor), 0, ZMQ_POLLIN, 0};
    if (extra_fd >= 0) {
        extra = n;
        items[n++] = (zmq_pollitem_t){NULL, extra_fd, ZMQ_POLLIN, 0};
    }
    int rc = zmq_poll(items, n, timeout_ms);
    bool interrupted = rc < 0 && errno == EINTR;
    if (self->out_count) s_flush(self);
    s_heartbeat(self, tmq_clock_ms());
    pthread_mutex_unlock(&self->lock);
    *extra_revents = rc > 0 && extra >= 0 ? items[extra].revents : 0;
    return interrupted ? -1 : 0;
}

const char *tmq_link_refused(tmq_link_t *self)
{
    if (!self->monitor) return NULL;
    pthread_mutex_lock(&self->lock);
    const char *why = NULL;
    /* the monitor is told only of handshake failures; those of no concern say NULL */
    while (!why && (zsock_events(self->monitor) & ZMQ_POLLIN))
        why = tmq_curve_refused(self->monitor, self->curve);
    pthread_mutex_unlock(&self->lock);
    return why;
}

int64_t tmq_link_last_heard(const tmq_link_t *self)
{
    return self->last_heard;
}
