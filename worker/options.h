/* worker/options.h — the taskmq-worker command line.
 *
 * Parsing is pure (no exits, no printing) so it can be tested: it fills a struct or returns
 * an error text. The hidden --executor flag selects the executor mode that the daemon uses
 * when it starts its own binary again; users never pass it.
 */
#ifndef TMQ_WORKER_OPTIONS_H
#define TMQ_WORKER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TMQ_WORKER_DEFAULT_BROKER "tcp://127.0.0.1:5556"
#define TMQ_WORKER_MAX_PROCS 4096
#define TMQ_WORKER_MAX_NAME 255
#define TMQ_WORKER_MAX_PLUGINS 64                 /* --plugin flags */
#define TMQ_WORKER_MAX_PYTHON 64                  /* --python flags */
#define TMQ_WORKER_DEFAULT_MAX_RESULT (16u << 20) /* --max-result */
/* The largest --max-result: a RESULT frame (at most 64 MiB, worker/frame.h) must hold it. */
#define TMQ_WORKER_MAX_RESULT_LIMIT ((64u << 20) - 1024)
#define TMQ_WORKER_DEFAULT_EXEC_OUTPUT (1u << 20) /* --max-exec-output */
#define TMQ_WORKER_MAX_EXEC_OUTPUT (64u << 20)
#define TMQ_WORKER_MIN_MEM_LIMIT (1u << 20) /* --mem-limit */
#define TMQ_WORKER_MAX_MEM_LIMIT (1ull << 40)
#define TMQ_WORKER_DEFAULT_DRAIN_S 30 /* --drain-timeout */
#define TMQ_WORKER_MAX_DRAIN_S 86400

typedef struct {
    const char *broker;      /* borrowed from argv or the default */
    const char *curve_cert;  /* --curve-cert or $TASKMQ_CURVE_CERT: CurveZMQ, this worker's */
    const char *broker_cert; /* --broker-cert or $TASKMQ_BROKER_CERT: the broker's public */
    const char *log_file;    /* --log-file: the log (stderr) appended there */
    const char *pid_file;    /* --pid-file: the daemon's pid written there */
    int procs;               /* >= 1 */
    char name[TMQ_WORKER_MAX_NAME + 1];
    bool test_functions;
    bool allow_exec;          /* serve `exec` (built-in executor only) */
    size_t max_result;        /* a job whose result is larger fails (the executor checks) */
    size_t max_exec_output;   /* each of an exec job's stdout and stderr, at most */
    uint64_t mem_limit;       /* bytes per executor (with what it runs); 0 = none */
    long drain_timeout_s;     /* on SIGTERM, how long running jobs may take to finish */
    const char *executor_cmd; /* --executor-cmd 'PROGRAM ARGS': executors are that program */
    const char *plugins[TMQ_WORKER_MAX_PLUGINS]; /* --plugin FILE.so, in order (borrowed) */
    size_t nplugins;
    const char *python[TMQ_WORKER_MAX_PYTHON]; /* --python MODULE, in order (borrowed) */
    size_t npython;
    int verbose; /* count of -v */
    bool help, version;
    bool executor; /* hidden: run as an executor on fd 3 */
} tmq_worker_opts_t;

/* Parses argv into o (defaults first). Sizes take a K, M or G suffix (KiB, MiB, GiB; "16M",
 * "1MiB"). --plugin, --allow-exec and --max-exec-output are for the built-in executor: given
 * with --executor-cmd they are an error. --python MODULE (a module name, or a path to a .py
 * file, which must then be readable) runs Python executors instead (worker/daemon.c) and goes
 * with none of --executor-cmd, --plugin, --allow-exec, --max-exec-output, --test-functions.
 * Returns 0, or -1 with a one-line reason in err (also
 * for a --plugin FILE that is not a readable file). */
int tmq_worker_opts_parse(tmq_worker_opts_t *o, int argc, char **argv, char *err, size_t errlen);

/* Splits an --executor-cmd into words as a shell would, without running anything (no $(...),
 * no pipes or redirections; quotes and $VAR work). Returns 0 with a NULL-terminated argv
 * (malloc'd, strings too) when argv is not NULL, or -1 with a reason in why. */
int tmq_worker_split_cmd(const char *cmd, char ***argv, char *why, size_t why_len);

/* Prints the --help text. */
void tmq_worker_usage(FILE *out);

#endif
