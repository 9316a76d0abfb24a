/* client/progress.c — see progress.h. The rate is smoothed between draws so the number
 * stays readable when results arrive in bursts; the summary's rate is the plain average. */
#include "progress.h"

#include <math.h>
#include <string.h>

#define S_WIDTH 20

bool tmq_progress_wanted(int force, bool stderr_tty, bool stdin_tty)
{
    if (force >= 0) return force > 0;
    return stderr_tty && !stdin_tty;
}

void tmq_progress_init(tmq_progress_t *p, FILE *out, bool enabled, int64_t now_ms)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->enabled = enabled;
    p->start_ms = p->last_ms = now_ms;
}

void tmq_progress_duration(char *buf, size_t len, double seconds)
{
    if (!(seconds >= 0)) seconds = 0; /* NaN too */
    if (seconds < 59.95) {
        snprintf(buf, len, "%.1f s", seconds);
        return;
    }
    long long s = llround(seconds);
    if (s < 3600)
        snprintf(buf, len, "%lld:%02lld", s / 60, s % 60);
    else
        snprintf(buf, len, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
}

void tmq_progress_format(char *buf, size_t len, uint64_t done, uint64_t failed, uint64_t total,
                         bool total_known, double rate, int64_t elapsed_ms)
{
    char bar[S_WIDTH + 1];
    size_t fill = total ? (size_t)(done * S_WIDTH / total) : 0;
    if (fill > S_WIDTH) fill = S_WIDTH;
    memset(bar, '#', fill);
    memset(bar + fill, '-', S_WIDTH - fill);
    bar[S_WIDTH] = '\0';
    char elapsed[32], eta[48] = "";
    tmq_progress_duration(elapsed, sizeof elapsed, (double)elapsed_ms / 1000.0);
    if (total_known && rate > 0 && done <= total) {
        char left[32];
        tmq_progress_duration(left, sizeof left, (double)(total - done) / rate);
        snprintf(eta, sizeof eta, "  ETA %s", left);
    }
    snprintf(buf, len, "[%s] %llu/%llu%s  %llu failed  %.0f jobs/s  %s%s", bar,
             (unsigned long long)done, (unsigned long long)total, total_known ? "" : "+",
             (unsigned long long)failed, rate, elapsed, eta);
}

void tmq_progress_summary(char *buf, size_t len, uint64_t done, uint64_t failed, int64_t elapsed_ms)
{
    double s = (double)(elapsed_ms > 0 ? elapsed_ms : 0) / 1000.0;
    char elapsed[32];
    tmq_progress_duration(elapsed, sizeof elapsed, s);
    snprintf(buf, len, "%llu job%s, %llu failed, %s, %.1f jobs/s", (unsigned long long)done,
             done == 1 ? "" : "s", (unsigned long long)failed, elapsed,
             s > 0 ? (double)done / s : 0.0);
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
    char text[200];
    tmq_progress_format(text, sizeof text, done, failed, total, total_known, p->rate,
                        now_ms - p->start_ms);
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

void tmq_progress_finish(tmq_progress_t *p, uint64_t done, uint64_t failed, int64_t now_ms)
{
    tmq_progress_clear(p);
    if (!p->enabled) return;
    char text[160];
    tmq_progress_summary(text, sizeof text, done, failed, now_ms - p->start_ms);
    fprintf(p->out, "%s\n", text);
    fflush(p->out);
}
