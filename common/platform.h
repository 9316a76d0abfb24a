/* common/platform.h — the OS-specific corner: clocks, process spawning, signals, host facts.
 *
 * Everything that touches fork/exec, prctl, rlimits or /proc lives behind these functions,
 * so the rest of taskmq reads as plain logic. Children are spawned by fork+exec only (never
 * a bare fork of a process holding a ZeroMQ context).
 */
#ifndef TMQ_PLATFORM_H
#define TMQ_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int64_t tmq_clock_ms(void);    /* monotonic milliseconds */
int64_t tmq_clock_us(void);    /* monotonic microseconds */
double tmq_clock_wall_s(void); /* seconds since the Unix epoch (wall clock: may jump) */

/* Starts path (NULL: argv[0], a path or a name looked up in PATH) with argv as a child.
 * When keep_fd >= 0 it becomes the child's fd 3; every other descriptor above 2 is closed in
 * the child. With die_with_parent the child gets SIGKILL when this thread exits
 * (PR_SET_PDEATHSIG). Returns the pid, or -1 with errno set (an exec failure shows as exit
 * status 127). */
pid_t tmq_spawn(const char *path, char *const argv[], int keep_fd, bool die_with_parent);
#define TMQ_SPAWN_DIE_WITH_PARENT 0x1 /* PR_SET_PDEATHSIG SIGKILL */
/* A process group of its own (its pid): kill(-pid, ...) then reaches everything it started. */
#define TMQ_SPAWN_OWN_GROUP 0x2
/* The same with nfds descriptors handed down (fds[i] becomes the child's fd 3 + i, at most 8)
 * and TMQ_SPAWN_* flags. */
pid_t tmq_spawn_fds(const char *path, char *const argv[], const int *fds, size_t nfds, int flags);
/* The same, and when join_fd >= 0 (a cgroup's cgroup.procs, open for writing) the child
 * writes "0" to it before it execs: it joins that cgroup before it runs anything, with all
 * it will start. A failed write is not an error here: the caller checks the membership. */
pid_t tmq_spawn_fds_ex(const char *path, char *const argv[], const int *fds, size_t nfds, int flags,
                       int join_fd);

/* A path that runs this very program again (for a daemon starting its own helpers). */
const char *tmq_self_exe(void);

/* What `ps` shows for this process: the command line is rewritten in place to title (cut to
 * the room the original arguments had; argv must be main's) and the thread name (top,
 * ps -o comm) set to comm (15 bytes at most). Call once, after argv was parsed. */
void tmq_set_title(int argc, char **argv, const char *title, const char *comm);

/* "SIGKILL", "SIGRTMIN+3", "SIG99": the name of a signal into buf; returns buf. */
const char *tmq_signal_name(int sig, char *buf, size_t len);
/* The signal called name[0..n) as tmq_signal_name writes it, or 0. */
int tmq_signal_number(const char *name, size_t n);
/* "exit 3", "SIGSEGV": describes a waitpid status into buf; returns buf. */
const char *tmq_describe_status(int status, char *buf, size_t len);

/* The path of a program installed beside the running one (same directory), or NULL when
 * there is none; the caller frees it. */
char *tmq_sibling_path(const char *name);

int tmq_online_cpus(void);
/* The short host name into buf (NUL-terminated, "localhost" when unknown). */
void tmq_hostname(char *buf, size_t len);

/* Opens /dev/null on each of the standard descriptors 0, 1 and 2 that is closed (a program
 * started as `prog <&-`), so that no file, socket or eventfd opened later lands on one and is
 * then read as stdin or written as stdout/stderr. Call first thing in main, before anything
 * opens a descriptor. Best effort: a descriptor /dev/null cannot be opened on stays closed. */
void tmq_std_fds_open(void);

/* Fills buf with len bytes from the kernel's random source (getrandom(2), retried on EINTR
 * and short reads). Returns 0, or -1 with errno set (no source: the caller must not make up
 * bytes of its own). */
int tmq_random_bytes(void *buf, size_t len);

/* Parses a decimal integer in [min, max]; returns 0 or -1. */
int tmq_parse_long(const char *s, long min, long max, long *out);

/* --log-file: this process's stderr (the log, and what its children write there) appended
 * to path from now on. --pid-file: this process's pid written to path (replaced), removed by
 * tmq_pid_file_remove at a clean exit. Return 0, or -1 with why naming the file. */
int tmq_log_to_file(const char *path, char *why, size_t why_len);
int tmq_pid_file_write(const char *path, char *why, size_t why_len);
void tmq_pid_file_remove(const char *path);

/* Parses a size: decimal bytes, or with a K, M, G or T suffix (also KiB, MiB, GiB, TiB;
 * powers of 1024: "16M", "512MiB", "1T"), in [min, max]. Returns 0 or -1. */
int tmq_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Writes n as the largest whole unit that divides it: "512 MiB", "1 GiB", "1000 bytes". */
void tmq_format_size(uint64_t n, char *buf, size_t len);

#endif
