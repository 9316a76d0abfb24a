/* client/progress.c — see progress.h. Drawing and measuring are apart: draws may come
 * 1 ms apart (after each erase for output) or not at all, while the rate always spans at
 * least one sample interval, so bursts of results neither inflate nor lose jobs from it. */
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
    p->start_ms = now_ms;
    p->samples[0] = (tmq_progress_sample_t){now_ms, 0};
    p->count = 1;
}

#define S_RING (TMQ_PROGRESS_WINDOW + 1)

/* Takes a sample when the newest one is an interval old; the oldest falls out of the ring. */
static void s_sample(tmq_progress_t *p, uint64_t done, int64_t now_ms)
{
    const tmq_progress_sample_t *newest = &p->samples[(p->head + p->count - 1) % S_RING];
    if (now_ms - newest->ms < TMQ_PROGRESS_SAMPLE_MS) return;
    if (p->count == S_RING) {
        p->head = (p->head + 1) % S_RING;
        p->count--;
    }
    p->samples[(p->head + p->count) % S_RING] = (tmq_progress_sample_t){now_ms, done};
    p->count++;
}

double tmq_progress_rate(const tmq_progress_t *p, uint64_t done, int64_t now_ms)
{
    const tmq_progress_sample_t *oldest = &p->samples[p->head];
    int64_t span = now_ms - oldest->ms;
    if (span < TMQ_PROGRESS_SAMPLE_MS || done < oldest->done) return -1;
    return (double)(done - oldest->done) * 1000.0 / (double)span;
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
    char elapsed[32], speed[32], eta[48] = "";
    tmq_progress_duration(elapsed, sizeof elapsed, (double)elapsed_ms / 1000.0);
    if (!(rate >= 0)) /* not measured yet (NaN too) */
        snprintf(speed, sizeof speed, "-");
    else
        snprintf(speed, sizeof speed, rate < 9.95 ? "%.1f" : "%.0f", rate);
    if (total_known && rate > 0 && done <= total) {
        char left[32];
        tmq_progress_duration(left, sizeof left, (double)(total - done) / rate);
        snprintf(eta, sizeof eta, "  ETA %s", left);
    }
    snprintf(buf, len, "[%s] %llu/%llu%s  %llu failed  %s jobs/s  %s%s", bar,
             (unsigned long long)done, (unsigned long long)total, total_known ? "" : "+",
             (unsigned long long)failed, speed, elapsed, eta);
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
    s_sample(p, done, now_ms);
    if (p->drawn && now_ms - p->drawn_ms < TMQ_PROGRESS_INTERVAL_MS) return;
    p->drawn_ms = now_ms;
    char text[200];
    tmq_progress_format(text, sizeof text, done, failed, total, total_known,
                        tmq_progress_rate(p, done, now_ms), now_ms - p->start_ms);
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
