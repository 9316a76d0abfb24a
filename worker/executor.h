/* worker/executor.h — the executor process: runs jobs that arrive on one descriptor.
 *
 * An executor is the worker binary started by the daemon in its hidden --executor mode with
 * one end of a socketpair as fd 3 (the job stream: JOB frames in; RESULT and RETURNED frames
 * out) and one end of another as fd 4 (control: REVOKE in). It never touches ZeroMQ. It runs
 * one job at a time and writes its result the moment it finishes, so the daemon always knows
 * which job was running if the executor dies. A helper thread serves REVOKE at any time, even
 * while a long job computes, handing back the jobs not yet started, so prefetched jobs can
 * always be taken back. It ignores SIGINT (the daemon owns Ctrl-C and stops it) and dies with
 * the daemon (PDEATHSIG, set by tmq_spawn).
 */
#ifndef TMQ_EXECUTOR_H
#define TMQ_EXECUTOR_H

#include <stdbool.h>

/* Serves jobs on fd, and REVOKE on ctl (-1: none; nothing can be handed back), until the
 * daemon closes fd. Returns 0 at end of file, -1 on a read or write error or a malformed
 * frame (the daemon sees the exit as a death). */
int tmq_executor_run(int fd, int ctl, bool test_functions);

#endif
