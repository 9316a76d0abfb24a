/* client/progress.h — the `taskmq map` progress bar on stderr, and its closing summary.
 *
 *   [##########----------] 5000/10000  3 failed  45210 jobs/s  0.1 s  ETA 0.1 s
 * Redrawn in place (\r, erase to end of line) at most every 100 ms, at once after it was
 * erased for output to the same terminal, and erased at the end, so the terminal is left
 * clean. How often it is drawn never changes the numbers: the rate is the jobs finished over
 * the last few seconds, from samples taken every 500 ms, and the ETA is the jobs left at that
 * rate; for the first 500 ms the rate is not known yet ("- jobs/s", no ETA). While input is
 * still being read the total is what has been submitted so far, shown with a trailing '+'
 * (and no ETA). When the run ends a one-line summary follows: "200 jobs, 0 failed, 8.1 s,
 * 24.6 jobs/s" (the plain average). Time comes in as an explicit now_ms, so tests drive the
 * clock; the formatting functions are pure.
 */
#ifndef TMQ_PROGRESS_H
#define TMQ_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TMQ_PROGRESS_INTERVAL_MS 100 /* redraw at most this often while the bar is shown */
#define TMQ_PROGRESS_SAMPLE_MS 500   /* the rate's samples are taken this far apart... */
#define TMQ_PROGRESS_WINDOW 10       /* ...and it spans the last this many intervals (5 s) */

typedef struct {
    int64_t ms;
    uint64_t done;
} tmq_progress_sample_t;

typedef struct {
    FILE *out;
    bool enabled;
    bool drawn; /* a bar is on screen */
    int64_t start_ms, drawn_ms;
    /* ring of (time, jobs done), oldest at head: the rate is measured from the oldest */
    tmq_progress_sample_t samples[TMQ_PROGRESS_WINDOW + 1];
    size_t head, count;
} tmq_progress_t;

/* Whether the bar is on by default: when stderr is a terminal and stdin is not one (a
 * person typing jobs must not have a bar drawn over their line). force: -1 auto, 0 off,
 * 1 on. */
bool tmq_progress_wanted(int force, bool stderr_tty, bool stdin_tty);

void tmq_progress_init(tmq_progress_t *p, FILE *out, bool enabled, int64_t now_ms);
/* Records a rate sample when one is due, then redraws the bar unless it is on screen and
 * was drawn less than the interval ago. */
void tmq_progress_tick(tmq_progress_t *p, uint64_t done, uint64_t failed, uint64_t total,
                       bool total_known, int64_t now_ms);
/* Jobs per second over the sampled window ending at now_ms with done jobs finished, or -1
 * while less than one sample interval has passed since the start. */
double tmq_progress_rate(const tmq_progress_t *p, uint64_t done, int64_t now_ms);
/* Erases the bar, if drawn (before other output to the same terminal, and at the end). */
void tmq_progress_clear(tmq_progress_t *p);
/* Erases the bar and, when it was enabled, prints the summary line. */
void tmq_progress_finish(tmq_progress_t *p, uint64_t done, uint64_t failed, int64_t now_ms);

/* The bar's text (no \r, no escape codes) into buf; rate < 0: not known yet. */
void tmq_progress_format(char *buf, size_t len, uint64_t done, uint64_t failed, uint64_t total,
                         bool total_known, double rate, int64_t elapsed_ms);
/* The summary's text (no newline) into buf. */
void tmq_progress_summary(char *buf, size_t len, uint64_t done, uint64_t failed,
                          int64_t elapsed_ms);
/* A duration for people: "8.1 s" below a minute, "2:05" below an hour, else "1:02:05". */
void tmq_progress_duration(char *buf, size_t len, double seconds);

#endif
