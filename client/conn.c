/* client/conn.c — see conn.h. Frames are moved, never copied (common/wire's relay helpers):
 * a message received on one socket is sent on the other. No send ever blocks: a message the
 * DEALER cannot take yet waits in a FIFO (the pipe is still read, so "$TERM" is always seen),
 * and a message the user thread has not made room for is held while the DEALER is left
 * unread, which pushes back on the broker through ZeroMQ's queues while heartbeats flow.
 */
#include "conn.h"
#include "curve.h"
#include "log.h"
#include "platform.h"
#include "wire.h"
#include "xalloc.h"

#include <errno.h>
#include <string.h>

#define S_BURST 256 /* messages moved per direction per loop turn */

typedef struct {
    tmq_conn_shared_t *shared;
    void *pipe, *dealer;     /* raw libzmq handles */
    void *monitor;           /* PAIR receiving the DEALER's handshake failures, or NULL */
    zsock_t *monitor_sock;   /* the same PAIR */
    tmq_wire_frames_t *outq; /* ring of messages waiting for the DEALER */
    size_t out_head, out_count, out_cap;
    tmq_wire_frames_t to_user; /* one message waiting for the pipe */
    bool to_user_held;
    int64_t last_send;
    uint32_t heartbeat_ms;
    bool welcomed; /* a broker answered and has not said BYE since */
    bool terminated;
} s_conn_t;

static void s_outq_push(s_conn_t *k, tmq_wire_frames_t *fr)
{
    if (k->out_count == k->out_cap) {
        size_t cap = k->out_cap ? k->out_cap * 2 : 64;
        tmq_wire_frames_t *q = tmq_xmalloc(cap * sizeof *q);
        for (size_t i = 0; i < k->out_count; i++) {
            tmq_wire_frames_t *src = &k->outq[(k->out_head + i) % k->out_cap];
            tmq_wire_frames_move(&q[i], src);
            tmq_wire_frames_close(src);
        }
        free(k->outq);
        k->outq = q;
        k->out_cap = cap;
        k->out_head = 0;
    }
    tmq_wire_frames_move(&k->outq[(k->out_head + k->out_count) % k->out_cap], fr);
    k->out_count++;
}

/* Sends queued messages to the broker until the DEALER would block. */
static void s_outq_flush(s_conn_t *k)
{
    while (k->out_count > 0) {
        if (tmq_wire_frames_send(k->dealer, &k->outq[k->out_head]) != 0) return;
        k->last_send = tmq_clock_ms();
        k->out_head = (k->out_head + 1) % k->out_cap;
        k->out_count--;
    }
}

/* True for the "$TERM" command frame tmq_actor_destroy sends. */
static bool s_is_term(tmq_wire_frames_t *fr)
{
    return zmq_msg_size(&fr->f[0]) == 5 && memcmp(zmq_msg_data(&fr->f[0]), "$TERM", 5) == 0;
}

/* One message from the user thread: relay it, or obey a command. False when none. */
static bool s_from_user(s_conn_t *k)
{
    tmq_wire_frames_t fr;
    if (!tmq_wire_frames_recv(k->pipe, &fr)) return false;
    if (fr.n == 1 && s_is_term(&fr)) k->terminated = true;
    if (fr.n != 2) { /* a command (the only one is $TERM), or not a protocol message */
        tmq_wire_frames_close(&fr);
        return true;
    }
    if (k->out_count == 0 && tmq_wire_frames_send(k->dealer, &fr) == 0) {
        k->last_send = tmq_clock_ms();
        return true;
    }
    s_outq_push(k, &fr);
    tmq_wire_frames_close(&fr);
    return true;
}

/* WELCOME: the broker's heartbeat interval, through the one decoder of its bounds. */
static void s_on_welcome(s_conn_t *k, tmq_wire_frames_t *fr)
{
    tmq_msg_t m;
    if (tmq_proto_decode(&m, zmq_msg_data(&fr->f[0]), zmq_msg_size(&fr->f[0]),
                         zmq_msg_data(&fr->f[1]), zmq_msg_size(&fr->f[1]), NULL) != 0)
        return;
    tmq_welcome_t w;
    tmq_msg_welcome(&m, &w);
    k->heartbeat_ms = w.heartbeat_ms;
    k->welcomed = true;
    tmq_msg_release(&m);
}

/* One message from the broker: drop heartbeats, learn from WELCOME and BYE, pass the rest
 * on. False when none was pending. */
static bool s_from_broker(s_conn_t *k)
{
    tmq_wire_frames_t fr;
    if (!tmq_wire_frames_recv(k->dealer, &fr)) return false;
    atomic_store_explicit(&k->shared->last_heard, tmq_clock_ms(), memory_order_relaxed);
    int cmd = tmq_wire_frames_cmd(&fr);
    if (fr.n != 2 || cmd == TMQ_CMD_HEARTBEAT) {
        if (fr.n != 2) tmq_debug("client conn: dropped a %d-frame message from the broker", fr.n);
        tmq_wire_frames_close(&fr);
        return true;
    }
    if (cmd == TMQ_CMD_WELCOME) s_on_welcome(k, &fr);
    if (cmd == TMQ_CMD_BYE) k->welcomed = false; /* gone: no heartbeats, nothing to linger for */
    if (tmq_wire_frames_send(k->pipe, &fr) == 0) return true;
    tmq_wire_frames_move(&k->to_user, &fr);
    tmq_wire_frames_close(&fr);
    k->to_user_held = true;
    return true;
}

/* Bounded bursts, so neither direction starves the other. */
static void s_burst_from_user(s_conn_t *k)
{
    for (int i = 0; i < S_BURST; i++)
        if (k->terminated || !s_from_user(k)) return;
}

static void s_burst_from_broker(s_conn_t *k)
{
    for (int i = 0; i < S_BURST; i++)
        if (k->to_user_held || !s_from_broker(k)) return;
}

static void s_heartbeat(s_conn_t *k, int64_t now)
{
    if (!k->welcomed || k->out_count > 0) return;
    if (now - k->last_send < k->heartbeat_ms) return;
    if (tmq_wire_send_empty(k->dealer, NULL, 0, TMQ_CMD_HEARTBEAT) == 0 || errno != EAGAIN)
        k->last_send = now;
}

/* A monitor event: a refusal goes to the user thread as ERROR 5 with its reason. */
static void s_from_monitor(s_conn_t *k)
{
    const char *why = tmq_curve_refused(k->monitor_sock, k->shared->curve);
    if (!why || k->to_user_held) return;
    size_t len;
    void *body = tmq_proto_error_body(TMQ_ERR_WRONG_PORT, why, &len);
    tmq_wire_send(k->pipe, NULL, 0, TMQ_CMD_ERROR, &body, len);
}

static void s_loop(s_conn_t *k)
{
    while (!k->terminated) {
        zmq_pollitem_t items[3] = {
            {k->pipe, 0, ZMQ_POLLIN | (k->to_user_held ? ZMQ_POLLOUT : 0), 0},
            {k->dealer, 0, (k->to_user_held ? 0 : ZMQ_POLLIN) | (k->out_count ? ZMQ_POLLOUT : 0),
             0},
            {k->monitor, 0, ZMQ_POLLIN, 0},
        };
        int64_t now = tmq_clock_ms();
        long wait = k->welcomed ? (long)(k->last_send + k->heartbeat_ms - now) : -1;
        if (k->welcomed && wait < 0) wait = 0;
        if (zmq_poll(items, k->monitor ? 3 : 2, wait) < 0) {
            if (errno == EINTR) continue;
            break; /* context terminated */
        }
        if (k->to_user_held && (items[0].revents & ZMQ_POLLOUT) &&
            tmq_wire_frames_send(k->pipe, &k->to_user) == 0)
            k->to_user_held = false;
        /* While the user thread is not taking messages the DEALER is not read, so the
         * broker's silence is ours: keep the liveness clock from running. */
        if (k->to_user_held)
            atomic_store_explicit(&k->shared->last_heard, tmq_clock_ms(), memory_order_relaxed);
        if (items[0].revents & ZMQ_POLLIN) s_burst_from_user(k);
        if (k->out_count) s_outq_flush(k);
        if (items[1].revents & ZMQ_POLLIN) s_burst_from_broker(k);
        if (k->monitor && (items[2].revents & ZMQ_POLLIN)) s_from_monitor(k);
        s_heartbeat(k, tmq_clock_ms());
    }
}

void tmq_conn_actor(zsock_t *pipe, void *args)
{
    tmq_conn_shared_t *shared = args;
    zsock_t *dealer = shared->dealer;
    shared->dealer = NULL;
    s_conn_t k = {.shared = shared,
                  .pipe = zsock_resolve(pipe),
                  .dealer = zsock_resolve(dealer),
                  .heartbeat_ms = TMQ_PROTO_HEARTBEAT_DEFAULT,
                  .last_send = tmq_clock_ms()};
    zsock_t *monitor = shared->monitor;
    shared->monitor = NULL;
    k.monitor = monitor ? zsock_resolve(monitor) : NULL;
    k.monitor_sock = monitor;
    size_t hello_len = shared->hello_len; /* taken before the signal: the caller goes on */
    void *hello = shared->hello;
    shared->hello = NULL;
    zsock_signal(pipe, 0);
    if (!hello) hello = tmq_proto_hello_body(NULL, 0, &hello_len);
    if (tmq_wire_send(k.dealer, NULL, 0, TMQ_CMD_HELLO, &hello, hello_len) != 0)
        tmq_debug("client conn: HELLO not sent: %s", zmq_strerror(errno));
    s_loop(&k);

    /* Best effort: anything still queued goes to the DEALER, which lingers to deliver it. */
    s_outq_flush(&k);
    while (k.out_count > 0) {
        tmq_wire_frames_close(&k.outq[k.out_head]);
        k.out_head = (k.out_head + 1) % k.out_cap;
        k.out_count--;
    }
    free(k.outq);
    if (k.to_user_held) tmq_wire_frames_close(&k.to_user);
    /* Linger only towards a broker that answered and is still there: with none there is
     * nobody to say BYE to, and lingering would only delay the caller's exit. */
    zsock_set_linger(dealer, k.welcomed ? TMQ_CONN_LINGER_MS : 0);
    tmq_curve_unmonitor(dealer, &monitor);
    zsock_destroy(&dealer);
}
