/* taskmq/plugin.h — job functions in C: the taskmq plugin SDK.
 *
 * A plugin is a shared object that `taskmq-worker --plugin FILE.so` loads. It includes this
 * header and nothing else of taskmq, defines tmq_plugin_init and its job functions, and is
 * built with
 *     cc -shared -fPIC myplugin.c -o myplugin.so $(pkg-config --cflags taskmq-plugin)
 * It links no library: the functions declared here are resolved from the worker that loads it.
 *
 *     #include <taskmq/plugin.h>
 *
 *     static int length(const void *arg, size_t len, tmq_reply_t *reply)
 *     {
 *         const char *s;
 *         size_t n;
 *         if (tmq_arg_str(arg, len, &s, &n) != 0)
 *             return tmq_reply_error(reply, "length: argument must be a string, got %s",
 *                                    tmq_arg_type(arg, len));
 *         tmq_reply_map(reply, 1);                 // {"bytes": n}
 *         tmq_reply_key(reply, "bytes");
 *         return tmq_reply_uint(reply, n);
 *     }
 *
 *     int tmq_plugin_init(tmq_plugin_t *plugin)
 *     {
 *         return tmq_plugin_register(plugin, "length", length);
 *     }
 *
 * The contract between a plugin and the worker:
 *
 * - Each executor process of the worker (--procs N of them, and each one started again
 *   after a crash or a kill) loads the plugin once, at its start, and calls tmq_plugin_init
 *   once: that is the per-process initialisation. tmq_plugin_on_exit registers the matching
 *   teardown. Plugins load in the order of the --plugin flags, after the built-in functions.
 * - An executor runs one job at a time, always from the same thread: a job function needs no
 *   locking of its own state. Several executors run in parallel as separate processes, so
 *   state shared between jobs is per process (a cache fills once per executor).
 * - A job's argument is the msgpack encoding of one value (JSON on the command line becomes
 *   msgpack on the wire), checked well-formed before the call. The bytes are valid only
 *   during the call: copy what must outlive it.
 * - A function answers through its reply: one result value (tmq_reply_result with msgpack
 *   bytes, or built with tmq_reply_map/_key/_int/...) and returns 0, or fails the job with
 *   tmq_reply_error and returns -1. A failed job is final (not retried). A function that
 *   returns without a complete result, or -1 without an error text, fails its job saying so.
 *   The reply pointer is valid only during the call: never keep it.
 * - A function may crash: the executor dies, its job alone fails with the signal named
 *   ("executor died: SIGSEGV", retried on another executor within the job's retries), the
 *   jobs queued behind it go back to the queue unharmed, and a fresh executor (which loads
 *   the plugin again) replaces it. A job past its time limit, or cancelled, is stopped the
 *   same way: its executor and every process it started are killed.
 * - A function must not: fork without exec (the child would share the executor's stream
 *   to its daemon); read or write descriptors 3 and 4 (the daemon's streams) or close them;
 *   install handlers for SIGTERM (the worker's stop), SIGUSR2 (the worker died), SIGINT,
 *   SIGPIPE or SIGCHLD, or block them; call
 *   exit() (a death like a crash: "executor died: exit N"); keep the reply or argument
 *   pointers after it returns; call tmq_plugin_register or tmq_plugin_on_exit outside
 *   tmq_plugin_init. Log to stderr (it is the worker's); stdout is the worker's too.
 * - Processes a function starts (fork and exec) die with its executor. On a worker started
 *   with --allow-exec, every child of the executor is taken for what an exec job left
 *   behind and is killed after each exec job: serve such plugins on another worker.
 * - Under a memory limit (taskmq-worker --mem-limit, or the job's own) the executor and all it
 *   started share it; a job past it fails "out of memory (limit 512 MiB)" and the executor is
 *   replaced.
 *
 * Every function here returns 0 on success and -1 on failure unless it says otherwise.
 */
#ifndef TASKMQ_PLUGIN_H
#define TASKMQ_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The plugin ABI this header describes. tmq_plugin_register passes it to the worker, which
 * refuses a plugin built for another ABI at start ("plugin ./x.so was built for plugin ABI 2;
 * this worker has ABI 1"), never at the first job. It changes only when a plugin built
 * against an older header could misbehave in a newer worker. */
#define TMQ_PLUGIN_ABI 1

#if defined(__GNUC__)
#define TMQ_PLUGIN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TMQ_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TMQ_PLUGIN_PRINTF(f, a)
#define TMQ_PLUGIN_EXPORT
#endif

typedef struct tmq_plugin_t tmq_plugin_t; /* the plugin being loaded (valid during init) */
typedef struct tmq_reply_t tmq_reply_t;   /* a job's answer (valid during the call) */

/* A job function: arg/arg_len is the job's msgpack argument; write the result with
 * tmq_reply_result (msgpack bytes) or the tmq_reply_ builders, or fail the job with
 * tmq_reply_error. Returns 0, or -1 after an error reply. */
typedef int (*tmq_job_fn)(const void *arg, size_t arg_len, tmq_reply_t *reply);

/* ---- loading ---- */

/* Every plugin defines this; it registers the plugin's functions and returns 0, or -1 to
 * refuse to load (say why with tmq_plugin_error). Called once per executor process. */
TMQ_PLUGIN_EXPORT int tmq_plugin_init(tmq_plugin_t *plugin);

/* Registers fn under name (1 to 64 bytes), which the worker then serves. A name another
 * plugin or a built-in function already has, a bad name or a NULL fn makes the plugin fail
 * to load, with a message naming both. Only inside tmq_plugin_init. */
#define tmq_plugin_register(plugin, name, fn)                                                      \
    tmq_plugin_register_abi((plugin), (name), (fn), TMQ_PLUGIN_ABI)
int tmq_plugin_register_abi(tmq_plugin_t *plugin, const char *name, tmq_job_fn fn, int abi);

/* Registers fn(arg) to run when this executor process stops cleanly (the worker stops, or
 * its daemon goes away while no job runs): close files, flush, free. Hooks run in reverse
 * order of registration, from the thread that runs jobs, and have about a second. They do
 * not run after a crash, a kill (time limit, cancel), or a stop that interrupts a job. Only
 * inside tmq_plugin_init. */
int tmq_plugin_on_exit(tmq_plugin_t *plugin, void (*fn)(void *arg), void *arg);

/* Makes the plugin refuse to load, saying why: the worker stops at start with "plugin
 * ./x.so refused to load: TEXT". Returns -1, so `return tmq_plugin_error(plugin, ...)`. */
int tmq_plugin_error(tmq_plugin_t *plugin, const char *fmt, ...) TMQ_PLUGIN_PRINTF(2, 3);

/* ---- the reply ---- */

/* Fails the job with printf-style text (cut at 4 KiB), which is what its submitter sees.
 * The first error stands and replaces any result written so far. Returns -1, so
 * `return tmq_reply_error(reply, ...)`. */
int tmq_reply_error(tmq_reply_t *reply, const char *fmt, ...) TMQ_PLUGIN_PRINTF(2, 3);

/* Writes one value given as its msgpack encoding (len bytes, checked: exactly one
 * well-formed value). Alone it is the whole result; inside a map or array, one item. */
int tmq_reply_result(tmq_reply_t *reply, const void *msgpack, size_t len);

/* Builders: each writes one value at the current position. A result is one value; a map of
 * n pairs takes 2n items after it (tmq_reply_key then a value, n times), an array of n takes
 * n, nested at most 32 deep. Each returns -1 (and the job fails saying how) when the value
 * does not fit: a second top-level value, a key outside a map's key position, too deep. */
int tmq_reply_map(tmq_reply_t *reply, uint32_t npairs);
int tmq_reply_array(tmq_reply_t *reply, uint32_t n);
int tmq_reply_key(tmq_reply_t *reply, const char *key); /* a map's key: a NUL-terminated string */
int tmq_reply_int(tmq_reply_t *reply, int64_t v);
int tmq_reply_uint(tmq_reply_t *reply, uint64_t v);
int tmq_reply_double(tmq_reply_t *reply, double v);
int tmq_reply_bool(tmq_reply_t *reply, bool v);
int tmq_reply_nil(tmq_reply_t *reply);
int tmq_reply_str(tmq_reply_t *reply, const char *s);              /* NUL-terminated */
int tmq_reply_strn(tmq_reply_t *reply, const char *s, size_t len); /* len bytes, UTF-8 */
int tmq_reply_bin(tmq_reply_t *reply, const void *p, size_t len);  /* bytes */

/* ---- reading the argument ---- */

/* Each reads arg/len as exactly one value of its kind and returns 0 (out set), or -1 (out
 * untouched) when arg holds something else. Strings and bytes point into arg: valid during
 * the call only, not NUL-terminated. */
int tmq_arg_int(const void *arg, size_t len, int64_t *out);   /* an integer in int64 range */
int tmq_arg_uint(const void *arg, size_t len, uint64_t *out); /* an integer >= 0 */
int tmq_arg_double(const void *arg, size_t len, double *out); /* a float or an integer */
int tmq_arg_bool(const void *arg, size_t len, bool *out);     /* true or false */
int tmq_arg_str(const void *arg, size_t len, const char **s, size_t *n);   /* a string */
int tmq_arg_bytes(const void *arg, size_t len, const void **p, size_t *n); /* string or bytes */

/* Compound arguments: the items of an array and the values of a map, as msgpack slices of
 * arg that the readers above (or these) take. tmq_arg_count gives an array's items or a
 * map's pairs; tmq_arg_item the array's item i; tmq_arg_field the value of the map's string
 * key (NUL-terminated). -1 when arg is not such a container or holds no such item. */
int tmq_arg_count(const void *arg, size_t len, uint32_t *n);
int tmq_arg_item(const void *arg, size_t len, uint32_t i, const void **item, size_t *item_len);
int tmq_arg_field(const void *arg, size_t len, const char *key, const void **value,
                  size_t *value_len);

/* What arg holds, in words for an error message: "integer", "float", "string", "bytes",
 * "boolean", "null", "array", "map", "extension", or "malformed". Never NULL; static. */
const char *tmq_arg_type(const void *arg, size_t len);

#ifdef __cplusplus
}
#endif

#endif
