/* bench/peer_proc.h — what the baseline peers (peer_zmq.c, peer_tcp.c) share: forked children
 * that die with the parent and are stopped and reaped by pid, a clock, a line handed over a
 * pipe with a deadline, and the latency line. The peers link libzmq or nothing, never taskmq:
 * they are what taskmq is measured against.
 * A child is forked before this process opens any ZeroMQ context; each child makes its own.
 */
#ifndef PEER_PROC_H
#define PEER_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PEER_TIMEOUT_MS 10000 /* no answer for this long: the figure has failed */
#define PEER_IDLE_MS 60000    /* a child that hears nothing for this long exits by itself */

double peer_now(void); /* monotonic seconds */

/* Forks a child that runs body(arg) and _exits with its return value. The child gets SIGKILL
 * when this process dies (PR_SET_PDEATHSIG) and is remembered for peer_stop_all. Returns the
 * pid, or -1 (fork failed, or too many children). */
pid_t peer_spawn(int (*body)(void *), void *arg);
/* 1 while every child spawned is still running, 0 once one has exited (it is reaped then). */
int peer_children_alive(void);
/* SIGTERM to every child spawned, SIGKILL to any still there after 2 s; each reaped by pid. */
void peer_stop_all(void);

/* Reads one '\n'-terminated line from fd into buf (NUL-terminated, without the '\n'), waiting
 * PEER_TIMEOUT_MS at most. Returns 0, or -1 (timeout, end of file, too long). */
int peer_read_line(int fd, char *buf, size_t len);

/* Sorts rt[0..measured) (microseconds) and prints "NAME latency N round trips p50 X us p99 Y us
 * max Z us failed F" on stdout, N being the round trips asked for (measured of them came back). */
void peer_latency_print(const char *name, double *rt, long measured, long n, long failed);

/* The 32-byte payload of job id: the id (little-endian) and 24 bytes derived from it; and its
 * check: 0 when buf holds exactly the payload of some id (*id set), -1 otherwise. */
#define PEER_PAYLOAD 32
void peer_payload_fill(unsigned char *buf, uint64_t id);
int peer_payload_check(const unsigned char *buf, size_t len, uint64_t *id);

#endif
