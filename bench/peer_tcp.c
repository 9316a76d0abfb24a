/* bench/peer_tcp.c — the floor under every latency figure here: raw TCP ping-pong between two
 * processes over 127.0.0.1 (TCP_NODELAY, blocking read/write, no library). Not a test.
 *
 *   peer_tcp latency N [split]   N round trips of a 32-byte message after 100 warm-up ones;
 *                                prints p50/p99/max in us ("tcp latency ...")
 * Left alone, the scheduler runs both ends on one core (a blocking ping-pong is a synchronous
 * wake-up: ~15 us here). With split the ends are pinned to two different cores ("tcp-split
 * latency ..."), which is what a hop between taskmq's processes costs (~65 us here).
 * The parent listens on a free port, forks the echo child and connects to it; each message
 * holds a unique id and must come back intact ("failed" counts the rest). Every read and write
 * gives up after 10 s. Exit 0, 1 when an answer was wrong or missing, 2 on a usage error.
 */
#include "peer_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_WARMUP 100

/* TCP_NODELAY and 10 s (or idle_ms) send/receive timeouts on a connected socket. */
static void s_tune(int fd, int idle_ms)
{
    int one = 1;
    struct timeval tv = {.tv_sec = idle_ms / 1000, .tv_usec = (idle_ms % 1000) * 1000};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Reads or writes exactly len bytes; returns 0, or -1 (end of file, error, timeout). */
static int s_full(int fd, unsigned char *buf, size_t len, int writing)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = writing ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

static int s_cpus[2] = {-1, -1}; /* with split: the parent's core, the child's */

/* Pins this process to cpu (when one is given); returns 0 or -1. */
static int s_pin(int cpu)
{
    if (cpu < 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

/* The first two cores this process may run on, into s_cpus; returns 0, or -1 (fewer). */
static int s_two_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    int k = 0;
    for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
        if (CPU_ISSET(c, &set)) s_cpus[k++] = c;
    return k == 2 ? 0 : -1;
}

/* The echo child: accepts one connection and sends back every 32 bytes it reads, until end
 * of file or PEER_IDLE_MS of silence. */
static int s_echo(void *arg)
{
    int lfd = *(int *)arg;
    if (s_pin(s_cpus[1]) != 0) return 1;
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, PEER_TIMEOUT_MS) != 1) return 1;
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    if (fd < 0) return 1;
    s_tune(fd, PEER_IDLE_MS);
    unsigned char buf[PEER_PAYLOAD];
    while (s_full(fd, buf, sizeof buf, 0) == 0)
        if (s_full(fd, buf, sizeof buf, 1) != 0) break;
    close(fd);
    return 0;
}

/* One message out and back; returns 0 when it came back intact, else 1. */
static int s_round_trip(int fd, uint64_t id)
{
    unsigned char buf[PEER_PAYLOAD];
    uint64_t got;
    peer_payload_fill(buf, id);
    if (s_full(fd, buf, sizeof buf, 1) != 0 || s_full(fd, buf, sizeof buf, 0) != 0) return 1;
    return peer_payload_check(buf, sizeof buf, &got) != 0 || got != id;
}

int main(int argc, char **argv)
{
    char *end = "";
    long n = argc >= 3 ? strtol(argv[2], &end, 10) : 0;
    bool split = argc == 4 && strcmp(argv[3], "split") == 0;
    if (argc < 3 || argc > 4 || (argc == 4 && !split) || strcmp(argv[1], "latency") != 0 || *end ||
        n < 1 || n > 100000000) {
        fprintf(stderr, "usage: peer_tcp latency N [split]\n");
        return 2;
    }
    if (split && (s_two_cpus() != 0 || s_pin(s_cpus[0]) != 0)) {
        fprintf(stderr, "peer_tcp: split needs two cores to run on\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead echo child is a failed write, not our death */
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0 || peer_spawn(s_echo, &lfd) < 0) {
        perror("peer_tcp");
        peer_stop_all();
        return 1;
    }
    close(lfd);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    long failed = n, i = 0;
    double *rt = calloc((size_t)n, sizeof *rt);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("peer_tcp: connect");
    } else {
        s_tune(fd, PEER_TIMEOUT_MS);
        int warm = 0;
        for (; warm < S_WARMUP; warm++)
            if (s_round_trip(fd, UINT64_C(1) << 40 | (uint64_t)warm) != 0) break;
        if (warm < S_WARMUP) fprintf(stderr, "peer_tcp: the warm-up failed\n");
        for (; warm == S_WARMUP && i < n; i++) {
            double t0 = peer_now();
            if (s_round_trip(fd, (uint64_t)i) != 0) break; /* the rest would be late too */
            rt[i] = (peer_now() - t0) * 1e6;
        }
        failed = n - i;
        peer_latency_print(split ? "tcp-split" : "tcp", rt, i, n, failed);
    }
    if (fd >= 0) close(fd);
    free(rt);
    peer_stop_all();
    return failed != 0;
}
