/* client/progress.c — see progress.h. The rate is smoothed between draws so the number
 * stays readable when results arrive in bursts. */
#include "progress.h"

#include <string.h>

#define S_WIDTH 20

void tmq_progress_init(tmq_progress_t *p, FILE *out, bool enabled, int64_t now_ms)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->enabled = enabled;
    p->start_ms = p->last_ms = now_ms;
}

void tmq_progress_format(char *buf, size_t len, uint64_t done, uint64_t failed, uint64_t total,
                         bool total_known, double rate)
{
    char bar[S_WIDTH + 1];
    size_t fill = total ? (size_t)(done * S_WIDTH / total) : 0;
    if (fill > S_WIDTH) fill = S_WIDTH;
    memset(bar, '#', fill);
    memset(bar + fill, '-', S_WIDTH - fill);
    bar[S_WIDTH] = '\0';
    snprintf(buf, len, "[%s] %llu/%llu%s  %llu failed  %.0f jobs/s", bar, (unsigned long long)done,
             (unsigned long long)total, total_known ? "" : "+", (unsigned long long)failed, rate);
}

void tmq_progress_tick(tmq_progress_t *p, uint64_t done, uint64_t failed, uint64_t total,
                       bool total_known, int64_t now_ms)
{
    if (!p->enabled) return;
    int64_t dt = now_ms - p->last_ms;
    if (p->drawn && dt < TMQ_PROGRESS_INTERVAL_MS) return;
    if (dt > 0) {
        double inst = (double)(done - p->last_done) * 1000.0 / (double)dt;
        p->rate = p->sampled ? 0.6 * p->rate + 0.4 * inst : inst;
        p->sampled = true;
    }
    p->last_ms = now_ms;
    p->last_done = done;
    char text[160];
    tmq_progress_format(text, sizeof text, done, failed, total, total_known, p->rate);
    fprintf(p->out, "\r%s\033[K", text);
    fflush(p->out);
    p->drawn = true;
}

void tmq_progress_clear(tmq_progress_t *p)
{
    if (!p->enabled || !p->drawn) return;
    fputs("\r\033[K", p->out);
    fflush(p->out);
    p->drawn = false;
}
