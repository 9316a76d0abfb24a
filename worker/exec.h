/* worker/exec.h — the `exec` built-in: runs a command and gives back its status and output.
 *
 * The argument is a map {"argv": [PROGRAM, ARG...], "stdin": TEXT, "env": {NAME: VALUE},
 * "cwd": DIR}; only argv is required, and a bare array is taken as argv. Strings may be msgpack
 * str or bin (bytes that are not UTF-8); none may hold a NUL byte. PROGRAM is found as execvp
 * finds it (a name without '/' is looked up in PATH, the PATH env sets if it sets one); no
 * shell runs. env adds to or overrides the executor's environment (a null VALUE removes NAME).
 * stdin (none: /dev/null) is fed while stdout and stderr are read, all at once (poll), so no
 * output size can deadlock. The result is {"status": N, "stdout": OUT, "stderr": ERR}, or
 * {"signal": "SIGKILL", "stdout": ..., "stderr": ...} when a signal ended the command; OUT and
 * ERR are str when they are valid UTF-8, bin otherwise. A bad argument, a program that cannot
 * run, and stdout or stderr over the cap fail the job ("exec: ...", tmq_exec_call).
 *
 * Processes: the command runs in the caller's process group. An executor leads its own, and
 * the daemon's time-limit and cancel kills go to the group, so they reach the command and
 * everything it started. The command dies with the executor (PR_SET_PDEATHSIG). After
 * tmq_exec_init the executor is a child subreaper: what a command leaves behind becomes the
 * executor's child, and when the command ends (or is killed for its output) every such
 * process is killed and reaped, so a job leaves nothing running. A job ends when the command
 * exits, with what it wrote until then, as with xargs and GNU parallel: a background child
 * that still holds its stdout does not hold the job up (it is killed).
 */
#ifndef TMQ_EXEC_H
#define TMQ_EXEC_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#define TMQ_EXEC_DEFAULT_OUTPUT_MAX (1u << 20) /* bytes of stdout, and of stderr, per job */
#define TMQ_EXEC_MAX_ENV 4096                  /* names one job's env may set */

/* Makes this process ready to run exec jobs: output_max caps each of a job's stdout and
 * stderr; SIGPIPE is ignored (a command may exit before reading its stdin); the process
 * becomes a child subreaper and from then on treats every child it has
 * as a command's leftover at the end of each exec job (call it only in an executor, whose
 * only children are commands). Returns 0, or -1 with errno (prctl failed; exec still runs,
 * without the clean-up of leftovers). */
int tmq_exec_init(size_t output_max);

/* Runs the command arg describes (see above) with the cap from tmq_exec_init (default
 * TMQ_EXEC_DEFAULT_OUTPUT_MAX) and appends to out the packed result (returns TMQ_ST_OK) or the
 * error text (returns TMQ_ST_ERROR): "exec: cannot run 'nosuch': No such file or directory",
 * "exec: cannot change directory to 'DIR': ...", "exec: stdout over 1048576 bytes", or what was
 * wrong with arg. Blocks until the command ends. */
int tmq_exec_call(const msgpack_object *arg, msgpack_sbuffer *out);

/* ---- the parts, for tests ---- */

typedef struct {
    char **argv;            /* NULL-terminated; owned */
    char **env;             /* "NAME=VALUE" to set, "NAME" to remove; NULL-terminated; owned */
    const char *stdin_data; /* borrowed from the argument; NULL: none (/dev/null) */
    size_t stdin_len;
    char *cwd; /* owned; NULL: the executor's */
} tmq_exec_req_t;

/* Reads arg into req (which it fills; release with tmq_exec_req_free, also after a failure).
 * Returns 0, or -1 with the reason ("exec: ...") in err. */
int tmq_exec_parse(const msgpack_object *arg, tmq_exec_req_t *req, char *err, size_t errlen);
void tmq_exec_req_free(tmq_exec_req_t *req);

typedef struct {
    int status;      /* the exit status, when signal is 0 */
    int signal;      /* the signal that ended the command, or 0 */
    char *out, *err; /* stdout and stderr bytes (malloc'd, may be NULL when empty) */
    size_t out_len, err_len;
} tmq_exec_outcome_t;

/* Runs req with each stream capped at output_max bytes. Returns 0 with *res filled (release
 * with tmq_exec_outcome_free), or -1 with the reason ("exec: ...") in err: the program could
 * not run, the directory could not be entered, a stream went over the cap (the command and
 * what it started are killed first), or the system refused a pipe or a process. */
int tmq_exec_run(const tmq_exec_req_t *req, size_t output_max, tmq_exec_outcome_t *res, char *err,
                 size_t errlen);
void tmq_exec_outcome_free(tmq_exec_outcome_t *res);

/* Packs the result map for res into out (appended). */
void tmq_exec_pack(msgpack_sbuffer *out, const tmq_exec_outcome_t *res);

#endif
