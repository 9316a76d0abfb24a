/* client/cli_attach.c — `taskmq attach NAME`: a named batch's results (PROTOCOL.md 5.8).
 *
 * Attaches with tmq_client_attach and prints each result the library returns as map's JSON
 * line (index = the submitter's input position), until the library says the batch is complete
 * (every result returned) or the broker is lost. The library delivers each index once, so a
 * restart of a journaled broker prints nothing twice. --ordered holds lines in the reorder
 * buffer; indexes missing from the batch (jobs cancelled before any result) cannot be told
 * from ones still to come, so the lines after a gap wait for the batch's end, then all go
 * out in index order. Attaching only reads: leaving cancels nothing.
 */
#include "buf.h"
#include "cli.h"
#include "jsonline.h"
#include "reorder.h"
#include "xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_TICK_MS 100 /* wake-up interval (signals) */

typedef struct {
    tmq_reorder_t *reorder; /* --ordered only */
    tmq_buf_t line;
    uint64_t results, failed;
    int broken; /* errno of a failed write to stdout, or 0 */
} s_attach_t;

static void s_write(s_attach_t *a, const char *text, size_t len)
{
    if (a->broken || !len) return;
    if (fwrite(text, 1, len, stdout) != len) a->broken = errno ? errno : EIO;
}

static void s_flush(s_attach_t *a)
{
    if (!a->broken && fflush(stdout) != 0) a->broken = errno ? errno : EIO;
}

/* Pops every line the reorder buffer can give; at the end (all) passes over missing indexes. */
static void s_pop_ready(s_attach_t *a, bool all)
{
    for (;;) {
        size_t n;
        char *line = tmq_reorder_pop(a->reorder, &n);
        if (line) {
            s_write(a, line, n);
            free(line);
        } else if (!all || tmq_reorder_size(a->reorder) == 0 || tmq_reorder_skip(a->reorder) != 0) {
            return;
        }
    }
}

static void s_on_result(s_attach_t *a, const tmq_result_t *r)
{
    uint64_t index = tmq_result_id(r);
    a->results++;
    if (!tmq_result_ok(r)) a->failed++;
    tmq_buf_reset(&a->line);
    tmq_jsonline_result(&a->line, index, r, NULL, 0);
    if (!a->reorder) {
        s_write(a, a->line.data, a->line.len);
        return;
    }
    if (index < tmq_reorder_next(a->reorder)) return; /* cannot be: the library dedups */
    tmq_reorder_put(a->reorder, index, tmq_xmemdup(a->line.data, a->line.len), a->line.len);
    s_pop_ready(a, false);
}

/* Why the attach failed, as an exit status (the message printed). */
static int s_attach_failed(tmq_client_t *c)
{
    int err = errno;
    if (tmq_cli_interrupted) return TMQ_EXIT_FAILED; /* the caller says so */
    fprintf(stderr, "taskmq: %s\n", tmq_client_error(c));
    switch (err) {
    case ENOENT:
        return TMQ_EXIT_USAGE;
    case ETIMEDOUT:
        return TMQ_EXIT_NO_BROKER;
    default:
        return TMQ_EXIT_FAILED;
    }
}

int tmq_cli_attach(tmq_client_t *c, const tmq_cli_t *o)
{
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    tmq_batch_status_t st;
    if (tmq_client_attach(c, o->function, &st, (int)o->connect_timeout_ms) != 0)
        return s_attach_failed(c);
    s_attach_t a = {.reorder = o->ordered ? tmq_reorder_new() : NULL};
    tmq_buf_init(&a.line);
    tmq_attach_state_t state = TMQ_ATTACH_READING;
    while (!tmq_cli_interrupted && !a.broken) {
        tmq_result_t *r = tmq_next(c, S_TICK_MS);
        if (r) {
            do {
                s_on_result(&a, r);
                tmq_result_destroy(&r);
            } while ((r = tmq_next(c, 0)));
            s_flush(&a);
        }
        state = tmq_client_attach_state(c);
        if (state != TMQ_ATTACH_READING) break; /* tmq_next has returned every result */
    }
    if (a.reorder) s_pop_ready(&a, true); /* the batch ended (or we stop): the rest in order */
    s_flush(&a);
    tmq_reorder_destroy(&a.reorder);
    tmq_buf_free(&a.line);
    if (a.broken) return a.broken == EPIPE ? TMQ_EXIT_BROKEN_PIPE : TMQ_EXIT_FAILED;
    if (tmq_cli_interrupted) return TMQ_EXIT_FAILED; /* the caller reports it */
    if (state == TMQ_ATTACH_LOST) {
        fprintf(stderr, "taskmq: %s: batch %s not complete (%llu results read)\n",
                tmq_client_lost_reason(c), o->function, (unsigned long long)a.results);
        return TMQ_EXIT_LOST_BROKER;
    }
    tmq_batch_status_t end;
    if (tmq_client_batch_status(c, &end) == 0 && (end.cancelled || !end.closed || !end.total)) {
        /* complete, but not whole: a run that did not reach the end of its input */
        if (!end.total)
            fprintf(stderr, "taskmq: batch %s holds no results\n", o->function);
        else
            fprintf(stderr,
                    "taskmq: batch %s is not whole: %s%llu jobs cancelled; `taskmq map --batch %s "
                    "--resume` finishes it\n",
                    o->function, end.closed ? "" : "its run stopped before the end of its input; ",
                    (unsigned long long)end.cancelled, o->function);
        return TMQ_EXIT_FAILED;
    }
    return a.failed ? TMQ_EXIT_FAILED : TMQ_EXIT_OK;
}
