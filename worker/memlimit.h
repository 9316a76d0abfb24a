/* worker/memlimit.h — memory limits for executors: a cgroup per executor slot, or RLIMIT_AS.
 *
 * At start the daemon makes a memory cgroup of its own under the one it runs in
 * (`taskmq-worker.PID`, with one child per executor slot, `e0`, `e1`, ...): cgroup v1's
 * memory controller, or v2 where the memory controller is enabled for its children (or can
 * be: the daemon then moves itself into a leaf, `taskmq-worker.daemon.PID`, and enables it —
 * possible only in a cgroup that holds nothing else, one delegated to the worker). Each
 * executor is moved into its slot's cgroup as it starts, so everything it runs (an exec job's
 * command too) is charged to it, and the limit is set on the slot: past it the kernel kills a
 * process of that cgroup, and the kill shows in the slot's oom_kill counter, which is how a
 * job is known to have run out of memory. Where no cgroup can be made (no memory controller,
 * no permission), limits fall back to RLIMIT_AS set on the executor (prlimit): an allocation
 * past it fails, and the job fails as its code handles that — not identified as out of memory.
 *
 * Nothing here blocks for long; every call is a few small file writes or reads.
 */
#ifndef TMQ_MEMLIMIT_H
#define TMQ_MEMLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tmq_memcg_t tmq_memcg_t;

/* Makes the daemon's cgroup with nslots slots under the memory cgroup this process is in
 * (located from /proc/self/cgroup and /proc/self/mountinfo), first removing what daemons that
 * are gone left behind (killing what still runs in it). Returns NULL with the reason in why
 * when none can be made (then limits use RLIMIT_AS). */
tmq_memcg_t *tmq_memcg_new(size_t nslots, char *why, size_t why_len);
/* Kills what is still in the slots (processes that escaped their executor's process group),
 * removes the cgroups and frees. Call after the executors are reaped. Safe on NULL. */
void tmq_memcg_destroy(tmq_memcg_t **self_p);

/* The daemon's cgroup directory. */
const char *tmq_memcg_path(const tmq_memcg_t *self);
/* Sets slot's limit in bytes (0: none). Returns 0, or -1 with errno (EBUSY: the slot already
 * uses more than that — v1: and the kernel could not reclaim it; v2: checked first, since v2
 * would reclaim, even kill, inside the write). */
int tmq_memcg_set_limit(tmq_memcg_t *self, size_t slot, uint64_t bytes);
/* Moves pid into slot's cgroup. Returns 0 or -1 with errno. */
int tmq_memcg_attach(tmq_memcg_t *self, size_t slot, pid_t pid);
/* How many processes the kernel has killed in slot's cgroup for running out of memory, into
 * *kills. Returns 0, or -1 with errno when the counter cannot be read (ENOENT: no such line). */
int tmq_memcg_oom_kills(tmq_memcg_t *self, size_t slot, uint64_t *kills);
/* slot's cgroup.procs opened for writing (close-on-exec), for a child to join the cgroup
 * itself before it execs (tmq_spawn_fds_ex); -1 with errno on failure. */
int tmq_memcg_procs_fd(tmq_memcg_t *self, size_t slot);
/* Sends SIGKILL to every process in slot's cgroup; returns how many there were. */
size_t tmq_memcg_kill(tmq_memcg_t *self, size_t slot);

/* Sets pid's RLIMIT_AS soft limit to bytes (0: back to the hard limit). Returns 0 or -1. */
int tmq_memlimit_rlimit(pid_t pid, uint64_t bytes);

/* ---- for tests: locating the memory cgroup from the two files' contents ---- */

/* From the text of /proc/self/cgroup and /proc/self/mountinfo, writes the directory of this
 * process's memory cgroup into dir and returns the cgroup version (1 or 2), or 0 when there
 * is none (no memory controller, not mounted). */
int tmq_memcg_locate(const char *proc_cgroup, const char *mountinfo, char *dir, size_t len);

#endif
