/* worker/pace.h — per-function run-time estimates and the rule for batching jobs.
 *
 * The daemon keeps an exponentially weighted moving average of each function's run time as
 * its executors report it. A job may join an executor that is already busy only when its
 * function is known to be short and the executor's estimated backlog stays within a small
 * budget; unknown or long functions go one at a time to an idle executor, so a long job never
 * strands a short one while another process idles.
 */
#ifndef TMQ_PACE_H
#define TMQ_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_PACE_MAX_FNS 64
#define TMQ_PACE_BUDGET_MS 2.0 /* estimated work one executor may hold beyond nothing */
#define TMQ_PACE_MAX_BATCH 64  /* jobs one executor may hold */
#define TMQ_PACE_ALPHA 0.25    /* weight of the newest sample */

typedef struct {
    const char *name; /* borrowed, NUL-terminated */
    size_t name_len;
    double ewma_ms;
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
/* Adds one observed run time for function idx (ignored for idx < 0). */
void tmq_pace_record(tmq_pace_t *p, int idx, double ms);
/* The estimate for idx in ms, or -1 when unknown (untracked or no sample yet). */
double tmq_pace_estimate(const tmq_pace_t *p, int idx);
/* May a job estimated at est_ms (< 0 unknown) join an executor holding `held` jobs whose
 * estimates add up to load_ms (infinite when one is unknown)? An idle executor takes any job. */
bool tmq_pace_admit(size_t held, double load_ms, double est_ms);

#endif
