/* worker/pace.c — see pace.h. */
#include "pace.h"

#include <math.h>
#include <string.h>

void tmq_pace_init(tmq_pace_t *p, const char *const *names, size_t n)
{
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < n && i < TMQ_PACE_MAX_FNS; i++) {
        p->fns[i].name = names[i];
        p->fns[i].name_len = strlen(names[i]);
        p->n++;
    }
}

int tmq_pace_index(const tmq_pace_t *p, const char *fn, size_t fn_len)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->fns[i].name_len == fn_len && memcmp(p->fns[i].name, fn, fn_len) == 0) return (int)i;
    return -1;
}

void tmq_pace_record(tmq_pace_t *p, int idx, double ms)
{
    if (idx < 0 || (size_t)idx >= p->n) return;
    if (!isfinite(ms) || ms < 0) return;
    tmq_pace_fn_t *f = &p->fns[idx];
    tmq_pace_ewma(&f->ewma_ms, &f->timed, ms);
    f->samples++;
}

double tmq_pace_estimate(const tmq_pace_t *p, int idx)
{
    if (idx < 0 || (size_t)idx >= p->n || !p->fns[idx].timed) return -1;
    return p->fns[idx].ewma_ms;
}

bool tmq_pace_admit(size_t held, double load_ms, double est_ms)
{
    if (held == 0) return true;
    if (est_ms < 0 || held >= TMQ_PACE_MAX_BATCH) return false;
    return load_ms + est_ms <= TMQ_PACE_HORIZON_MS;
}

double tmq_pace_overdue_after(double est_ms)
{
    return est_ms < 0 ? INFINITY : est_ms + TMQ_PACE_HORIZON_MS;
}

bool tmq_pace_overdue(double elapsed_ms, double est_ms)
{
    return elapsed_ms > tmq_pace_overdue_after(est_ms);
}
