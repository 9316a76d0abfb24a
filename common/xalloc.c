/* common/xalloc.c — see xalloc.h. */
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void tmq_oom(void)
{
    static const char msg[] = "taskmq: out of memory\n";
    ssize_t rc = write(STDERR_FILENO, msg, sizeof msg - 1); /* no stdio: it may allocate */
    (void)rc;
    abort();
}

void *tmq_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) tmq_oom();
    return p;
}

void *tmq_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) tmq_oom();
    return p;
}

void *tmq_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) tmq_oom();
    return q;
}

char *tmq_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) tmq_oom();
    return p;
}

void *tmq_xmemdup(const void *p, size_t n)
{
    void *q = tmq_xmalloc(n);
    if (n) memcpy(q, p, n);
    return q;
}
