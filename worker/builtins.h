/* worker/builtins.h — the job functions compiled into every worker.
 *
 * A built-in takes the job's argument as msgpack bytes and produces either a msgpack result
 * (TMQ_ST_OK) or error text (TMQ_ST_ERROR). They are, in effect, a plugin compiled in: they
 * register into the executor's one table of functions (registry.h) and are called through
 * it. Nothing here touches processes or sockets, so unit tests call them through a registry.
 * (exec, in exec.c, runs a command.) Gated functions exist only when the operator asked for
 * them: crash with --test-functions, exec with --allow-exec.
 */
#ifndef TMQ_BUILTINS_H
#define TMQ_BUILTINS_H

#include "options.h"

#include <taskmq/plugin.h>

/* Registers the built-in functions served under options o into plugin (the registry's
 * compiled-in plugin: tmq_registry_add): crash only with o->test_functions, exec only with
 * o->allow_exec.
 * Each gets the job's checked msgpack argument and writes its result, or error text ("FN:
 * argument must be ..."), into the reply. `crash` does not return. Returns 0 or -1. */
int tmq_builtins_register(tmq_plugin_t *plugin, const tmq_worker_opts_t *o);

#endif
