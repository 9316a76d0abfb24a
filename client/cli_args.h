/* client/cli_args.h — the `taskmq` command line: options, subcommands and help texts.
 *
 * Pure parsing (no I/O besides printing help), so usage errors are unit-testable. Options
 * may come before or after the subcommand, as --opt VALUE or --opt=VALUE; "--" ends them;
 * a word such as "-5" or "-0.5" is an argument (a negative number), not an option. With
 * map --exec the words after "--" are the command (CMD ARG...), and none may come before it.
 */
#ifndef TMQ_CLI_ARGS_H
#define TMQ_CLI_ARGS_H

#include "exits.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TMQ_DEFAULT_BROKER "tcp://127.0.0.1:5555"

typedef enum {
    TMQ_CLI_NONE = 0,
    TMQ_CLI_MAP,
    TMQ_CLI_SUBMIT,
    TMQ_CLI_STATUS,
    TMQ_CLI_FUNCTIONS,
    TMQ_CLI_KEYGEN,
    TMQ_CLI_ATTACH,  /* attach NAME: a named batch's results */
    TMQ_CLI_BATCHES, /* the batches the broker holds */
} tmq_cli_cmd_t;

typedef struct {
    tmq_cli_cmd_t cmd;
    const char *broker;      /* NULL: $TASKMQ_BROKER, else TMQ_DEFAULT_BROKER */
    long connect_timeout_ms; /* 5000 */
    const char *curve_cert;  /* NULL: $TASKMQ_CURVE_CERT, else no CURVE */
    const char *broker_cert; /* NULL: $TASKMQ_BROKER_CERT */
    long local;              /* worker processes for --local; 0 = use a broker */
    bool ordered;
    long timeout_ms;    /* per job; 0 = none */
    long retries;       /* -1 = the broker's default */
    uint64_t mem_limit; /* bytes per job; 0 = none (the worker's --mem-limit applies) */
    bool retry_oom;     /* an out-of-memory job is retried as an executor death */
    int progress;       /* -1 = when stderr is a terminal, 0 off, 1 on */
    bool fail_when_full;
    long broker_loss_timeout_s; /* 60: how long to wait for a lost journaled broker; 0: none */
    bool json;                  /* status/functions: JSON out; map/submit: input must be JSON */
    bool raw;                   /* map/submit: input is always a string */
    bool keep_empty;            /* map: empty stdin lines are jobs ("") instead of skipped */
    bool tag;  /* map: each output line carries the job's input ("arg"; --exec: a prefix) */
    bool exec; /* map --exec: one exec job per stdin line, CMD ARG... after "--" */
    const char *joblog; /* map --exec: GNU parallel's joblog written to this file */
    const char *batch;  /* map: the run is the named batch NAME (PROTOCOL.md 5.8); NULL: none */
    long batch_ttl_s; /* map --batch: how long the broker keeps it once complete; 0: its default */
    bool resume;      /* map --batch: submit only the inputs without an OK result in it */
    bool force;       /* keygen: overwrite an existing pair */
    int verbose;
    bool help, version;
    const char *function; /* map/submit: FUNCTION ("exec" under --exec); keygen: PATH;
                             attach: NAME */
    char **args;          /* the words after FUNCTION */
    int nargs;
    char **command; /* map --exec: CMD ARG..., the words after "--" */
    int ncommand;
} tmq_cli_t;

/* Parses argv into o (which it initializes). Returns 0, or TMQ_EXIT_USAGE with a one-line
 * message in err: a bad --broker says what a valid endpoint looks like, an option given to
 * a subcommand it is not for says which it is for ("--tag is for map"), an unknown option or
 * subcommand names the nearest known one when it is within two edits ("unknown option
 * '--ordred' (did you mean '--ordered'?)"). On an error o->cmd is the subcommand named on the
 * command line, if any (for tmq_cli_usage). Release with tmq_cli_free either way. */
int tmq_cli_parse(tmq_cli_t *o, int argc, char **argv, char *err, size_t errlen);
void tmq_cli_free(tmq_cli_t *o);

/* The broker endpoint to use: --broker, else $TASKMQ_BROKER, else the default. */
const char *tmq_cli_broker(const tmq_cli_t *o);

/* The subcommand's name ("map"), NULL for TMQ_CLI_NONE. */
const char *tmq_cli_cmd_name(tmq_cli_cmd_t cmd);

/* Prints a usage error: "taskmq: ERR" and where to read more, the subcommand's help when
 * there is one ("Try 'taskmq map --help'."), else the program's. */
void tmq_cli_usage(FILE *out, tmq_cli_cmd_t cmd, const char *err);

/* Prints the help text for a subcommand (TMQ_CLI_NONE: the whole program). */
void tmq_cli_help(FILE *out, tmq_cli_cmd_t cmd);

#endif
