/* worker/registry.h — an executor's one table of job functions: name -> handler.
 *
 * The built-in functions (a plugin compiled in: tmq_registry_add) and every --plugin FILE.so
 * (tmq_registry_load: dlopen, then its tmq_plugin_init) register into the same table; HELLO
 * announces its names, and every job is called through it. Names are unique across the
 * table: a second registration of a name fails the plugin that made it. A plugin either
 * loads whole or not at all: when its init fails (returns -1, registers a bad or taken name,
 * was built for another plugin ABI, registers nothing) its functions and exit hooks are
 * dropped and the registry keeps the reason (tmq_registry_error). The registry is used from
 * one thread: the executor's main thread.
 */
#ifndef TMQ_WORKER_REGISTRY_H
#define TMQ_WORKER_REGISTRY_H

#include "reply.h"

#include <msgpack.h>
#include <stddef.h>
#include <taskmq/plugin.h>

typedef struct tmq_registry_t tmq_registry_t;

tmq_registry_t *tmq_registry_new(void);
/* Frees the table (running no exit hooks) and nulls *self_p; loaded plugins stay mapped
 * (they may have left threads or atexit handlers behind). Safe on NULL. */
void tmq_registry_destroy(tmq_registry_t **self_p);

/* A plugin compiled in: init(plugin, arg) registers its functions as a plugin's
 * tmq_plugin_init does; origin ("built-in") names it in messages. Returns 0, or -1 with the
 * reason in tmq_registry_error. */
typedef int(tmq_registry_init_fn)(tmq_plugin_t *plugin, void *arg);
int tmq_registry_add(tmq_registry_t *self, const char *origin, tmq_registry_init_fn *init,
                     void *arg);

/* Loads the plugin at path (RTLD_NOW | RTLD_LOCAL; a path without '/' is taken in the current
 * directory, never searched for) and runs its tmq_plugin_init. Returns 0, or -1 with the
 * reason, naming path, in tmq_registry_error. */
int tmq_registry_load(tmq_registry_t *self, const char *path);

/* The reason of the latest tmq_registry_add or _load that failed (borrowed), or NULL while
 * none has. */
const char *tmq_registry_error(const tmq_registry_t *self);

/* The registered names in registration order (borrowed, *names set; valid until the next
 * registration) and their count. */
size_t tmq_registry_names(const tmq_registry_t *self, const char *const **names);

/* Runs function fn (fn_len bytes) on the msgpack argument (arg, arg_len): out is emptied and
 * receives the packed result (TMQ_ST_OK returned) or error text (TMQ_ST_ERROR): an unknown
 * function ("unknown function: NAME"), an argument that is not one well-formed msgpack
 * value, the function's own error, or a reply that is not a result (reply.h). */
int tmq_registry_call(tmq_registry_t *self, const char *fn, size_t fn_len, const void *arg,
                      size_t arg_len, msgpack_sbuffer *out);

/* Runs the exit hooks (tmq_plugin_on_exit) once, latest first. */
void tmq_registry_exit(tmq_registry_t *self);

/* For functions compiled in: fn(ctx, arg, arg_len, reply) serves name, as
 * tmq_plugin_register would register a plugin's function. Returns 0 or -1. */
typedef int(tmq_handler_fn)(void *ctx, const void *arg, size_t arg_len, tmq_reply_t *reply);
int tmq_registry_register(tmq_plugin_t *plugin, const char *name, tmq_handler_fn *fn, void *ctx);

#endif
