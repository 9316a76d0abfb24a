/* common/xalloc.h — the one out-of-memory policy of taskmq: allocate or abort.
 *
 * Effort goes into bounded queues, not into recovering from a failed malloc: every
 * allocation that must not fail goes through these, which print one line and abort. A
 * zero size is allocated as one byte, so the result is never NULL.
 */
#ifndef TMQ_XALLOC_H
#define TMQ_XALLOC_H

#include <stddef.h>

void *tmq_xmalloc(size_t n);
void *tmq_xcalloc(size_t count, size_t size);
void *tmq_xrealloc(void *p, size_t n);
char *tmq_xstrdup(const char *s);
/* A malloc'd copy of n bytes. */
void *tmq_xmemdup(const void *p, size_t n);
/* Aborts with "out of memory". */
_Noreturn void tmq_oom(void);

#endif
