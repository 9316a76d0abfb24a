/* client/buf.c — see buf.h. */
#include "buf.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tmq_buf_init(tmq_buf_t *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    tmq_buf_reserve(b, 0);
}

void tmq_buf_free(tmq_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tmq_buf_reserve(tmq_buf_t *b, size_t n)
{
    if (b->data && b->len + n + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = tmq_xrealloc(b->data, cap);
    if (!b->data) p[0] = '\0';
    b->data = p;
    b->cap = cap;
}

void tmq_buf_add(tmq_buf_t *b, const void *p, size_t n)
{
    tmq_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tmq_buf_addc(tmq_buf_t *b, char ch)
{
    tmq_buf_reserve(b, 1);
    b->data[b->len++] = ch;
    b->data[b->len] = '\0';
}

void tmq_buf_adds(tmq_buf_t *b, const char *s)
{
    tmq_buf_add(b, s, strlen(s));
}

void tmq_buf_addf(tmq_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[128];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        tmq_buf_add(b, small, (size_t)n);
        return;
    }
    tmq_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tmq_buf_reset(tmq_buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}
