/* common/log.h — one logger for every taskmq process.
 *
 * Lines go to stderr as "HH:MM:SS.mmm role[pid] LEVEL message". The level is checked before
 * anything is formatted, so a disabled debug line costs one comparison. Nothing is logged per
 * job above debug level; malformed input is logged through a rate limiter (tmq_rate_t).
 */
#ifndef TMQ_LOG_H
#define TMQ_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { TMQ_LOG_ERROR = 0, TMQ_LOG_WARN, TMQ_LOG_INFO, TMQ_LOG_DEBUG } tmq_log_level_t;

extern int tmq_log_level;

/* Sets the role name shown in every line ("broker", "worker", ...) and the level. */
void tmq_log_init(const char *role, int level);
void tmq_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tmq_log(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) <= tmq_log_level) tmq_log_write((level), __VA_ARGS__);                         \
    } while (0)
#define tmq_error(...) tmq_log(TMQ_LOG_ERROR, __VA_ARGS__)
#define tmq_warn(...) tmq_log(TMQ_LOG_WARN, __VA_ARGS__)
#define tmq_info(...) tmq_log(TMQ_LOG_INFO, __VA_ARGS__)
#define tmq_debug(...) tmq_log(TMQ_LOG_DEBUG, __VA_ARGS__)

/* A rate limiter for log lines about bad input: at most `burst` lines per second; the
 * count of suppressed lines is reported with the next line that passes. */
typedef struct {
    int64_t window_ms;
    uint32_t in_window;
    uint32_t suppressed;
} tmq_rate_t;

/* True when a line may be written now; *suppressed gets how many were dropped before it. */
bool tmq_rate_ok(tmq_rate_t *r, uint32_t burst, uint32_t *suppressed);

/* Copies at most len bytes of a peer's text s into buf (size > 0), NUL-terminated, each
 * unprintable byte replaced by '?': safe to put in a log line. */
void tmq_printable(char *buf, size_t size, const char *s, size_t len);

/* Logs at `level` through the limiter r (at most `burst` lines a second); the line that
 * passes after some were dropped says "(N similar lines suppressed)". The one way to log
 * about input a peer controls. */
void tmq_log_limited(int level, tmq_rate_t *r, uint32_t burst, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
