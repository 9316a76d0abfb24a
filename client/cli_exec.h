/* client/cli_exec.h — `taskmq map --exec -- CMD ARG...`: exec jobs from input lines, and
 * their results as a command's output, the way GNU parallel does it.
 *
 * Pure (no I/O): cli_map.c reads the lines and writes what this builds. Each word of CMD ARG...
 * is a template; in it these replacement strings stand for the input line (GNU parallel's):
 *   {}    the line              {.}   the line without its extension (a.tar.gz -> a.tar)
 *   {/}   its basename          {//}  its dirname ("." when it has no '/')
 *   {/.}  basename, no extension  {#}   the job's sequence number, from 1
 * anywhere in a word ("{}.gz", "out-{#}.txt"). When no word holds one, the line is appended as
 * a last argument ("gzip" runs "gzip LINE"). The line is always text, never JSON; a word that
 * is not UTF-8 goes as msgpack bin.
 */
#ifndef TMQ_CLI_EXEC_H
#define TMQ_CLI_EXEC_H

#include "buf.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *const *words; /* CMD ARG..., borrowed */
    int nwords;
    bool append; /* no replacement string in any word: the line goes last */
} tmq_cliexec_t;

/* A template from the words after "--" (nwords >= 1; borrowed, must outlive it). */
void tmq_cliexec_init(tmq_cliexec_t *t, char *const *words, int nwords);

/* Appends word with its replacement strings filled in for line (len bytes) and seq. */
void tmq_cliexec_word(tmq_buf_t *out, const char *word, const char *line, size_t len, uint64_t seq);

/* Packs the exec argument {"argv": [...]} for line and seq into sb (cleared first). */
void tmq_cliexec_arg(const tmq_cliexec_t *t, msgpack_sbuffer *sb, const char *line, size_t len,
                     uint64_t seq);

/* Appends the command for line and seq as a shell would need it typed: words joined by
 * spaces, each quoted when it must be ('a b', 'it'\''s', $'tab\there' for control bytes), so
 * a line of it can be pasted into a shell and is one line (no tab or newline) in a joblog. */
void tmq_cliexec_command(const tmq_cliexec_t *t, tmq_buf_t *out, const char *line, size_t len,
                         uint64_t seq);
/* Appends one word quoted as above. */
void tmq_cliexec_quote(tmq_buf_t *out, const char *word, size_t len);

/* An exec job's result map, decoded. Pointers go into the result's bytes. */
typedef struct {
    bool exited;      /* "status" was there (else "signal") */
    int status;       /* the exit status when exited */
    int signo;        /* the signal's number when not exited (0 when unknown) */
    char signame[32]; /* "SIGKILL" when not exited */
    const char *out;  /* stdout */
    size_t out_len;
    const char *err; /* stderr */
    size_t err_len;
} tmq_cliexec_result_t;

/* Decodes an exec result (msgpack map, str or bin outputs). Returns 0, or -1 when data is
 * not one (another function's result, or a worker that does not speak exec as we do). */
int tmq_cliexec_decode(const void *data, size_t len, tmq_cliexec_result_t *r);

/* Appends text with tag and a tab before each line (GNU parallel --tag); a last line without
 * '\n' gets one, so tagged lines never run into the next job's. */
void tmq_cliexec_tag(tmq_buf_t *out, const char *tag, size_t tag_len, const char *text, size_t len);

/* GNU parallel's joblog: the header line, and one line per job (tab-separated, '\n' ended):
 * Seq Host Starttime JobRuntime Send Receive Exitval Signal Command. */
#define TMQ_CLIEXEC_JOBLOG_HEADER                                                                  \
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
typedef struct {
    uint64_t seq;
    const char *host; /* the worker's name ("" or NULL: the job never ran, shown "-") */
    size_t host_len;
    double start;   /* seconds since the epoch */
    double runtime; /* seconds */
    uint64_t send, receive;
    int exitval, signo;
    const char *command; /* tmq_cliexec_command's text */
    size_t command_len;
} tmq_cliexec_joblog_t;
void tmq_cliexec_joblog_line(tmq_buf_t *out, const tmq_cliexec_joblog_t *j);

/* The joblog's Exitval and Signal for a job that failed without a result (error text):
 * "cannot run ...: No such file or directory" is 127 as in a shell, other "cannot run" 126,
 * a job killed at its time or memory limit (killed: a TIMEOUT or OUT_OF_MEMORY result) is
 * signal 9 (the worker kills with SIGKILL), anything else -1. */
void tmq_cliexec_failure_codes(const char *text, size_t len, bool killed, int *exitval, int *signo);

#endif
