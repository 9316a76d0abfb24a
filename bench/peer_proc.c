/* bench/peer_proc.c — see peer_proc.h. */
#include "peer_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_CHILDREN 16

static pid_t s_children[S_MAX_CHILDREN];
static int s_nchildren;

double peer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t peer_spawn(int (*body)(void *), void *arg)
{
    if (s_nchildren == S_MAX_CHILDREN) return -1;
    fflush(NULL); /* nothing buffered is written twice */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1); /* the parent died before prctl took hold */
        s_nchildren = 0;                   /* a child stops no siblings */
        int rc = body(arg);
        fflush(NULL);
        _exit(rc);
    }
    s_children[s_nchildren++] = pid;
    return pid;
}

int peer_children_alive(void)
{
    for (int i = 0; i < s_nchildren; i++) {
        int status;
        if (waitpid(s_children[i], &status, WNOHANG) == s_children[i]) {
            fprintf(stderr, "peer: child %d exited early (status 0x%x)\n", (int)s_children[i],
                    status);
            s_children[i--] = s_children[--s_nchildren];
            return 0;
        }
    }
    return 1;
}

void peer_stop_all(void)
{
    for (int i = 0; i < s_nchildren; i++)
        kill(s_children[i], SIGTERM);
    double deadline = peer_now() + 2.0;
    for (int i = 0; i < s_nchildren; i++) {
        for (;;) {
            pid_t r = waitpid(s_children[i], NULL, WNOHANG);
            if (r == s_children[i] || (r < 0 && errno != EINTR)) break;
            if (peer_now() > deadline) {
                kill(s_children[i], SIGKILL);
                while (waitpid(s_children[i], NULL, 0) < 0 && errno == EINTR) {
                }
                break;
            }
            usleep(2000);
        }
    }
    s_nchildren = 0;
}

int peer_read_line(int fd, char *buf, size_t len)
{
    size_t got = 0;
    double deadline = peer_now() + PEER_TIMEOUT_MS / 1000.0;
    while (got + 1 < len) {
        int left = (int)((deadline - peer_now()) * 1000);
        if (left <= 0) return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, left);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return -1;
        ssize_t n = read(fd, buf + got, 1); /* byte by byte: nothing past the line is taken */
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        if (buf[got] == '\n') {
            buf[got] = '\0';
            return 0;
        }
        got++;
    }
    return -1;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void peer_latency_print(const char *name, double *rt, long measured, long n, long failed)
{
    long m = measured;
    qsort(rt, (size_t)m, sizeof *rt, s_cmp);
    printf("%s latency %ld round trips p50 %.0f us p99 %.0f us max %.0f us failed %ld\n", name, n,
           m ? rt[m / 2] : 0, m ? rt[m * 99 / 100] : 0, m ? rt[m - 1] : 0, failed);
}

void peer_payload_fill(unsigned char *buf, uint64_t id)
{
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(id >> (8 * i));
    for (int i = 8; i < PEER_PAYLOAD; i++)
        buf[i] = (unsigned char)(id * 131 + (uint64_t)i * 7);
}

int peer_payload_check(const unsigned char *buf, size_t len, uint64_t *id)
{
    if (len != PEER_PAYLOAD) return -1;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)buf[i] << (8 * i);
    for (int i = 8; i < PEER_PAYLOAD; i++)
        if (buf[i] != (unsigned char)(v * 131 + (uint64_t)i * 7)) return -1;
    *id = v;
    return 0;
}
