/* client/jsonline.c — see jsonline.h. Each output line is one jansson value built by
 * common/jsonmp (msgpack-c unpacks the result) and written by one json_dumpb straight into
 * the caller's buffer; this file only chooses the keys and the dump flags. */
#include "jsonline.h"
#include "jsonmp.h"
#include "xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reals get 15 significant digits: the most that prints every decimal of up to 15 digits
 * as written (0.07, 3.41, 0.1), where 16 gives 0.07000000000000001 for about one
 * two-decimal ms value in eleven and 17 (jansson's default) for most of them. */
#define S_REAL_PRECISION 15
#define S_DUMP_FLAGS                                                                               \
    (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(S_REAL_PRECISION))
#define S_ROOM 256 /* room offered to the first json_dumpb: a typical line fits */

/* Appends the text of j (which it consumes) to b. Returns 0, or -1 (nothing appended) when
 * j is NULL or jansson cannot write it. */
static int s_dump(tmq_buf_t *b, json_t *j)
{
    if (!j) return -1;
    tmq_buf_reserve(b, S_ROOM);
    size_t room = b->cap - b->len - 1;
    size_t n = json_dumpb(j, b->data + b->len, room, S_DUMP_FLAGS);
    if (n > room) { /* a big value: jansson said how much it needs */
        tmq_buf_reserve(b, n);
        room = n;
        n = json_dumpb(j, b->data + b->len, room, S_DUMP_FLAGS);
    }
    json_decref(j);
    if (n == 0 || n > room) return -1;
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int tmq_jsonline_value(tmq_buf_t *b, const void *data, size_t len)
{
    return s_dump(b, tmq_json_from_msgpack(data, len));
}

/* Milliseconds rounded to 2 decimals; null if the clock gave something unprintable. */
static json_t *s_ms(double ms)
{
    double rounded = round(ms * 100.0) / 100.0;
    return isfinite(rounded) ? json_real(rounded) : json_null();
}

void tmq_jsonline_result(tmq_buf_t *b, uint64_t index, const tmq_result_t *r, const void *arg,
                         size_t arg_len)
{
    size_t len;
    const void *data = tmq_result_data(r, &len);
    json_t *line = json_object();
    if (!line) tmq_oom();
    json_object_set_new_nocheck(line, "index", json_integer((json_int_t)index));
    if (arg) {
        json_t *value = tmq_json_from_msgpack(arg, arg_len);
        json_object_set_new_nocheck(line, "arg", value ? value : json_null());
    }
    json_object_set_new_nocheck(line, "ok", json_boolean(tmq_result_ok(r)));
    if (tmq_result_ok(r)) {
        json_t *result = tmq_json_from_msgpack(data, len);
        json_object_set_new_nocheck(line, "result", result ? result : json_null());
        const char *w = tmq_result_worker(r);
        json_object_set_new_nocheck(line, "worker", tmq_json_string_repair(w, strlen(w)));
        json_object_set_new_nocheck(line, "ms", s_ms(tmq_result_ms(r)));
    } else {
        json_object_set_new_nocheck(line, "error", tmq_json_string_repair(data, len));
    }
    /* Every string is valid UTF-8 and every real finite by now: only out-of-memory fails,
     * which tmq_buf treats the same way. */
    if (s_dump(b, line) != 0) tmq_oom();
    tmq_buf_addc(b, '\n');
}

/* ---- input lines ---- */

/* A whole line that is a plain JSON integer, -?(0|[1-9][0-9]*), in INT64_MIN..UINT64_MAX:
 * packed as a msgpack integer here (true), without a JSON parse or an allocation. jansson's
 * integers are signed 64-bit, so it would call 9223372036854775808..UINT64_MAX "too big" (a
 * string by default, an error under --json); anything else, inside that range or not, is
 * left to jansson (false). Packed exactly as tmq_json_pack packs a JSON integer. */
static bool s_pack_plain_int(msgpack_sbuffer *sb, const char *t, size_t n)
{
    bool neg = n > 0 && t[0] == '-';
    size_t i = neg ? 1 : 0, digits = n - i;
    if (digits == 0 || digits > 20 || (t[i] == '0' && digits > 1)) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') return false;
        unsigned d = (unsigned)(t[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false; /* above UINT64_MAX */
        v = v * 10 + d;
    }
    if (neg && v > (uint64_t)INT64_MAX + 1) return false; /* below INT64_MIN */
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (neg)
        msgpack_pack_int64(&pk, v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v);
    else
        msgpack_pack_uint64(&pk, v);
    return true;
}

/* The text as a msgpack string, or bin when it is not valid UTF-8 (jansson judges). */
static void s_pack_text(msgpack_sbuffer *sb, const char *text, size_t len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    json_t *valid = json_stringn(text, len);
    if (valid) {
        msgpack_pack_str_with_body(&pk, text, len);
        json_decref(valid);
    } else {
        msgpack_pack_bin_with_body(&pk, text, len);
    }
}

int tmq_jsonline_arg(msgpack_sbuffer *sb, tmq_input_mode_t mode, const char *text, size_t len,
                     char *err, size_t errlen)
{
    msgpack_sbuffer_clear(sb);
    if (mode == TMQ_INPUT_RAW) {
        s_pack_text(sb, text, len);
        return 0;
    }
    if (s_pack_plain_int(sb, text, len)) return 0; /* the common case: a number per line */
    if (mode == TMQ_INPUT_JSON) {
        json_error_t jerr;
        json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!j) {
            snprintf(err, errlen, "%s", len == 0 ? "empty line" : jerr.text);
            return -1;
        }
        msgpack_packer pk;
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        tmq_json_pack(&pk, j);
        json_decref(j);
        return 0;
    }
    size_t n;
    void *packed = tmq_json_arg_to_msgpack(text, len, &n);
    msgpack_sbuffer_write(sb, packed, n);
    free(packed);
    return 0;
}

tmq_line_t tmq_jsonline_input(msgpack_sbuffer *sb, tmq_input_mode_t mode, bool keep_empty,
                              const char *text, size_t len, char *err, size_t errlen)
{
    if (len > 0 && text[len - 1] == '\r') len--; /* CRLF input */
    if (len == 0 && !keep_empty) return TMQ_LINE_SKIP;
    return tmq_jsonline_arg(sb, mode, text, len, err, errlen) == 0 ? TMQ_LINE_JOB : TMQ_LINE_BAD;
}
