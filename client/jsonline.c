/* client/jsonline.c — see jsonline.h. The msgpack bytes are walked directly (no unpacked
 * object tree, no allocation) after tmq_proto_check has vouched for every length and the
 * nesting depth, so the walk itself needs no bounds checks beyond that promise. */
#include "jsonline.h"
#include "jsonmp.h"
#include "proto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t s_utf8_len(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (avail < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

void tmq_jsonline_string(tmq_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    tmq_buf_reserve(b, len + 2);
    tmq_buf_addc(b, '"');
    size_t run = 0; /* bytes p[i-run..i) to copy verbatim */
    for (size_t i = 0; i < len;) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            run++;
            i++;
            continue;
        }
        size_t n = c >= 0x80 ? s_utf8_len(p + i, len - i) : 0;
        if (n > 0) {
            run += n;
            i += n;
            continue;
        }
        tmq_buf_add(b, p + i - run, run);
        run = 0;
        char esc[8] = {'\\', 0};
        switch (c) {
        case '"':
            esc[1] = '"';
            tmq_buf_add(b, esc, 2);
            break;
        case '\\':
            esc[1] = '\\';
            tmq_buf_add(b, esc, 2);
            break;
        case '\n':
            tmq_buf_add(b, "\\n", 2);
            break;
        case '\r':
            tmq_buf_add(b, "\\r", 2);
            break;
        case '\t':
            tmq_buf_add(b, "\\t", 2);
            break;
        case '\b':
            tmq_buf_add(b, "\\b", 2);
            break;
        case '\f':
            tmq_buf_add(b, "\\f", 2);
            break;
        default:
            if (c < 0x20) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                tmq_buf_add(b, u, 6);
            } else {
                tmq_buf_add(b, "\\ufffd", 6); /* a byte that is not valid UTF-8 */
            }
        }
        i++;
    }
    tmq_buf_add(b, p + len - run, run);
    tmq_buf_addc(b, '"');
}

static void s_real(tmq_buf_t *b, double d, int min_prec, int max_prec, bool single)
{
    if (!isfinite(d)) {
        tmq_buf_add(b, "null", 4);
        return;
    }
    char text[40];
    for (int prec = min_prec; prec <= max_prec; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (single ? strtof(text, NULL) == (float)d : strtod(text, NULL) == d) break;
    }
    tmq_buf_adds(b, text);
    if (!strpbrk(text, ".en")) tmq_buf_add(b, ".0", 2); /* stays a real when read back */
}

void tmq_jsonline_double(tmq_buf_t *b, double d)
{
    s_real(b, d, 15, 17, false);
}

static const uint8_t *s_value(tmq_buf_t *b, const uint8_t *p);

/* Integers without printf: they are most of what the tool prints. */
static void s_u64(tmq_buf_t *b, uint64_t v)
{
    char text[24];
    char *end = text + sizeof text, *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmq_buf_add(b, p, (size_t)(end - p));
}

static void s_i64(tmq_buf_t *b, int64_t v)
{
    if (v < 0) {
        tmq_buf_addc(b, '-');
        s_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        s_u64(b, (uint64_t)v);
    }
}

/* A map key: strings as they are, anything else as its JSON text inside a string. */
static const uint8_t *s_key(tmq_buf_t *b, const uint8_t *p)
{
    uint8_t c = *p;
    if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb)) return s_value(b, p);
    tmq_buf_t text;
    tmq_buf_init(&text);
    p = s_value(&text, p);
    tmq_jsonline_string(b, text.data, text.len);
    tmq_buf_free(&text);
    return p;
}

static const uint8_t *s_container(tmq_buf_t *b, const uint8_t *p, uint32_t n, bool map)
{
    tmq_buf_addc(b, map ? '{' : '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) tmq_buf_addc(b, ',');
        if (map) {
            p = s_key(b, p);
            tmq_buf_addc(b, ':');
        }
        p = s_value(b, p);
    }
    tmq_buf_addc(b, map ? '}' : ']');
    return p;
}

static const uint8_t *s_bytes(tmq_buf_t *b, const uint8_t *p, int lenlen)
{
    size_t n = s_be(p, lenlen);
    tmq_jsonline_string(b, (const char *)p + lenlen, n);
    return p + lenlen + n;
}

/* Writes the object at p and returns the byte after it. p has passed tmq_proto_check. */
static const uint8_t *s_value(tmq_buf_t *b, const uint8_t *p)
{
    uint8_t c = *p++;
    if (c <= 0x7f) {
        s_u64(b, c);
        return p;
    }
    if (c >= 0xe0) {
        s_i64(b, (int8_t)c);
        return p;
    }
    if (c <= 0x8f) return s_container(b, p, c & 0x0f, true);
    if (c <= 0x9f) return s_container(b, p, c & 0x0f, false);
    if (c <= 0xbf) {
        tmq_jsonline_string(b, (const char *)p, c & 0x1f);
        return p + (c & 0x1f);
    }
    switch (c) {
    case 0xc0:
        tmq_buf_add(b, "null", 4);
        return p;
    case 0xc2:
        tmq_buf_add(b, "false", 5);
        return p;
    case 0xc3:
        tmq_buf_add(b, "true", 4);
        return p;
    case 0xc4:
    case 0xd9:
        return s_bytes(b, p, 1);
    case 0xc5:
    case 0xda:
        return s_bytes(b, p, 2);
    case 0xc6:
    case 0xdb:
        return s_bytes(b, p, 4);
    case 0xc7:
    case 0xc8:
    case 0xc9: { /* ext: length, type, data */
        int lenlen = 1 << (c - 0xc7);
        tmq_buf_add(b, "null", 4);
        return p + lenlen + 1 + s_be(p, lenlen);
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: /* fixext 1..16 */
        tmq_buf_add(b, "null", 4);
        return p + 1 + (1 << (c - 0xd4));
    case 0xca: {
        uint32_t u = (uint32_t)s_be(p, 4);
        float f;
        memcpy(&f, &u, 4);
        s_real(b, f, 6, 9, true);
        return p + 4;
    }
    case 0xcb: {
        uint64_t u = s_be(p, 8);
        double d;
        memcpy(&d, &u, 8);
        tmq_jsonline_double(b, d);
        return p + 8;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        int n = 1 << (c - 0xcc);
        s_u64(b, s_be(p, n));
        return p + n;
    }
    case 0xd0:
        s_i64(b, (int8_t)p[0]);
        return p + 1;
    case 0xd1:
        s_i64(b, (int16_t)s_be(p, 2));
        return p + 2;
    case 0xd2:
        s_i64(b, (int32_t)s_be(p, 4));
        return p + 4;
    case 0xd3:
        s_i64(b, (int64_t)s_be(p, 8));
        return p + 8;
    case 0xdc:
        return s_container(b, p + 2, (uint32_t)s_be(p, 2), false);
    case 0xdd:
        return s_container(b, p + 4, (uint32_t)s_be(p, 4), false);
    case 0xde:
        return s_container(b, p + 2, (uint32_t)s_be(p, 2), true);
    case 0xdf:
        return s_container(b, p + 4, (uint32_t)s_be(p, 4), true);
    default:
        tmq_buf_add(b, "null", 4);
        return p; /* 0xc1 never passes the check */
    }
}

int tmq_jsonline_value(tmq_buf_t *b, const void *data, size_t len)
{
    if (tmq_proto_check(data, len, TMQ_PROTO_MAX_DEPTH) != 0) return -1;
    s_value(b, data);
    return 0;
}

/* Milliseconds rounded to 2 decimals, printed as the shortest text of that value
 * (3.41, 12.5, 0.0), by integer arithmetic for the usual range. */
static void s_ms(tmq_buf_t *b, double ms)
{
    if (!(ms >= 0.0 && ms < 1e15)) {
        tmq_jsonline_double(b, round(ms * 100.0) / 100.0);
        return;
    }
    uint64_t centis = (uint64_t)llround(ms * 100.0);
    s_u64(b, centis / 100);
    unsigned frac = (unsigned)(centis % 100);
    char text[3] = {'.', (char)('0' + frac / 10), (char)('0' + frac % 10)};
    tmq_buf_add(b, text, frac % 10 ? 3 : 2);
}

void tmq_jsonline_result(tmq_buf_t *b, uint64_t index, const tmq_result_t *r)
{
    size_t len;
    const void *data = tmq_result_data(r, &len);
    tmq_buf_adds(b, "{\"index\":");
    s_u64(b, index);
    tmq_buf_adds(b, ",\"ok\":");
    if (!tmq_result_ok(r)) {
        tmq_buf_adds(b, "false,\"error\":");
        tmq_jsonline_string(b, data, len);
        tmq_buf_add(b, "}\n", 2);
        return;
    }
    tmq_buf_adds(b, "true,\"result\":");
    if (tmq_jsonline_value(b, data, len) != 0) tmq_buf_add(b, "null", 4);
    tmq_buf_adds(b, ",\"worker\":");
    const char *w = tmq_result_worker(r);
    tmq_jsonline_string(b, w, strlen(w));
    tmq_buf_adds(b, ",\"ms\":");
    s_ms(b, tmq_result_ms(r));
    tmq_buf_add(b, "}\n", 2);
}

/* ---- input lines ---- */

/* True when text is a JSON integer that fits int64 without help: -?(0|[1-9][0-9]{0,17}). */
static bool s_plain_int(const char *t, size_t n, int64_t *out)
{
    size_t i = (n > 0 && t[0] == '-') ? 1 : 0;
    size_t digits = n - i;
    if (digits == 0 || digits > 18 || (t[i] == '0' && digits > 1)) return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') return false;
        v = v * 10 + (t[i] - '0');
    }
    *out = t[0] == '-' ? -v : v;
    return true;
}

void tmq_jsonline_arg(msgpack_sbuffer *sb, const char *text, size_t len)
{
    msgpack_sbuffer_clear(sb);
    int64_t v;
    if (s_plain_int(text, len, &v)) {
        /* The common case (numbers, one per line) without a JSON parse or an allocation;
         * packed exactly as tmq_json_pack packs a JSON integer. */
        msgpack_packer pk;
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        msgpack_pack_int64(&pk, v);
        return;
    }
    size_t n;
    void *packed = tmq_json_arg_to_msgpack(text, len, &n);
    msgpack_sbuffer_write(sb, packed, n);
    free(packed);
}
