/* worker/arg.c — the SDK's tmq_arg_* readers (taskmq/plugin.h): one msgpack value in, a C
 * value (or a slice of the bytes) out.
 *
 * msgpack-c reads every value, after tmq_proto_check has checked every count and length, so
 * any bytes are safe to hand in, not only a job's checked argument. Strings and bytes point
 * into the argument (msgpack_unpack does not copy them); the zone holds a container's items
 * while a call looks at them. Slices (tmq_arg_item, tmq_arg_field) are walked with
 * tmq_proto_skip from the end of the container's header.
 */
#include "proto.h"
#include "xalloc.h"

#include <msgpack.h>
#include <string.h>
#include <taskmq/plugin.h>

#define S_ZONE_CHUNK 1024

/* arg as exactly one well-formed msgpack value, unpacked into *o (z: initialised here, the
 * caller destroys it). Returns 0 or -1. */
static int s_unpack(const void *arg, size_t len, msgpack_zone *z, msgpack_object *o)
{
    if (!msgpack_zone_init(z, S_ZONE_CHUNK)) tmq_oom();
    size_t off = 0;
    if (!arg || tmq_proto_check(arg, len, TMQ_PROTO_MAX_DEPTH) != 0) return -1;
    return msgpack_unpack(arg, len, &off, z, o) == MSGPACK_UNPACK_SUCCESS && off == len ? 0 : -1;
}

/* The value of arg, for a reader that keeps nothing of the zone (a scalar, or a string that
 * points into arg). Returns 0 or -1. */
static int s_value(const void *arg, size_t len, msgpack_object *o)
{
    msgpack_zone z;
    int rc = s_unpack(arg, len, &z, o);
    msgpack_zone_destroy(&z);
    if (rc == 0 && (o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP))
        o->via.array.ptr = NULL; /* its items were the zone's */
    return rc;
}

int tmq_arg_int(const void *arg, size_t len, int64_t *out)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0) return -1;
    if (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER && o.via.u64 <= INT64_MAX) {
        *out = (int64_t)o.via.u64;
        return 0;
    }
    if (o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o.via.i64;
        return 0;
    }
    return -1;
}

int tmq_arg_uint(const void *arg, size_t len, uint64_t *out)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0 || o.type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *out = o.via.u64;
    return 0;
}

int tmq_arg_double(const void *arg, size_t len, double *out)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0) return -1;
    switch (o.type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = o.via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o.via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o.via.i64;
        return 0;
    default:
        return -1;
    }
}

int tmq_arg_bool(const void *arg, size_t len, bool *out)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0 || o.type != MSGPACK_OBJECT_BOOLEAN) return -1;
    *out = o.via.boolean;
    return 0;
}

int tmq_arg_str(const void *arg, size_t len, const char **s, size_t *n)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0 || o.type != MSGPACK_OBJECT_STR) return -1;
    *s = o.via.str.size ? o.via.str.ptr : (const char *)arg + len; /* "": where it would be */
    *n = o.via.str.size;
    return 0;
}

int tmq_arg_bytes(const void *arg, size_t len, const void **p, size_t *n)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0) return -1;
    if (o.type == MSGPACK_OBJECT_STR) {
        *p = o.via.str.ptr;
        *n = o.via.str.size;
    } else if (o.type == MSGPACK_OBJECT_BIN) {
        *p = o.via.bin.ptr;
        *n = o.via.bin.size;
    } else {
        return -1;
    }
    if (*n == 0) *p = (const uint8_t *)arg + len; /* empty: where its bytes would be */
    return 0;
}

int tmq_arg_count(const void *arg, size_t len, uint32_t *n)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0) return -1;
    if (o.type == MSGPACK_OBJECT_ARRAY)
        *n = o.via.array.size;
    else if (o.type == MSGPACK_OBJECT_MAP)
        *n = o.via.map.size;
    else
        return -1;
    return 0;
}

/* Where the items of the array or map that arg starts with begin: after its header, one byte
 * (fixarray, fixmap) or one plus a 2- or 4-byte count (the msgpack spec's array 16/32, map
 * 16/32). */
static size_t s_items_at(const void *arg)
{
    uint8_t b = *(const uint8_t *)arg;
    return b == 0xdc || b == 0xde ? 3 : b == 0xdd || b == 0xdf ? 5 : 1;
}

/* Skips the n values that start at *pos. Returns 0 or -1. */
static int s_skip(const void *arg, size_t len, size_t *pos, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++)
        if (tmq_proto_skip(arg, len, pos, TMQ_PROTO_MAX_DEPTH) != 0) return -1;
    return 0;
}

/* The value at *pos as a slice; *pos moves past it. */
static int s_slice(const void *arg, size_t len, size_t *pos, const void **p, size_t *n)
{
    size_t start = *pos;
    if (s_skip(arg, len, pos, 1) != 0) return -1;
    *p = (const uint8_t *)arg + start;
    *n = *pos - start;
    return 0;
}

int tmq_arg_item(const void *arg, size_t len, uint32_t i, const void **item, size_t *item_len)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0 || o.type != MSGPACK_OBJECT_ARRAY || i >= o.via.array.size)
        return -1;
    size_t pos = s_items_at(arg);
    if (s_skip(arg, len, &pos, i) != 0) return -1;
    return s_slice(arg, len, &pos, item, item_len);
}

int tmq_arg_field(const void *arg, size_t len, const char *key, const void **value,
                  size_t *value_len)
{
    msgpack_zone z;
    msgpack_object o;
    int64_t at = -1;
    if (key && s_unpack(arg, len, &z, &o) == 0 && o.type == MSGPACK_OBJECT_MAP) {
        size_t klen = strlen(key);
        for (uint32_t k = 0; k < o.via.map.size && at < 0; k++) {
            const msgpack_object *kk = &o.via.map.ptr[k].key;
            if (kk->type == MSGPACK_OBJECT_STR && kk->via.str.size == klen &&
                memcmp(kk->via.str.ptr, key, klen) == 0)
                at = k;
        }
    }
    msgpack_zone_destroy(&z);
    if (at < 0) return -1;
    size_t pos = s_items_at(arg);
    if (s_skip(arg, len, &pos, 2 * (uint64_t)at + 1) != 0) return -1; /* to its value */
    return s_slice(arg, len, &pos, value, value_len);
}

const char *tmq_arg_type(const void *arg, size_t len)
{
    msgpack_object o;
    if (s_value(arg, len, &o) != 0) return "malformed";
    switch (o.type) {
    case MSGPACK_OBJECT_NIL:
        return "null";
    case MSGPACK_OBJECT_BOOLEAN:
        return "boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "string";
    case MSGPACK_OBJECT_BIN:
        return "bytes";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_EXT:
        return "extension";
    default:
        return "malformed";
    }
}
