/* client/local.h — `taskmq --local N`: a private cluster inside the tool.
 *
 * The broker runs as an actor in this process (tmq_broker_actor, frontend on inproc, backend
 * on a loopback port the kernel picks) and one `taskmq-worker --procs N --name local` runs
 * as a child that dies with us. Stopping sends the worker SIGTERM, waits (SIGKILL after
 * 2 s), then stops the broker, so no process outlives the tool.
 */
#ifndef TMQ_LOCAL_H
#define TMQ_LOCAL_H

#include "taskmq/client.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct tmq_local_t tmq_local_t;

/* Starts the broker and the worker. verbose > 0 passes -v to the worker and keeps its log
 * on stderr (else it is discarded); allow_exec passes --allow-exec (map --exec: the worker
 * runs the user's commands as the user, in a cluster only this process can reach). NULL with
 * a message in err on failure. */
tmq_local_t *tmq_local_start(long procs, int verbose, bool allow_exec, char *err, size_t errlen);
/* The endpoint clients connect to (inproc, so only this process can). */
const char *tmq_local_frontend(const tmq_local_t *self);
/* Waits until the worker has registered with the broker. Returns 0, or -1 with a message
 * when the worker exited or did not register within timeout_ms. */
int tmq_local_wait_worker(tmq_local_t *self, tmq_client_t *c, int timeout_ms, char *err,
                          size_t errlen);
/* Stops the worker, then the broker. Safe on NULL. */
void tmq_local_stop(tmq_local_t **self);

#endif
