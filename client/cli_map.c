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
 * signal, or a closed stdout.
 */
#include "buf.h"
#include "cli.h"
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
#include <unistd.h>

#define S_CHUNK (256u << 10) /* stdin read size */
#define S_DRAIN_EVERY 512    /* print arrived results every this many submissions */
#define S_REORDER_MAX 200000 /* stop reading input while this many lines wait */
#define S_TICK_MS 100        /* wake-up interval (progress bar, signals) */

typedef struct {
    size_t len;
    uint8_t data[];
} s_arg_t; /* a job's input (msgpack), kept for --tag */

typedef struct {
    tmq_client_t *c;
    const tmq_cli_t *o;
    tmq_input_mode_t mode;
    tmq_reorder_t *reorder; /* --ordered only */
    tmq_idmap_t args;       /* --tag: job id -> s_arg_t */
    tmq_buf_t line;         /* the output line being formatted */
    tmq_buf_t input;        /* a partial input line carried between chunks */
    msgpack_sbuffer arg;    /* the packed argument of the job being submitted */
    tmq_progress_t progress;
    bool same_tty; /* stdout and stderr are one terminal: clear the bar before output */
    uint64_t submitted, done, failed, lost, lines;
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
#define S_UNSERVED_FMT                                                                             \
    "unknown function: %s \u2014 no connected worker serves it (taskmq functions lists what is "   \
    "served)"

static void s_say_unserved(s_map_t *m)
{
    s_say(m, S_UNSERVED_FMT, m->o->function);
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

/* Emits the line for index (len 0: a job with no line), in input order under --ordered. */
static void s_emit(s_map_t *m, uint64_t index, const char *text, size_t len)
{
    if (!m->reorder) {
        s_write(m, text, len);
        return;
    }
    if (index == tmq_reorder_next(m->reorder)) {
        /* Next in line: print without storing, then whatever it was holding back. */
        s_write(m, text, len);
        tmq_reorder_skip(m->reorder);
    } else {
        tmq_reorder_put(m->reorder, index, tmq_xmemdup(text, len), len);
    }
    size_t n;
    char *next;
    while ((next = tmq_reorder_pop(m->reorder, &n))) {
        s_write(m, next, n);
        free(next);
    }
}

/* Counts a result and prints its line; a function nobody serves and a lost broker are
 * told once at the end instead of per job. */
static void s_on_result(s_map_t *m, tmq_result_t *r)
{
    uint64_t index = tmq_result_id(r);
    s_arg_t *arg = NULL;
    if (m->o->tag) tmq_idmap_remove(&m->args, index, (void **)&arg);
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
    tmq_progress_tick(&m->progress, m->done, m->failed, m->submitted, m->input_done,
                      tmq_clock_ms());
}

/* ---- input ---- */

/* Submits the job packed in m->arg. Returns 0, or -1 when interrupted (window wait). */
static int s_submit(s_map_t *m)
{
    uint64_t id;
    if (tmq_submit(m->c, m->o->function, m->arg.data, m->arg.size, &id) != 0) return -1;
    if (m->o->tag) {
        s_arg_t *a = tmq_xmalloc(sizeof *a + m->arg.size);
        a->len = m->arg.size;
        memcpy(a->data, m->arg.data, m->arg.size);
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

/* One stdin line. Returns 0, or -1 when no more input is to be read. */
static int s_line(s_map_t *m, const char *text, size_t len)
{
    char why[256];
    m->lines++;
    switch (tmq_jsonline_input(&m->arg, m->mode, m->o->keep_empty, text, len, why, sizeof why)) {
    case TMQ_LINE_SKIP:
        return 0;
    case TMQ_LINE_BAD:
        s_bad_input(m, "line", m->lines, why);
        return -1;
    case TMQ_LINE_JOB:
        break;
    }
    return s_submit(m);
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
        if (s_submit(m) != 0) break;
    }
    m->input_done = true;
}

/* ---- the loop ---- */

static void s_run(s_map_t *m, bool from_stdin)
{
    char *chunk = from_stdin ? tmq_xmalloc(S_CHUNK) : NULL;
    while (!s_stopped(m)) {
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
    tmq_buf_init(&m->line);
    tmq_buf_init(&m->input);
    msgpack_sbuffer_init(&m->arg);
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
    tmq_buf_free(&m->line);
    tmq_buf_free(&m->input);
    msgpack_sbuffer_destroy(&m->arg);
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

int tmq_cli_map(tmq_client_t *c, const tmq_cli_t *o)
{
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    s_map_t m;
    s_init(&m, c, o);
    bool from_stdin = o->nargs == 0;
    if (from_stdin && isatty(STDIN_FILENO)) /* else a person may wait for output in silence */
        s_say(&m, "reading jobs from stdin, one per line (Ctrl-D ends)");
    if (!from_stdin) s_args(&m);
    s_run(&m, from_stdin);
    if (!m.unserved && !m.lost) s_drain(&m);
    s_flush_out(&m);
    if (m.lost) s_say_lost(&m);
    tmq_progress_finish(&m.progress, m.done, m.failed, tmq_clock_ms());
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
        fprintf(stderr, "taskmq: " S_UNSERVED_FMT "\n", o->function);
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
