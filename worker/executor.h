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
#include <stddef.h>

typedef struct {
    unsigned builtins; /* TMQ_BUILTINS_* gates: which gated built-ins it serves (crash, exec) */
    size_t max_result; /* a result over this many bytes fails its job instead (1..64 MiB - 1 KiB) */
} tmq_executor_cfg_t;

/* Serves jobs on fd, and REVOKE on ctl (-1: none; nothing can be handed back), until the
 * daemon closes fd. Before each RESULT goes out its size is checked: a result over
 * cfg->max_result becomes the job's error "result too large: N bytes (limit L)" (and error
 * text is cut to that size), so no job can make a frame the daemon would refuse. Returns 0 at
 * end of file, -1 on a read or write error or a malformed frame (the daemon sees the exit as
 * a death). */
int tmq_executor_run(int fd, int ctl, const tmq_executor_cfg_t *cfg);

#endif
