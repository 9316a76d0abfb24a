/* client/render.c — see render.h. */
#include "render.h"
#include "progress.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The integer at key (reals truncated) into *v: true when present. */
static bool s_int(const json_t *o, const char *key, long long *v)
{
    const json_t *j = json_object_get(o, key);
    if (json_is_integer(j))
        *v = (long long)json_integer_value(j);
    else if (json_is_real(j))
        *v = (long long)json_real_value(j);
    else
        return false;
    return true;
}

/* The integer at key, or 0 when absent (for sums). */
static long long s_int0(const json_t *o, const char *key)
{
    long long v = 0;
    s_int(o, key, &v);
    return v;
}

/* The non-empty string at key, or NULL. */
static const char *s_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

static void s_uptime(char *buf, size_t len, long long ms)
{
    long long s = ms / 1000;
    if (s >= 86400)
        snprintf(buf, len, "%lldd%02lldh%02lldm", s / 86400, s / 3600 % 24, s / 60 % 60);
    else if (s >= 3600)
        snprintf(buf, len, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
}

/* " KEY VALUE" for each integer present, in order. */
static void s_ints(FILE *out, const json_t *o, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long long v;
        if (s_int(o, keys[i], &v)) fprintf(out, "  %s %lld", keys[i], v);
    }
}

static void s_broker(FILE *out, const json_t *st, const char *endpoint)
{
    fprintf(out, "broker   %s", endpoint);
    const char *version = s_str(st, "version");
    if (version) fprintf(out, "  version %s", version);
    long long v;
    if (s_int(st, "uptime_ms", &v)) {
        char up[32];
        s_uptime(up, sizeof up, v);
        fprintf(out, "  up %s", up);
    }
    if (s_int(st, "clients", &v)) fprintf(out, "  clients %lld", v);
    if (s_int(st, "heartbeat", &v)) fprintf(out, "  heartbeat %lld ms", v);
    fputs("\njobs   ", out);
    static const char *const jobs[] = {"queued", "prefetched", "running",
                                       "done",   "failed",     "cancelled"};
    s_ints(out, st, jobs, sizeof jobs / sizeof jobs[0]);
    const json_t *rate = json_object_get(st, "rate");
    if (json_is_number(rate)) fprintf(out, "  rate %.1f jobs/s", json_number_value(rate));
    fputc('\n', out);
    if (s_int(st, "max_queue", &v) && v) fprintf(out, "queue    limit %lld\n", v);
    const json_t *insecure = json_object_get(st, "insecure");
    if (json_is_true(insecure))
        fputs("security none: the broker runs --insecure (any address may connect and submit "
              "jobs or serve them)\n",
              out);
    long long refused = s_int0(st, "refused");
    if (refused) fprintf(out, "refused  %lld connections (see the broker's log)\n", refused);
    const json_t *journal = json_object_get(st, "journal");
    if (json_is_object(journal)) {
        const char *failed = s_str(journal, "failed");
        fprintf(out, "journal  %lld live jobs, %.1f MB, %lld sessions",
                s_int0(journal, "live_jobs"), (double)s_int0(journal, "bytes") / 1e6,
                s_int0(journal, "sessions"));
        if (failed && failed[0])
            fprintf(out, "  FAILING: %s (new jobs are refused; accepted ones are kept)", failed);
        fputc('\n', out);
    }
    long long stale = s_int0(st, "stale"), malformed = s_int0(st, "malformed");
    if (stale || malformed)
        fprintf(out, "dropped  %lld late results, %lld malformed messages\n", stale, malformed);
}

/* "echo, sum" from a list of strings. */
static void s_names(FILE *out, const json_t *list)
{
    size_t i;
    const json_t *fn;
    if (json_array_size(list) == 0) fputs("(none)", out);
    json_array_foreach(list, i, fn)
        fprintf(out, "%s%s", i ? ", " : "", json_is_string(fn) ? json_string_value(fn) : "?");
}

static void s_worker(FILE *out, const json_t *w)
{
    const char *name = s_str(w, "name"), *addr = s_str(w, "addr");
    fprintf(out, "  %s%s%s", name ? name : "?", addr ? " " : "", addr ? addr : "");
    long long v, busy = 0;
    if (s_int(w, "pid", &v)) fprintf(out, "  pid %lld", v);
    if (json_is_true(json_object_get(w, "draining"))) fputs("  draining", out);
    if (s_int(w, "procs", &v)) {
        fprintf(out, "  %lld process%s", v, v == 1 ? "" : "es");
        if (s_int(w, "busy", &busy)) fprintf(out, ", %lld busy", busy);
    }
    if (s_int(w, "done", &v)) fprintf(out, "  done %lld", v);
    if (s_int(w, "failed", &v)) fprintf(out, "  failed %lld", v);
    const char *version = s_str(w, "version");
    const json_t *fns = json_object_get(w, "functions");
    bool seen = s_int(w, "seen_ms", &v);
    if (!version && !seen && !json_is_array(fns)) {
        fputc('\n', out);
        return;
    }
    fputs("\n   ", out);
    if (version) fprintf(out, " version %s ", version);
    const char *python = s_str(w, "python");
    if (python && *python) fprintf(out, " python %s ", python);
    if (seen) {
        char ago[32];
        tmq_progress_duration(ago, sizeof ago, (double)v / 1000.0);
        fprintf(out, " seen %s ago ", ago);
    }
    if (json_is_array(fns)) {
        fputs(" functions ", out);
        s_names(out, fns);
    }
    fputc('\n', out);
}

void tmq_render_status(FILE *out, const json_t *st, const char *endpoint)
{
    s_broker(out, st, endpoint);
    const json_t *workers = json_object_get(st, "workers");
    size_t i;
    const json_t *w;
    long long procs = 0, busy = 0, draining = 0; /* a draining worker's idle ones take nothing */
    json_array_foreach(workers, i, w)
    {
        procs += s_int0(w, "procs");
        busy += s_int0(w, "busy");
        if (json_is_true(json_object_get(w, "draining")))
            draining += s_int0(w, "procs") - s_int0(w, "busy");
    }
    size_t n = json_array_size(workers);
    fprintf(out, "workers  %zu with %lld process%s: %lld busy, %lld idle", n, procs,
            procs == 1 ? "" : "es", busy, procs - busy - draining);
    if (draining) fprintf(out, ", %lld draining", draining);
    fputc('\n', out);
    json_array_foreach(workers, i, w) s_worker(out, w);
}

/* ---- functions ---- */

/* From an older broker: {name, workers, procs} gathered from the workers' lists. */
static json_t *s_gather(const json_t *workers)
{
    json_t *by_name = json_object();
    size_t i, k;
    const json_t *w, *fn;
    json_array_foreach(workers, i, w)
    {
        json_array_foreach(json_object_get(w, "functions"), k, fn)
        {
            if (!json_is_string(fn)) continue;
            json_t *e = json_object_get(by_name, json_string_value(fn));
            if (!e) {
                e = json_pack("{s:s, s:I, s:I}", "name", json_string_value(fn), "workers",
                              (json_int_t)0, "procs", (json_int_t)0);
                json_object_set_new(by_name, json_string_value(fn), e);
            }
            json_object_set_new(e, "workers", json_integer(s_int0(e, "workers") + 1));
            json_object_set_new(e, "procs", json_integer(s_int0(e, "procs") + s_int0(w, "procs")));
        }
    }
    json_t *list = json_array();
    const char *key;
    json_t *e;
    json_object_foreach(by_name, key, e) json_array_append(list, e);
    json_decref(by_name);
    return list;
}

static int s_by_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x ? x : "", y ? y : "");
}

/* The function list, sorted by name (a new reference), or NULL when the reply has none. */
static json_t *s_functions(const json_t *st)
{
    const json_t *fns = json_object_get(st, "functions");
    json_t *list = NULL;
    if (json_is_array(fns)) {
        list = json_deep_copy(fns);
    } else {
        const json_t *workers = json_object_get(st, "workers");
        size_t i;
        const json_t *w;
        json_array_foreach(workers, i, w) if (json_is_array(json_object_get(w, "functions")))
        {
            list = s_gather(workers);
            break;
        }
    }
    if (!list) return NULL;
    size_t n = json_array_size(list);
    json_t **items = tmq_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(list, i));
    qsort(items, n, sizeof *items, s_by_name);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, items[i]);
    free(items);
    return list;
}

int tmq_render_functions(FILE *out, const json_t *st, bool json)
{
    json_t *list = s_functions(st);
    if (!list) return -1;
    if (json) {
        json_dumpf(list, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(list);
        return 0;
    }
    fprintf(out, "%-24s %7s %7s %7s\n", "FUNCTION", "WORKERS", "PROCS", "QUEUED");
    size_t i;
    const json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        long long workers = s_int0(f, "workers"), queued;
        fprintf(out, "%-24s %7lld %7lld", name ? name : "?", workers, s_int0(f, "procs"));
        if (s_int(f, "queued", &queued))
            fprintf(out, " %7lld", queued);
        else
            fprintf(out, " %7s", "-");
        fputs(workers == 0 ? "  no worker serves it\n" : "\n", out);
    }
    json_decref(list);
    return 0;
}

/* ---- batches ---- */

static const char *s_batch_state(const json_t *b)
{
    if (json_is_true(json_object_get(b, "complete"))) return "complete";
    if (json_is_true(json_object_get(b, "closed"))) return "closed";
    return "running";
}

int tmq_render_batches(FILE *out, const json_t *st, bool json)
{
    const json_t *list = json_object_get(st, "batches");
    if (!json_is_array(list)) return -1;
    if (json) {
        json_dumpf(list, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        return 0;
    }
    if (json_array_size(list) == 0) {
        fputs("no batches (taskmq map --batch NAME makes one)\n", out);
        return 0;
    }
    int width = 4;
    size_t i;
    const json_t *b;
    json_array_foreach(list, i, b)
    {
        const char *name = s_str(b, "name");
        int n = name ? (int)strlen(name) : 1;
        if (n > width) width = n > 48 ? 48 : n;
    }
    fprintf(out, "%-*s %8s %8s %8s %8s  %-8s  %s\n", width, "NAME", "TOTAL", "DONE", "FAILED",
            "RUNNING", "STATE", "AGE");
    json_array_foreach(list, i, b)
    {
        const char *name = s_str(b, "name");
        char age[32] = "-";
        long long ms;
        if (s_int(b, "age_ms", &ms)) tmq_progress_duration(age, sizeof age, (double)ms / 1000.0);
        fprintf(out, "%-*s %8lld %8lld %8lld %8lld  %-8s  %s\n", width, name ? name : "?",
                s_int0(b, "total"), s_int0(b, "done"), s_int0(b, "failed"), s_int0(b, "running"),
                s_batch_state(b), age);
    }
    return 0;
}
