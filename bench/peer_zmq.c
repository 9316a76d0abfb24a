/* bench/peer_zmq.c — the bare ZeroMQ baselines taskmq is compared with, on libzmq alone. Not a
 * test: one command forks its processes, measures one figure and prints one line.
 *
 *   peer_zmq broker-throughput N [WINDOW]  client DEALER -> ROUTER/ROUTER broker -> 2 echo
 *                                          workers (DEALER, credit 100 each); N jobs, at most
 *                                          WINDOW unanswered (default 2000); prints jobs/s
 *   peer_zmq broker-latency N              the same, one job in flight; p50/p99/max in us
 *   peer_zmq direct-throughput N [WINDOW]  no broker: client DEALER -> one echo DEALER
 *   peer_zmq direct-latency N
 * A job is one ZeroMQ message: a 32-byte payload holding a unique id, echoed back unchanged;
 * every id must come back exactly once and intact ("failed" counts the rest). The broker is
 * the textbook one: it polls both sockets, drains each until it would block, sends without
 * blocking, and keeps at most the credit each worker announced in flight to that worker.
 * Exit 0, 1 when an answer was wrong or missing (or a process failed), 2 on a usage error.
 */
#include "peer_proc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_WORKERS 2         /* echo workers behind the broker */
#define S_CREDIT 100        /* jobs each worker takes in flight */
#define S_WINDOW 2000       /* the client's default bound on unanswered jobs */
#define S_MAX_WINDOW 100000 /* every high-water mark is above this: nothing is ever dropped */
#define S_HWM (2 * S_MAX_WINDOW)
#define S_WARMUP 100 /* jobs before anything is timed */
#define S_READY "READY"
#define S_ENDPOINT 256

/* -- sockets -------------------------------------------------------------------------------- */

/* A socket with the HWMs above any window, linger 0 and 10 s send/receive timeouts (a blocking
 * call is only ever a fallback here); ROUTERs report unroutable sends instead of dropping. */
static void *s_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s) return NULL;
    int hwm = S_HWM, zero = 0, timeout = PEER_TIMEOUT_MS, one = 1;
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (type == ZMQ_ROUTER) zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    return s;
}

/* Binds s to a free loopback port and writes the endpoint it got into ep. Returns 0 or -1. */
static int s_bind_any(void *s, char *ep, size_t len)
{
    if (zmq_bind(s, "tcp://127.0.0.1:*") != 0) return -1;
    return zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len);
}

/* Sends one frame without blocking. A full queue should not happen (the HWMs exceed any
 * window); if it does, the frame waits up to the socket's 10 s SNDTIMEO rather than be lost.
 * Returns 0, or -1 (the peer is gone or the wait timed out: the job is lost and the client
 * will count it). The caller still closes m either way. */
static int s_send(void *s, zmq_msg_t *m, int flags)
{
    if (zmq_msg_send(m, s, flags | ZMQ_DONTWAIT) >= 0) return 0;
    if (errno == EAGAIN && zmq_msg_send(m, s, flags) >= 0) return 0;
    return -1;
}

/* Receives the rest of a multipart message whose first frame is in f[0] into f[1..max); the
 * frames beyond max are read and dropped. Returns how many frames the message had (the caller
 * closes the first min(that, max)). */
static int s_recv_rest(void *s, zmq_msg_t *f, int max)
{
    int n = 1, more = zmq_msg_more(&f[0]);
    while (more) {
        zmq_msg_t extra, *m = n < max ? &f[n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, s, 0) < 0) { /* cannot happen: a message arrives whole */
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &extra) zmq_msg_close(m);
        n++;
    }
    return n;
}

static void s_close_frames(zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

/* -- the broker ----------------------------------------------------------------------------- */

typedef struct {
    unsigned char id[256]; /* routing id the backend ROUTER gave the worker */
    size_t id_len;
    int credit; /* jobs it may still be sent */
    int max;    /* the credit it announced: never more in flight */
} s_worker_t;

typedef struct {
    void *front, *back;
    s_worker_t workers[S_WORKERS];
    int nworkers;
    long credit; /* sum of the workers' credit */
    int next;    /* round robin over the workers */
    long lost;   /* sends that failed */
} s_broker_t;

static s_worker_t *s_worker_find(s_broker_t *b, zmq_msg_t *id)
{
    for (int i = 0; i < b->nworkers; i++)
        if (b->workers[i].id_len == zmq_msg_size(id) &&
            memcmp(b->workers[i].id, zmq_msg_data(id), b->workers[i].id_len) == 0)
            return &b->workers[i];
    return NULL;
}

/* One message from the backend, if one is there: [worker][READY][credit] registers a worker,
 * [worker][client][payload] is a reply, forwarded to the client as [client][payload].
 * Returns 1 when a message was handled, 0 when none was waiting. */
static int s_backend_one(s_broker_t *b)
{
    zmq_msg_t f[3];
    zmq_msg_init(&f[0]);
    if (zmq_msg_recv(&f[0], b->back, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f[0]);
        return 0;
    }
    int n = s_recv_rest(b->back, f, 3);
    int kept = n < 3 ? n : 3;
    s_worker_t *w = s_worker_find(b, &f[0]);
    if (n == 3 && zmq_msg_size(&f[1]) == strlen(S_READY) &&
        memcmp(zmq_msg_data(&f[1]), S_READY, strlen(S_READY)) == 0) {
        char num[16] = "";
        memcpy(num, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]) < 15 ? zmq_msg_size(&f[2]) : 15);
        if (!w && b->nworkers < S_WORKERS && zmq_msg_size(&f[0]) <= sizeof w->id) {
            w = &b->workers[b->nworkers++];
            w->id_len = zmq_msg_size(&f[0]);
            memcpy(w->id, zmq_msg_data(&f[0]), w->id_len);
            w->credit = w->max = atoi(num) > 0 ? atoi(num) : 1;
            b->credit += w->credit;
        }
    } else if (n == 3 && w) {
        if (w->credit < w->max) { /* a reply nobody asked for gives no credit */
            w->credit++;
            b->credit++;
        }
        if (s_send(b->front, &f[1], ZMQ_SNDMORE) != 0 || s_send(b->front, &f[2], 0) != 0) b->lost++;
    }
    s_close_frames(f, kept);
    return 1;
}

/* One job from the frontend, if one is there and a worker has credit: [client][payload] goes
 * to the next worker with credit as [worker][client][payload]. Returns 1 or 0 as above. */
static int s_frontend_one(s_broker_t *b)
{
    zmq_msg_t f[3];
    zmq_msg_init(&f[0]);
    if (zmq_msg_recv(&f[0], b->front, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f[0]);
        return 0;
    }
    int n = s_recv_rest(b->front, f, 2);
    int kept = n < 2 ? n : 2;
    if (n == 2) {
        /* the caller reads the frontend only while some worker has credit */
        int k = b->next;
        while (b->workers[k].credit == 0)
            k = (k + 1) % b->nworkers;
        b->next = (k + 1) % b->nworkers;
        s_worker_t *w = &b->workers[k];
        w->credit--;
        b->credit--;
        zmq_msg_t id;
        zmq_msg_init_size(&id, w->id_len);
        memcpy(zmq_msg_data(&id), w->id, w->id_len);
        if (s_send(b->back, &id, ZMQ_SNDMORE) != 0 || s_send(b->back, &f[0], ZMQ_SNDMORE) != 0 ||
            s_send(b->back, &f[1], 0) != 0) {
            b->lost++;
            w->credit++; /* never reached the worker */
            b->credit++;
        }
        zmq_msg_close(&id);
    }
    s_close_frames(f, kept);
    return 1;
}

/* The broker process: binds both ROUTERs, says "FRONTEND BACKEND\n" on the pipe, waits for
 * its workers' READY, then serves until it is killed (or hears nothing for PEER_IDLE_MS). */
static int s_broker(void *arg)
{
    int out = *(int *)arg;
    void *ctx = zmq_ctx_new();
    s_broker_t b = {.front = s_socket(ctx, ZMQ_ROUTER), .back = s_socket(ctx, ZMQ_ROUTER)};
    char fe[S_ENDPOINT], be[S_ENDPOINT];
    if (!b.front || !b.back || s_bind_any(b.front, fe, sizeof fe) != 0 ||
        s_bind_any(b.back, be, sizeof be) != 0 || dprintf(out, "%s %s\n", fe, be) < 0) {
        fprintf(stderr, "peer_zmq broker: %s\n", zmq_strerror(errno));
        return 1;
    }
    close(out);
    for (;;) {
        zmq_pollitem_t items[2] = {{.socket = b.back, .events = ZMQ_POLLIN},
                                   {.socket = b.front, .events = ZMQ_POLLIN}};
        /* jobs are read only while a worker can take one (and once all have said READY) */
        bool take = b.nworkers == S_WORKERS && b.credit > 0;
        int rc = zmq_poll(items, take ? 2 : 1, PEER_IDLE_MS);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;
        while (s_backend_one(&b)) {
        }
        while (b.nworkers == S_WORKERS && b.credit > 0 && s_frontend_one(&b)) {
        }
        if (b.lost) {
            fprintf(stderr, "peer_zmq broker: %ld messages could not be sent\n", b.lost);
            b.lost = 0;
        }
    }
    zmq_close(b.front);
    zmq_close(b.back);
    zmq_ctx_term(ctx);
    return 0;
}

/* -- the echo worker ------------------------------------------------------------------------ */

typedef struct {
    const char *connect; /* the broker's backend, for a DEALER worker behind it */
    int out;             /* else: bind and say the endpoint on this pipe (direct) */
} s_echo_args_t;

/* The echo process, a DEALER: every message it receives goes back unchanged, so one loop
 * serves behind the broker ([client][payload], credit announced first) and as the peer the
 * client talks to directly ([payload]: DEALER to DEALER, the least ZeroMQ does per job, which
 * is the point of the ceiling; a ROUTER there, with its identity frame, measured ~10% slower). */
static int s_echo(void *arg)
{
    const s_echo_args_t *a = arg;
    void *ctx = zmq_ctx_new();
    void *s = s_socket(ctx, ZMQ_DEALER);
    char ep[S_ENDPOINT];
    if (a->connect) {
        char credit[16];
        snprintf(credit, sizeof credit, "%d", S_CREDIT);
        if (zmq_connect(s, a->connect) != 0 ||
            zmq_send(s, S_READY, strlen(S_READY), ZMQ_SNDMORE) < 0 ||
            zmq_send(s, credit, strlen(credit), 0) < 0) {
            fprintf(stderr, "peer_zmq worker: %s\n", zmq_strerror(errno));
            return 1;
        }
    } else {
        if (s_bind_any(s, ep, sizeof ep) != 0 || dprintf(a->out, "%s\n", ep) < 0) {
            fprintf(stderr, "peer_zmq worker: %s\n", zmq_strerror(errno));
            return 1;
        }
        close(a->out);
    }
    long lost = 0;
    for (;;) {
        zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1, PEER_IDLE_MS);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;
        for (;;) { /* drain before polling again */
            zmq_msg_t f[2];
            zmq_msg_init(&f[0]);
            if (zmq_msg_recv(&f[0], s, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&f[0]);
                break;
            }
            int n = s_recv_rest(s, f, 2);
            if (n > 2) { /* not a job */
                s_close_frames(f, 2);
                continue;
            }
            if (s_send(s, &f[0], n == 2 ? ZMQ_SNDMORE : 0) != 0 ||
                (n == 2 && s_send(s, &f[1], 0) != 0))
                lost++;
            s_close_frames(f, n);
        }
        if (lost) {
            fprintf(stderr, "peer_zmq worker: %ld replies could not be sent\n", lost);
            lost = 0;
        }
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

/* -- the client ----------------------------------------------------------------------------- */

/* Checks one reply against the ids [first, first + n): 0 for a new intact one, else 1. */
static long s_check(const unsigned char *buf, int len, uint64_t first, long n, unsigned char *seen)
{
    uint64_t id;
    if (len < 0 || peer_payload_check(buf, (size_t)len, &id) != 0) return 1;
    if (id < first || id - first >= (uint64_t)n || seen[id - first]) return 1;
    seen[id - first] = 1;
    return 0;
}

/* Sends jobs [first, first + n) with at most window unanswered, takes the replies and checks
 * each. Gives up when nothing arrives for PEER_TIMEOUT_MS or a child died. Returns how many
 * replies were wrong, duplicated or missing. */
static long s_run(void *s, uint64_t first, long n, long window)
{
    unsigned char *seen = calloc((size_t)n, 1);
    unsigned char buf[PEER_PAYLOAD + 1];
    long sent = 0, received = 0, good = 0, bad = 0;
    double deadline = peer_now() + PEER_TIMEOUT_MS / 1000.0;
    while (good < n && !(sent == n && received >= n)) {
        while (sent < n && sent - received < window) {
            peer_payload_fill(buf, first + (uint64_t)sent);
            if (zmq_send(s, buf, PEER_PAYLOAD, ZMQ_DONTWAIT) < 0) break;
            sent++;
        }
        int len;
        long before = received;
        while ((len = zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0) {
            long wrong = s_check(buf, len, first, n, seen);
            bad += wrong;
            good += !wrong;
            received++;
        }
        if (received > before) {
            deadline = peer_now() + PEER_TIMEOUT_MS / 1000.0;
            continue;
        }
        bool more = sent < n && sent - received < window;
        zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN | (more ? ZMQ_POLLOUT : 0)};
        if (zmq_poll(&item, 1, 500) > 0) continue;
        if (!peer_children_alive()) break; /* it said which */
        if (peer_now() > deadline) {
            fprintf(stderr, "peer_zmq: no reply for %d ms\n", PEER_TIMEOUT_MS);
            break;
        }
    }
    if (good < n) fprintf(stderr, "peer_zmq: %ld of %ld jobs answered\n", good, n);
    free(seen);
    return bad + (n - good);
}

/* One job, its reply awaited (10 s at most); returns 0 when it came back intact, else 1. */
static long s_round_trip(void *s, uint64_t id)
{
    unsigned char buf[PEER_PAYLOAD + 1], seen = 0;
    peer_payload_fill(buf, id);
    if (zmq_send(s, buf, PEER_PAYLOAD, 0) < 0) return 1;
    int len = zmq_recv(s, buf, sizeof buf, 0); /* RCVTIMEO bounds it */
    return s_check(buf, len, id, 1, &seen);
}

/* -- main ----------------------------------------------------------------------------------- */

/* Forks the processes of a topology; sets the endpoint the client connects to. */
static int s_start(bool broker, char *ep, size_t len)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    char line[2 * S_ENDPOINT + 2];
    int rc = -1;
    static char backend[S_ENDPOINT];
    static s_echo_args_t echo;
    if (broker) {
        if (peer_spawn(s_broker, &fds[1]) < 0) goto done;
        close(fds[1]);
        fds[1] = -1;
        if (peer_read_line(fds[0], line, sizeof line) != 0 ||
            sscanf(line, "%255s %255s", ep, backend) != 2)
            goto done;
        close(fds[0]); /* not handed to the workers */
        fds[0] = -1;
        echo = (s_echo_args_t){.connect = backend, .out = -1};
        for (int i = 0; i < S_WORKERS; i++)
            if (peer_spawn(s_echo, &echo) < 0) goto done;
    } else {
        echo = (s_echo_args_t){.connect = NULL, .out = fds[1]};
        if (peer_spawn(s_echo, &echo) < 0) goto done;
        close(fds[1]);
        fds[1] = -1;
        if (peer_read_line(fds[0], ep, len) != 0) goto done;
    }
    rc = 0;
done:
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    return rc;
}

static int s_usage(void)
{
    fprintf(stderr, "usage: peer_zmq broker-throughput N [WINDOW] | broker-latency N |\n"
                    "                direct-throughput N [WINDOW] | direct-latency N\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) return s_usage();
    const char *mode = argv[1];
    bool broker = strncmp(mode, "broker-", 7) == 0;
    if (!broker && strncmp(mode, "direct-", 7) != 0) return s_usage();
    bool throughput = strcmp(mode + 7, "throughput") == 0;
    if (!throughput && (strcmp(mode + 7, "latency") != 0 || argc == 4)) return s_usage();
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end || n < 1 || n > 1000000000) return s_usage();
    long window = S_WINDOW;
    if (argc == 4) {
        window = strtol(argv[3], &end, 10);
        if (*end || window < 1 || window > S_MAX_WINDOW) return s_usage();
    }
    const char *name = broker ? "zmq-broker" : "zmq-direct";

    char ep[S_ENDPOINT];
    if (s_start(broker, ep, sizeof ep) != 0) {
        fprintf(stderr, "peer_zmq: the %s did not start\n", broker ? "broker" : "worker");
        peer_stop_all();
        return 1;
    }
    void *ctx = zmq_ctx_new(); /* only now: every child is forked */
    void *s = s_socket(ctx, ZMQ_DEALER);
    long failed = 0;
    if (!s || zmq_connect(s, ep) != 0) {
        fprintf(stderr, "peer_zmq: %s: %s\n", ep, zmq_strerror(errno));
        failed = -1;
    } else if (s_run(s, UINT64_C(1) << 40, S_WARMUP, S_WARMUP) != 0) {
        fprintf(stderr, "peer_zmq: the warm-up failed\n"); /* connected, workers registered */
        failed = -1;
    } else if (throughput) {
        double t0 = peer_now();
        failed = s_run(s, 0, n, window);
        double dt = peer_now() - t0;
        printf("%s throughput %ld jobs %.3f s %.0f jobs/s failed %ld\n", name, n, dt, n / dt,
               failed);
    } else {
        double *rt = calloc((size_t)n, sizeof *rt);
        long i = 0;
        for (; i < n; i++) {
            double t0 = peer_now();
            if (s_round_trip(s, (uint64_t)i) != 0) break; /* the rest would be late too */
            rt[i] = (peer_now() - t0) * 1e6;
        }
        failed = n - i;
        peer_latency_print(name, rt, i, n, failed);
        free(rt);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    peer_stop_all();
    return failed != 0;
}
