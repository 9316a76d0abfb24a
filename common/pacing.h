/* common/pacing.h — how much work is handed out ahead of time, in one place.
 *
 * The broker (per function, per worker process) and the worker daemon (per executor) both
 * learn a function's run time as an exponentially weighted moving average and hand out
 * more than one job at a time only while the estimated work stays within a small horizon,
 * with a cap on the count. Both sides use these numbers so their windows agree.
 */
#ifndef TMQ_PACING_H
#define TMQ_PACING_H

#include <math.h>
#include <stdbool.h>

#define TMQ_PACE_ALPHA 0.25     /* weight of the newest run time in the average */
#define TMQ_PACE_HORIZON_MS 2.0 /* estimated work one process may have waiting */
#define TMQ_PACE_MAX_BATCH 64   /* jobs one process may have waiting */

/* Folds one observed run time into *avg (the first sample sets it; *timed says whether one
 * was seen). NaN, infinite or negative samples are ignored: they are a peer's lie. */
static inline void tmq_pace_ewma(double *avg, bool *timed, double ms)
{
    if (!isfinite(ms) || ms < 0) return;
    *avg = *timed ? *avg + TMQ_PACE_ALPHA * (ms - *avg) : ms;
    *timed = true;
}

#endif
