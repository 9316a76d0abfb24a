/* worker/executor.h — the executor process: runs jobs that arrive on one descriptor.
 *
 * An executor is the worker binary started by the daemon in its hidden --executor mode with
 * one end of a socketpair as fd 3. It never touches ZeroMQ. A reader thread takes every
 * frame off the descriptor at once (JOB frames into a local queue; REVOKE hands the queue's
 * unstarted tail back in a RETURNED frame), so prefetched jobs can always be taken back,
 * even while the main thread computes a long job. The main thread runs one job at a time and
 * writes its result the moment it finishes, so the daemon always knows which job was running
 * if the executor dies. It ignores SIGINT (the daemon owns Ctrl-C and stops it) and dies with
 * the daemon (PDEATHSIG, set by tmq_spawn).
 */
#ifndef TMQ_EXECUTOR_H
#define TMQ_EXECUTOR_H

#include <stdbool.h>

/* Serves jobs on fd until the daemon closes it. Returns 0 at end of file, -1 on a read or
 * write error or a malformed frame (the daemon sees the exit as a death). */
int tmq_executor_run(int fd, bool test_functions);

#endif
