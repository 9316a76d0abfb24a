/* worker/builtins.h — the job functions compiled into every worker.
 *
 * A built-in takes the job's argument as msgpack bytes and produces either a msgpack result
 * (TMQ_ST_OK) or error text (TMQ_ST_ERROR) in a caller-owned buffer. Nothing here touches
 * processes or sockets (exec, in exec.c, runs a command), so unit tests call the functions
 * directly. Gated functions are visible only when the operator asked for them: crash with
 * --test-functions, exec with --allow-exec.
 */
#ifndef TMQ_BUILTINS_H
#define TMQ_BUILTINS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#define TMQ_BUILTINS_MAX 16 /* upper bound on the number of names tmq_builtins_names returns */

/* Gates: a mask of these says which gated functions are served (0: the plain ones only). */
#define TMQ_BUILTINS_TEST 0x1u /* crash (--test-functions) */
#define TMQ_BUILTINS_EXEC 0x2u /* exec (--allow-exec) */

/* Writes the registered function names into names (at most max) and returns how many there
 * are. The strings are static. Gated ones are included when gates open them. */
size_t tmq_builtins_names(unsigned gates, const char **names, size_t max);

/* True when fn (fn_len bytes, not NUL-terminated) names a function served under these gates. */
bool tmq_builtins_has(const char *fn, size_t fn_len, unsigned gates);

/* Runs function fn on the msgpack argument (arg, arg_len). Appends the outcome to out (which
 * the caller owns and normally empties first): the packed result when it returns TMQ_ST_OK,
 * else error text (not NUL-terminated) when it returns TMQ_ST_ERROR — an unknown function
 * ("unknown function: NAME"), an argument that is not one well-formed msgpack object, or the
 * function's own error. zone, when not NULL, is used (and cleared) for unpacking so a caller
 * running many jobs allocates nothing per job. `crash` does not return. */
int tmq_builtins_call(const char *fn, size_t fn_len, const void *arg, size_t arg_len,
                      unsigned gates, msgpack_zone *zone, msgpack_sbuffer *out);

#endif
