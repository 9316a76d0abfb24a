/* client/jsonline.h — the `taskmq` tool's JSON lines: input lines to msgpack job arguments,
 * and msgpack results to output lines. A thin layer over common/jsonmp: msgpack-c reads
 * and writes the msgpack, jansson parses and writes the JSON; nothing here walks either.
 *
 * One compact line per finished job, keys in a fixed order:
 *   {"index":2,"ok":true,"result":499999500000,"worker":"hostA:4121","ms":3.41}
 *   {"index":0,"ok":false,"error":"sum: argument must be a non-negative integer"}
 * Values follow common/jsonmp's mapping (BIN as a string, EXT as null, non-string map keys
 * as their JSON text, integers above INT64_MAX as reals, invalid UTF-8 repaired to U+FFFD,
 * NaN and infinities as null). Reals print with 15 significant digits, so ms (rounded to
 * 2 decimals) and short decimals read as written: 3.41, 12.5, 0.0, 0.1.
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

/* Appends the compact JSON text (no '\n') of the one msgpack object in data. Returns 0,
 * or -1 (nothing appended) when data is not exactly one well-formed object. */
int tmq_jsonline_value(tmq_buf_t *b, const void *data, size_t len);
/* Appends the output line (with its '\n') for the job at input position index. */
void tmq_jsonline_result(tmq_buf_t *b, uint64_t index, const tmq_result_t *r);

#endif
