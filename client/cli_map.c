/* client/cli_map.c — `taskmq map` and `taskmq submit`: jobs in, JSON lines out.
 *
 * map streams: stdin is read in large chunks whenever it is readable and results are
 * printed whenever they arrive (tmq_wait watches both), so output starts before input
 * ends and 100,000s of lines cost a few syscalls per chunk. Output goes through a large
 * stdio buffer, flushed each time no further result is immediately available. --ordered
 * holds lines in a reorder buffer (and stops reading input while it is very full).
 */
#include "buf.h"
#include "cli.h"
#include "jsonline.h"
#include "platform.h"
#include "progress.h"
#include "reorder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_CHUNK (256u << 10) /* stdin read size */
#define S_DRAIN_EVERY 512    /* print arrived results every this many submissions */
#define S_REORDER_MAX 200000 /* stop reading input while this many lines wait */
#define S_TICK_MS 100        /* wake-up interval (progress bar, signals) */

typedef struct {
    tmq_client_t *c;
    const tmq_cli_t *o;
    tmq_reorder_t *reorder; /* --ordered only */
    tmq_buf_t line;         /* the output line being formatted */
    tmq_buf_t input;        /* a partial input line carried between chunks */
    msgpack_sbuffer arg;    /* the packed argument of the job being submitted */
    tmq_progress_t progress;
    bool stdout_tty;
    uint64_t submitted, done, failed;
    bool input_done;
    int broken; /* errno of a failed write to stdout (EPIPE: the reader left), or 0 */
} s_map_t;

/* ---- output ---- */

/* Stops the run on a write error; says why unless the reader just left or we were
 * interrupted (both end the run anyway). */
static void s_out_failed(s_map_t *m)
{
    m->broken = errno ? errno : EIO;
    if (m->broken != EPIPE && m->broken != EINTR)
        fprintf(stderr, "taskmq: writing results: %s\n", strerror(m->broken));
}

static void s_flush_out(s_map_t *m)
{
    if (!m->broken && fflush(stdout) != 0) s_out_failed(m);
}

static void s_write(s_map_t *m, const char *text, size_t len)
{
    if (!m->broken && fwrite(text, 1, len, stdout) != len) s_out_failed(m);
}

static void s_print(s_map_t *m, tmq_result_t *r)
{
    uint64_t index = tmq_result_id(r);
    m->done++;
    if (!tmq_result_ok(r)) m->failed++;
    tmq_buf_reset(&m->line);
    tmq_jsonline_result(&m->line, index, r);
    if (!m->reorder) {
        s_write(m, m->line.data, m->line.len);
        return;
    }
    if (index == tmq_reorder_next(m->reorder)) {
        /* Next in line: print without storing, then whatever it was holding back. */
        s_write(m, m->line.data, m->line.len);
        tmq_reorder_skip(m->reorder);
    } else {
        char *copy = malloc(m->line.len + 1);
        if (!copy) abort();
        memcpy(copy, m->line.data, m->line.len + 1);
        tmq_reorder_put(m->reorder, index, copy, m->line.len);
    }
    size_t len;
    char *next;
    while ((next = tmq_reorder_pop(m->reorder, &len))) {
        s_write(m, next, len);
        free(next);
    }
}

/* Prints every result that has arrived, then flushes stdout once. */
static void s_drain(s_map_t *m)
{
    tmq_result_t *r;
    bool any = false;
    while ((r = tmq_next(m->c, 0))) {
        if (!any && m->stdout_tty) tmq_progress_clear(&m->progress);
        any = true;
        s_print(m, r);
        tmq_result_destroy(&r);
    }
    if (any) s_flush_out(m);
    tmq_progress_tick(&m->progress, m->done, m->failed, m->submitted, m->input_done,
                      tmq_clock_ms());
}

/* ---- input ---- */

/* Submits one job. Returns 0, or -1 when interrupted (window wait) or refused. */
static int s_submit(s_map_t *m, const char *text, size_t len)
{
    tmq_jsonline_arg(&m->arg, text, len);
    if (tmq_submit(m->c, m->o->function, m->arg.data, m->arg.size, NULL) != 0) return -1;
    m->submitted++;
    if (m->submitted % S_DRAIN_EVERY == 0) s_drain(m);
    return 0;
}

static int s_submit_line(s_map_t *m, const char *text, size_t len)
{
    if (len > 0 && text[len - 1] == '\r') len--; /* CRLF input */
    return s_submit(m, text, len);
}

/* Submits every complete line in buf[0..n); keeps a trailing partial line in m->input. */
static int s_lines(s_map_t *m, const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n;
    while (p < end && !tmq_cli_interrupted && !m->broken) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            tmq_buf_add(&m->input, p, (size_t)(end - p));
            return 0;
        }
        int rc;
        if (m->input.len) {
            tmq_buf_add(&m->input, p, (size_t)(nl - p));
            rc = s_submit_line(m, m->input.data, m->input.len);
            tmq_buf_reset(&m->input);
        } else {
            rc = s_submit_line(m, p, (size_t)(nl - p));
        }
        if (rc != 0) return -1;
        p = nl + 1;
    }
    return 0;
}

/* One read from stdin (it was readable). Sets input_done at end of input. */
static int s_read_stdin(s_map_t *m, char *chunk)
{
    ssize_t n = read(STDIN_FILENO, chunk, S_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n < 0) fprintf(stderr, "taskmq: reading stdin: %s\n", strerror(errno));
    if (n <= 0) {
        m->input_done = true;
        if (m->input.len && s_submit_line(m, m->input.data, m->input.len) != 0) return -1;
        tmq_buf_reset(&m->input);
        return 0;
    }
    return s_lines(m, chunk, (size_t)n);
}

/* ---- the loop ---- */

static void s_run(s_map_t *m, bool from_stdin)
{
    char *chunk = from_stdin ? malloc(S_CHUNK) : NULL;
    if (from_stdin && !chunk) abort();
    while (!tmq_cli_interrupted && !m->broken) {
        if (m->input_done && tmq_pending(m->c) == 0) break;
        bool want =
            !m->input_done && !(m->reorder && tmq_reorder_size(m->reorder) >= S_REORDER_MAX);
        int ev = tmq_wait(m->c, want ? STDIN_FILENO : -1, S_TICK_MS);
        if (ev < 0) continue; /* a signal: the loop condition decides */
        if (ev & TMQ_WAIT_RESULT) s_drain(m);
        if ((ev & TMQ_WAIT_FD) && s_read_stdin(m, chunk) != 0) continue;
        if (!(ev & TMQ_WAIT_RESULT)) s_drain(m); /* redraws the progress bar when due */
    }
    free(chunk);
}

static void s_init(s_map_t *m, tmq_client_t *c, const tmq_cli_t *o)
{
    memset(m, 0, sizeof *m);
    m->c = c;
    m->o = o;
    if (o->ordered) m->reorder = tmq_reorder_new();
    tmq_buf_init(&m->line);
    tmq_buf_init(&m->input);
    msgpack_sbuffer_init(&m->arg);
    m->stdout_tty = isatty(STDOUT_FILENO);
    bool progress = o->progress < 0 ? isatty(STDERR_FILENO) : o->progress > 0;
    tmq_progress_init(&m->progress, stderr, progress, tmq_clock_ms());
}

static void s_fini(s_map_t *m)
{
    tmq_reorder_destroy(&m->reorder);
    tmq_buf_free(&m->line);
    tmq_buf_free(&m->input);
    msgpack_sbuffer_destroy(&m->arg);
}

int tmq_cli_map(tmq_client_t *c, const tmq_cli_t *o)
{
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    s_map_t m;
    s_init(&m, c, o);
    bool from_stdin = o->nargs == 0;
    for (int i = 0; i < o->nargs && !tmq_cli_interrupted && !m.broken; i++)
        if (s_submit(&m, o->args[i], strlen(o->args[i])) != 0) break;
    m.input_done = !from_stdin;
    s_run(&m, from_stdin);
    s_drain(&m);
    tmq_progress_clear(&m.progress);
    s_flush_out(&m);
    int status = m.failed ? TMQ_EXIT_FAILED : TMQ_EXIT_OK;
    if (m.broken) status = m.broken == EPIPE ? TMQ_EXIT_BROKEN_PIPE : TMQ_EXIT_FAILED;
    s_fini(&m);
    return status;
}

int tmq_cli_submit(tmq_client_t *c, const tmq_cli_t *o)
{
    msgpack_sbuffer arg;
    msgpack_sbuffer_init(&arg);
    if (o->nargs > 0)
        tmq_jsonline_arg(&arg, o->args[0], strlen(o->args[0]));
    else
        msgpack_sbuffer_write(&arg, "\xc0", 1); /* nil */
    int rc = tmq_submit(c, o->function, arg.data, arg.size, NULL);
    msgpack_sbuffer_destroy(&arg);
    if (rc != 0) return TMQ_EXIT_FAILED;
    tmq_result_t *r = NULL;
    while (!r && !tmq_cli_interrupted)
        r = tmq_next(c, S_TICK_MS);
    if (!r) return TMQ_EXIT_FAILED; /* interrupted: the caller reports it */
    size_t len;
    const void *data = tmq_result_data(r, &len);
    tmq_buf_t out;
    tmq_buf_init(&out);
    int status = TMQ_EXIT_OK;
    if (tmq_result_ok(r)) {
        if (tmq_jsonline_value(&out, data, len) != 0) tmq_buf_adds(&out, "null");
        tmq_buf_addc(&out, '\n');
        fwrite(out.data, 1, out.len, stdout);
        fflush(stdout);
    } else {
        fprintf(stderr, "taskmq: %.*s\n", (int)len, (const char *)data);
        status = TMQ_EXIT_FAILED;
    }
    tmq_buf_free(&out);
    tmq_result_destroy(&r);
    return status;
}
