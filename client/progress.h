/* client/progress.h — the `taskmq map --progress` bar on stderr.
 *
 *   [##########----------]  5000/10000  3 failed  45210 jobs/s
 * Redrawn in place (\r, erase to end of line) at most every 100 ms, and erased at the end
 * so the terminal is left clean. While input is still being read the total is what has
 * been submitted so far, shown with a trailing '+'.
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

void tmq_progress_init(tmq_progress_t *p, FILE *out, bool enabled, int64_t now_ms);
/* Redraws when at least the interval has passed since the last draw. */
void tmq_progress_tick(tmq_progress_t *p, uint64_t done, uint64_t failed, uint64_t total,
                       bool total_known, int64_t now_ms);
/* Erases the bar, if drawn (before other output to the same terminal, and at the end). */
void tmq_progress_clear(tmq_progress_t *p);

/* The bar's text (no \r, no escape codes) into buf. */
void tmq_progress_format(char *buf, size_t len, uint64_t done, uint64_t failed, uint64_t total,
                         bool total_known, double rate);

#endif
