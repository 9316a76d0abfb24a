/* client/buf.h — a growable byte buffer for the `taskmq` tool's output lines.
 *
 * data is always NUL-terminated after len bytes (so a line can be printed or compared as
 * a string), capacity only grows, and out-of-memory aborts.
 */
#ifndef TMQ_BUF_H
#define TMQ_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} tmq_buf_t;

void tmq_buf_init(tmq_buf_t *b);
void tmq_buf_free(tmq_buf_t *b);
/* Makes room for n more bytes (plus the NUL). */
void tmq_buf_reserve(tmq_buf_t *b, size_t n);
void tmq_buf_add(tmq_buf_t *b, const void *p, size_t n);
void tmq_buf_addc(tmq_buf_t *b, char ch);
void tmq_buf_adds(tmq_buf_t *b, const char *s);
void tmq_buf_addf(tmq_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tmq_buf_reset(tmq_buf_t *b);

#endif
