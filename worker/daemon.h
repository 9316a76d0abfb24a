/* worker/daemon.h — the worker daemon: one broker link, one executor pool, one loop.
 *
 * Each loop turn polls the broker socket and every executor socket, drains the broker until
 * it would block (JOBS into the local queue, CANCEL, REVOKE), collects executor results and
 * handed-back jobs, enforces time limits, hands queued jobs to executors, and flushes one DONE
 * (and at most one RETURNED) message. SIGINT/SIGTERM end the loop: BYE, stop executors, exit 0.
 */
#ifndef TMQ_DAEMON_H
#define TMQ_DAEMON_H

#include "options.h"

/* Runs the daemon until interrupted. Returns the process exit status (common/exits.h): 0
 * after a clean stop, 1 when it could not start its executors, 2 when libzmq refuses the
 * endpoint, 3 when the broker's host does not resolve or the broker refused this worker. */
int tmq_daemon_run(const tmq_worker_opts_t *opts);

#endif
