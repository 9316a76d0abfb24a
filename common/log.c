/* common/log.c — see log.h. Writes whole lines with one fprintf so lines from the
 * processes sharing a terminal do not interleave mid-line. */
#include "log.h"
#include "platform.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int tmq_log_level = TMQ_LOG_INFO;
static char s_role[32] = "taskmq";

void tmq_log_init(const char *role, int level)
{
    snprintf(s_role, sizeof s_role, "%s", role);
    tmq_log_level = level;
}

static void s_emit(int level, const char *msg)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03d %s[%d] %s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int)(tv.tv_usec / 1000), s_role, (int)getpid(),
            names[level < 0   ? 0
                  : level > 3 ? 3
                              : level],
            msg);
}

void tmq_log_write(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_emit(level, msg);
}

void tmq_log_limited(int level, tmq_rate_t *r, uint32_t burst, const char *fmt, ...)
{
    uint32_t suppressed = 0;
    if (level > tmq_log_level || !tmq_rate_ok(r, burst, &suppressed)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (suppressed && n >= 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, " (%u similar lines suppressed)", suppressed);
    s_emit(level, msg);
}

void tmq_printable(char *buf, size_t size, const char *s, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
    buf[n] = '\0';
}

bool tmq_rate_ok(tmq_rate_t *r, uint32_t burst, uint32_t *suppressed)
{
    int64_t now = tmq_clock_ms();
    if (now - r->window_ms >= 1000) {
        r->window_ms = now;
        r->in_window = 0;
    }
    if (r->in_window >= burst) {
        r->suppressed++;
        return false;
    }
    r->in_window++;
    *suppressed = r->suppressed;
    r->suppressed = 0;
    return true;
}
