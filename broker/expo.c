/* broker/expo.c — see expo.h. Written per scrape, never per job, so it formats freely. */
#include "expo.h"

#include <xalloc.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tmq_expo_init(tmq_expo_t *e)
{
    e->cap = 4096;
    e->data = tmq_xmalloc(e->cap);
    e->data[0] = '\0';
    e->len = 0;
}

void tmq_expo_fini(tmq_expo_t *e)
{
    free(e->data);
    e->data = NULL;
    e->len = e->cap = 0;
}

char *tmq_expo_take(tmq_expo_t *e, size_t *len)
{
    char *text = e->data;
    *len = e->len;
    tmq_expo_init(e);
    return text;
}

static void s_reserve(tmq_expo_t *e, size_t more)
{
    if (e->len + more < e->cap) return;
    while (e->len + more >= e->cap)
        e->cap *= 2;
    e->data = tmq_xrealloc(e->data, e->cap);
}

static void s_put(tmq_expo_t *e, const char *s, size_t n)
{
    s_reserve(e, n);
    memcpy(e->data + e->len, s, n);
    e->len += n;
    e->data[e->len] = '\0';
}

static void s_puts(tmq_expo_t *e, const char *s)
{
    s_put(e, s, strlen(s));
}

void tmq_expo_family(tmq_expo_t *e, const char *name, const char *type, const char *help)
{
    s_puts(e, "# HELP ");
    s_puts(e, name);
    s_puts(e, " ");
    for (const char *p = help; *p; p++) { /* HELP text escapes backslash and newline only */
        if (*p == '\\')
            s_puts(e, "\\\\");
        else if (*p == '\n')
            s_puts(e, "\\n");
        else
            s_put(e, p, 1);
    }
    s_puts(e, "\n# TYPE ");
    s_puts(e, name);
    s_puts(e, " ");
    s_puts(e, type);
    s_puts(e, "\n");
}

/* "name{labels} " or "name{labels,extra} " (either may be NULL), then value and newline. */
static void s_sample(tmq_expo_t *e, const char *name, const char *suffix, const char *labels,
                     const char *extra, const char *value)
{
    s_puts(e, name);
    if (suffix) s_puts(e, suffix);
    if (labels || extra) {
        s_puts(e, "{");
        if (labels) s_puts(e, labels);
        if (labels && extra) s_puts(e, ",");
        if (extra) s_puts(e, extra);
        s_puts(e, "}");
    }
    s_puts(e, " ");
    s_puts(e, value);
    s_puts(e, "\n");
}

void tmq_expo_uint(tmq_expo_t *e, const char *name, const char *labels, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    s_sample(e, name, NULL, labels, NULL, num);
}

void tmq_expo_number(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    } else {
        /* 15 digits read back for most values ("0.0005", not 0.00050000000000000001) */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, size, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
    }
}

void tmq_expo_double(tmq_expo_t *e, const char *name, const char *labels, double v)
{
    char num[32];
    tmq_expo_number(num, sizeof num, v);
    s_sample(e, name, NULL, labels, NULL, num);
}

void tmq_expo_histogram(tmq_expo_t *e, const char *name, const char *labels, const double *bounds,
                        size_t n, const uint64_t *counts, double sum)
{
    char le[48], num[32];
    uint64_t total = 0;
    for (size_t i = 0; i <= n; i++) {
        total += counts[i];
        if (i < n) {
            tmq_expo_number(num, sizeof num, bounds[i]);
            snprintf(le, sizeof le, "le=\"%s\"", num);
        } else {
            snprintf(le, sizeof le, "le=\"+Inf\"");
        }
        snprintf(num, sizeof num, "%" PRIu64, total);
        s_sample(e, name, "_bucket", labels, le, num);
    }
    tmq_expo_number(num, sizeof num, sum);
    s_sample(e, name, "_sum", labels, NULL, num);
    snprintf(num, sizeof num, "%" PRIu64, total);
    s_sample(e, name, "_count", labels, NULL, num);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when s does not start one
 * (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t s_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0; /* overlong below */
        if (b == 0xED) hi = 0x9F; /* surrogates above */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F; /* past U+10FFFF above */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

size_t tmq_expo_escape(char *out, const char *s, size_t len)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char b = p[i];
        if (b == '\\' || b == '"' || b == '\n') {
            out[o++] = '\\';
            out[o++] = b == '\n' ? 'n' : (char)b;
            i++;
        } else if (b < 0x20 || b == 0x7F) {
            memcpy(out + o, fffd, 3);
            o += 3;
            i++;
        } else if (b < 0x80) {
            out[o++] = (char)b;
            i++;
        } else {
            size_t n = s_utf8_len(p + i, len - i);
            bool c1 = n == 2 && b == 0xC2 && p[i + 1] <= 0x9F; /* U+0080..U+009F */
            if (n == 0 || c1) { /* one U+FFFD per bad byte; a C1 control is one character */
                memcpy(out + o, fffd, 3);
                o += 3;
                i += n ? n : 1;
            } else {
                memcpy(out + o, p + i, n);
                o += n;
                i += n;
            }
        }
    }
    out[o] = '\0';
    return o;
}
