/* broker/metrics.h — the broker's Prometheus endpoint: taskmq-broker --metrics ADDR:PORT.
 *
 * GET /metrics answers with the text exposition of the core's figures, rendered from the
 * core's own records at the moment of the request: the same records STATUS_REPLY is built
 * from, so `taskmq status` and a scrape never disagree, and nothing is kept or formatted per
 * job. libmicrohttpd runs without a thread of its own (external polling over epoll): its
 * descriptor is one more item in the broker loop's poll (tmq_metrics_source), so the request
 * handler runs in the loop's thread between two turns and reads the core with no locks. Other
 * paths get 404, methods other than GET and HEAD 405. docs/metrics.md lists every family.
 */
#ifndef TMQ_BROKER_METRICS_H
#define TMQ_BROKER_METRICS_H

#include "core.h"
#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TMQ_METRICS_TEXT_MAX 80 /* "[IPv6]:PORT" */

/* Where to serve: one resolved address and port (0: any free port). */
typedef struct {
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char text[TMQ_METRICS_TEXT_MAX]; /* "127.0.0.1:9100", "[::1]:9100" ("*" for a free port) */
} tmq_metrics_addr_t;

/* Parses ADDR:PORT: ADDR an IPv4 address, an IPv6 address in brackets, a host name (bound at
 * the first IPv4 address it resolves to, else the first IPv6 one) or '*' (0.0.0.0); PORT
 * 1..65535 or '*' for any free port. Returns 0, or -1 with a one-line reason in why. */
int tmq_metrics_parse(const char *arg, tmq_metrics_addr_t *addr, char *why, size_t why_len);
/* True when the address is loopback (127.0.0.0/8, ::1, ::ffff:127.x.x.x). */
bool tmq_metrics_addr_loopback(const tmq_metrics_addr_t *addr);
/* The broker's protected mode applied to its metrics: a loopback address is always allowed;
 * any other only when the broker is open already (insecure). CURVE keys (keys) do not open it:
 * the metrics port has none of its own, so it would be the one unkeyed port (keys only change
 * what why says). Returns 0, or -1 with why (what to do). */
int tmq_metrics_allowed(const tmq_metrics_addr_t *addr, bool insecure, bool keys, char *why,
                        size_t why_len);

typedef struct tmq_metrics_t tmq_metrics_t;

/* Binds addr and starts serving the figures of core (borrowed: it must outlive the result).
 * Logs "metrics at http://ADDR:PORT/metrics" (the port bound), and a warning when the address
 * is not loopback. NULL when it cannot bind, with a reason a person can act on in why ("port
 * 9100 is already in use"). */
tmq_metrics_t *tmq_metrics_new(const tmq_metrics_addr_t *addr, tmq_core_t *core, char *why,
                               size_t why_len);
/* Stops the HTTP daemon (open connections are closed). Safe on NULL and twice. */
void tmq_metrics_destroy(tmq_metrics_t **self_p);

/* What the broker loop watches (borrowed from self). */
const tmq_loop_source_t *tmq_metrics_source(tmq_metrics_t *self);
/* "http://127.0.0.1:9100/metrics" with the port bound (borrowed). */
const char *tmq_metrics_url(const tmq_metrics_t *self);

/* The exposition text of core's figures at now (the core's clock, ms); start_s is the
 * broker's start as a Unix time (process_start_time_seconds). malloc'd, caller frees, *len
 * set. Functions whose label values come out the same (names that differ only in bytes
 * replaced by U+FFFD) are summed into one series, so no series appears twice. */
char *tmq_metrics_render(tmq_core_t *core, int64_t now, double start_s, size_t *len);

#endif
