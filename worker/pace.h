/* worker/pace.h — per-function run-time estimates and the rules for batching jobs.
 *
 * The daemon keeps an exponentially weighted moving average of each function's run time as
 * its executors report it (common/pacing.h holds the constants the broker uses too). A job
 * may join an executor that is already busy only when its function is known to be short and
 * the executor's estimated backlog stays within the horizon; unknown or long functions go one
 * at a time to an idle executor. Since a function's jobs can differ in size, an estimate can
 * be wrong: a running job past tmq_pace_overdue is treated as long, gets nothing more behind
 * it, and the jobs waiting behind it are taken back for an idle executor (executors hand
 * back unstarted jobs on REVOKE).
 */
#ifndef TMQ_PACE_H
#define TMQ_PACE_H

#include "pacing.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_PACE_MAX_FNS 1024 /* as many as an executor may announce */

typedef struct {
    const char *name; /* borrowed, NUL-terminated */
    size_t name_len;
    double ewma_ms;
    bool timed;
    uint64_t samples;
} tmq_pace_fn_t;

typedef struct {
    tmq_pace_fn_t fns[TMQ_PACE_MAX_FNS];
    size_t n;
} tmq_pace_t;

/* Starts with no samples for the given names (borrowed; at most TMQ_PACE_MAX_FNS kept). */
void tmq_pace_init(tmq_pace_t *p, const char *const *names, size_t n);
/* The index of fn, or -1 when it is not tracked. */
int tmq_pace_index(const tmq_pace_t *p, const char *fn, size_t fn_len);
/* Adds one observed run time for function idx (ignored for idx < 0 and nonsense values). */
void tmq_pace_record(tmq_pace_t *p, int idx, double ms);
/* The estimate for idx in ms, or -1 when unknown (untracked or no sample yet). */
double tmq_pace_estimate(const tmq_pace_t *p, int idx);
/* May a job estimated at est_ms (< 0 unknown) join an executor holding `held` jobs whose
 * estimates add up to load_ms (infinite when one is unknown)? An idle executor takes any job. */
bool tmq_pace_admit(size_t held, double load_ms, double est_ms);
/* Has a job estimated at est_ms (< 0 unknown) that has run elapsed_ms overrun its estimate
 * by more than the horizon? Jobs wait behind a running one only while all their estimates
 * fit the horizon, so past that the estimate was wrong and those jobs are better off on an
 * idle executor. Unknown jobs never are overdue: they were handed out alone. */
bool tmq_pace_overdue(double elapsed_ms, double est_ms);
/* When a job estimated at est_ms becomes overdue, in ms after it started (INFINITY when it
 * never does). */
double tmq_pace_overdue_after(double est_ms);

#endif
