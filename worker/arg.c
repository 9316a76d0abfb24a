/* worker/arg.c — the SDK's tmq_arg_* readers (taskmq/plugin.h): one msgpack value in, a C
 * value out, without msgpack-c and without allocating.
 *
 * s_head decodes the header of the value at the start of the bytes (its kind, its payload
 * or count, and where its body starts), checking each length against the bytes present; a
 * scalar reader then insists that the value is the whole argument. Compound readers walk
 * items with tmq_proto_skip, which checks every count and length, so any bytes are safe to
 * hand in, not only a job's checked argument.
 */
#include "proto.h"

#include <string.h>
#include <taskmq/plugin.h>

typedef enum {
    S_BAD,
    S_NIL,
    S_BOOL,
    S_UINT,
    S_INT,
    S_FLOAT,
    S_STR,
    S_BIN,
    S_ARRAY,
    S_MAP,
    S_EXT
} s_kind_t;

typedef struct {
    s_kind_t kind;
    uint64_t u;  /* S_UINT value, S_BOOL 0/1, S_STR/S_BIN bytes, S_ARRAY items, S_MAP pairs */
    int64_t i;   /* S_INT value (negative) */
    double d;    /* S_FLOAT value */
    size_t body; /* offset of what follows the header (a string's bytes, a container's items) */
    size_t end;  /* offset just past a scalar, string or bytes; 0 for containers */
} s_head_t;

static uint64_t s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads n big-endian bytes at p[1..n] when present. */
static int s_fixed(const uint8_t *p, size_t len, int n, uint64_t *v)
{
    if (len < (size_t)n + 1) return -1;
    *v = s_be(p + 1, n);
    return 0;
}

/* A string's or bytes' header with an n-byte length. */
static s_kind_t s_sized(const uint8_t *p, size_t len, int n, s_kind_t kind, s_head_t *h)
{
    uint64_t size;
    if (s_fixed(p, len, n, &size) != 0 || size > len - 1 - (size_t)n) return S_BAD;
    h->u = size;
    h->body = 1 + (size_t)n;
    h->end = h->body + (size_t)size;
    return kind;
}

static s_kind_t s_count(const uint8_t *p, size_t len, int n, s_kind_t kind, s_head_t *h)
{
    uint64_t count;
    if (s_fixed(p, len, n, &count) != 0) return S_BAD;
    h->u = count;
    h->body = 1 + (size_t)n;
    return kind;
}

static s_kind_t s_decode(const uint8_t *p, size_t len, s_head_t *h)
{
    memset(h, 0, sizeof *h);
    if (!p || len == 0) return S_BAD;
    uint8_t b = p[0];
    uint64_t v;
    h->end = 1;
    if (b <= 0x7f) {
        h->u = b;
        return S_UINT;
    }
    if (b >= 0xe0) {
        h->i = (int8_t)b;
        return S_INT;
    }
    if ((b & 0xe0) == 0xa0) {
        h->u = b & 0x1f;
        h->body = 1;
        h->end = 1 + h->u;
        return h->u <= len - 1 ? S_STR : S_BAD;
    }
    if ((b & 0xf0) == 0x90 || (b & 0xf0) == 0x80) {
        h->u = b & 0x0f;
        h->body = 1;
        h->end = 0;
        return (b & 0xf0) == 0x90 ? S_ARRAY : S_MAP;
    }
    switch (b) {
    case 0xc0:
        return S_NIL;
    case 0xc2:
    case 0xc3:
        h->u = b == 0xc3;
        return S_BOOL;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        int n = 1 << (b - 0xcc);
        if (s_fixed(p, len, n, &h->u) != 0) return S_BAD;
        h->end = 1 + (size_t)n;
        return S_UINT;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        int n = 1 << (b - 0xd0);
        if (s_fixed(p, len, n, &v) != 0) return S_BAD;
        h->end = 1 + (size_t)n;
        if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~0ULL << (8 * n); /* sign-extend */
        if ((int64_t)v >= 0) {
            h->u = v; /* a signed encoding of a non-negative number: an integer all the same */
            return S_UINT;
        }
        h->i = (int64_t)v;
        return S_INT;
    }
    case 0xca: {
        if (s_fixed(p, len, 4, &v) != 0) return S_BAD;
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof f);
        h->d = f;
        h->end = 5;
        return S_FLOAT;
    }
    case 0xcb:
        if (s_fixed(p, len, 8, &v) != 0) return S_BAD;
        memcpy(&h->d, &v, sizeof h->d);
        h->end = 9;
        return S_FLOAT;
    case 0xd9:
        return s_sized(p, len, 1, S_STR, h);
    case 0xda:
        return s_sized(p, len, 2, S_STR, h);
    case 0xdb:
        return s_sized(p, len, 4, S_STR, h);
    case 0xc4:
        return s_sized(p, len, 1, S_BIN, h);
    case 0xc5:
        return s_sized(p, len, 2, S_BIN, h);
    case 0xc6:
        return s_sized(p, len, 4, S_BIN, h);
    case 0xdc:
        return s_count(p, len, 2, S_ARRAY, h);
    case 0xdd:
        return s_count(p, len, 4, S_ARRAY, h);
    case 0xde:
        return s_count(p, len, 2, S_MAP, h);
    case 0xdf:
        return s_count(p, len, 4, S_MAP, h);
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return S_EXT;
    default:
        return S_BAD; /* 0xc1 */
    }
}

/* The header of arg, which must be exactly one scalar, string or bytes value. */
static s_kind_t s_whole(const void *arg, size_t len, s_head_t *h)
{
    s_kind_t k = s_decode(arg, len, h);
    h->kind = k;
    if (k == S_BAD || k == S_ARRAY || k == S_MAP || k == S_EXT || h->end != len) return S_BAD;
    return k;
}

int tmq_arg_int(const void *arg, size_t len, int64_t *out)
{
    s_head_t h;
    s_kind_t k = s_whole(arg, len, &h);
    if (k == S_UINT && h.u <= INT64_MAX) {
        *out = (int64_t)h.u;
        return 0;
    }
    if (k == S_INT) {
        *out = h.i;
        return 0;
    }
    return -1;
}

int tmq_arg_uint(const void *arg, size_t len, uint64_t *out)
{
    s_head_t h;
    if (s_whole(arg, len, &h) != S_UINT) return -1;
    *out = h.u;
    return 0;
}

int tmq_arg_double(const void *arg, size_t len, double *out)
{
    s_head_t h;
    switch (s_whole(arg, len, &h)) {
    case S_FLOAT:
        *out = h.d;
        return 0;
    case S_UINT:
        *out = (double)h.u;
        return 0;
    case S_INT:
        *out = (double)h.i;
        return 0;
    default:
        return -1;
    }
}

int tmq_arg_bool(const void *arg, size_t len, bool *out)
{
    s_head_t h;
    if (s_whole(arg, len, &h) != S_BOOL) return -1;
    *out = h.u != 0;
    return 0;
}

int tmq_arg_str(const void *arg, size_t len, const char **s, size_t *n)
{
    s_head_t h;
    if (s_whole(arg, len, &h) != S_STR) return -1;
    *s = (const char *)arg + h.body;
    *n = (size_t)h.u;
    return 0;
}

int tmq_arg_bytes(const void *arg, size_t len, const void **p, size_t *n)
{
    s_head_t h;
    s_kind_t k = s_whole(arg, len, &h);
    if (k != S_STR && k != S_BIN) return -1;
    *p = (const uint8_t *)arg + h.body;
    *n = (size_t)h.u;
    return 0;
}

int tmq_arg_count(const void *arg, size_t len, uint32_t *n)
{
    s_head_t h;
    s_kind_t k = s_decode(arg, len, &h);
    if (k != S_ARRAY && k != S_MAP) return -1;
    *n = (uint32_t)h.u;
    return 0;
}

/* Skips one item at *pos (any depth left for it). */
static int s_skip(const void *arg, size_t len, size_t *pos)
{
    return tmq_proto_skip(arg, len, pos, TMQ_PROTO_MAX_DEPTH);
}

int tmq_arg_item(const void *arg, size_t len, uint32_t i, const void **item, size_t *item_len)
{
    s_head_t h;
    if (s_decode(arg, len, &h) != S_ARRAY || i >= h.u) return -1;
    size_t pos = h.body;
    for (uint32_t k = 0; k < i; k++)
        if (s_skip(arg, len, &pos) != 0) return -1;
    size_t start = pos;
    if (s_skip(arg, len, &pos) != 0) return -1;
    *item = (const uint8_t *)arg + start;
    *item_len = pos - start;
    return 0;
}

int tmq_arg_field(const void *arg, size_t len, const char *key, const void **value,
                  size_t *value_len)
{
    s_head_t h;
    if (!key || s_decode(arg, len, &h) != S_MAP) return -1;
    size_t klen = strlen(key), pos = h.body;
    for (uint64_t k = 0; k < h.u; k++) {
        const uint8_t *kp = (const uint8_t *)arg + pos;
        s_head_t kh;
        bool match = s_decode(kp, len - pos, &kh) == S_STR && kh.u == klen &&
                     memcmp(kp + kh.body, key, klen) == 0;
        if (s_skip(arg, len, &pos) != 0) return -1;
        size_t start = pos;
        if (s_skip(arg, len, &pos) != 0) return -1;
        if (match) {
            *value = (const uint8_t *)arg + start;
            *value_len = pos - start;
            return 0;
        }
    }
    return -1;
}

const char *tmq_arg_type(const void *arg, size_t len)
{
    if (!arg || tmq_proto_check(arg, len, TMQ_PROTO_MAX_DEPTH) != 0) return "malformed";
    s_head_t h;
    switch (s_decode(arg, len, &h)) {
    case S_NIL:
        return "null";
    case S_BOOL:
        return "boolean";
    case S_UINT:
    case S_INT:
        return "integer";
    case S_FLOAT:
        return "float";
    case S_STR:
        return "string";
    case S_BIN:
        return "bytes";
    case S_ARRAY:
        return "array";
    case S_MAP:
        return "map";
    case S_EXT:
        return "extension";
    default:
        return "malformed";
    }
}
