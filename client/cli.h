/* client/cli.h — the `taskmq` subcommands, each run against a ready client.
 *
 * They return the tool's exit status (common/exits.h). A signal handler in taskmq.c sets
 * tmq_cli_interrupted (to the signal number); the subcommands poll it and return early,
 * leaving the client to be destroyed (BYE) by the caller.
 */
#ifndef TMQ_CLI_H
#define TMQ_CLI_H

#include "cli_args.h"
#include "taskmq/client.h"

#include <signal.h>

extern volatile sig_atomic_t tmq_cli_interrupted;

#define TMQ_EXIT_BROKEN_PIPE 141 /* stdout closed under us, as if killed by SIGPIPE */

/* map: one job per ARG or stdin line; prints a JSON line per finished job. */
int tmq_cli_map(tmq_client_t *c, const tmq_cli_t *o);
/* submit: one job; prints its result. */
int tmq_cli_submit(tmq_client_t *c, const tmq_cli_t *o);
/* attach: a named batch's results (o->function is its NAME), map's lines and exit rules. */
int tmq_cli_attach(tmq_client_t *c, const tmq_cli_t *o);
/* status: the broker's status for people, or JSON with --json; functions (o->cmd
 * TMQ_CLI_FUNCTIONS): the functions the cluster serves; batches (TMQ_CLI_BATCHES): the named
 * batches it holds. */
int tmq_cli_status(tmq_client_t *c, const tmq_cli_t *o, const char *endpoint);
/* keygen: a CurveZMQ pair at o->function and o->function + "_secret"; an existing one is
 * replaced only with o->force. No client. */
int tmq_cli_keygen(const tmq_cli_t *o);

#endif
