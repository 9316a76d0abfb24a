/* worker/executor.h — the executor process: runs jobs that arrive on one descriptor.
 *
 * An executor is the worker binary started by the daemon in its hidden --executor mode with
 * one end of a socketpair as fd 3 (the job stream: JOB frames in; RESULT and RETURNED frames
 * out) and one end of another as fd 4 (control: REVOKE in). It never touches ZeroMQ. It runs
 * one job at a time and writes its result the moment it finishes, so the daemon always knows
 * which job was running if the executor dies. A helper thread serves REVOKE at any time, even
 * while a long job computes, handing back the jobs not yet started, so prefetched jobs can
 * always be taken back. It ignores SIGINT (the daemon owns Ctrl-C and stops it) and dies with
 * the daemon (PDEATHSIG, set by tmq_spawn). Every job is called through one registry of
 * functions (registry.h): the built-ins and the --plugin libraries it loaded at start.
 */
#ifndef TMQ_EXECUTOR_H
#define TMQ_EXECUTOR_H

#include "options.h"

#include <signal.h>

/* Loads the functions o asks for (the built-ins, then each of o->plugins in order), says
 * HELLO on fd (with the reason instead, when a plugin did not load), then serves jobs on fd,
 * and REVOKE on ctl (-1: none; nothing can be handed back), until the daemon closes fd or
 * sends SIGTERM between jobs; then runs the plugins' exit hooks. Returns 0 after such a stop,
 * -1 on a read or write error or a malformed frame (the daemon sees the exit as a death).
 * SIGTERM during a job kills the process at once (no hooks). */
int tmq_executor_run(int fd, int ctl, const tmq_worker_opts_t *o);

/* The built-in executor's parent-death signal: when the daemon dies, it kills its whole
 * process group (itself, exec commands and what they started), then dies of it. */
#define TMQ_EXECUTOR_ORPHAN_SIGNAL SIGUSR2

#endif
