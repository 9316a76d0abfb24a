/* client/progress.h — the `taskmq map` progress bar on stderr, and its closing summary.
 *
 *   [##########----------] 5000/10000  3 failed  45210 jobs/s  0.1 s  ETA 0.1 s
 * Redrawn in place (\r, erase to end of line) at most every 100 ms, and erased before output
 * to the same terminal and at the end, so the terminal is left clean. While input is still
 * being read the total is what has been submitted so far, shown with a trailing '+' (and no
 * ETA). When the run ends a one-line summary follows: "200 jobs, 0 failed, 8.1 s, 24.6
 * jobs/s". The formatting functions are pure, for tests.
 */
#ifndef TMQ_PROGRESS_H
#define TMQ_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TMQ_PROGRESS_INTERVAL_MS 100

typedef struct {
    FILE *out;
    bool enabled;
    bool drawn; /* a bar is on screen */
    int64_t start_ms, last_ms;
    uint64_t last_done; /* done at last_ms, for the rate */
    double rate;        /* jobs/s, smoothed */
    bool sampled;       /* rate holds a measurement */
} tmq_progress_t;

/* Whether the bar is on by default: when stderr is a terminal and stdin is not one (a
 * person typing jobs must not have a bar drawn over their line). force: -1 auto, 0 off,
 * 1 on. */
bool tmq_progress_wanted(int force, bool stderr_tty, bool stdin_tty);

void tmq_progress_init(tmq_progress_t *p, FILE *out, bool enabled, int64_t now_ms);
/* Redraws when at least the interval has passed since the last draw. */
void tmq_progress_tick(tmq_progress_t *p, uint64_t done, uint64_t failed, uint64_t total,
                       bool total_known, int64_t now_ms);
/* Erases the bar, if drawn (before other output to the same terminal, and at the end). */
void tmq_progress_clear(tmq_progress_t *p);
/* Erases the bar and, when it was enabled, prints the summary line. */
void tmq_progress_finish(tmq_progress_t *p, uint64_t done, uint64_t failed, int64_t now_ms);

/* The bar's text (no \r, no escape codes) into buf. */
void tmq_progress_format(char *buf, size_t len, uint64_t done, uint64_t failed, uint64_t total,
                         bool total_known, double rate, int64_t elapsed_ms);
/* The summary's text (no newline) into buf. */
void tmq_progress_summary(char *buf, size_t len, uint64_t done, uint64_t failed,
                          int64_t elapsed_ms);
/* A duration for people: "8.1 s" below a minute, "2:05" below an hour, else "1:02:05". */
void tmq_progress_duration(char *buf, size_t len, double seconds);

#endif
