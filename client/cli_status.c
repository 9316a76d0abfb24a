/* client/cli_status.c — `taskmq status`: the broker's STATUS_REPLY for people or scripts.
 *
 * --json prints the reply map as one compact JSON object (tmq_json_from_msgpack: every
 * field the broker sends, in its order). Without it, a summary and a table of workers with
 * their processes busy and idle. Fields the broker leaves out show as 0 / empty.
 */
#include "cli.h"
#include "jsonmp.h"

#include <stdlib.h>
#include <string.h>

static json_int_t s_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_real(v)) return (json_int_t)json_real_value(v);
    return 0;
}

static double s_num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static void s_uptime(char *buf, size_t len, json_int_t ms)
{
    long long s = ms / 1000;
    if (s >= 86400)
        snprintf(buf, len, "%lldd%02lldh%02lldm", s / 86400, s / 3600 % 24, s / 60 % 60);
    else if (s >= 3600)
        snprintf(buf, len, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
}

static void s_workers(const json_t *workers)
{
    size_t i;
    const json_t *w;
    json_int_t procs = 0, busy = 0;
    json_array_foreach(workers, i, w)
    {
        procs += s_int(w, "procs");
        busy += s_int(w, "busy");
    }
    printf("workers  %zu with %lld processes: %lld busy, %lld idle\n", json_array_size(workers),
           (long long)procs, (long long)busy, (long long)(procs - busy));
    if (json_array_size(workers) == 0) return;
    printf("\n%-24s %8s %6s %5s %5s %12s\n", "WORKER", "PID", "PROCS", "BUSY", "IDLE", "DONE");
    json_array_foreach(workers, i, w)
    {
        const char *name = json_string_value(json_object_get(w, "name"));
        json_int_t p = s_int(w, "procs"), b = s_int(w, "busy");
        printf("%-24s %8lld %6lld %5lld %5lld %12lld\n", name ? name : "?",
               (long long)s_int(w, "pid"), (long long)p, (long long)b, (long long)(p - b),
               (long long)s_int(w, "done"));
    }
}

static void s_table(const json_t *st, const char *endpoint)
{
    char up[32];
    s_uptime(up, sizeof up, s_int(st, "uptime_ms"));
    printf("broker   %s  up %s  clients %lld  heartbeat %lld ms\n", endpoint, up,
           (long long)s_int(st, "clients"), (long long)s_int(st, "heartbeat"));
    printf("jobs     queued %lld  running %lld  done %lld  failed %lld  rate %.1f jobs/s\n",
           (long long)s_int(st, "queued"), (long long)s_int(st, "running"),
           (long long)s_int(st, "done"), (long long)s_int(st, "failed"), s_num(st, "rate"));
    if (s_int(st, "max_queue")) printf("queue    limit %lld\n", (long long)s_int(st, "max_queue"));
    json_int_t stale = s_int(st, "stale"), malformed = s_int(st, "malformed");
    if (stale || malformed)
        printf("dropped  %lld late results, %lld malformed messages\n", (long long)stale,
               (long long)malformed);
    const json_t *workers = json_object_get(st, "workers");
    s_workers(json_is_array(workers) ? workers : NULL);
}

int tmq_cli_status(tmq_client_t *c, const tmq_cli_t *o, const char *endpoint)
{
    size_t len;
    void *body = tmq_client_status(c, (int)o->connect_timeout_ms, &len);
    if (!body) {
        if (tmq_cli_interrupted) return TMQ_EXIT_FAILED;
        fprintf(stderr, "taskmq: no broker answered at %s within %ld ms\n", endpoint,
                o->connect_timeout_ms);
        return TMQ_EXIT_NO_BROKER;
    }
    json_t *st = tmq_json_from_msgpack(body, len);
    free(body);
    if (!json_is_object(st)) {
        fprintf(stderr, "taskmq: the broker's status did not parse\n");
        json_decref(st);
        return TMQ_EXIT_FAILED;
    }
    if (o->json) {
        json_dumpf(st, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        s_table(st, endpoint);
    }
    json_decref(st);
    return fflush(stdout) == 0 ? TMQ_EXIT_OK : TMQ_EXIT_FAILED;
}
