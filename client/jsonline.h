/* client/jsonline.h — the `taskmq` tool's JSON lines: input lines to msgpack job arguments,
 * and msgpack results to output lines. A thin layer over common/jsonmp: msgpack-c reads
 * and writes the msgpack, jansson parses and writes the JSON (and judges UTF-8); nothing
 * here walks either.
 *
 * Input, by mode: AUTO (the default) a line that parses as JSON is that value, anything else
 * a string of the bytes as given; JSON every line must be JSON; RAW every line is a string,
 * sent as msgpack bin when it is not valid UTF-8. Empty lines are skipped unless kept (then
 * they are "", and an error under JSON). In AUTO and JSON a line that is one plain integer
 * (-?(0|[1-9][0-9]*)) in INT64_MIN..UINT64_MAX is a msgpack integer, though jansson, whose
 * integers are signed 64-bit, would call 2^63..UINT64_MAX too big; beyond that range, and
 * inside arrays and objects, jansson decides (a big integer is then a string in AUTO and an
 * error in JSON; 1e400 is what jansson makes of it).
 *
 * One compact line per finished job, keys in a fixed order ("arg", the job's input, with
 * --tag only):
 *   {"index":2,"ok":true,"result":499999500000,"worker":"hostA:4121","ms":3.41}
 *   {"index":0,"arg":"x","ok":false,"error":"sum: argument must be a non-negative integer"}
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
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    TMQ_INPUT_AUTO = 0, /* JSON when it parses, else a string */
    TMQ_INPUT_JSON,     /* must be JSON */
    TMQ_INPUT_RAW,      /* always a string (bin when not valid UTF-8) */
} tmq_input_mode_t;

/* Packs the job argument for a command-line word or input line into sb (cleared first),
 * by mode (see above). Returns 0, or -1 under TMQ_INPUT_JSON when text is not JSON, with
 * jansson's words in err. */
int tmq_jsonline_arg(msgpack_sbuffer *sb, tmq_input_mode_t mode, const char *text, size_t len,
                     char *err, size_t errlen);

typedef enum {
    TMQ_LINE_JOB = 0, /* sb holds the job's argument */
    TMQ_LINE_SKIP,    /* an empty line, skipped */
    TMQ_LINE_BAD,     /* not JSON under TMQ_INPUT_JSON: err says why */
} tmq_line_t;

/* One stdin line (without its '\n'; a trailing '\r' is dropped): what it is, its argument
 * packed into sb. */
tmq_line_t tmq_jsonline_input(msgpack_sbuffer *sb, tmq_input_mode_t mode, bool keep_empty,
                              const char *text, size_t len, char *err, size_t errlen);

/* Appends the compact JSON text (no '\n') of the one msgpack object in data. Returns 0,
 * or -1 (nothing appended) when data is not exactly one well-formed object. */
int tmq_jsonline_value(tmq_buf_t *b, const void *data, size_t len);
/* Appends the output line (with its '\n') for the job at input position index; with arg
 * (the msgpack of its input, non-NULL) the line carries it as "arg" after "index". */
void tmq_jsonline_result(tmq_buf_t *b, uint64_t index, const tmq_result_t *r, const void *arg,
                         size_t arg_len);

#endif
