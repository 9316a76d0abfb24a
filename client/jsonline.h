/* client/jsonline.h — the `taskmq` tool's JSON lines: input lines to msgpack job arguments,
 * and msgpack results to output lines, straight from the bytes.
 *
 * One compact line per finished job, keys in a fixed order:
 *   {"index":2,"ok":true,"result":499999500000,"worker":"hostA:4121","ms":3.41}
 *   {"index":0,"ok":false,"error":"sum: argument must be a non-negative integer"}
 * Values follow common/jsonmp's mapping (BIN as a string, EXT as null, non-string map keys
 * as their JSON text) with three differences that matter at the command line: floats print
 * in their shortest round-trip form (0.1, not 0.10000000000000001), integers stay exact over
 * the whole 64-bit range, and invalid UTF-8 becomes U+FFFD instead of failing the line.
 */
#ifndef TMQ_JSONLINE_H
#define TMQ_JSONLINE_H

#include "buf.h"
#include "taskmq/client.h"

#include <msgpack.h>
#include <stdint.h>

/* Packs the job argument for a command-line word or input line into sb (cleared first):
 * its JSON value when it parses as JSON, else the text as a string. */
void tmq_jsonline_arg(msgpack_sbuffer *sb, const char *text, size_t len);

/* Appends the JSON text of the one msgpack object in data. Returns 0, or -1 (nothing
 * appended) when data is not exactly one well-formed object. */
int tmq_jsonline_value(tmq_buf_t *b, const void *data, size_t len);
/* Appends a JSON string literal (quotes included) for len bytes of text. */
void tmq_jsonline_string(tmq_buf_t *b, const char *s, size_t len);
/* Appends the shortest text that reads back as d; null for NaN and infinities. */
void tmq_jsonline_double(tmq_buf_t *b, double d);
/* Appends the output line (with its '\n') for the job at input position index. */
void tmq_jsonline_result(tmq_buf_t *b, uint64_t index, const tmq_result_t *r);

#endif
