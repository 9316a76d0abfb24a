/* broker/metrics.c — see metrics.h.
 *
 * Three parts: the address (parsed and judged at start, so a bad value is a usage error), the
 * rendering (a walk over the function registry, the worker and client registries and the
 * stats, once per scrape) and the HTTP daemon (libmicrohttpd on a listening socket we bind
 * ourselves, so a port in use is told in the broker's words). Label values of functions come
 * from workers as bytes: expo.c makes them safe; rows whose labels come out equal are summed.
 */
#include "metrics.h"
#include "journal.h"

#include "expo.h"
#include "zap.h"

#include <log.h>
#include <platform.h>
#include <xalloc.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_EXAMPLES "e.g. 127.0.0.1:9100, [::1]:9100, localhost:9100 or 0.0.0.0:9100"
#define S_CONNECTIONS 16 /* HTTP connections at once (a scraper needs one) */
#define S_PER_IP 8       /* ... from one address */
#define S_IDLE_TIMEOUT_S                                                                           \
    5 /* an idle connection is closed after this (Prometheus reconnects):                          \
         short, so half-sent requests cannot hold the 8 per address long */
#define S_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- the address ---- */

static int s_syntax(const char *arg, char *why, size_t why_len)
{
    snprintf(why, why_len, "'%s' is not ADDR:PORT (%s)", arg, S_EXAMPLES);
    return -1;
}

/* Splits arg into host and port text; returns 0 or -1 (why set). v6 is set for "[...]". */
static int s_split(const char *arg, char *host, size_t host_len, const char **port, bool *v6,
                   char *why, size_t why_len)
{
    const char *end, *orig = arg;
    *v6 = arg[0] == '[';
    if (*v6) {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':') return s_syntax(arg, why, why_len);
        end = close;
        arg++;
        *port = close + 2;
    } else {
        end = strrchr(arg, ':');
        if (!end) return s_syntax(arg, why, why_len);
        *port = end + 1;
        if (memchr(arg, ':', (size_t)(end - arg))) {
            snprintf(why, why_len, "'%s': an IPv6 address goes in brackets, e.g. [::1]:9100", arg);
            return -1;
        }
    }
    size_t n = (size_t)(end - arg);
    if (n == 0 || n >= host_len) return s_syntax(orig, why, why_len);
    memcpy(host, arg, n);
    host[n] = '\0';
    return 0;
}

/* The port text as a number (0 for '*'), or -1. */
static long s_port(const char *p)
{
    if (strcmp(p, "*") == 0) return 0;
    long v = 0;
    if (!*p) return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535) return -1;
    }
    return v >= 1 ? v : -1;
}

/* "IP:PORT" or "[IP]:PORT" of sa ("*" for port 0) into out. */
static void s_addr_text(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?", port[8] = "*";
    unsigned p = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        p = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        p = ntohs(a->sin6_port);
    }
    if (p) snprintf(port, sizeof port, "%u", p);
    snprintf(out, len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, port);
}

/* Resolves host (numeric only when v6) into addr: the first IPv4 address, else the first
 * IPv6 one. */
static int s_resolve(const char *host, bool v6, tmq_metrics_addr_t *addr, char *why, size_t why_len)
{
    struct addrinfo hints = {.ai_family = v6 ? AF_INET6 : AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = v6 ? AI_NUMERICHOST : 0};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(strcmp(host, "*") == 0 ? "0.0.0.0" : host, NULL, &hints, &res);
    if (rc != 0) {
        if (v6)
            snprintf(why, why_len, "'[%s]' is not an IPv6 address", host);
        else
            snprintf(why, why_len, "cannot resolve host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) pick = ai;
    for (const struct addrinfo *ai = res; ai && !pick; ai = ai->ai_next)
        if (ai->ai_family == AF_INET6) pick = ai;
    if (pick) {
        memcpy(&addr->sa, pick->ai_addr, pick->ai_addrlen);
        addr->sa_len = pick->ai_addrlen;
    }
    freeaddrinfo(res);
    if (!pick) {
        snprintf(why, why_len, "host '%s' has no IPv4 or IPv6 address", host);
        return -1;
    }
    return 0;
}

int tmq_metrics_parse(const char *arg, tmq_metrics_addr_t *addr, char *why, size_t why_len)
{
    memset(addr, 0, sizeof *addr);
    char host[256];
    const char *port_text;
    bool v6;
    if (s_split(arg, host, sizeof host, &port_text, &v6, why, why_len) != 0) return -1;
    long port = s_port(port_text);
    if (port < 0) {
        snprintf(why, why_len,
                 "'%s': the port must be a number from 1 to 65535, or '*' for any free port, "
                 "not '%s'",
                 arg, port_text);
        return -1;
    }
    if (s_resolve(host, v6, addr, why, why_len) != 0) return -1;
    if (addr->sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&addr->sa)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&addr->sa)->sin6_port = htons((uint16_t)port);
    s_addr_text((const struct sockaddr *)&addr->sa, addr->text, sizeof addr->text);
    return 0;
}

bool tmq_metrics_addr_loopback(const tmq_metrics_addr_t *addr)
{
    if (addr->sa.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&addr->sa;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&addr->sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}

int tmq_metrics_allowed(const tmq_metrics_addr_t *addr, bool insecure, bool keys, char *why,
                        size_t why_len)
{
    if (tmq_metrics_addr_loopback(addr) || insecure) return 0;
    if (keys)
        snprintf(why, why_len,
                 "%s faces the network, and the metrics name this broker's functions and show "
                 "their load to anyone who reaches the port: it has no keys of its own, as the "
                 "job ports have. Use 127.0.0.1:PORT (or [::1]:PORT) and let a local agent or "
                 "a tunnel carry it, or add --insecure to open it",
                 addr->text);
    else
        snprintf(why, why_len,
                 "%s faces the network, and the metrics name this broker's functions and show "
                 "their load, but a broker without CURVE keys lets in loopback peers only: use "
                 "127.0.0.1:PORT (or [::1]:PORT), or add --insecure to open the metrics and the "
                 "job ports to any address",
                 addr->text);
    return -1;
}

/* ---- rendering ---- */

#define S_LABEL_MAX (sizeof "function=\"\"" + TMQ_EXPO_ESCAPED_MAX(TMQ_PROTO_MAX_FNAME))

/* One function's series: its record's figures, or the sum of several whose labels are equal. */
typedef struct {
    char label[S_LABEL_MAX]; /* function="..." */
    tmq_fn_counts_t n;
    tmq_fn_hist_t hist;
    uint64_t queued, leased, workers, procs;
} s_row_t;

#define S_AT(field) offsetof(s_row_t, field)

/* The per-function families besides the histogram, in the order written. */
static const struct {
    const char *name, *type, *help;
    size_t at; /* of a uint64_t in s_row_t */
} s_fn_families[] = {
    {"taskmq_jobs_submitted_total", "counter",
     "Jobs accepted into the function's queue. Jobs of functions no worker ever served are "
     "counted without a function label, here and in the other job counters.",
     S_AT(n.submitted)},
    {"taskmq_jobs_done_total", "counter", "Jobs finished OK.", S_AT(n.done)},
    {"taskmq_jobs_failed_total", "counter",
     "Jobs finished not OK: an error, a timeout, out of retries after executor deaths, out of "
     "memory, a result too large, or no worker serving the function.",
     S_AT(n.failed)},
    {"taskmq_jobs_cancelled_total", "counter",
     "Jobs dropped unfinished because their client left or withdrew them.", S_AT(n.cancelled)},
    {"taskmq_jobs_retried_total", "counter",
     "Attempts that ended with the executor dying (or out of memory, under retry_oom) and were "
     "queued again within the job's retries.",
     S_AT(n.retried)},
    {"taskmq_jobs_requeued_total", "counter",
     "Jobs held by a worker that left, expired or registered again, queued again (at-least-"
     "once: one may run twice).",
     S_AT(n.requeued)},
    {"taskmq_queue_depth", "gauge", "Jobs queued, waiting for a process.", S_AT(queued)},
    {"taskmq_jobs_leased", "gauge",
     "Jobs handed to workers and not finished: running, or prefetched and waiting for a "
     "process of that worker.",
     S_AT(leased)},
    {"taskmq_function_workers", "gauge", "Connected workers serving the function.", S_AT(workers)},
    {"taskmq_function_processes", "gauge",
     "Executor processes of the connected workers serving the function.", S_AT(procs)},
};

static uint64_t s_row_value(const s_row_t *row, size_t at)
{
    uint64_t v;
    memcpy(&v, (const char *)row + at, sizeof v);
    return v;
}

static void s_row_add(s_row_t *into, const s_row_t *r)
{
    tmq_fn_counts_add(&into->n, &r->n);
    for (size_t i = 0; i <= TMQ_FN_BUCKETS; i++)
        into->hist.count[i] += r->hist.count[i];
    into->hist.sum_ms += r->hist.sum_ms;
    into->queued += r->queued;
    into->leased += r->leased;
    into->workers += r->workers;
    into->procs += r->procs;
}

static int s_by_label(const void *a, const void *b)
{
    return strcmp(((const s_row_t *)a)->label, ((const s_row_t *)b)->label);
}

static void s_row_fill(s_row_t *row, const tmq_fn_t *fn)
{
    memset(row, 0, sizeof *row);
    memcpy(row->label, "function=\"", 10);
    size_t n = 10 + tmq_expo_escape(row->label + 10, fn->name, fn->name_len);
    memcpy(row->label + n, "\"", 2);
    row->n = fn->n;
    row->hist = fn->hist;
    row->queued = fn->queue.size;
    row->leased = fn->leased;
    row->workers = fn->nworkers;
    for (size_t k = 0; k < fn->nworkers; k++)
        row->procs += fn->workers[k]->procs;
}

/* Every function some worker served, sorted by label, equal labels summed; *n set. The rest,
 * names only clients gave (jobs for them wait while no worker is connected), are summed into
 * *unserved: they get no label, so a client cannot make a scrape long (one series per name).
 * malloc'd, caller frees. */
static s_row_t *s_rows(tmq_fnreg_t *fns, size_t *n, s_row_t *unserved)
{
    size_t cap = tmq_fnreg_size(fns), k = 0;
    s_row_t *rows = tmq_xcalloc(cap ? cap : 1, sizeof *rows), one;
    memset(unserved, 0, sizeof *unserved);
    for (tmq_fn_t *fn = tmq_fnreg_first(fns); fn && k < cap; fn = tmq_fnreg_next(fns)) {
        if (fn->served) {
            s_row_fill(&rows[k++], fn);
        } else {
            s_row_fill(&one, fn);
            s_row_add(unserved, &one);
        }
    }
    qsort(rows, k, sizeof *rows, s_by_label);
    size_t out = 0;
    for (size_t i = 0; i < k; i++) {
        if (out > 0 && strcmp(rows[out - 1].label, rows[i].label) == 0)
            s_row_add(&rows[out - 1], &rows[i]);
        else if (out != i)
            rows[out++] = rows[i];
        else
            out++;
    }
    *n = out;
    return rows;
}

/* The `gone` tally's value for a counter family at `at`, or 0 when it is not a job counter. */
static uint64_t s_gone_value(const tmq_fn_counts_t *gone, size_t at)
{
    if (at < S_AT(n) || at >= S_AT(n) + sizeof *gone) return 0;
    uint64_t v;
    memcpy(&v, (const char *)gone + (at - S_AT(n)), sizeof v);
    return v;
}

static void s_functions(tmq_expo_t *e, tmq_fnreg_t *fns)
{
    size_t n;
    s_row_t unserved;
    s_row_t *rows = s_rows(fns, &n, &unserved);
    const tmq_fn_counts_t *gone = tmq_fnreg_gone(fns);
    for (size_t f = 0; f < sizeof s_fn_families / sizeof s_fn_families[0]; f++) {
        size_t at = s_fn_families[f].at;
        tmq_expo_family(e, s_fn_families[f].name, s_fn_families[f].type, s_fn_families[f].help);
        for (size_t i = 0; i < n; i++)
            tmq_expo_uint(e, s_fn_families[f].name, rows[i].label, s_row_value(&rows[i], at));
        /* never served: those freed and those still here, so the sum only grows */
        uint64_t g = s_gone_value(gone, at) + s_row_value(&unserved, at);
        if (g > 0) tmq_expo_uint(e, s_fn_families[f].name, NULL, g);
    }
    double bounds[TMQ_FN_BUCKETS];
    for (size_t b = 0; b < TMQ_FN_BUCKETS; b++)
        bounds[b] = tmq_fn_bucket_ms[b] / 1000.0;
    tmq_expo_family(e, "taskmq_job_duration_seconds", "histogram",
                    "Run time of jobs as their workers measured it: every result that carries "
                    "one (done, error, timeout, result too large; not executor deaths).");
    for (size_t i = 0; i < n; i++)
        tmq_expo_histogram(e, "taskmq_job_duration_seconds", rows[i].label, bounds, TMQ_FN_BUCKETS,
                           rows[i].hist.count, rows[i].hist.sum_ms / 1000.0);
    free(rows);
}

static void s_gauge(tmq_expo_t *e, const char *name, const char *help, uint64_t v)
{
    tmq_expo_family(e, name, "gauge", help);
    tmq_expo_uint(e, name, NULL, v);
}

static void s_counter(tmq_expo_t *e, const char *name, const char *help, uint64_t v)
{
    tmq_expo_family(e, name, "counter", help);
    tmq_expo_uint(e, name, NULL, v);
}

/* Workers, processes and clients: walked here, so the job path counts nothing for them. */
static void s_peers(tmq_expo_t *e, tmq_core_t *core)
{
    uint64_t busy = 0, procs = 0, draining = 0, owed = 0;
    size_t nw = tmq_bworkers_size(core->workers), nc = tmq_bclients_size(core->clients);
    for (size_t i = 0; i < nw; i++) {
        const tmq_bworker_t *w = tmq_bworkers_at(core->workers, i);
        busy += tmq_bworker_busy(w);
        procs += w->procs;
        if (w->draining) draining += w->procs - tmq_bworker_busy(w); /* take nothing more */
    }
    for (size_t i = 0; i < nc; i++)
        owed += tmq_outbox_bytes(&tmq_bclients_at(core->clients, i)->out);
    s_gauge(e, "taskmq_workers_connected", "Worker daemons connected.", nw);
    tmq_expo_family(e, "taskmq_processes", "gauge",
                    "Executor processes of the connected workers: running a job (busy), free "
                    "(idle), or free on a worker that drains and takes no more (draining).");
    tmq_expo_uint(e, "taskmq_processes", "state=\"busy\"", busy);
    tmq_expo_uint(e, "taskmq_processes", "state=\"idle\"", procs - busy - draining);
    tmq_expo_uint(e, "taskmq_processes", "state=\"draining\"", draining);
    s_gauge(e, "taskmq_clients_connected", "Clients connected.", nc);
    s_gauge(e, "taskmq_client_owed_bytes",
            "Bytes of replies waiting for clients that read slowly (a client owed more than "
            "64 MiB gets new jobs rejected \"queue full\").",
            owed);
}

static void s_input(tmq_expo_t *e, tmq_core_t *core)
{
    static const char *const reasons[TMQ_BSTATS_REJECT_CODES] = {NULL,
                                                                 "reason=\"queue_full\"",
                                                                 "reason=\"unknown_function\"",
                                                                 "reason=\"payload_too_large\"",
                                                                 "reason=\"bad_job\"",
                                                                 "reason=\"journal_unavailable\""};
    const tmq_bstats_t *st = &core->stats;
    tmq_expo_family(e, "taskmq_jobs_rejected_total", "counter",
                    "Jobs refused at submission, never queued, by reason.");
    for (int r = 1; r < TMQ_BSTATS_REJECT_CODES; r++)
        tmq_expo_uint(e, "taskmq_jobs_rejected_total", reasons[r], st->rejected[r]);
    s_counter(e, "taskmq_jobs_stale_total",
              "Results discarded as late or duplicate: for another attempt, from a worker that "
              "no longer holds the job, or for a job already finished.",
              st->stale);
    tmq_expo_family(e, "taskmq_malformed_messages_total", "counter",
                    "Messages or items that did not parse, or came to the wrong port, by the "
                    "socket they came in on (frontend: clients, backend: workers).");
    tmq_expo_uint(e, "taskmq_malformed_messages_total", "socket=\"frontend\"",
                  st->malformed[TMQ_SIDE_FRONTEND]);
    tmq_expo_uint(e, "taskmq_malformed_messages_total", "socket=\"backend\"",
                  st->malformed[TMQ_SIDE_BACKEND]);
    s_counter(e, "taskmq_refused_connections_total",
              "Connections the broker's connection checks refused (protected mode: not "
              "loopback; with CURVE: a key not allowed).",
              tmq_zap_refused(core->cfg.zap));
}

/* --journal: present only when the broker keeps one. */
static void s_journal(tmq_expo_t *e, tmq_core_t *core)
{
    if (!core->cfg.journal) return;
    tmq_journal_stats_t js;
    tmq_journal_stats(core->cfg.journal, &js);
    s_gauge(e, "taskmq_journal_live_jobs",
            "Jobs the journal holds: accepted and not yet finished, or finished and their result "
            "not yet acknowledged by its client.",
            js.live_jobs);
    s_gauge(e, "taskmq_journal_bytes", "Bytes in the journal's segment files.", js.bytes);
    s_gauge(e, "taskmq_journal_segments", "The journal's segment files.", js.segments);
    s_gauge(e, "taskmq_journal_sessions",
            "Client sessions the broker keeps (with a connection or not).",
            zhashx_size(core->sessions));
    s_gauge(e, "taskmq_journal_failed",
            "1 while the journal cannot be written (a full disk, an I/O error): new jobs are "
            "refused \"journal unavailable\"; 0 otherwise.",
            js.failed);
    s_counter(e, "taskmq_journal_syncs_total", "fdatasync calls of the journal.", js.syncs);
    s_counter(e, "taskmq_journal_commits_total",
              "Writes of the journal (one per loop turn with records).", js.commits);
    s_counter(e, "taskmq_journal_failures_total", "Failed journal writes or syncs.", js.failures);
}

char *tmq_metrics_render(tmq_core_t *core, int64_t now, double start_s, size_t *len)
{
    (void)now; /* every figure is a count or a level; kept for rates should one be added */
    tmq_expo_t e;
    tmq_expo_init(&e);
    tmq_expo_family(&e, "taskmq_build_info", "gauge", "The broker's version, as a label.");
    tmq_expo_uint(&e, "taskmq_build_info", "version=\"" TMQ_VERSION "\"", 1);
    tmq_expo_family(&e, "process_start_time_seconds", "gauge",
                    "When the broker started, in seconds since the Unix epoch.");
    tmq_expo_double(&e, "process_start_time_seconds", NULL, start_s);
    s_gauge(&e, "taskmq_queue_limit", "Queued jobs accepted at most (--max-queue).",
            core->cfg.max_queue);
    s_peers(&e, core);
    s_input(&e, core);
    s_journal(&e, core);
    s_functions(&e, core->fns);
    char *text = tmq_expo_take(&e, len);
    tmq_expo_fini(&e);
    return text;
}

/* ---- the HTTP daemon ---- */

struct tmq_metrics_t {
    struct MHD_Daemon *daemon;
    tmq_core_t *core;
    double start_s;
    int64_t due; /* when libmicrohttpd must run next whatever its descriptor says */
    tmq_loop_source_t source;
    tmq_rate_t log_rate;
    char url[TMQ_METRICS_TEXT_MAX + 32];
};

static const char s_not_found[] = "not found: the metrics are at /metrics\n";
static const char s_not_allowed[] = "method not allowed: read the metrics with GET /metrics\n";

/* libmicrohttpd's own messages (a client that went away, the connection limit): rate-limited,
 * they come from what peers do. */
__attribute__((format(printf, 2, 0))) static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    tmq_metrics_t *self = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    tmq_log_limited(TMQ_LOG_WARN, &self->log_rate, 5, "metrics: %s", line);
}

static enum MHD_Result s_text(struct MHD_Connection *conn, unsigned status, const char *text,
                              size_t len, bool allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* MHD_AccessHandlerCallback: runs inside MHD_run, so in the loop's thread between turns. */
static enum MHD_Result s_request(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_len, void **req)
{
    tmq_metrics_t *self = cls;
    if (*req == NULL) { /* the headers: answer once the whole request is read, so the */
        *req = self;    /* connection stays usable for the next scrape (keep-alive) */
        return MHD_YES;
    }
    if (*upload_len) { /* a body (none is expected): read and dropped */
        *upload_len = 0;
        return MHD_YES;
    }
    if (tmq_log_level >= TMQ_LOG_DEBUG) {
        char what[96];
        tmq_printable(what, sizeof what, url, strlen(url));
        tmq_debug("metrics: %.8s %s", method, what);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, s_not_allowed, sizeof s_not_allowed - 1,
                      true);
    if (strcmp(url, "/metrics") != 0)
        return s_text(conn, MHD_HTTP_NOT_FOUND, s_not_found, sizeof s_not_found - 1, false);
    size_t len;
    char *text = tmq_metrics_render(self->core, tmq_clock_ms(), self->start_s, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, text, free);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_CONTENT_TYPE);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static void s_update_due(tmq_metrics_t *self)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(self->daemon, &ms) != MHD_YES)
        self->due = INT64_MAX; /* nothing timed: its descriptor will say when */
    else
        self->due = tmq_clock_ms() + (ms > 3600000 ? 3600000 : (int64_t)ms);
}

static int64_t s_due(void *ctx)
{
    return ((tmq_metrics_t *)ctx)->due;
}

static void s_run(void *ctx)
{
    tmq_metrics_t *self = ctx;
    MHD_run(self->daemon);
    s_update_due(self);
}

/* Why a bind of addr failed, in the broker's words (loop.c says the same of its sockets). */
static void s_bind_error(const tmq_metrics_addr_t *addr, int err, char *why, size_t why_len)
{
    const char *port = strrchr(addr->text, ':') + 1;
    char host[TMQ_METRICS_TEXT_MAX];
    snprintf(host, sizeof host, "%.*s", (int)(port - 1 - addr->text), addr->text);
    if (err == EADDRINUSE)
        snprintf(why, why_len, "port %s is already in use (by another program?)", port);
    else if (err == EADDRNOTAVAIL)
        snprintf(why, why_len,
                 "'%s' is not an address of this machine; use 0.0.0.0:%s or one of its "
                 "addresses",
                 host, port);
    else if (err == EACCES)
        snprintf(why, why_len, "port %s needs privileges; use a port above 1023", port);
    else
        snprintf(why, why_len, "%s", strerror(err));
}

/* A listening socket on addr (its port written back when it was '*'), or -1 with why. */
static int s_listen(tmq_metrics_addr_t *addr, char *why, size_t why_len)
{
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, why_len, "%s", strerror(errno));
        return -1;
    }
    int on = 1; /* a restart may bind while the last run's connections sit in TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (const struct sockaddr *)&addr->sa, addr->sa_len) != 0 || listen(fd, 16) != 0) {
        s_bind_error(addr, errno, why, why_len);
        close(fd);
        return -1;
    }
    socklen_t len = sizeof addr->sa;
    if (getsockname(fd, (struct sockaddr *)&addr->sa, &len) == 0)
        s_addr_text((const struct sockaddr *)&addr->sa, addr->text, sizeof addr->text);
    return fd;
}

tmq_metrics_t *tmq_metrics_new(const tmq_metrics_addr_t *where, tmq_core_t *core, char *why,
                               size_t why_len)
{
    tmq_metrics_addr_t addr = *where;
    int fd = s_listen(&addr, why, why_len);
    if (fd < 0) return NULL;
    tmq_metrics_t *self = tmq_xcalloc(1, sizeof *self);
    self->core = core;
    /* the core's start on the wall clock, as Prometheus' process_start_time_seconds has it */
    self->start_s = tmq_clock_wall_s() - (double)(tmq_clock_ms() - core->stats.started_ms) / 1e3;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG; /* no thread: the loop polls it */
    if (addr.sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* the logger goes first, or libmicrohttpd prints what the options say to stderr */
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_request, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)S_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)S_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)S_IDLE_TIMEOUT_S, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        self->daemon ? MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!info) {
        /* fd is not closed here: libmicrohttpd may have closed it already, and the number
         * could by now be another thread's; the broker exits on this error anyway */
        snprintf(why, why_len, "cannot start the HTTP server (libmicrohttpd)");
        tmq_metrics_destroy(&self);
        return NULL;
    }
    self->source =
        (tmq_loop_source_t){.fd = info->epoll_fd, .due = s_due, .run = s_run, .ctx = self};
    s_update_due(self);
    snprintf(self->url, sizeof self->url, "http://%s/metrics", addr.text);
    tmq_info("metrics at %s", self->url);
    if (!tmq_metrics_addr_loopback(&addr))
        tmq_warn("the metrics at %s are open to any host that reaches the port: they name the "
                 "functions and show their load, and the port has no keys of its own; let "
                 "only your Prometheus reach it (a firewall)",
                 self->url);
    return self;
}

void tmq_metrics_destroy(tmq_metrics_t **self_p)
{
    tmq_metrics_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    if (self->daemon) MHD_stop_daemon(self->daemon); /* closes the listening socket too */
    free(self);
    *self_p = NULL;
}

const tmq_loop_source_t *tmq_metrics_source(tmq_metrics_t *self)
{
    return &self->source;
}

const char *tmq_metrics_url(const tmq_metrics_t *self)
{
    return self->url;
}
