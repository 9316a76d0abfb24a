/* bench/tmq_fake.c — fake TMQ/1 peers (docs/PROTOCOL.md) that cost far less per job than the
 * broker, so that a benchmark of the broker measures the broker. Not a test: bench/scale.sh
 * drives it and prints the figures.
 *
 *   tmq_fake worker BACKEND [--sockets K] [--procs P] [--hold] [--seconds S]
 *       K worker connections serving "echo", each READY with procs P (1). Every JOBS batch is
 *       answered at once by one DONE batch (status OK, data = the argument, ms 0); with --hold
 *       jobs are taken and never answered. Runs until SIGINT/SIGTERM, BYE on every
 *       connection, or S seconds (600); says on stderr how many jobs it answered.
 *   tmq_fake clients FRONTEND N JOBS_EACH [--batch B] [--window W] [--timeout S]
 *       N client connections in this process, each submitting JOBS_EACH echo jobs in SUBMITs
 *       of B (1000), at most W (10000) awaiting their result, jobs refused "queue full"
 *       submitted again 2 ms later. Checks every result (each cid once, OK, the argument
 *       back intact) and prints "fake-clients N x JOBS_EACH jobs T s R jobs/s failed F cpu
 *       C s" (T from the last WELCOME to the last result; C this process's CPU time).
 *   tmq_fake fill FRONTEND N [--batch B] [--timeout S] [--stay] [--seconds S]
 *       one connection submits N jobs (a broker whose only worker holds: they queue) with
 *       at most 8 SUBMITs unacknowledged; prints "fill N jobs T s R jobs/s" once all are
 *       ACKed ("queue full" or any result is a failure). --stay then keeps the connection,
 *       and so the jobs, until SIGINT/SIGTERM or S seconds (600).
 * A job's argument is 9 bytes, the msgpack uint64 (client << 40 | cid). The batch items go
 * in and out by hand here (fixed shapes, every length checked against the bytes present);
 * only the rare messages (READY, WELCOME, ACK, ERROR) go through the codec in common/proto.h.
 * Sockets are raw libzmq DEALERs in one context, waited on with epoll over their ZMQ_FDs, so
 * a thousand connections cost no more per job than one. Exit 0 when all went right, 1 when
 * an answer was wrong or missing (the reason on stderr), 2 on a usage error.
 */
#include <proto.h>
#include <wire.h>
#include <xalloc.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_FN "echo"
#define S_ARG_LEN 9       /* 0xcf + 8 bytes */
#define S_TICK_MS 50      /* heartbeat checks, deadlines */
#define S_DRAIN_MAX 64    /* messages taken from one socket before the next gets a turn */
#define S_RETRY_MS 2      /* a job refused "queue full" is submitted again this much later */
#define S_FILL_UNACKED 8  /* SUBMITs a fill keeps unacknowledged */
#define S_STALL_MS 30000  /* clients: no progress this long is a failure */
#define S_WELCOME_MS 5000 /* a connection not WELCOMEd by then: no broker */
#define S_LINGER_MS 200   /* to deliver BYE at exit */

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static int64_t s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CPU seconds this process has used, user + system. */
static double s_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the msgpack forms written by hand: a growable buffer holding one body ---- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t count_at; /* where s_batch_begin left the item count to patch */
} s_buf_t;

static void s_put(s_buf_t *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = tmq_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void s_put_u8(s_buf_t *b, uint8_t v)
{
    s_put(b, &v, 1);
}

static void s_be(uint8_t *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static void s_put_uint(s_buf_t *b, uint64_t v)
{
    uint8_t t[9];
    int n;
    if (v < 0x80) {
        s_put_u8(b, (uint8_t)v);
        return;
    }
    if (v <= 0xff)
        n = 1, t[0] = 0xcc;
    else if (v <= 0xffff)
        n = 2, t[0] = 0xcd;
    else if (v <= 0xffffffffu)
        n = 4, t[0] = 0xce;
    else
        n = 8, t[0] = 0xcf;
    s_be(t + 1, v, n);
    s_put(b, t, (size_t)n + 1);
}

static void s_put_bin(s_buf_t *b, const void *p, size_t n)
{
    uint8_t t[5];
    int h;
    if (n <= 0xff)
        h = 1, t[0] = 0xc4;
    else if (n <= 0xffff)
        h = 2, t[0] = 0xc5;
    else
        h = 4, t[0] = 0xc6;
    s_be(t + 1, n, h);
    s_put(b, t, (size_t)h + 1);
    s_put(b, p, n);
}

/* Starts a body {key: [items]} (key under 32 bytes); s_batch_end writes the item count. */
static void s_batch_begin(s_buf_t *b, const char *key)
{
    size_t k = strlen(key);
    b->len = 0;
    s_put_u8(b, 0x81);
    s_put_u8(b, (uint8_t)(0xa0 | k));
    s_put(b, key, k);
    s_put_u8(b, 0xdd); /* array 32: the count is patched in at the end */
    b->count_at = b->len;
    s_put(b, "\0\0\0\0", 4);
}

static void s_batch_end(s_buf_t *b, uint32_t n)
{
    s_be(b->p + b->count_at, n, 4);
}

/* The 9-byte argument of client idx's job cid. */
static void s_arg(uint8_t out[S_ARG_LEN], uint32_t idx, uint64_t cid)
{
    out[0] = 0xcf;
    s_be(out + 1, (uint64_t)idx << 40 | cid, 8);
}

/* ---- and read by hand: a cursor over one body ---- */

typedef struct {
    const uint8_t *p, *end;
} s_rd_t;

static int s_rd_be(s_rd_t *r, int n, uint64_t *v)
{
    if (r->end - r->p < n) return -1;
    *v = 0;
    for (int i = 0; i < n; i++)
        *v = *v << 8 | r->p[i];
    r->p += n;
    return 0;
}

static int s_rd_uint(s_rd_t *r, uint64_t *v)
{
    if (r->p >= r->end) return -1;
    uint8_t c = *r->p++;
    if (c < 0x80) {
        *v = c;
        return 0;
    }
    if (c < 0xcc || c > 0xcf) return -1;
    return s_rd_be(r, 1 << (c - 0xcc), v);
}

/* A str or bin: *s and *n point at its bytes. */
static int s_rd_bytes(s_rd_t *r, const uint8_t **s, size_t *n)
{
    if (r->p >= r->end) return -1;
    uint8_t c = *r->p++;
    uint64_t len;
    if ((c & 0xe0) == 0xa0)
        len = c & 0x1f;
    else if (c == 0xd9 || c == 0xc4) {
        if (s_rd_be(r, 1, &len)) return -1;
    } else if (c == 0xda || c == 0xc5) {
        if (s_rd_be(r, 2, &len)) return -1;
    } else if (c == 0xdb || c == 0xc6) {
        if (s_rd_be(r, 4, &len)) return -1;
    } else
        return -1;
    if ((uint64_t)(r->end - r->p) < len) return -1;
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

/* An array (fix 0x90) or map (fix 0x80) header: its count. */
static int s_rd_head(s_rd_t *r, uint8_t fix, uint8_t b16, uint32_t *n)
{
    if (r->p >= r->end) return -1;
    uint8_t c = *r->p++;
    uint64_t v;
    if ((c & 0xf0) == fix)
        v = c & 0x0f;
    else if (c == b16) {
        if (s_rd_be(r, 2, &v)) return -1;
    } else if (c == b16 + 1) {
        if (s_rd_be(r, 4, &v)) return -1;
    } else
        return -1;
    *n = (uint32_t)v;
    return 0;
}

static int s_rd_skip(s_rd_t *r)
{
    size_t pos = 0;
    if (tmq_proto_skip(r->p, (size_t)(r->end - r->p), &pos, TMQ_PROTO_MAX_DEPTH)) return -1;
    r->p += pos;
    return 0;
}

/* Places r at the first item of the body's array under key; *n its count. */
static int s_rd_batch(s_rd_t *r, const zmq_msg_t *body, const char *key, uint32_t *n)
{
    size_t klen = strlen(key);
    uint32_t nkeys;
    r->p = zmq_msg_data((zmq_msg_t *)body);
    r->end = r->p + zmq_msg_size((zmq_msg_t *)body);
    if (s_rd_head(r, 0x80, 0xde, &nkeys)) return -1;
    for (uint32_t i = 0; i < nkeys; i++) {
        const uint8_t *k;
        size_t kn;
        if (s_rd_bytes(r, &k, &kn)) return -1;
        if (kn == klen && memcmp(k, key, klen) == 0) return s_rd_head(r, 0x90, 0xdc, n);
        if (s_rd_skip(r)) return -1;
    }
    return -1;
}

/* ---- connections and the wait for their input ---- */

struct s_loop_t;

typedef struct {
    void *sock;
    struct s_loop_t *lp;
    size_t idx;        /* in lp->peer, and the epoll data */
    int64_t last_sent; /* ms */
    uint32_t hb_ms;    /* the broker's heartbeat interval (WELCOME) */
    bool pending;      /* may hold input: to drain */
} s_peer_t;

typedef struct s_loop_t {
    void *ctx;
    int ep;          /* epoll over the sockets' ZMQ_FDs */
    s_peer_t **peer; /* by index */
    size_t n, cap;
    size_t *pending, *todo; /* indices of peers to drain (todo: this turn's copy) */
    size_t npending;
} s_loop_t;

/* Room for n sockets, file descriptors included (each costs a TCP and a mailbox fd). */
static int s_loop_init(s_loop_t *lp, size_t n)
{
    memset(lp, 0, sizeof *lp);
    lp->ep = -1;
    struct rlimit rl;
    rlim_t need = (rlim_t)n * 2 + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < need) {
            fprintf(stderr, "tmq_fake: %zu sockets need %lu file descriptors (ulimit -n %lu)\n", n,
                    (unsigned long)need, (unsigned long)rl.rlim_cur);
            return -1;
        }
    }
    lp->ctx = zmq_ctx_new();
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!lp->ctx || lp->ep < 0 || zmq_ctx_set(lp->ctx, ZMQ_MAX_SOCKETS, (int)n + 16) != 0) {
        fprintf(stderr, "tmq_fake: zmq/epoll setup: %s\n", strerror(errno));
        return -1;
    }
    lp->cap = n;
    lp->peer = tmq_xcalloc(n, sizeof *lp->peer);
    lp->pending = tmq_xcalloc(n, sizeof *lp->pending);
    lp->todo = tmq_xcalloc(n, sizeof *lp->todo);
    return 0;
}

static void s_mark(s_peer_t *p)
{
    if (p->pending) return;
    p->pending = true;
    p->lp->pending[p->lp->npending++] = p->idx;
}

/* Opens a DEALER for p, connected to ep, and waits on it. */
static int s_loop_connect(s_loop_t *lp, s_peer_t *p, const char *ep)
{
    int linger = S_LINGER_MS, fd;
    size_t fdlen = sizeof fd;
    p->sock = zmq_socket(lp->ctx, ZMQ_DEALER);
    if (!p->sock) goto fail;
    tmq_wire_setup(p->sock);
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(p->sock, ep) != 0 || zmq_getsockopt(p->sock, ZMQ_FD, &fd, &fdlen) != 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = lp->n};
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) != 0) goto fail;
    p->lp = lp;
    p->idx = lp->n;
    p->hb_ms = TMQ_PROTO_HEARTBEAT_DEFAULT;
    p->last_sent = s_ms();
    lp->peer[lp->n++] = p;
    s_mark(p);
    return 0;
fail:
    fprintf(stderr, "tmq_fake: socket %zu to %s: %s\n", lp->n, ep, zmq_strerror(errno));
    if (p->sock) zmq_close(p->sock);
    p->sock = NULL;
    return -1;
}

/* Waits at most timeout_ms (not at all while input may wait) and marks the sockets with
 * input. */
static void s_loop_wait(s_loop_t *lp, int timeout_ms)
{
    struct epoll_event ev[256];
    int n = epoll_wait(lp->ep, ev, 256, lp->npending ? 0 : timeout_ms);
    for (int k = 0; k < n; k++)
        s_mark(lp->peer[ev[k].data.u64]);
}

static void s_loop_fini(s_loop_t *lp)
{
    for (size_t i = 0; i < lp->n; i++)
        zmq_close(lp->peer[i]->sock);
    if (lp->ctx) zmq_ctx_term(lp->ctx);
    if (lp->ep >= 0) close(lp->ep);
    free(lp->peer);
    free(lp->pending);
    free(lp->todo);
}

/* Sends header + body without blocking. A send that would block is a failure here: every
 * fake bounds what it has in flight far below the high-water mark. */
static int s_send(s_peer_t *p, tmq_cmd_t cmd, const void *body, size_t len)
{
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, cmd);
    if (zmq_send(p->sock, hdr, sizeof hdr, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(p->sock, body, len, ZMQ_DONTWAIT) < 0) {
        fprintf(stderr, "tmq_fake: sending %s: %s\n", tmq_cmd_name(cmd), zmq_strerror(errno));
        return -1;
    }
    p->last_sent = s_ms();
    s_mark(p); /* a send may take the fd's signal of new input: look again */
    return 0;
}

static int s_send_empty(s_peer_t *p, tmq_cmd_t cmd)
{
    return s_send(p, cmd, "\x80", 1);
}

/* Takes one message without blocking: 1 with its command in *cmd and its body in body (the
 * caller closes it), 0 when nothing is pending, -1 when the message was malformed. */
static int s_recv(s_peer_t *p, int *cmd, zmq_msg_t *body)
{
    zmq_msg_t hdr;
    zmq_msg_init(body);
    zmq_msg_init(&hdr);
    if (zmq_msg_recv(&hdr, p->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&hdr);
        return 0;
    }
    const uint8_t *h = zmq_msg_data(&hdr);
    bool ok = zmq_msg_size(&hdr) == TMQ_PROTO_HDR_LEN && memcmp(h, "TMQ\x01", 4) == 0;
    *cmd = ok ? h[4] : 0;
    bool more = zmq_msg_more(&hdr);
    zmq_msg_close(&hdr);
    if (!more || zmq_msg_recv(body, p->sock, 0) < 0) return -1;
    if (zmq_msg_more(body)) { /* more than two frames: drop the rest */
        zmq_msg_t x;
        do {
            zmq_msg_init(&x);
            if (zmq_msg_recv(&x, p->sock, 0) < 0)
                more = false;
            else
                more = zmq_msg_more(&x);
            zmq_msg_close(&x);
        } while (more);
        return -1;
    }
    return ok ? 1 : -1;
}

/* Takes what waits on the marked sockets, S_DRAIN_MAX messages each at most, and hands each
 * message to fn(self, socket index, command, body). Returns -1 as soon as fn does. */
typedef int (*s_msg_fn)(void *self, size_t i, int cmd, zmq_msg_t *body);

static int s_drain(s_loop_t *lp, void *self, s_msg_fn fn)
{
    size_t n = lp->npending;
    memcpy(lp->todo, lp->pending, n * sizeof *lp->todo);
    lp->npending = 0;
    for (size_t k = 0; k < n; k++)
        lp->peer[lp->todo[k]]->pending = false;
    for (size_t k = 0; k < n; k++) {
        s_peer_t *p = lp->peer[lp->todo[k]];
        int got = 0, cmd = 0, rc;
        zmq_msg_t body;
        while ((rc = s_recv(p, &cmd, &body)) == 1) {
            rc = fn(self, p->idx, cmd, &body);
            zmq_msg_close(&body);
            if (rc != 0) return -1;
            if (++got == S_DRAIN_MAX) { /* more may wait: after the others */
                s_mark(p);
                break;
            }
        }
        if (rc < 0) {
            zmq_msg_close(&body);
            fprintf(stderr, "tmq_fake: socket %zu: a malformed message (%s)\n", p->idx,
                    tmq_cmd_name(cmd));
            return -1;
        }
        if (rc == 0) zmq_msg_close(&body);
    }
    return 0;
}

/* Decodes a small body (WELCOME, ACK, ERROR) with the codec. */
static int s_decode(tmq_msg_t *m, int cmd, zmq_msg_t *body)
{
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, (tmq_cmd_t)cmd);
    return tmq_proto_decode(m, hdr, sizeof hdr, zmq_msg_data(body), zmq_msg_size(body), NULL);
}

static void s_welcome(s_peer_t *p, int cmd, zmq_msg_t *body)
{
    tmq_msg_t m;
    tmq_welcome_t w;
    if (s_decode(&m, cmd, body) == 0) {
        tmq_msg_welcome(&m, &w);
        p->hb_ms = w.heartbeat_ms;
    }
    tmq_msg_release(&m);
}

/* An ERROR from the broker, said on stderr. */
static void s_error(const char *who, size_t i, int cmd, zmq_msg_t *body)
{
    tmq_msg_t m;
    const char *reason = "?";
    size_t len = 1;
    uint64_t code = 0;
    if (s_decode(&m, cmd, body) == 0) {
        tmq_msg_get_uint(&m, "code", &code);
        tmq_msg_get_str(&m, "reason", &reason, &len);
    }
    fprintf(stderr, "tmq_fake: %s %zu: the broker says ERROR %lu: %.*s\n", who, i,
            (unsigned long)code, (int)len, reason);
    tmq_msg_release(&m);
}

/* HEARTBEAT on every socket that has sent nothing for half an interval. */
static int s_heartbeats(s_loop_t *lp, int64_t now)
{
    for (size_t i = 0; i < lp->n; i++) {
        s_peer_t *p = lp->peer[i];
        if (now - p->last_sent >= p->hb_ms / 2 && s_send_empty(p, TMQ_CMD_HEARTBEAT) != 0)
            return -1;
    }
    return 0;
}

/* ---- worker ---- */

typedef struct {
    s_peer_t peer;
    bool bye; /* the broker said BYE */
} s_wsock_t;

typedef struct {
    s_loop_t lp;
    s_wsock_t *socks;
    uint32_t procs, pid;
    bool hold;
    uint64_t answered, held, messages, revokes;
    size_t byes;
    s_buf_t out;
} s_worker_t;

static int s_ready(s_worker_t *w, s_wsock_t *s)
{
    const char *fns[] = {S_FN};
    tmq_ready_t r = {.name = "fake", .name_len = 4, .procs = w->procs, .pid = w->pid};
    size_t len;
    void *body = tmq_proto_ready_body(&r, fns, 1, &len);
    int rc = s_send(&s->peer, TMQ_CMD_READY, body, len);
    free(body);
    return rc;
}

/* Answers one JOBS batch with one DONE batch (or, holding, keeps it). */
static int s_jobs(s_worker_t *w, s_wsock_t *s, zmq_msg_t *body)
{
    s_rd_t r;
    uint32_t n;
    if (s_rd_batch(&r, body, "jobs", &n)) goto bad;
    if (w->hold) {
        w->held += n;
        return 0;
    }
    s_batch_begin(&w->out, "results");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t arity;
        uint64_t jid, attempt, timeout;
        const uint8_t *fn, *arg;
        size_t fn_len, arg_len;
        if (s_rd_head(&r, 0x90, 0xdc, &arity) || (arity != 5 && arity != 6) ||
            s_rd_uint(&r, &jid) || s_rd_uint(&r, &attempt) || s_rd_bytes(&r, &fn, &fn_len) ||
            s_rd_bytes(&r, &arg, &arg_len) || s_rd_uint(&r, &timeout) ||
            (arity == 6 && s_rd_skip(&r)))
            goto bad;
        s_put_u8(&w->out, 0x96); /* [jid, attempt, status OK, data, pid, ms 0] */
        s_put_uint(&w->out, jid);
        s_put_uint(&w->out, attempt);
        s_put_u8(&w->out, TMQ_ST_OK);
        s_put_bin(&w->out, arg, arg_len);
        s_put_uint(&w->out, w->pid);
        s_put_u8(&w->out, 0);
    }
    s_batch_end(&w->out, n);
    w->answered += n;
    w->messages++;
    return s_send(&s->peer, TMQ_CMD_DONE, w->out.p, w->out.len);
bad:
    fprintf(stderr, "tmq_fake: worker socket %zu: a JOBS batch it cannot read\n", s->peer.idx);
    return -1;
}

static int s_worker_msg(void *self, size_t i, int cmd, zmq_msg_t *body)
{
    s_worker_t *w = self;
    s_wsock_t *s = &w->socks[i];
    switch (cmd) {
    case TMQ_CMD_WELCOME:
        s_welcome(&s->peer, cmd, body);
        return 0;
    case TMQ_CMD_JOBS:
        return s_jobs(w, s, body);
    case TMQ_CMD_REVOKE: /* nothing held unstarted (answered at once, or held as running) */
        w->revokes++;
        s_batch_begin(&w->out, "jobs");
        s_batch_end(&w->out, 0);
        return s_send(&s->peer, TMQ_CMD_RETURNED, w->out.p, w->out.len);
    case TMQ_CMD_RECONNECT:
        return s_ready(w, s);
    case TMQ_CMD_BYE:
        w->byes += !s->bye;
        s->bye = true;
        return 0;
    case TMQ_CMD_ERROR:
        s_error("worker socket", i, cmd, body);
        return -1;
    default: /* HEARTBEAT; CANCEL (nothing runs here) */
        return 0;
    }
}

static int s_worker_run(const char *ep, size_t nsocks, uint32_t procs, bool hold, double seconds)
{
    s_worker_t w = {.procs = procs, .pid = (uint32_t)getpid(), .hold = hold};
    int rc = 1;
    if (s_loop_init(&w.lp, nsocks) != 0) goto done;
    w.socks = tmq_xcalloc(nsocks, sizeof *w.socks);
    for (size_t i = 0; i < nsocks; i++)
        if (s_loop_connect(&w.lp, &w.socks[i].peer, ep) != 0 || s_ready(&w, &w.socks[i]) != 0)
            goto done;
    int64_t end = s_ms() + (int64_t)(seconds * 1000), next_hb = 0;
    while (!s_stop && w.byes < nsocks) {
        if (s_drain(&w.lp, &w, s_worker_msg) != 0) goto done;
        int64_t now = s_ms();
        if (now >= end) break;
        if (now >= next_hb) {
            if (s_heartbeats(&w.lp, now) != 0) goto done;
            next_hb = now + S_TICK_MS;
        }
        s_loop_wait(&w.lp, S_TICK_MS);
    }
    rc = 0;
done:
    for (size_t i = 0; w.socks && i < w.lp.n; i++)
        if (!w.socks[i].bye) s_send_empty(&w.socks[i].peer, TMQ_CMD_BYE);
    fprintf(stderr,
            "fake-worker %zu sockets procs %u answered %lu jobs in %lu DONE held %lu revokes "
            "%lu cpu %.2f s\n",
            nsocks, procs, (unsigned long)w.answered, (unsigned long)w.messages,
            (unsigned long)w.held, (unsigned long)w.revokes, s_cpu());
    s_loop_fini(&w.lp);
    free(w.socks);
    free(w.out.p);
    return rc;
}

/* ---- clients (and fill) ---- */

typedef struct {
    s_peer_t peer;
    uint32_t idx;    /* in the arguments' tag */
    uint64_t next;   /* the next fresh cid, from 1 */
    uint64_t *retry; /* cids refused "queue full", to submit again */
    size_t nretry;
    int64_t retry_at; /* ms */
    uint64_t waiting; /* submitted, neither result nor refusal yet */
    uint32_t *acks;   /* items of each unacknowledged SUBMIT, a ring */
    size_t ack_head, nacks;
    uint64_t accepted, resolved, failed; /* resolved: cids with their one outcome */
    uint8_t *seen;                       /* a bit per cid: its outcome came */
    bool welcomed;
} s_client_t;

typedef struct {
    s_loop_t lp;
    s_client_t *cl;
    size_t n;
    uint64_t each;   /* jobs per client */
    uint32_t batch;  /* items per SUBMIT */
    uint64_t window; /* results awaited at most, per client */
    size_t max_acks; /* SUBMITs unacknowledged at most */
    bool fill;       /* done when all are ACKed; "queue full" is a failure */
    uint64_t resolved, accepted, failed, bad; /* bad: protocol failures (not job outcomes) */
    int64_t progress_at;
    s_buf_t out;
} s_clients_t;

/* A protocol failure (not a job's outcome): counted, the first ten said. */
static void s_fail_client(s_clients_t *f, s_client_t *c, const char *why, uint64_t cid)
{
    if (f->bad++ < 10)
        fprintf(stderr, "tmq_fake: client %u: %s (cid %lu)\n", c->idx, why, (unsigned long)cid);
}

/* One outcome for cid: counted once, and failed unless ok. */
static void s_resolve(s_clients_t *f, s_client_t *c, uint64_t cid, bool ok)
{
    if (cid == 0 || cid >= c->next) {
        s_fail_client(f, c, "an outcome for a cid it never submitted", cid);
        return;
    }
    if (c->seen[cid / 8] & (1u << (cid % 8))) {
        s_fail_client(f, c, "a second outcome", cid);
        return;
    }
    c->seen[cid / 8] |= (uint8_t)(1u << (cid % 8));
    c->resolved++;
    f->resolved++;
    c->waiting--;
    if (!ok) {
        c->failed++;
        f->failed++;
    }
    f->progress_at = s_ms();
}

/* Sends SUBMITs while the window, the ACK bound and the jobs left allow, full batches only
 * (but the last). Jobs refused "queue full" go first once S_RETRY_MS has passed. */
static int s_submit(s_clients_t *f, s_client_t *c, int64_t now)
{
    while (c->welcomed && c->nacks < f->max_acks) {
        size_t retry = now >= c->retry_at ? c->nretry : 0;
        uint64_t avail = retry + (f->each - (c->next - 1));
        uint64_t want = avail < f->batch ? avail : f->batch;
        if (want == 0 || f->window - c->waiting < want) return 0;
        uint8_t arg[S_ARG_LEN];
        s_batch_begin(&f->out, "jobs");
        for (uint64_t k = 0; k < want; k++) {
            uint64_t cid = k < retry ? c->retry[--c->nretry] : c->next++;
            s_arg(arg, c->idx, cid);
            /* [cid, "echo", arg, timeout_ms 0, retries -1] */
            s_put_u8(&f->out, 0x95);
            s_put_uint(&f->out, cid);
            s_put(&f->out, "\xa4" S_FN, 5);
            s_put_bin(&f->out, arg, sizeof arg);
            s_put(&f->out, "\x00\xff", 2);
        }
        s_batch_end(&f->out, (uint32_t)want);
        if (s_send(&c->peer, TMQ_CMD_SUBMIT, f->out.p, f->out.len) != 0) return -1;
        c->acks[(c->ack_head + c->nacks++) % f->max_acks] = (uint32_t)want;
        c->waiting += want;
    }
    return 0;
}

static int s_ack(s_clients_t *f, s_client_t *c, int cmd, zmq_msg_t *body)
{
    tmq_msg_t m;
    uint64_t accepted = 0;
    int rc = -1;
    if (c->nacks == 0) {
        fprintf(stderr, "tmq_fake: client %u: an ACK for no SUBMIT\n", c->idx);
        return -1;
    }
    uint32_t items = c->acks[c->ack_head];
    c->ack_head = (c->ack_head + 1) % f->max_acks;
    c->nacks--;
    const char *err;
    size_t err_len;
    if (s_decode(&m, cmd, body) != 0 || tmq_msg_get_uint(&m, "accepted", &accepted) != 0) {
        fprintf(stderr, "tmq_fake: client %u: an ACK it cannot read\n", c->idx);
        goto done;
    }
    if (tmq_msg_get_str(&m, "error", &err, &err_len) == 0) {
        fprintf(stderr, "tmq_fake: client %u: a SUBMIT refused whole: %.*s\n", c->idx, (int)err_len,
                err);
        goto done;
    }
    if (!f->fill && tmq_msg_get(&m, "unserved")) { /* they would wait for good */
        fprintf(stderr, "tmq_fake: client %u: no worker is connected (ACK lists unserved)\n",
                c->idx);
        goto done;
    }
    size_t nrej = tmq_msg_count(&m);
    if (accepted + nrej != items) {
        fprintf(stderr, "tmq_fake: client %u: ACK of %lu accepted + %zu refused for %u jobs\n",
                c->idx, (unsigned long)accepted, nrej, items);
        goto done;
    }
    c->accepted += accepted;
    f->accepted += accepted;
    for (size_t i = 0; i < nrej; i++) {
        tmq_reject_item_t it;
        if (tmq_msg_reject_item(&m, i, &it) != 0) {
            fprintf(stderr, "tmq_fake: client %u: an ACK item it cannot read\n", c->idx);
            goto done;
        }
        if (it.code == TMQ_REJ_QUEUE_FULL && !f->fill) {
            c->retry[c->nretry++] = it.cid;
            c->retry_at = s_ms() + S_RETRY_MS;
            c->waiting--;
            continue;
        }
        fprintf(stderr, "tmq_fake: client %u: job %lu refused: %.*s%s\n", c->idx,
                (unsigned long)it.cid, (int)it.reason_len, it.reason,
                it.code == TMQ_REJ_QUEUE_FULL         ? " (raise the broker's --max-queue)"
                : it.code == TMQ_REJ_UNKNOWN_FUNCTION ? " (is a fake worker connected?)"
                                                      : "");
        goto done; /* a refusal other than "queue full" is the set-up's fault: stop */
    }
    f->progress_at = s_ms();
    rc = 0;
done:
    tmq_msg_release(&m);
    return rc;
}

static int s_results(s_clients_t *f, s_client_t *c, zmq_msg_t *body)
{
    s_rd_t r;
    uint32_t n;
    if (s_rd_batch(&r, body, "results", &n)) goto bad;
    if (f->fill && n) { /* its jobs wait behind a worker that never answers */
        fprintf(stderr, "tmq_fake: fill: %u results came for jobs that should wait queued\n", n);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t arity;
        uint64_t cid, status;
        const uint8_t *data;
        size_t len;
        uint8_t want[S_ARG_LEN];
        if (s_rd_head(&r, 0x90, 0xdc, &arity) || arity != 6 || s_rd_uint(&r, &cid) ||
            s_rd_uint(&r, &status) || s_rd_bytes(&r, &data, &len) || s_rd_skip(&r) ||
            s_rd_skip(&r) || s_rd_skip(&r))
            goto bad;
        s_arg(want, c->idx, cid);
        bool ok = status == TMQ_ST_OK && len == sizeof want && memcmp(data, want, len) == 0;
        if (!ok && f->bad++ < 10)
            fprintf(stderr, "tmq_fake: client %u: job %lu status %lu: %.*s\n", c->idx,
                    (unsigned long)cid, (unsigned long)status, status == TMQ_ST_OK ? 0 : (int)len,
                    (const char *)data);
        s_resolve(f, c, cid, ok);
    }
    return 0;
bad:
    fprintf(stderr, "tmq_fake: client %u: a RESULTS batch it cannot read\n", c->idx);
    return -1;
}

static int s_client_msg(void *self, size_t i, int cmd, zmq_msg_t *body)
{
    s_clients_t *f = self;
    s_client_t *c = &f->cl[i];
    switch (cmd) {
    case TMQ_CMD_WELCOME:
        s_welcome(&c->peer, cmd, body);
        c->welcomed = true;
        return 0;
    case TMQ_CMD_ACK:
        return s_ack(f, c, cmd, body);
    case TMQ_CMD_RESULTS:
        return s_results(f, c, body);
    case TMQ_CMD_HEARTBEAT:
        return 0;
    case TMQ_CMD_ERROR:
        s_error("client", i, cmd, body);
        return -1;
    case TMQ_CMD_BYE:
        fprintf(stderr, "tmq_fake: client %zu: the broker shut down\n", i);
        return -1;
    default:
        fprintf(stderr, "tmq_fake: client %zu: unexpected %s\n", i, tmq_cmd_name(cmd));
        return -1;
    }
}

static bool s_clients_done(const s_clients_t *f)
{
    uint64_t total = f->each * f->n;
    return f->fill ? f->accepted == total : f->resolved == total;
}

/* The clients' loop until every job is answered (fill: acknowledged) or something fails. */
static int s_clients_loop(s_clients_t *f, double timeout_s, double *t0)
{
    int64_t start = s_ms(), end = start + (int64_t)(timeout_s * 1000), next_hb = 0;
    size_t welcomed = 0;
    *t0 = 0;
    f->progress_at = start;
    while (!s_stop && !s_clients_done(f)) {
        if (s_drain(&f->lp, f, s_client_msg) != 0) return -1;
        int64_t now = s_ms();
        if (welcomed < f->n) { /* the clock starts once every connection is WELCOMEd */
            welcomed = 0;
            for (size_t i = 0; i < f->n; i++)
                welcomed += f->cl[i].welcomed;
            if (welcomed < f->n && now - start > S_WELCOME_MS) {
                fprintf(stderr, "tmq_fake: %zu of %zu clients WELCOMEd in %d ms: no broker?\n",
                        welcomed, f->n, S_WELCOME_MS);
                return -1;
            }
            if (welcomed == f->n) {
                *t0 = s_now();
                f->progress_at = now;
            }
        }
        for (size_t i = 0; welcomed == f->n && i < f->n; i++)
            if (s_submit(f, &f->cl[i], now) != 0) return -1;
        if (now >= next_hb) {
            if (s_heartbeats(&f->lp, now) != 0) return -1;
            next_hb = now + S_TICK_MS;
        }
        if (now > end || now - f->progress_at > S_STALL_MS) {
            fprintf(stderr, "tmq_fake: %s after %.0f s with %lu of %lu jobs %s\n",
                    now > end ? "timed out" : "no progress", (now - start) / 1000.0,
                    (unsigned long)(f->fill ? f->accepted : f->resolved),
                    (unsigned long)(f->each * f->n), f->fill ? "acknowledged" : "answered");
            return -1;
        }
        /* wake for a retry due soon, not only for input */
        s_loop_wait(&f->lp, S_RETRY_MS);
    }
    return s_stop ? -1 : 0;
}

typedef struct {
    uint32_t batch, window;
    double timeout_s, seconds;
    bool stay;
} s_copts_t;

static int s_clients_run(const char *ep, size_t n, uint64_t each, bool fill, const s_copts_t *o)
{
    s_clients_t f = {.n = n, .each = each, .batch = o->batch, .fill = fill};
    f.window = fill ? UINT64_MAX : o->window;
    f.max_acks = fill ? S_FILL_UNACKED : o->window / o->batch + 2;
    int rc = 1;
    double t0 = 0;
    if (s_loop_init(&f.lp, n) != 0) goto done;
    f.cl = tmq_xcalloc(n, sizeof *f.cl);
    for (size_t i = 0; i < n; i++) {
        s_client_t *c = &f.cl[i];
        c->idx = (uint32_t)i;
        c->next = 1;
        c->seen = tmq_xcalloc(each / 8 + 1, 1);
        c->retry = tmq_xcalloc(f.max_acks * o->batch, sizeof *c->retry);
        c->acks = tmq_xcalloc(f.max_acks, sizeof *c->acks);
        if (s_loop_connect(&f.lp, &c->peer, ep) != 0 || s_send_empty(&c->peer, TMQ_CMD_HELLO))
            goto done;
    }
    if (s_clients_loop(&f, o->timeout_s, &t0) != 0) goto done;
    double dt = s_now() - t0;
    uint64_t total = each * n;
    if (fill) {
        printf("fill %lu jobs %.3f s %.0f jobs/s\n", (unsigned long)total, dt, total / dt);
    } else {
        printf("fake-clients %zu x %lu jobs %.3f s %.0f jobs/s failed %lu cpu %.2f s\n", n,
               (unsigned long)each, dt, total / dt, (unsigned long)(f.failed + f.bad), s_cpu());
    }
    fflush(stdout);
    rc = f.failed || f.bad;
    if (fill && o->stay) { /* keep the jobs queued: this connection must look alive */
        int64_t end = s_ms() + (int64_t)(o->seconds * 1000);
        while (!s_stop && s_ms() < end) {
            if (s_drain(&f.lp, &f, s_client_msg) != 0 || s_heartbeats(&f.lp, s_ms()) != 0) {
                rc = 1;
                break;
            }
            s_loop_wait(&f.lp, S_TICK_MS);
        }
    }
done:
    for (size_t i = 0; f.cl && i < f.lp.n; i++)
        s_send_empty(&f.cl[i].peer, TMQ_CMD_BYE);
    s_loop_fini(&f.lp);
    for (size_t i = 0; f.cl && i < n; i++) {
        free(f.cl[i].seen);
        free(f.cl[i].retry);
        free(f.cl[i].acks);
    }
    free(f.cl);
    free(f.out.p);
    return rc;
}

/* ---- command line ---- */

static int s_usage(void)
{
    fprintf(stderr, "usage: tmq_fake worker BACKEND [--sockets K] [--procs P] [--hold] "
                    "[--seconds S]\n"
                    "       tmq_fake clients FRONTEND N JOBS_EACH [--batch B] [--window W] "
                    "[--timeout S]\n"
                    "       tmq_fake fill FRONTEND N [--batch B] [--timeout S] [--stay] "
                    "[--seconds S]\n");
    return 2;
}

/* A whole number in [lo, hi], or -1. */
static long long s_num(const char *s, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 3) return s_usage();
    const char *mode = argv[1], *ep = argv[2];
    int npos = strcmp(mode, "clients") == 0 ? 2 : strcmp(mode, "fill") == 0 ? 1 : 0;
    if (argc < 3 + npos) return s_usage();
    long long sockets = 1, procs = 1, batch = 1000, window = 10000;
    double timeout_s = 300, seconds = 600;
    bool hold = false, stay = false;
    for (int i = 3 + npos; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long x = v ? s_num(v, 1, 1000000000) : -1;
        if (strcmp(a, "--hold") == 0)
            hold = true;
        else if (strcmp(a, "--stay") == 0)
            stay = true;
        else if (x < 0)
            return s_usage();
        else if (strcmp(a, "--sockets") == 0)
            sockets = x, i++;
        else if (strcmp(a, "--procs") == 0)
            procs = x, i++;
        else if (strcmp(a, "--batch") == 0)
            batch = x, i++;
        else if (strcmp(a, "--window") == 0)
            window = x, i++;
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = (double)x, i++;
        else if (strcmp(a, "--seconds") == 0)
            seconds = (double)x, i++;
        else
            return s_usage();
    }
    if (procs > 1000000 || sockets > 100000 || batch > 100000 || window < batch) return s_usage();
    struct sigaction sa = {.sa_handler = s_on_signal}; /* no SA_RESTART: epoll_wait wakes */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    s_copts_t o = {.batch = (uint32_t)batch,
                   .window = (uint32_t)window,
                   .timeout_s = timeout_s,
                   .seconds = seconds,
                   .stay = stay};
    if (strcmp(mode, "worker") == 0)
        return s_worker_run(ep, (size_t)sockets, (uint32_t)procs, hold, seconds);
    if (strcmp(mode, "clients") == 0) {
        long long n = s_num(argv[3], 1, 10000), each = s_num(argv[4], 1, 1LL << 40);
        if (n < 0 || each < 0) return s_usage();
        return s_clients_run(ep, (size_t)n, (uint64_t)each, false, &o);
    }
    if (strcmp(mode, "fill") == 0) {
        long long n = s_num(argv[3], 1, 1LL << 40);
        if (n < 0) return s_usage();
        return s_clients_run(ep, 1, (uint64_t)n, true, &o);
    }
    return s_usage();
}
