/* broker/expo.h — a writer of the Prometheus text exposition format (version 0.0.4).
 *
 * Knows the format, nothing of the broker: a family is its "# HELP" and "# TYPE" lines followed
 * by its samples, one "name{labels} value" line each; histograms are written whole (cumulative
 * _bucket lines up to le="+Inf", then _sum and _count). Label values are made safe here, since
 * they come from peers as arbitrary bytes: backslash, double quote and newline are escaped as
 * the format says, and any byte that is not part of valid UTF-8, or is a control character,
 * becomes U+FFFD. Numbers are written in the shortest form that reads back exactly.
 */
#ifndef TMQ_BROKER_EXPO_H
#define TMQ_BROKER_EXPO_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* NUL-terminated text so far */
    size_t len, cap;
} tmq_expo_t;

/* Bytes tmq_expo_escape may write for len bytes of input, NUL included. */
#define TMQ_EXPO_ESCAPED_MAX(len) (3 * (len) + 1)

void tmq_expo_init(tmq_expo_t *e);
/* Frees the text (safe twice). */
void tmq_expo_fini(tmq_expo_t *e);
/* The text written (malloc'd, NUL-terminated; the caller frees it), *len its length; e is
 * left empty and usable. */
char *tmq_expo_take(tmq_expo_t *e, size_t *len);

/* The "# HELP" and "# TYPE" lines of a family; type is "counter", "gauge" or "histogram".
 * help is escaped as the format asks (backslash, newline). */
void tmq_expo_family(tmq_expo_t *e, const char *name, const char *type, const char *help);

/* One sample line. labels is the text between the braces (`function="echo"`, its values
 * already escaped) or NULL for none. */
void tmq_expo_uint(tmq_expo_t *e, const char *name, const char *labels, uint64_t v);
void tmq_expo_double(tmq_expo_t *e, const char *name, const char *labels, double v);

/* A histogram's samples: for each of the n upper bounds (ascending) a NAME_bucket line with
 * le="BOUND" counting the observations at most that bound, then le="+Inf", NAME_sum and
 * NAME_count. counts has n + 1 entries, per bucket and not cumulative (the last: above the
 * last bound). labels as for tmq_expo_uint. */
void tmq_expo_histogram(tmq_expo_t *e, const char *name, const char *labels, const double *bounds,
                        size_t n, const uint64_t *counts, double sum);

/* Writes len bytes of s as the text of a label value: valid UTF-8 kept, `\` `"` and newline
 * escaped, every other control character (C0, DEL, C1) and every byte not in a valid UTF-8
 * sequence (bad lead, missing continuation, overlong, surrogate, past U+10FFFF) as U+FFFD.
 * out must hold TMQ_EXPO_ESCAPED_MAX(len) bytes; it is NUL-terminated. Returns the length. */
size_t tmq_expo_escape(char *out, const char *s, size_t len);

/* Writes v the way the format reads numbers ("NaN", "+Inf", "-Inf", else the shortest %g form
 * that parses back to v) into buf (32 bytes are enough). */
void tmq_expo_number(char *buf, size_t size, double v);

#endif
