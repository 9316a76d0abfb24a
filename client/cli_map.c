/* client/cli_map.c — `taskmq map` and `taskmq submit`: jobs in, JSON lines out.
 *
 * map streams: stdin is read in large chunks whenever it is readable (or at end of file)
 * and results are printed whenever they arrive (tmq_wait watches both), so output starts
 * before input ends and 100,000s of lines cost a few syscalls per chunk. Output goes through
 * a large stdio buffer, flushed each time no further result is immediately available.
 * --ordered holds lines in a reorder buffer (and stops reading input while it is very full);
 * --tag keeps each in-flight job's input until its result. The run ends when input is done
 * and every job has its line, or early: a function nobody serves (one message, exit 1), a
 * lost broker (exit 4), a line that is not JSON under --json (no more input; exit 2), a
 * signal, or a closed stdout. Under --exec each line becomes an exec job (cli_exec.h) and a
 * finished job prints its command's stdout and stderr instead of a JSON line: a "record" (its
 * stdout and stderr parts, kept together through the reorder buffer) per job.
 * --batch NAME makes the run a named batch (PROTOCOL.md 5.8): its input's end is told to the
 * broker (tmq_client_end_batch). --resume first asks which inputs have an OK result there and
 * passes over them, so the inputs it submits keep their positions as job ids.
 */
#include "buf.h"
#include "cli.h"
#include "cli_exec.h"
#include "idmap.h"
#include "jsonline.h"
#include "platform.h"
#include "progress.h"
#include "reorder.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_CHUNK (256u << 10) /* stdin read size */
#define S_DRAIN_EVERY 512    /* print arrived results every this many submissions */
#define S_REORDER_MAX 200000 /* stop reading input while this many lines wait */
#define S_TICK_MS 100        /* wake-up interval (progress bar, signals) */

typedef struct {
    size_t len;
    size_t sent;    /* bytes of the job's argument (--joblog's Send) */
    uint8_t data[]; /* msgpack for --tag; under --exec the input line */
} s_arg_t;          /* a job's input, kept until its result */

typedef struct {
    tmq_client_t *c;
    const tmq_cli_t *o;
    tmq_input_mode_t mode;
    tmq_reorder_t *reorder; /* --ordered only */
    tmq_idmap_t args;       /* --tag, --exec: job id -> s_arg_t */
    tmq_buf_t line;         /* the output line (--exec: record) being formatted */
    tmq_buf_t err;          /* --exec: the stderr part of the record being formatted */
    tmq_buf_t cmd;          /* --exec: a job's command, quoted */
    bool exec;              /* --exec */
    tmq_cliexec_t tpl;      /* --exec: CMD ARG... */
    FILE *joblog;           /* --joblog */
    tmq_buf_t input;        /* a partial input line carried between chunks */
    msgpack_sbuffer arg;    /* the packed argument of the job being submitted */
    tmq_progress_t progress;
    bool same_tty; /* stdout and stderr are one terminal: clear the bar before output */
    uint64_t submitted, done, failed, lost, lines;
    uint64_t position;  /* the input position of the next job: its id */
    tmq_idmap_t skip;   /* --resume: positions with an OK result in the batch already */
    uint64_t skipped;   /* ... and passed over */
    bool ended;         /* --batch: the input's end was told */
    bool input_done;    /* no more input will be read (end, or stopped) */
    bool bad_input;     /* a line was not JSON under --json */
    bool unserved;      /* a result said no worker serves the function */
    char lost_why[256]; /* the library's reason for the first LOST result */
    int broken;         /* errno of a failed write to stdout (EPIPE: the reader left), or 0 */
} s_map_t;

/* ---- messages ---- */

/* A line on stderr, the bar cleared first so the two never share a line. */
static void s_say(s_map_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_say(s_map_t *m, const char *fmt, ...)
{
    tmq_progress_clear(&m->progress);
    fflush(stdout);
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "taskmq: %s\n", text); /* one write: stderr is unbuffered */
}

/* What map and submit say when no connected worker serves the function. */
#define S_UNSERVED_FMT "unknown function: %s \u2014 no connected worker serves it (%s)"
#define S_UNSERVED_HINT(fn)                                                                        \
    (strcmp(fn, "exec") == 0 ? "a worker serves exec only when started with --allow-exec"          \
                             : "taskmq functions lists what is served")

static void s_say_unserved(s_map_t *m)
{
    const char *fn = m->exec ? "exec" : m->o->function;
    s_say(m, S_UNSERVED_FMT, fn, S_UNSERVED_HINT(fn));
}

/* ---- output ---- */

/* Stops the run on a write error; says why unless the reader just left or we were
 * interrupted (both end the run anyway). */
static void s_out_failed(s_map_t *m)
{
    m->broken = errno ? errno : EIO;
    if (m->broken != EPIPE && m->broken != EINTR)
        s_say(m, "writing results: %s", strerror(m->broken));
}

static void s_flush_out(s_map_t *m)
{
    if (!m->broken && fflush(stdout) != 0) s_out_failed(m);
}

static void s_write(s_map_t *m, const char *text, size_t len)
{
    if (!m->broken && len && fwrite(text, 1, len, stdout) != len) s_out_failed(m);
}

/* An --exec record: the stdout part's length, the stdout part, the stderr part. Its stdout
 * goes out (flushed) before its stderr, so the two keep their order on one terminal. */
static void s_put_record(s_map_t *m, const char *rec, size_t len)
{
    if (len < sizeof(size_t)) return; /* a job with no output at all */
    size_t out;
    memcpy(&out, rec, sizeof out);
    s_write(m, rec + sizeof out, out);
    size_t err = len - sizeof out - out;
    if (!err) return;
    s_flush_out(m);
    tmq_progress_clear(&m->progress);
    fwrite(rec + sizeof out + out, 1, err, stderr);
}

static void s_put(s_map_t *m, const char *text, size_t len)
{
    if (m->exec)
        s_put_record(m, text, len);
    else
        s_write(m, text, len);
}

/* Emits the line (or record) for index (len 0: a job with no line), in input order under
 * --ordered. */
static void s_emit(s_map_t *m, uint64_t index, const char *text, size_t len)
{
    if (!m->reorder) {
        s_put(m, text, len);
        return;
    }
    if (index == tmq_reorder_next(m->reorder)) {
        /* Next in line: print without storing, then whatever it was holding back. */
        s_put(m, text, len);
        tmq_reorder_skip(m->reorder);
    } else {
        tmq_reorder_put(m->reorder, index, tmq_xmemdup(text, len), len);
    }
    size_t n;
    char *next;
    while ((next = tmq_reorder_pop(m->reorder, &n))) {
        s_put(m, next, n);
        free(next);
    }
}

/* ---- --exec results ---- */

static double s_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The joblog line for a finished exec job. */
static void s_joblog(s_map_t *m, const tmq_result_t *r, const s_arg_t *arg, uint64_t receive,
                     int exitval, int signo)
{
    const char *w = tmq_result_worker(r);
    const char *colon = strrchr(w, ':'); /* "name:pid": the host is the name */
    double runtime = tmq_result_ms(r) / 1000.0;
    tmq_cliexec_joblog_t j = {.seq = tmq_result_id(r) + 1,
                              .host = w,
                              .host_len = colon ? (size_t)(colon - w) : strlen(w),
                              .start = s_wall_s() - runtime,
                              .runtime = runtime,
                              .send = arg ? arg->sent : 0,
                              .receive = receive,
                              .exitval = exitval,
                              .signo = signo,
                              .command = m->cmd.data,
                              .command_len = m->cmd.len};
    tmq_buf_t line;
    tmq_buf_init(&line);
    tmq_cliexec_joblog_line(&line, &j);
    fwrite(line.data, 1, line.len, m->joblog);
    tmq_buf_free(&line);
}

/* The output of a command that ran: m->line gets its stdout, m->err its stderr (tagged with
 * the input line under --tag) and, when a signal ended it, a line saying so. Returns whether
 * the command failed (a non-zero status or a signal). */
static bool s_exec_output(s_map_t *m, const tmq_cliexec_result_t *x, const char *in, size_t n)
{
    if (m->o->tag) {
        tmq_cliexec_tag(&m->line, in, n, x->out, x->out_len);
        tmq_cliexec_tag(&m->err, in, n, x->err, x->err_len);
    } else {
        tmq_buf_add(&m->line, x->out, x->out_len);
        tmq_buf_add(&m->err, x->err, x->err_len);
    }
    if (!x->exited) tmq_buf_addf(&m->err, "taskmq: %s: killed by %s\n", m->cmd.data, x->signame);
    return !x->exited || x->status != 0;
}

/* A finished exec job: its record is emitted, its joblog line written. A command that exited
 * non-zero prints only what it printed (as GNU parallel); a signal, or a job that failed
 * without running (cannot run, time limit, ...) adds a line on stderr naming the command. */
static void s_on_exec_result(s_map_t *m, tmq_result_t *r, tmq_result_status_t st, s_arg_t *arg)
{
    uint64_t index = tmq_result_id(r);
    const char *in = arg ? (const char *)arg->data : "";
    size_t n = arg ? arg->len : 0;
    tmq_buf_reset(&m->cmd);
    tmq_cliexec_command(&m->tpl, &m->cmd, in, n, index + 1);
    tmq_buf_reset(&m->line);
    tmq_buf_reset(&m->err);
    size_t len;
    const char *data = tmq_result_data(r, &len);
    tmq_cliexec_result_t x;
    int exitval = -1, signo = 0;
    uint64_t receive = 0;
    if (st == TMQ_RESULT_OK && tmq_cliexec_decode(data, len, &x) == 0) {
        if (s_exec_output(m, &x, in, n)) m->failed++;
        exitval = x.exited ? x.status : -1;
        signo = x.exited ? 0 : x.signo;
        receive = x.out_len + x.err_len;
    } else if (st == TMQ_RESULT_OK) {
        m->failed++;
        tmq_buf_addf(&m->err, "taskmq: %s: the worker's answer is not an exec result\n",
                     m->cmd.data);
    } else {
        const char *why = data;
        if (len >= 6 && memcmp(why, "exec: ", 6) == 0) { /* the command is named already */
            why += 6;
            len -= 6;
        }
        if (st != TMQ_RESULT_LOST) /* a lost broker is told once, at the end */
            tmq_buf_addf(&m->err, "taskmq: %s: %.*s\n", m->cmd.data, (int)len, why);
        bool killed = st == TMQ_RESULT_TIMEOUT || st == TMQ_RESULT_OUT_OF_MEMORY;
        tmq_cliexec_failure_codes(data, len + (size_t)(why - data), killed, &exitval, &signo);
    }
    if (m->joblog) s_joblog(m, r, arg, receive, exitval, signo);
    /* the record: stdout's length, stdout, stderr */
    size_t out = m->line.len;
    tmq_buf_t rec;
    tmq_buf_init(&rec);
    tmq_buf_add(&rec, &out, sizeof out);
    tmq_buf_add(&rec, m->line.data, m->line.len);
    tmq_buf_add(&rec, m->err.data, m->err.len);
    s_emit(m, index, rec.data, rec.len);
    tmq_buf_free(&rec);
}

/* Counts a result and prints its line; a function nobody serves and a lost broker are
 * told once at the end instead of per job. */
static void s_on_result(s_map_t *m, tmq_result_t *r)
{
    uint64_t index = tmq_result_id(r);
    s_arg_t *arg = NULL;
    if (m->o->tag || m->exec) tmq_idmap_remove(&m->args, index, (void **)&arg);
    m->done++;
    tmq_result_status_t st = tmq_result_status(r);
    if (st != TMQ_RESULT_OK) m->failed++;
    if (st == TMQ_RESULT_UNKNOWN_FUNCTION) {
        if (!m->unserved) s_say_unserved(m);
        m->unserved = true;
        s_emit(m, index, "", 0); /* no line: the run stops with one message */
        free(arg);
        return;
    }
    if (st == TMQ_RESULT_LOST && m->lost++ == 0)
        snprintf(m->lost_why, sizeof m->lost_why, "%s", tmq_client_lost_reason(m->c));
    if (m->exec) {
        s_on_exec_result(m, r, st, arg);
        free(arg);
        return;
    }
    tmq_buf_reset(&m->line);
    tmq_jsonline_result(&m->line, index, r, arg ? arg->data : NULL, arg ? arg->len : 0);
    free(arg);
    s_emit(m, index, m->line.data, m->line.len);
}

/* The run cannot usefully go on: nobody serves the function, or the broker is gone. */
static bool s_stopped(const s_map_t *m)
{
    return m->unserved || m->lost || m->broken || tmq_cli_interrupted;
}

/* Prints every result that has arrived, then flushes stdout once. */
static void s_drain(s_map_t *m)
{
    tmq_result_t *r;
    bool any = false;
    while ((r = tmq_next(m->c, 0))) {
        if (!any && m->same_tty) tmq_progress_clear(&m->progress);
        any = true;
        s_on_result(m, r);
        tmq_result_destroy(&r);
    }
    if (any) s_flush_out(m);
    if (any && m->joblog) fflush(m->joblog);
    tmq_progress_tick(&m->progress, m->done, m->failed, m->submitted, m->input_done,
                      tmq_clock_ms());
}

/* ---- input ---- */

/* Submits the job packed in m->arg, keeping keep (the input, when not NULL) until its result.
 * Returns 0, or -1 when interrupted (window wait). */
static int s_submit(s_map_t *m, const void *keep, size_t keep_len)
{
    uint64_t id = m->position++;
    if (tmq_idmap_count(&m->skip) && tmq_idmap_has(&m->skip, id)) {
        m->skipped++; /* done in an earlier run: its position stays taken */
        if (m->reorder) s_emit(m, id, "", 0);
        return 0;
    }
    if (m->skipped && tmq_client_set_next_id(m->c, id) != 0) return -1;
    if (tmq_submit(m->c, m->o->function, m->arg.data, m->arg.size, &id) != 0) return -1;
    if (keep) {
        s_arg_t *a = tmq_xmalloc(sizeof *a + keep_len);
        a->len = keep_len;
        a->sent = m->arg.size;
        if (keep_len) memcpy(a->data, keep, keep_len);
        tmq_idmap_put(&m->args, id, a);
    }
    m->submitted++;
    if (m->submitted % S_DRAIN_EVERY == 0) s_drain(m);
    return 0;
}

/* Stops reading input after a bad line; jobs already submitted still finish. */
static void s_bad_input(s_map_t *m, const char *what, uint64_t number, const char *why)
{
    s_say(m, "%s %llu is not JSON: %s", what, (unsigned long long)number, why);
    m->bad_input = true;
    m->input_done = true;
}

/* One stdin line under --exec: text, put in the command (its job's sequence number is the
 * next id + 1). */
static int s_exec_line(s_map_t *m, const char *text, size_t len)
{
    if (len > 0 && text[len - 1] == '\r') len--; /* CRLF input */
    if (len == 0 && !m->o->keep_empty) return 0;
    tmq_cliexec_arg(&m->tpl, &m->arg, text, len, m->position + 1);
    return s_submit(m, text, len);
}

/* One stdin line. Returns 0, or -1 when no more input is to be read. */
static int s_line(s_map_t *m, const char *text, size_t len)
{
    char why[256];
    m->lines++;
    if (m->exec) return s_exec_line(m, text, len);
    switch (tmq_jsonline_input(&m->arg, m->mode, m->o->keep_empty, text, len, why, sizeof why)) {
    case TMQ_LINE_SKIP:
        return 0;
    case TMQ_LINE_BAD:
        s_bad_input(m, "line", m->lines, why);
        return -1;
    case TMQ_LINE_JOB:
        break;
    }
    return s_submit(m, m->o->tag ? m->arg.data : NULL, m->arg.size);
}

/* Submits every complete line in buf[0..n); keeps a trailing partial line in m->input. */
static int s_lines(s_map_t *m, const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n;
    while (p < end && !s_stopped(m)) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            tmq_buf_add(&m->input, p, (size_t)(end - p));
            return 0;
        }
        int rc;
        if (m->input.len) {
            tmq_buf_add(&m->input, p, (size_t)(nl - p));
            rc = s_line(m, m->input.data, m->input.len);
            tmq_buf_reset(&m->input);
        } else {
            rc = s_line(m, p, (size_t)(nl - p));
        }
        if (rc != 0) return -1;
        p = nl + 1;
    }
    return 0;
}

/* One read from stdin (it was ready). Sets input_done at end of input. */
static void s_read_stdin(s_map_t *m, char *chunk)
{
    ssize_t n = read(STDIN_FILENO, chunk, S_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n < 0) s_say(m, "reading stdin: %s", strerror(errno));
    if (n > 0) {
        s_lines(m, chunk, (size_t)n);
        return;
    }
    if (m->input.len && !s_stopped(m)) s_line(m, m->input.data, m->input.len); /* no '\n' */
    tmq_buf_reset(&m->input);
    m->input_done = true;
}

/* The ARGs, one job each; under --json one that is not JSON stops the rest. */
static void s_args(s_map_t *m)
{
    char why[256];
    for (int i = 0; i < m->o->nargs && !s_stopped(m); i++) {
        const char *a = m->o->args[i];
        if (tmq_jsonline_arg(&m->arg, m->mode, a, strlen(a), why, sizeof why) != 0) {
            s_bad_input(m, "argument", (uint64_t)i + 1, why);
            break;
        }
        if (s_submit(m, m->o->tag ? m->arg.data : NULL, m->arg.size) != 0) break;
    }
    m->input_done = true;
}

/* ---- the loop ---- */

static void s_run(s_map_t *m, bool from_stdin)
{
    char *chunk = from_stdin ? tmq_xmalloc(S_CHUNK) : NULL;
    while (!s_stopped(m)) {
        if (m->input_done && m->o->batch && !m->ended) {
            m->ended = true; /* the batch can complete without waiting for us to leave */
            tmq_client_end_batch(m->c);
        }
        if (m->input_done && tmq_pending(m->c) == 0) break;
        bool want =
            !m->input_done && !(m->reorder && tmq_reorder_size(m->reorder) >= S_REORDER_MAX);
        int ev = tmq_wait(m->c, want ? STDIN_FILENO : -1, S_TICK_MS);
        if (ev < 0) continue; /* a signal: the loop condition decides */
        if (ev & TMQ_WAIT_RESULT) s_drain(m);
        if ((ev & TMQ_WAIT_FD) && !s_stopped(m)) s_read_stdin(m, chunk);
        if (!(ev & TMQ_WAIT_RESULT)) s_drain(m); /* redraws the progress bar when due */
    }
    free(chunk);
}

/* True when stdout and stderr are the same terminal (the bar would share lines). */
static bool s_same_tty(void)
{
    struct stat a, b;
    return isatty(STDOUT_FILENO) && isatty(STDERR_FILENO) && fstat(STDOUT_FILENO, &a) == 0 &&
           fstat(STDERR_FILENO, &b) == 0 && a.st_rdev == b.st_rdev;
}

static tmq_input_mode_t s_mode(const tmq_cli_t *o)
{
    return o->raw ? TMQ_INPUT_RAW : o->json ? TMQ_INPUT_JSON : TMQ_INPUT_AUTO;
}

static void s_init(s_map_t *m, tmq_client_t *c, const tmq_cli_t *o)
{
    memset(m, 0, sizeof *m);
    m->c = c;
    m->o = o;
    m->mode = s_mode(o);
    if (o->ordered) m->reorder = tmq_reorder_new();
    tmq_idmap_init(&m->args);
    tmq_idmap_init(&m->skip);
    tmq_buf_init(&m->line);
    tmq_buf_init(&m->err);
    tmq_buf_init(&m->cmd);
    tmq_buf_init(&m->input);
    msgpack_sbuffer_init(&m->arg);
    m->exec = o->exec;
    if (o->exec) tmq_cliexec_init(&m->tpl, o->command, o->ncommand);
    m->same_tty = s_same_tty();
    bool bar = tmq_progress_wanted(o->progress, isatty(STDERR_FILENO), isatty(STDIN_FILENO));
    tmq_progress_init(&m->progress, stderr, bar, tmq_clock_ms());
}

static void s_free_arg(uint64_t id, void *value, void *arg)
{
    (void)id;
    (void)arg;
    free(value);
}

static void s_fini(s_map_t *m)
{
    tmq_reorder_destroy(&m->reorder);
    tmq_idmap_drain(&m->args, s_free_arg, NULL);
    tmq_idmap_destroy(&m->args);
    tmq_idmap_destroy(&m->skip);
    tmq_buf_free(&m->line);
    tmq_buf_free(&m->err);
    tmq_buf_free(&m->cmd);
    tmq_buf_free(&m->input);
    msgpack_sbuffer_destroy(&m->arg);
    if (m->joblog) fclose(m->joblog);
}

/* "the broker shut down: 3 jobs did not finish" (those failed LOST and those never sent);
 * why is the library's, whichever way the broker went. */
static void s_say_lost(s_map_t *m)
{
    unsigned long long n = m->lost + tmq_pending(m->c);
    s_say(m, "%s: %llu job%s did not finish", m->lost_why, n, n == 1 ? "" : "s");
}

/* The exit status: a lost broker beats bad input, which beats failed jobs. */
static int s_status(const s_map_t *m)
{
    if (m->broken) return m->broken == EPIPE ? TMQ_EXIT_BROKEN_PIPE : TMQ_EXIT_FAILED;
    if (m->lost) return TMQ_EXIT_LOST_BROKER;
    if (m->bad_input) return TMQ_EXIT_USAGE;
    return m->failed ? TMQ_EXIT_FAILED : TMQ_EXIT_OK;
}

/* --batch: later jobs go to the batch; --resume: the positions done there are skipped.
 * Returns 0, or the exit status when the run cannot start (the reason said). */
static int s_batch(s_map_t *m)
{
    const tmq_cli_t *o = m->o;
    if (!o->batch) return 0;
    tmq_client_set_batch(m->c, o->batch, (uint32_t)o->batch_ttl_s * 1000);
    uint64_t *ids;
    size_t n;
    tmq_batch_status_t st;
    if (tmq_client_batch_done(m->c, o->batch, &ids, &n, &st, (int)o->connect_timeout_ms) != 0) {
        int err = errno;
        if (tmq_cli_interrupted) return TMQ_EXIT_FAILED; /* the caller says so */
        s_say(m, "--resume: %s", tmq_client_error(m->c));
        return err == ETIMEDOUT ? TMQ_EXIT_NO_BROKER : TMQ_EXIT_FAILED;
    }
    if (!o->resume && st.known && st.total > 0) { /* two runs' results would mix */
        free(ids);
        s_say(m,
              "batch %s exists (%llu inputs, %llu done, %llu failed, %llu running): --resume "
              "finishes it; another name starts a new one",
              o->batch, (unsigned long long)st.total, (unsigned long long)st.done,
              (unsigned long long)st.failed, (unsigned long long)st.running);
        return TMQ_EXIT_USAGE;
    }
    if (o->resume && st.running > 0) { /* they would run twice */
        free(ids);
        s_say(m,
              "--resume: %llu jobs of batch %s are still queued or running (its last run was "
              "stopped without ending them?): wait for them with `taskmq attach %s`, then resume",
              (unsigned long long)st.running, o->batch, o->batch);
        return TMQ_EXIT_USAGE;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] != TMQ_IDMAP_NONE) tmq_idmap_put(&m->skip, ids[i], NULL);
    free(ids);
    if (o->verbose)
        s_say(m,
              "--resume: batch %s %s: %zu inputs done already (of %llu; %llu failed, %llu "
              "running)",
              o->batch, st.known ? "found" : "is new", n, (unsigned long long)st.total,
              (unsigned long long)st.failed, (unsigned long long)st.running);
    return 0;
}

int tmq_cli_map(tmq_client_t *c, const tmq_cli_t *o)
{
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    s_map_t m;
    s_init(&m, c, o);
    if (o->joblog) {
        if (!(m.joblog = fopen(o->joblog, "w"))) {
            s_say(&m, "--joblog: cannot write '%s': %s", o->joblog, strerror(errno));
            s_fini(&m);
            return TMQ_EXIT_USAGE;
        }
        fputs(TMQ_CLIEXEC_JOBLOG_HEADER, m.joblog);
    }
    int rc = s_batch(&m);
    if (rc != 0) {
        s_fini(&m);
        return rc;
    }
    bool from_stdin = o->nargs == 0;
    if (from_stdin && isatty(STDIN_FILENO)) /* else a person may wait for output in silence */
        s_say(&m, "reading jobs from stdin, one per line (Ctrl-D ends)");
    if (!from_stdin) s_args(&m);
    s_run(&m, from_stdin);
    if (!m.unserved && !m.lost) s_drain(&m);
    s_flush_out(&m);
    if (m.lost) s_say_lost(&m);
    tmq_progress_finish(&m.progress, m.done, m.failed, tmq_clock_ms());
    if (o->resume && o->verbose)
        s_say(&m, "--resume: %llu inputs skipped (done already), %llu run",
              (unsigned long long)m.skipped, (unsigned long long)m.submitted);
    int status = s_status(&m);
    s_fini(&m);
    return status;
}

/* ---- submit ---- */

/* Prints a finished job: its value on stdout, or why it failed on stderr. */
static int s_submit_result(const tmq_cli_t *o, tmq_client_t *c, const tmq_result_t *r)
{
    size_t len;
    const void *data = tmq_result_data(r, &len);
    switch (tmq_result_status(r)) {
    case TMQ_RESULT_OK: {
        tmq_buf_t out;
        tmq_buf_init(&out);
        if (tmq_jsonline_value(&out, data, len) != 0) tmq_buf_adds(&out, "null");
        tmq_buf_addc(&out, '\n');
        fwrite(out.data, 1, out.len, stdout);
        tmq_buf_free(&out);
        return fflush(stdout) == 0 ? TMQ_EXIT_OK : TMQ_EXIT_FAILED;
    }
    case TMQ_RESULT_UNKNOWN_FUNCTION:
        fprintf(stderr, "taskmq: " S_UNSERVED_FMT "\n", o->function, S_UNSERVED_HINT(o->function));
        return TMQ_EXIT_FAILED;
    case TMQ_RESULT_LOST:
        fprintf(stderr, "taskmq: %s: the job did not finish\n", tmq_client_lost_reason(c));
        return TMQ_EXIT_LOST_BROKER;
    default:
        fprintf(stderr, "job failed: %.*s\n", (int)len, (const char *)data);
        return TMQ_EXIT_FAILED;
    }
}

int tmq_cli_submit(tmq_client_t *c, const tmq_cli_t *o)
{
    msgpack_sbuffer arg;
    msgpack_sbuffer_init(&arg);
    char why[256];
    int rc = 0;
    if (o->nargs > 0)
        rc = tmq_jsonline_arg(&arg, s_mode(o), o->args[0], strlen(o->args[0]), why, sizeof why);
    else
        msgpack_sbuffer_write(&arg, "\xc0", 1); /* nil */
    if (rc != 0) {
        fprintf(stderr, "taskmq: ARG is not JSON: %s\n", why);
        msgpack_sbuffer_destroy(&arg);
        return TMQ_EXIT_USAGE;
    }
    rc = tmq_submit(c, o->function, arg.data, arg.size, NULL);
    msgpack_sbuffer_destroy(&arg);
    if (rc != 0) return TMQ_EXIT_FAILED; /* interrupted: the caller reports it */
    tmq_result_t *r = NULL;
    while (!r && !tmq_cli_interrupted)
        r = tmq_next(c, S_TICK_MS);
    if (!r) return TMQ_EXIT_FAILED; /* interrupted: the caller reports it */
    int status = s_submit_result(o, c, r);
    tmq_result_destroy(&r);
    return status;
}
