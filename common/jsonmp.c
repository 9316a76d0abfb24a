/* common/jsonmp.c — see jsonmp.h. msgpack-c does the unpacking and jansson the JSON;
 * jansson is also the judge of what is valid UTF-8 when a string needs repairing. */
#include "jsonmp.h"
#include "proto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool tmq_utf8_valid(const void *p, size_t n)
{
    json_t *s = json_stringn(n ? p : "", n);
    bool valid = s != NULL;
    json_decref(s);
    return valid;
}

int tmq_json_pack(msgpack_packer *pk, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_STRING: {
        size_t n = json_string_length(j);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, json_string_value(j), n);
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++)
            tmq_json_pack(pk, json_array_get(j, i));
        break;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach((json_t *)j, k, v)
        {
            size_t n = strlen(k);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, k, n);
            tmq_json_pack(pk, v);
        }
        break;
    }
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0] (a byte >= 0x80), or 0: the shortest of the
 * 2..4-byte candidates that jansson accepts as a string. */
static size_t s_utf8_seq(const char *s, size_t avail)
{
    for (size_t n = 2; n <= 4 && n <= avail; n++) {
        json_t *j = json_stringn(s, n);
        if (j) {
            json_decref(j);
            return n;
        }
    }
    return 0;
}

/* The slow path of tmq_json_string_repair: a copy with U+FFFD for every byte that does not
 * start a valid sequence (at most 3 bytes out per byte in). */
static json_t *s_string_repaired(const char *s, size_t len)
{
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t seq = (unsigned char)s[i] < 0x80 ? 1 : s_utf8_seq(s + i, len - i);
        if (seq) {
            memcpy(out + n, s + i, seq);
            n += seq;
            i += seq;
        } else {
            memcpy(out + n, "\xef\xbf\xbd", 3); /* U+FFFD */
            n += 3;
            i++;
        }
    }
    json_t *j = json_stringn_nocheck(out, n);
    free(out);
    return j;
}

json_t *tmq_json_string_repair(const char *s, size_t len)
{
    if (len == 0) s = ""; /* an empty STR/BIN may carry a NULL pointer, which jansson refuses */
    json_t *j = json_stringn(s, len);
    return j ? j : s_string_repaired(s, len);
}

/* A map key as a JSON string: a string key as it is (repaired), anything else as its
 * compact JSON text. */
static json_t *s_key(const msgpack_object *k)
{
    if (k->type == MSGPACK_OBJECT_STR)
        return tmq_json_string_repair(k->via.str.ptr, k->via.str.size);
    json_t *j = tmq_json_from_object(k);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    json_t *key = json_string(s ? s : "?");
    free(s);
    return key;
}

json_t *tmq_json_from_object(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) return json_real((double)o->via.u64);
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: /* jansson has no NaN or infinity */
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR:
        return tmq_json_string_repair(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return tmq_json_string_repair(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, tmq_json_from_object(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            json_t *k = s_key(&o->via.map.ptr[i].key);
            if (k)
                json_object_setn_new_nocheck(m, json_string_value(k), json_string_length(k),
                                             tmq_json_from_object(&o->via.map.ptr[i].val));
            json_decref(k);
        }
        return m;
    }
    default:
        return json_null();
    }
}

json_t *tmq_json_from_msgpack(const void *data, size_t len)
{
    if (tmq_proto_check(data, len, TMQ_PROTO_MAX_DEPTH) != 0) return NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    json_t *j = NULL;
    if (msgpack_unpack_next(&up, data, len, &off) == MSGPACK_UNPACK_SUCCESS)
        j = tmq_json_from_object(&up.data);
    msgpack_unpacked_destroy(&up);
    return j;
}

void *tmq_json_arg_to_msgpack(const char *text, size_t len, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (j) {
        tmq_json_pack(&pk, j);
        json_decref(j);
    } else {
        msgpack_pack_str(&pk, len);
        msgpack_pack_str_body(&pk, text, len);
    }
    return tmq_proto_sbuffer_take(&sb, out_len);
}
