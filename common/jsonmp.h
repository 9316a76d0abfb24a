/* common/jsonmp.h — JSON (jansson) <-> msgpack, for the command line only.
 *
 * The library and the wire speak msgpack; the `taskmq` tool converts at its edges.
 * Mapping: null/bool/int/real/string/array/object both ways; msgpack BIN becomes a JSON
 * string, EXT becomes null, non-string map keys are rendered as JSON text, and unsigned
 * integers above INT64_MAX become reals (jansson's integers are signed 64-bit). Strings
 * (and map keys) that are not valid UTF-8 are repaired, each offending byte becoming
 * U+FFFD, so that every value can be written out; NaN and the infinities become null.
 */
#ifndef TMQ_JSONMP_H
#define TMQ_JSONMP_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

/* Packs a JSON value. Returns 0. */
int tmq_json_pack(msgpack_packer *pk, const json_t *j);

/* True when p[0..n) is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF), as jansson judges it — the one set of rules in taskmq. */
bool tmq_utf8_valid(const void *p, size_t n);

/* A new JSON string for len bytes of text (s may be NULL when len is 0), with each byte
 * that does not belong to a valid UTF-8 sequence replaced by U+FFFD. NULL only on
 * out-of-memory. */
json_t *tmq_json_string_repair(const char *s, size_t len);

/* A new JSON value for a msgpack object (never NULL except on out-of-memory). */
json_t *tmq_json_from_object(const msgpack_object *o);

/* A new JSON value for msgpack bytes, or NULL when they are not one valid object. */
json_t *tmq_json_from_msgpack(const void *data, size_t len);

/* The job argument for a command-line word or stdin line: its JSON value when the text
 * parses as JSON, else the text as a string. Returns malloc'd msgpack bytes (caller frees). */
void *tmq_json_arg_to_msgpack(const char *text, size_t len, size_t *out_len);

#endif
