/* client/link.c — see link.h. Frames are moved, never copied: a zmq_msg_t received on one
 * socket is sent on the other. No send ever blocks: a message the DEALER cannot take yet
 * waits in a FIFO (the pipe is still read, so "$TERM" is always seen), and a message the
 * user thread has not made room for is held while the DEALER is left unread, which pushes
 * back on the broker through ZeroMQ's queues while heartbeats keep flowing.
 */
#include "link.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_BURST 256 /* messages moved per direction per loop turn */

typedef struct {
    zmq_msg_t f[2]; /* header, body */
} s_pair_t;

typedef struct {
    tmq_link_shared_t *shared;
    void *pipe, *dealer; /* raw libzmq handles */
    s_pair_t *outq;      /* FIFO of messages waiting for the DEALER */
    size_t out_head, out_count, out_cap;
    s_pair_t to_user; /* one message waiting for the pipe */
    bool to_user_held;
    int64_t last_send;
    int heartbeat_ms;
    bool welcomed;
    bool terminated;
} s_link_t;

/* Receives the rest of a multipart message after f[0]. Returns the frame count; frames
 * beyond two are dropped (count still reported, so the caller can discard the message). */
static int s_recv_rest(void *sock, s_pair_t *p)
{
    int n = 1;
    zmq_msg_init(&p->f[1]);
    if (!zmq_msg_more(&p->f[0])) return n;
    zmq_msg_recv(&p->f[1], sock, 0);
    n++;
    if (zmq_msg_more(&p->f[1])) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        do {
            zmq_msg_close(&extra);
            zmq_msg_init(&extra);
            if (zmq_msg_recv(&extra, sock, 0) < 0) break;
            n++;
        } while (zmq_msg_more(&extra));
        zmq_msg_close(&extra);
    }
    return n;
}

static void s_pair_close(s_pair_t *p)
{
    zmq_msg_close(&p->f[0]);
    zmq_msg_close(&p->f[1]);
}

/* Sends a two-frame message without blocking. 0 on success (frames consumed), -1 EAGAIN
 * (frames untouched) or another error (frames closed). */
static int s_pair_send(void *sock, s_pair_t *p)
{
    if (zmq_msg_send(&p->f[0], sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN) return -1;
        s_pair_close(p);
        return 0; /* not retryable: drop */
    }
    /* Once the first frame is in, the rest of the message is accepted atomically. */
    if (zmq_msg_send(&p->f[1], sock, 0) < 0) zmq_msg_close(&p->f[1]);
    return 0;
}

static void s_outq_push(s_link_t *l, s_pair_t *p)
{
    if (l->out_count == l->out_cap) {
        size_t cap = l->out_cap ? l->out_cap * 2 : 64;
        s_pair_t *q = malloc(cap * sizeof *q);
        if (!q) abort();
        for (size_t i = 0; i < l->out_count; i++) {
            s_pair_t *src = &l->outq[(l->out_head + i) % l->out_cap];
            zmq_msg_init(&q[i].f[0]);
            zmq_msg_init(&q[i].f[1]);
            zmq_msg_move(&q[i].f[0], &src->f[0]);
            zmq_msg_move(&q[i].f[1], &src->f[1]);
            zmq_msg_close(&src->f[0]);
            zmq_msg_close(&src->f[1]);
        }
        free(l->outq);
        l->outq = q;
        l->out_cap = cap;
        l->out_head = 0;
    }
    s_pair_t *dst = &l->outq[(l->out_head + l->out_count) % l->out_cap];
    zmq_msg_init(&dst->f[0]);
    zmq_msg_init(&dst->f[1]);
    zmq_msg_move(&dst->f[0], &p->f[0]);
    zmq_msg_move(&dst->f[1], &p->f[1]);
    l->out_count++;
}

/* Sends queued messages to the broker until the DEALER would block. */
static void s_outq_flush(s_link_t *l)
{
    while (l->out_count > 0) {
        s_pair_t *p = &l->outq[l->out_head];
        if (s_pair_send(l->dealer, p) != 0) return;
        l->last_send = tmq_clock_ms();
        l->out_head = (l->out_head + 1) % l->out_cap;
        l->out_count--;
    }
}

/* One message from the user thread: relay it, or obey a command. False when none. */
static bool s_from_user(s_link_t *l)
{
    s_pair_t p;
    zmq_msg_init(&p.f[0]);
    if (zmq_msg_recv(&p.f[0], l->pipe, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&p.f[0]);
        return false;
    }
    int n = s_recv_rest(l->pipe, &p);
    if (n == 1) {
        /* A command: the only one is "$TERM" from zactor_destroy. */
        if (zmq_msg_size(&p.f[0]) == 5 && memcmp(zmq_msg_data(&p.f[0]), "$TERM", 5) == 0)
            l->terminated = true;
        s_pair_close(&p);
        return true;
    }
    if (n != 2) {
        s_pair_close(&p);
        return true;
    }
    if (l->out_count == 0 && s_pair_send(l->dealer, &p) == 0) {
        l->last_send = tmq_clock_ms();
        return true;
    }
    s_outq_push(l, &p);
    s_pair_close(&p);
    return true;
}

static void s_learn_heartbeat(s_link_t *l, s_pair_t *p)
{
    tmq_msg_t m;
    if (tmq_proto_decode(&m, zmq_msg_data(&p->f[0]), zmq_msg_size(&p->f[0]), zmq_msg_data(&p->f[1]),
                         zmq_msg_size(&p->f[1]), NULL) != 0)
        return;
    uint64_t hb;
    if (tmq_msg_get_uint(&m, "heartbeat", &hb) == 0 && hb >= 10 && hb <= 3600000)
        l->heartbeat_ms = (int)hb;
    l->welcomed = true;
    tmq_msg_release(&m);
}

/* One message from the broker: drop heartbeats, learn from WELCOME, pass the rest on.
 * False when none was pending. */
static bool s_from_broker(s_link_t *l)
{
    s_pair_t p;
    zmq_msg_init(&p.f[0]);
    if (zmq_msg_recv(&p.f[0], l->dealer, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&p.f[0]);
        return false;
    }
    int n = s_recv_rest(l->dealer, &p);
    atomic_store_explicit(&l->shared->last_heard, tmq_clock_ms(), memory_order_relaxed);
    const uint8_t *h = zmq_msg_data(&p.f[0]);
    int cmd = zmq_msg_size(&p.f[0]) == TMQ_PROTO_HDR_LEN ? h[4] : 0;
    if (n != 2 || cmd == TMQ_CMD_HEARTBEAT) {
        if (n != 2) tmq_debug("client link: dropped a %d-frame message from the broker", n);
        s_pair_close(&p);
        return true;
    }
    if (cmd == TMQ_CMD_WELCOME) s_learn_heartbeat(l, &p);
    if (s_pair_send(l->pipe, &p) == 0) return true;
    zmq_msg_init(&l->to_user.f[0]);
    zmq_msg_init(&l->to_user.f[1]);
    zmq_msg_move(&l->to_user.f[0], &p.f[0]);
    zmq_msg_move(&l->to_user.f[1], &p.f[1]);
    s_pair_close(&p);
    l->to_user_held = true;
    return true;
}

/* Bounded bursts, so neither direction starves the other. */
static void s_burst_from_user(s_link_t *l)
{
    for (int i = 0; i < S_BURST; i++)
        if (l->terminated || !s_from_user(l)) return;
}

static void s_burst_from_broker(s_link_t *l)
{
    for (int i = 0; i < S_BURST; i++)
        if (l->to_user_held || !s_from_broker(l)) return;
}

static void s_heartbeat(s_link_t *l, int64_t now)
{
    if (!l->welcomed || l->out_count > 0) return;
    if (now - l->last_send < l->heartbeat_ms) return;
    if (tmq_wire_send_empty(l->dealer, NULL, 0, TMQ_CMD_HEARTBEAT) == 0 || errno != EAGAIN)
        l->last_send = now;
}

static void s_loop(s_link_t *l)
{
    while (!l->terminated) {
        zmq_pollitem_t items[2] = {
            {l->pipe, 0, ZMQ_POLLIN | (l->to_user_held ? ZMQ_POLLOUT : 0), 0},
            {l->dealer, 0, (l->to_user_held ? 0 : ZMQ_POLLIN) | (l->out_count ? ZMQ_POLLOUT : 0),
             0},
        };
        int64_t now = tmq_clock_ms();
        long wait = l->welcomed ? (long)(l->last_send + l->heartbeat_ms - now) : -1;
        if (l->welcomed && wait < 0) wait = 0;
        if (zmq_poll(items, 2, wait) < 0) {
            if (errno == EINTR) continue;
            break; /* context terminated */
        }
        if (l->to_user_held && (items[0].revents & ZMQ_POLLOUT) &&
            s_pair_send(l->pipe, &l->to_user) == 0)
            l->to_user_held = false;
        /* While the user thread is not taking messages the DEALER is not read, so the
         * broker's silence is ours: keep the liveness clock from running. */
        if (l->to_user_held)
            atomic_store_explicit(&l->shared->last_heard, tmq_clock_ms(), memory_order_relaxed);
        if (items[0].revents & ZMQ_POLLIN) s_burst_from_user(l);
        if (l->out_count) s_outq_flush(l);
        if (items[1].revents & ZMQ_POLLIN) s_burst_from_broker(l);
        s_heartbeat(l, tmq_clock_ms());
    }
}

void tmq_link_actor(zsock_t *pipe, void *args)
{
    tmq_link_shared_t *shared = args;
    zsock_t *dealer = shared->dealer;
    shared->dealer = NULL;
    s_link_t l = {.shared = shared,
                  .pipe = zsock_resolve(pipe),
                  .dealer = zsock_resolve(dealer),
                  .heartbeat_ms = TMQ_LINK_DEFAULT_HEARTBEAT_MS,
                  .last_send = tmq_clock_ms()};
    zsock_signal(pipe, 0);
    if (tmq_wire_send_empty(l.dealer, NULL, 0, TMQ_CMD_HELLO) != 0)
        tmq_debug("client link: HELLO not sent: %s", zmq_strerror(errno));
    s_loop(&l);

    /* Best effort: anything still queued goes to the DEALER, which lingers to deliver it. */
    s_outq_flush(&l);
    while (l.out_count > 0) {
        s_pair_close(&l.outq[l.out_head]);
        l.out_head = (l.out_head + 1) % l.out_cap;
        l.out_count--;
    }
    free(l.outq);
    if (l.to_user_held) s_pair_close(&l.to_user);
    /* Linger only towards a broker that ever answered: with none there is nobody to say
     * BYE to, and lingering would only delay the caller's exit. */
    zsock_set_linger(dealer, l.welcomed ? TMQ_LINK_LINGER_MS : 0);
    zsock_destroy(&dealer);
}
