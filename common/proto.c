/* common/proto.c — the taskmq wire codec (see proto.h and docs/PROTOCOL.md).
 *
 * Decoding runs in two passes: s_scan walks the raw bytes checking every length and count
 * against what is present and capping nesting, allocating nothing; only then does msgpack-c
 * unpack (its C unpacker allocates from declared counts, msgpack-c#1013). Item accessors
 * check arity and types position by position, so one bad item never spoils its batch.
 */
#include "proto.h"

#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

static const char *s_names[TMQ_CMD_MAX_] = {
    [TMQ_CMD_HELLO] = "HELLO",
    [TMQ_CMD_WELCOME] = "WELCOME",
    [TMQ_CMD_SUBMIT] = "SUBMIT",
    [TMQ_CMD_ACK] = "ACK",
    [TMQ_CMD_RESULTS] = "RESULTS",
    [TMQ_CMD_STATUS] = "STATUS",
    [TMQ_CMD_STATUS_REPLY] = "STATUS_REPLY",
    [TMQ_CMD_READY] = "READY",
    [TMQ_CMD_JOBS] = "JOBS",
    [TMQ_CMD_DONE] = "DONE",
    [TMQ_CMD_HEARTBEAT] = "HEARTBEAT",
    [TMQ_CMD_CANCEL] = "CANCEL",
    [TMQ_CMD_BYE] = "BYE",
    [TMQ_CMD_ERROR] = "ERROR",
    [TMQ_CMD_RECONNECT] = "RECONNECT",
    [TMQ_CMD_REVOKE] = "REVOKE",
    [TMQ_CMD_RETURNED] = "RETURNED",
    [TMQ_CMD_WITHDRAW] = "WITHDRAW",
    [TMQ_CMD_DRAIN] = "DRAIN",
    [TMQ_CMD_RACK] = "RACK",
    [TMQ_CMD_ATTACH] = "ATTACH",
    [TMQ_CMD_BATCH] = "BATCH",
};

const char *tmq_cmd_name(int cmd)
{
    if (cmd <= 0 || cmd >= TMQ_CMD_MAX_ || !s_names[cmd]) return "?";
    return s_names[cmd];
}

void tmq_proto_header(uint8_t out[TMQ_PROTO_HDR_LEN], tmq_cmd_t cmd)
{
    out[0] = 'T';
    out[1] = 'M';
    out[2] = 'Q';
    out[3] = TMQ_PROTO_VERSION;
    out[4] = (uint8_t)cmd;
}

/* ---- structural scan ---- */

static uint64_t s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Skips one object at *pos. depth is how many containers may still nest here (the object
 * itself included): an array or map needs depth >= 1, so with depth 32 at the top at most 32
 * containers nest, the outermost counting as 1. Returns 0, or -1 when it is truncated, too
 * deep, one object past the *budget of objects, or uses the reserved byte 0xc1. Allocates
 * nothing, so a lying count costs only the bytes present. A loop over a stack of counts (the
 * objects still to read at each open level), not a recursion: every message of every process
 * goes through here, and a call per object was a fifth of the broker's instructions. */
static int s_scan(const uint8_t *p, size_t len, size_t *pos, int depth, uint32_t *budget)
{
    uint64_t todo[TMQ_PROTO_MAX_DEPTH + 1]; /* todo[k]: objects left at nesting level k */
    if (depth > TMQ_PROTO_MAX_DEPTH) depth = TMQ_PROTO_MAX_DEPTH;
    int level = 0; /* the object asked for is level 0; its depth is depth - level */
    todo[0] = 1;
    size_t at = *pos;
    uint32_t left_budget = *budget;
    for (;;) {
        while (todo[level] == 0) {
            if (level == 0) {
                *pos = at;
                *budget = left_budget;
                return 0;
            }
            level--;
        }
        todo[level]--;
        if (at >= len || left_budget == 0) return -1;
        left_budget--;
        uint8_t b = p[at++];
        size_t left = len - at;
        uint64_t skip = 0, items = 0; /* bytes to skip, or child objects to scan */
        int lenbytes = 0;
        if (b <= 0x7f || b >= 0xe0) continue; /* fixint */
        if ((b & 0xe0) == 0xa0) {             /* fixstr */
            skip = b & 0x1f;
        } else if ((b & 0xf0) == 0x90) { /* fixarray */
            items = b & 0x0f;
        } else if ((b & 0xf0) == 0x80) { /* fixmap */
            items = 2 * (uint64_t)(b & 0x0f);
        } else {
            switch (b) {
            case 0xc0: /* nil, false, true */
            case 0xc2:
            case 0xc3:
                continue;
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xca:
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcb:
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break; /* fixext 1 */
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xc4:
            case 0xd9:
                lenbytes = 1;
                break; /* bin8 / str8 */
            case 0xc5:
            case 0xda:
                lenbytes = 2;
                break;
            case 0xc6:
            case 0xdb:
                lenbytes = 4;
                break;
            case 0xc7:
                lenbytes = 1;
                skip = 1;
                break; /* ext8: len + type byte */
            case 0xc8:
                lenbytes = 2;
                skip = 1;
                break;
            case 0xc9:
                lenbytes = 4;
                skip = 1;
                break;
            case 0xdc:
            case 0xde:
                lenbytes = 2;
                break; /* array16 / map16 */
            case 0xdd:
            case 0xdf:
                lenbytes = 4;
                break;
            default:
                return -1; /* 0xc1: never used */
            }
        }
        if (lenbytes) {
            if (left < (size_t)lenbytes) return -1;
            uint64_t n = s_be(p + at, lenbytes);
            at += lenbytes;
            left -= lenbytes;
            if (b == 0xdc || b == 0xdd)
                items = n;
            else if (b == 0xde || b == 0xdf)
                items = 2 * n;
            else
                skip += n;
        }
        if (skip > left) return -1;
        at += skip;
        bool container = (b & 0xe0) == 0x80 || (b >= 0xdc && b <= 0xdf); /* fix, 16, 32 */
        if (!container) continue;
        if (depth - level <= 0) return -1;
        if (items > left) return -1; /* every child needs at least one byte */
        if (items) todo[++level] = items;
    }
}

int tmq_proto_check(const void *data, size_t len, int max_depth)
{
    size_t pos = 0;
    uint32_t budget = TMQ_PROTO_MAX_OBJECTS;
    if (!data || len == 0) return -1;
    if (s_scan(data, len, &pos, max_depth, &budget) != 0) return -1;
    return pos == len ? 0 : -1;
}

int tmq_proto_skip(const void *data, size_t len, size_t *pos, int max_depth)
{
    uint32_t budget = TMQ_PROTO_MAX_OBJECTS;
    if (!data) return -1;
    return s_scan(data, len, pos, max_depth, &budget);
}

/* ---- decoding ---- */

static bool s_is_batch(int cmd)
{
    return cmd == TMQ_CMD_SUBMIT || cmd == TMQ_CMD_ACK || cmd == TMQ_CMD_RESULTS ||
           cmd == TMQ_CMD_JOBS || cmd == TMQ_CMD_DONE || cmd == TMQ_CMD_CANCEL ||
           cmd == TMQ_CMD_RETURNED || cmd == TMQ_CMD_WITHDRAW;
}

static const char *s_batch_key(int cmd)
{
    switch (cmd) {
    case TMQ_CMD_RESULTS:
    case TMQ_CMD_DONE:
        return "results";
    case TMQ_CMD_ACK:
        return "rejected";
    default:
        return "jobs";
    }
}

static int s_fail(tmq_msg_t *m, int *errcode, int code, const char *why)
{
    m->error = why;
    if (errcode) *errcode = code;
    return -1;
}

int tmq_proto_decode(tmq_msg_t *m, const void *hdr, size_t hdr_len, const void *body,
                     size_t body_len, int *errcode)
{
    memset(m, 0, sizeof *m);
    const uint8_t *h = hdr;
    if (!h || hdr_len != TMQ_PROTO_HDR_LEN || h[0] != 'T' || h[1] != 'M' || h[2] != 'Q')
        return s_fail(m, errcode, TMQ_ERR_MALFORMED, "bad protocol signature");
    if (h[3] != TMQ_PROTO_VERSION)
        return s_fail(m, errcode, TMQ_ERR_VERSION, "unsupported protocol version");
    if (h[4] == 0 || h[4] >= TMQ_CMD_MAX_)
        return s_fail(m, errcode, TMQ_ERR_COMMAND, "unknown command");
    m->cmd = h[4];
    if (body_len > TMQ_PROTO_MAX_BODY)
        return s_fail(m, errcode, TMQ_ERR_MALFORMED, "body too large");
    if (tmq_proto_check(body, body_len, TMQ_PROTO_MAX_DEPTH) != 0)
        return s_fail(m, errcode, TMQ_ERR_MALFORMED, "body is not one well-formed msgpack object");

    msgpack_unpacked_init(&m->up);
    size_t off = 0;
    if (msgpack_unpack_next(&m->up, body, body_len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != body_len) {
        msgpack_unpacked_destroy(&m->up);
        return s_fail(m, errcode, TMQ_ERR_MALFORMED, "body did not unpack");
    }
    m->body = &m->up.data;
    if (m->body->type != MSGPACK_OBJECT_MAP) {
        tmq_msg_release(m);
        return s_fail(m, errcode, TMQ_ERR_MALFORMED, "body is not a map");
    }
    if (s_is_batch(m->cmd)) {
        const msgpack_object *items = tmq_msg_get(m, s_batch_key(m->cmd));
        if (!items || items->type != MSGPACK_OBJECT_ARRAY) {
            tmq_msg_release(m);
            return s_fail(m, errcode, TMQ_ERR_MALFORMED, "batch has no item array");
        }
        m->items = items;
    }
    return 0;
}

void tmq_msg_release(tmq_msg_t *m)
{
    if (m->body) msgpack_unpacked_destroy(&m->up);
    m->body = NULL;
    m->items = NULL;
}

bool tmq_proto_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

const msgpack_object *tmq_msg_get(const tmq_msg_t *m, const char *key)
{
    if (!m->body) return NULL;
    const msgpack_object_map *map = &m->body->via.map;
    for (uint32_t i = 0; i < map->size; i++)
        if (tmq_proto_key_is(&map->ptr[i].key, key)) return &map->ptr[i].val;
    return NULL;
}

static int s_uint(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *out = o->via.u64;
    return 0;
}

static int s_u32(const msgpack_object *o, uint32_t *out)
{
    uint64_t v;
    if (s_uint(o, &v) != 0 || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int s_int32(const msgpack_object *o, int32_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX)
        *out = (int32_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= INT32_MIN)
        *out = (int32_t)o->via.i64;
    else
        return -1;
    return 0;
}

static int s_double(const msgpack_object *o, double *out)
{
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        *out = o->via.f64;
    else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *out = (double)o->via.u64;
    else
        return -1;
    return 0;
}

static int s_str(const msgpack_object *o, const char **s, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR) return -1;
    *s = o->via.str.size ? o->via.str.ptr : ""; /* msgpack-c may leave empty ones NULL */
    *len = o->via.str.size;
    return 0;
}

static int s_bytes(const msgpack_object *o, const void **p, size_t *len)
{
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.size ? o->via.bin.ptr : "";
        *len = o->via.bin.size;
    } else if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.size ? o->via.str.ptr : "";
        *len = o->via.str.size;
    } else {
        return -1;
    }
    return 0;
}

int tmq_msg_get_uint(const tmq_msg_t *m, const char *key, uint64_t *out)
{
    const msgpack_object *o = tmq_msg_get(m, key);
    return o ? s_uint(o, out) : -1;
}

int tmq_msg_get_str(const tmq_msg_t *m, const char *key, const char **s, size_t *len)
{
    const msgpack_object *o = tmq_msg_get(m, key);
    return o ? s_str(o, s, len) : -1;
}

size_t tmq_msg_count(const tmq_msg_t *m)
{
    return m->items ? m->items->via.array.size : 0;
}

/* Item i as a positional array of exactly n fields (or n + 1 when *opts is not NULL: the last
 * one then goes to *opts, else *opts is NULL), or NULL. */
static const msgpack_object *s_item_opt(const tmq_msg_t *m, size_t i, uint32_t n,
                                        const msgpack_object **opts)
{
    if (!m->items || i >= m->items->via.array.size) return NULL;
    const msgpack_object *it = &m->items->via.array.ptr[i];
    if (it->type != MSGPACK_OBJECT_ARRAY) return NULL;
    uint32_t size = it->via.array.size;
    if (opts) *opts = size == n + 1 ? &it->via.array.ptr[n] : NULL;
    if (size != n && !(opts && size == n + 1)) return NULL;
    return it->via.array.ptr;
}

static const msgpack_object *s_item(const tmq_msg_t *m, size_t i, uint32_t n)
{
    return s_item_opt(m, i, n, NULL);
}

/* A job's options map (NULL: none): mem_limit uint, retry_oom bool (when retry_oom is not
 * NULL); other keys are ignored, a known key of the wrong type is an error. */
static int s_job_opts(const msgpack_object *o, uint64_t *mem_limit, bool *retry_oom)
{
    *mem_limit = 0;
    if (retry_oom) *retry_oom = false;
    if (!o) return 0;
    if (o->type != MSGPACK_OBJECT_MAP) return -1;
    for (uint32_t k = 0; k < o->via.map.size; k++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[k];
        if (kv->key.type != MSGPACK_OBJECT_STR) continue;
        const msgpack_object_str *key = &kv->key.via.str;
        if (key->size == 9 && memcmp(key->ptr, "mem_limit", 9) == 0) {
            if (s_uint(&kv->val, mem_limit) != 0) return -1;
        } else if (retry_oom && key->size == 9 && memcmp(key->ptr, "retry_oom", 9) == 0) {
            if (kv->val.type != MSGPACK_OBJECT_BOOLEAN) return -1;
            *retry_oom = kv->val.via.boolean;
        }
    }
    return 0;
}

static int s_fname(const msgpack_object *o, const char **fn, size_t *len)
{
    if (s_str(o, fn, len) != 0 || *len == 0 || *len > TMQ_PROTO_MAX_FNAME) return -1;
    return 0;
}

int tmq_msg_submit_item(const tmq_msg_t *m, size_t i, tmq_submit_item_t *out)
{
    const msgpack_object *opts;
    const msgpack_object *f = s_item_opt(m, i, 5, &opts);
    if (!f || s_uint(&f[0], &out->cid) || s_fname(&f[1], &out->fn, &out->fn_len) ||
        s_bytes(&f[2], &out->arg, &out->arg_len) || s_u32(&f[3], &out->timeout_ms) ||
        s_int32(&f[4], &out->retries) || s_job_opts(opts, &out->mem_limit, &out->retry_oom))
        return -1;
    return 0;
}

int tmq_msg_reject_item(const tmq_msg_t *m, size_t i, tmq_reject_item_t *out)
{
    const msgpack_object *f = s_item(m, i, 3);
    uint32_t code;
    if (!f || s_uint(&f[0], &out->cid) || s_u32(&f[1], &code) ||
        s_str(&f[2], &out->reason, &out->reason_len))
        return -1;
    out->code = (int)code;
    return 0;
}

int tmq_msg_result_item(const tmq_msg_t *m, size_t i, tmq_result_item_t *out)
{
    const msgpack_object *f = s_item(m, i, 6);
    uint32_t status;
    if (!f || s_uint(&f[0], &out->cid) || s_u32(&f[1], &status) || status > TMQ_ST_CANCELLED ||
        s_bytes(&f[2], &out->data, &out->data_len) ||
        s_str(&f[3], &out->worker, &out->worker_len) || s_double(&f[4], &out->ms) ||
        s_u32(&f[5], &out->attempts))
        return -1;
    out->status = (int)status;
    return 0;
}

int tmq_msg_job_item(const tmq_msg_t *m, size_t i, tmq_job_item_t *out)
{
    const msgpack_object *opts;
    const msgpack_object *f = s_item_opt(m, i, 5, &opts);
    if (!f || s_uint(&f[0], &out->jid) || s_u32(&f[1], &out->attempt) ||
        s_fname(&f[2], &out->fn, &out->fn_len) || s_bytes(&f[3], &out->arg, &out->arg_len) ||
        s_u32(&f[4], &out->timeout_ms) || s_job_opts(opts, &out->mem_limit, NULL))
        return -1;
    return 0;
}

int tmq_msg_done_item(const tmq_msg_t *m, size_t i, tmq_done_item_t *out)
{
    const msgpack_object *f = s_item(m, i, 6);
    uint32_t status;
    if (!f || s_uint(&f[0], &out->jid) || s_u32(&f[1], &out->attempt) || s_u32(&f[2], &status) ||
        status > TMQ_ST_OOM || status == TMQ_ST_REJECTED || /* the broker's own statuses */
        s_bytes(&f[3], &out->data, &out->data_len) || s_u32(&f[4], &out->pid) ||
        s_double(&f[5], &out->ms))
        return -1;
    out->status = (int)status;
    return 0;
}

int tmq_msg_ref_item(const tmq_msg_t *m, size_t i, uint64_t *jid, uint32_t *attempt)
{
    const msgpack_object *f = s_item(m, i, 2);
    if (!f || s_uint(&f[0], jid) || s_u32(&f[1], attempt)) return -1;
    return 0;
}

int tmq_msg_cid_item(const tmq_msg_t *m, size_t i, uint64_t *cid)
{
    if (!m->items || i >= m->items->via.array.size) return -1;
    return s_uint(&m->items->via.array.ptr[i], cid);
}

int tmq_msg_ready(const tmq_msg_t *m, tmq_ready_t *out, const char **fns, size_t *fn_lens,
                  size_t max_fns)
{
    uint64_t procs, pid;
    const msgpack_object *list = tmq_msg_get(m, "functions");
    if (tmq_msg_get_str(m, "name", &out->name, &out->name_len) ||
        tmq_msg_get_uint(m, "procs", &procs) || procs == 0 || procs > 1000000 ||
        tmq_msg_get_uint(m, "pid", &pid) || pid > UINT32_MAX || !list ||
        list->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    out->procs = (uint32_t)procs;
    out->pid = (uint32_t)pid;
    out->nfns = list->via.array.size;
    for (size_t i = 0; i < out->nfns; i++) {
        const char *s;
        size_t len;
        if (s_fname(&list->via.array.ptr[i], &s, &len) != 0) return -1;
        if (i < max_fns) {
            fns[i] = s;
            fn_lens[i] = len;
        }
    }
    if (tmq_msg_get_str(m, "version", &out->version, &out->version_len) != 0) {
        out->version = "";
        out->version_len = 0;
    }
    if (tmq_msg_get_uint(m, "done", &out->done) != 0) out->done = 0;
    if (tmq_msg_get_uint(m, "failed", &out->failed) != 0) out->failed = 0;
    out->job_options = tmq_msg_get_true(m, "job_options");
    if (tmq_msg_get_str(m, "python", &out->python, &out->python_len) != 0) {
        out->python = "";
        out->python_len = 0;
    }
    return 0;
}

void tmq_msg_welcome(const tmq_msg_t *m, tmq_welcome_t *out)
{
    uint64_t v;
    out->heartbeat_ms = TMQ_PROTO_HEARTBEAT_DEFAULT;
    out->max_payload = TMQ_PROTO_MAX_PAYLOAD;
    out->version = TMQ_PROTO_VERSION;
    if (tmq_msg_get_uint(m, "heartbeat", &v) == 0 && v >= TMQ_PROTO_HEARTBEAT_MIN &&
        v <= TMQ_PROTO_HEARTBEAT_MAX)
        out->heartbeat_ms = (uint32_t)v;
    if (tmq_msg_get_uint(m, "max_payload", &v) == 0 && v > 0 && v <= UINT32_MAX)
        out->max_payload = (uint32_t)v;
    if (tmq_msg_get_uint(m, "version", &v) == 0 && v <= UINT32_MAX) out->version = (uint32_t)v;
    out->journal = tmq_msg_get_true(m, "journal");
    out->has_resumed = tmq_msg_get_uint(m, "resumed", &out->resumed) == 0;
    if (!out->has_resumed) out->resumed = 0;
    if (tmq_msg_get_uint(m, "epoch", &out->epoch) != 0) out->epoch = 0;
}

int tmq_msg_session(const tmq_msg_t *m, uint8_t out[TMQ_PROTO_SESSION_LEN])
{
    const msgpack_object *o = tmq_msg_get(m, "session");
    if (!o || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != TMQ_PROTO_SESSION_LEN) return -1;
    memcpy(out, o->via.bin.ptr, TMQ_PROTO_SESSION_LEN);
    return 0;
}

int tmq_msg_str_at(const msgpack_object *array, size_t i, const char **s, size_t *len)
{
    if (!array || array->type != MSGPACK_OBJECT_ARRAY || i >= array->via.array.size) return -1;
    return s_str(&array->via.array.ptr[i], s, len);
}

/* ---- encoding ---- */

/* msgpack_sbuffer_write for the batch packers, on the same buffer: most writes are the 1 to
 * 9 bytes of a header or a number, copied here by fixed-size moves the compiler inlines
 * instead of a call to memcpy (packing was a tenth of every process's instructions). */
static __attribute__((noinline)) int s_batch_grow(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len); /* out of line: the fast path saves nothing */
}

static int s_batch_write(void *data, const char *buf, size_t len)
{
    msgpack_sbuffer *sb = data;
    if (len == 0) return 0; /* an empty str or bin body: nothing to copy (buf may be NULL) */
    if (sb->alloc - sb->size < len) return s_batch_grow(data, buf, len);
    char *to = sb->data + sb->size;
    switch (len) {
    case 1:
        to[0] = buf[0];
        break;
    case 2:
        memcpy(to, buf, 2);
        break;
    case 3:
        memcpy(to, buf, 3);
        break;
    case 5:
        memcpy(to, buf, 5);
        break;
    case 9:
        memcpy(to, buf, 9);
        break;
    default:
        memcpy(to, buf, len);
    }
    sb->size += len;
    return 0;
}

void tmq_batch_init(tmq_batch_t *b)
{
    msgpack_sbuffer_init(&b->buf);
    msgpack_packer_init(&b->pk, &b->buf, s_batch_write);
    b->count = 0;
}

void tmq_batch_destroy(tmq_batch_t *b)
{
    msgpack_sbuffer_destroy(&b->buf);
    b->count = 0;
}

void tmq_batch_reset(tmq_batch_t *b)
{
    b->buf.size = 0;
    b->count = 0;
}

static void s_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void s_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, p, len);
}

void tmq_batch_add_submit(tmq_batch_t *b, const tmq_submit_item_t *it)
{
    uint32_t nopts = (it->mem_limit != 0) + it->retry_oom;
    msgpack_pack_array(&b->pk, nopts ? 6 : 5);
    msgpack_pack_uint64(&b->pk, it->cid);
    s_pack_str(&b->pk, it->fn, it->fn_len);
    s_pack_bin(&b->pk, it->arg, it->arg_len);
    msgpack_pack_uint32(&b->pk, it->timeout_ms);
    msgpack_pack_int32(&b->pk, it->retries);
    if (nopts) {
        msgpack_pack_map(&b->pk, nopts);
        if (it->mem_limit) {
            s_pack_str(&b->pk, "mem_limit", 9);
            msgpack_pack_uint64(&b->pk, it->mem_limit);
        }
        if (it->retry_oom) {
            s_pack_str(&b->pk, "retry_oom", 9);
            msgpack_pack_true(&b->pk);
        }
    }
    b->count++;
}

void tmq_batch_add_reject(tmq_batch_t *b, const tmq_reject_item_t *it)
{
    msgpack_pack_array(&b->pk, 3);
    msgpack_pack_uint64(&b->pk, it->cid);
    msgpack_pack_uint32(&b->pk, (uint32_t)it->code);
    s_pack_str(&b->pk, it->reason, it->reason_len);
    b->count++;
}

void tmq_batch_add_result(tmq_batch_t *b, const tmq_result_item_t *it)
{
    msgpack_pack_array(&b->pk, 6);
    msgpack_pack_uint64(&b->pk, it->cid);
    msgpack_pack_uint32(&b->pk, (uint32_t)it->status);
    s_pack_bin(&b->pk, it->data, it->data_len);
    s_pack_str(&b->pk, it->worker ? it->worker : "", it->worker ? it->worker_len : 0);
    msgpack_pack_double(&b->pk, it->ms);
    msgpack_pack_uint32(&b->pk, it->attempts);
    b->count++;
}

void tmq_batch_add_job(tmq_batch_t *b, const tmq_job_item_t *it)
{
    msgpack_pack_array(&b->pk, it->mem_limit ? 6 : 5);
    msgpack_pack_uint64(&b->pk, it->jid);
    msgpack_pack_uint32(&b->pk, it->attempt);
    s_pack_str(&b->pk, it->fn, it->fn_len);
    s_pack_bin(&b->pk, it->arg, it->arg_len);
    msgpack_pack_uint32(&b->pk, it->timeout_ms);
    if (it->mem_limit) {
        msgpack_pack_map(&b->pk, 1);
        s_pack_str(&b->pk, "mem_limit", 9);
        msgpack_pack_uint64(&b->pk, it->mem_limit);
    }
    b->count++;
}

void tmq_batch_add_done(tmq_batch_t *b, const tmq_done_item_t *it)
{
    msgpack_pack_array(&b->pk, 6);
    msgpack_pack_uint64(&b->pk, it->jid);
    msgpack_pack_uint32(&b->pk, it->attempt);
    msgpack_pack_uint32(&b->pk, (uint32_t)it->status);
    s_pack_bin(&b->pk, it->data, it->data_len);
    msgpack_pack_uint32(&b->pk, it->pid);
    msgpack_pack_double(&b->pk, it->ms);
    b->count++;
}

void tmq_batch_add_ref(tmq_batch_t *b, uint64_t jid, uint32_t attempt)
{
    msgpack_pack_array(&b->pk, 2);
    msgpack_pack_uint64(&b->pk, jid);
    msgpack_pack_uint32(&b->pk, attempt);
    b->count++;
}

void tmq_batch_add_cid(tmq_batch_t *b, uint64_t cid)
{
    msgpack_pack_uint64(&b->pk, cid);
    b->count++;
}

void *tmq_proto_sbuffer_take(msgpack_sbuffer *sb, size_t *len)
{
    *len = sb->size;
    void *p = msgpack_sbuffer_release(sb);
    return p ? p : tmq_xmalloc(1);
}

/* Starts a body map of `pairs` entries in out. */
static void s_body_init(msgpack_sbuffer *out, msgpack_packer *pk, uint32_t pairs)
{
    msgpack_sbuffer_init(out);
    msgpack_packer_init(pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(pk, pairs);
}

static void s_pack_cstr(msgpack_packer *pk, const char *key)
{
    s_pack_str(pk, key, strlen(key));
}

/* The batch's items as the array under key (the batch is reset). */
static void s_pack_items(msgpack_packer *pk, msgpack_sbuffer *out, const char *key, tmq_batch_t *b)
{
    s_pack_cstr(pk, key);
    msgpack_pack_array(pk, (uint32_t)b->count);
    msgpack_sbuffer_write(out, b->buf.data, b->buf.size);
    tmq_batch_reset(b);
}

void *tmq_batch_finish(tmq_batch_t *b, tmq_cmd_t cmd, uint64_t accepted, size_t *len)
{
    if (cmd == TMQ_CMD_ACK) {
        tmq_ack_info_t info = {.accepted = accepted};
        return tmq_proto_ack_body(b, &info, len);
    }
    msgpack_sbuffer out;
    msgpack_packer pk;
    bool submit = cmd == TMQ_CMD_SUBMIT; /* says oom, as HELLO does (5.1): a broker that
                                            restarted may meet us first by a SUBMIT */
    s_body_init(&out, &pk, 1 + submit);
    s_pack_items(&pk, &out, s_batch_key(cmd), b);
    if (submit) {
        s_pack_cstr(&pk, "oom");
        msgpack_pack_true(&pk);
    }
    return tmq_proto_sbuffer_take(&out, len);
}

void *tmq_proto_ack_body(tmq_batch_t *rejected, const tmq_ack_info_t *info, size_t *len)
{
    msgpack_sbuffer out;
    msgpack_packer pk;
    s_body_init(&out, &pk, 2 + (info->error != NULL) + (info->nunserved > 0) + (info->seq != 0));
    s_pack_cstr(&pk, "accepted");
    msgpack_pack_uint64(&pk, info->accepted);
    if (info->seq) {
        s_pack_cstr(&pk, "seq");
        msgpack_pack_uint64(&pk, info->seq);
    }
    s_pack_items(&pk, &out, "rejected", rejected);
    if (info->error) {
        s_pack_cstr(&pk, "error");
        s_pack_cstr(&pk, info->error);
    }
    if (info->nunserved > 0) {
        s_pack_cstr(&pk, "unserved");
        msgpack_pack_array(&pk, (uint32_t)info->nunserved);
        for (size_t i = 0; i < info->nunserved; i++)
            s_pack_cstr(&pk, info->unserved[i]);
    }
    return tmq_proto_sbuffer_take(&out, len);
}

void *tmq_proto_empty_body(size_t *len)
{
    uint8_t *p = tmq_xmalloc(1);
    p[0] = 0x80; /* fixmap, 0 pairs */
    *len = 1;
    return p;
}

void *tmq_proto_welcome_body(const tmq_welcome_t *w, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_init(&sb, &pk, 3 + w->journal + w->has_resumed + (w->has_resumed && w->epoch));
    s_pack_cstr(&pk, "heartbeat");
    msgpack_pack_uint32(&pk, w->heartbeat_ms);
    s_pack_cstr(&pk, "max_payload");
    msgpack_pack_uint32(&pk, w->max_payload);
    s_pack_cstr(&pk, "version");
    msgpack_pack_uint32(&pk, TMQ_PROTO_VERSION);
    if (w->journal) {
        s_pack_cstr(&pk, "journal");
        msgpack_pack_true(&pk);
    }
    if (w->has_resumed) {
        s_pack_cstr(&pk, "resumed");
        msgpack_pack_uint64(&pk, w->resumed);
        if (w->epoch) {
            s_pack_cstr(&pk, "epoch");
            msgpack_pack_uint64(&pk, w->epoch);
        }
    }
    return tmq_proto_sbuffer_take(&sb, len);
}

static void s_pack_session(msgpack_packer *pk, const uint8_t *session)
{
    s_pack_cstr(pk, "session");
    msgpack_pack_bin(pk, TMQ_PROTO_SESSION_LEN);
    msgpack_pack_bin_body(pk, session, TMQ_PROTO_SESSION_LEN);
}

void *tmq_proto_submit_body(tmq_batch_t *b, uint64_t seq, const uint8_t *session, size_t *len)
{
    tmq_submit_info_t info = {.seq = seq, .session = session};
    return tmq_proto_submit_body_ex(b, &info, len);
}

void *tmq_proto_submit_body_ex(tmq_batch_t *b, const tmq_submit_info_t *info, size_t *len)
{
    msgpack_sbuffer out;
    msgpack_packer pk;
    bool batch = info->batch != NULL;
    s_body_init(&out, &pk,
                2 + (info->seq != 0) + (info->session != NULL) + batch +
                    (batch && info->batch_ttl_ms) + (batch && info->batch_end));
    s_pack_items(&pk, &out, s_batch_key(TMQ_CMD_SUBMIT), b);
    s_pack_cstr(&pk, "oom"); /* as HELLO says it (5.1) */
    msgpack_pack_true(&pk);
    if (info->seq) {
        s_pack_cstr(&pk, "seq");
        msgpack_pack_uint64(&pk, info->seq);
    }
    if (info->session) s_pack_session(&pk, info->session);
    if (batch) {
        s_pack_cstr(&pk, "batch");
        s_pack_str(&pk, info->batch, info->batch_len);
        if (info->batch_ttl_ms) {
            s_pack_cstr(&pk, "batch_ttl_ms");
            msgpack_pack_uint32(&pk, info->batch_ttl_ms);
        }
        if (info->batch_end) {
            s_pack_cstr(&pk, "batch_end");
            msgpack_pack_true(&pk);
        }
    }
    return tmq_proto_sbuffer_take(&out, len);
}

bool tmq_proto_batch_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > TMQ_PROTO_MAX_BATCH_NAME) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= ' ' || ch == 0x7f) return false;
    }
    return true;
}

int tmq_msg_batch_name(const tmq_msg_t *m, const char **name, size_t *len)
{
    const msgpack_object *o = tmq_msg_get(m, "batch");
    if (!o) return -1;
    if (o->type != MSGPACK_OBJECT_STR || !tmq_proto_batch_name_ok(o->via.str.ptr, o->via.str.size))
        return -2;
    *name = o->via.str.ptr;
    *len = o->via.str.size;
    return 0;
}

void *tmq_proto_attach_body(const char *name, size_t name_len, bool resume, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_init(&sb, &pk, 1 + resume);
    s_pack_cstr(&pk, "batch");
    s_pack_str(&pk, name, name_len);
    if (resume) {
        s_pack_cstr(&pk, "resume");
        msgpack_pack_true(&pk);
    }
    return tmq_proto_sbuffer_take(&sb, len);
}

static void s_pack_bool(msgpack_packer *pk, const char *key, bool v)
{
    s_pack_cstr(pk, key);
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void *tmq_proto_batch_body(const tmq_batch_info_t *info, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_init(&sb, &pk, 9 + (info->ok != NULL));
    s_pack_cstr(&pk, "batch");
    s_pack_str(&pk, info->name, info->name_len);
    s_pack_bool(&pk, "known", info->known);
    s_pack_cstr(&pk, "total");
    msgpack_pack_uint64(&pk, info->total);
    s_pack_cstr(&pk, "done");
    msgpack_pack_uint64(&pk, info->done);
    s_pack_cstr(&pk, "failed");
    msgpack_pack_uint64(&pk, info->failed);
    s_pack_cstr(&pk, "running");
    msgpack_pack_uint64(&pk, info->running);
    s_pack_cstr(&pk, "cancelled");
    msgpack_pack_uint64(&pk, info->cancelled);
    s_pack_bool(&pk, "closed", info->closed);
    s_pack_bool(&pk, "complete", info->complete);
    if (info->ok) {
        s_pack_cstr(&pk, "ok");
        msgpack_pack_array(&pk, (uint32_t)info->nok);
        for (size_t i = 0; i < info->nok; i++)
            msgpack_pack_uint64(&pk, info->ok[i]);
    }
    return tmq_proto_sbuffer_take(&sb, len);
}

int tmq_msg_batch_info(const tmq_msg_t *m, tmq_batch_info_t *out)
{
    memset(out, 0, sizeof *out);
    const msgpack_object *known = tmq_msg_get(m, "known");
    if (tmq_msg_get_str(m, "batch", &out->name, &out->name_len) != 0 || !known ||
        known->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    out->known = known->via.boolean;
    (void)tmq_msg_get_uint(m, "total", &out->total);
    (void)tmq_msg_get_uint(m, "done", &out->done);
    (void)tmq_msg_get_uint(m, "failed", &out->failed);
    (void)tmq_msg_get_uint(m, "running", &out->running);
    (void)tmq_msg_get_uint(m, "cancelled", &out->cancelled);
    out->closed = tmq_msg_get_true(m, "closed");
    out->complete = tmq_msg_get_true(m, "complete");
    return 0;
}

void *tmq_proto_rack_body(uint64_t received, size_t *len)
{
    return tmq_proto_rack_body_ex(received, 0, len);
}

void *tmq_proto_rack_body_ex(uint64_t received, uint64_t epoch, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_init(&sb, &pk, 1 + (epoch != 0));
    s_pack_cstr(&pk, "received");
    msgpack_pack_uint64(&pk, received);
    if (epoch) {
        s_pack_cstr(&pk, "epoch");
        msgpack_pack_uint64(&pk, epoch);
    }
    return tmq_proto_sbuffer_take(&sb, len);
}

void *tmq_proto_ready_body(const tmq_ready_t *r, const char *const *fns, size_t nfns, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool version = r->version != NULL, python = r->python && r->python_len;
    s_body_init(&sb, &pk, 6 + version + r->job_options + python);
    s_pack_cstr(&pk, "name");
    s_pack_str(&pk, r->name, r->name_len);
    s_pack_cstr(&pk, "procs");
    msgpack_pack_uint32(&pk, r->procs);
    s_pack_cstr(&pk, "pid");
    msgpack_pack_uint32(&pk, r->pid);
    s_pack_cstr(&pk, "functions");
    msgpack_pack_array(&pk, (uint32_t)nfns);
    for (size_t i = 0; i < nfns; i++)
        s_pack_cstr(&pk, fns[i]);
    if (version) {
        s_pack_cstr(&pk, "version");
        s_pack_str(&pk, r->version, r->version_len);
    }
    s_pack_cstr(&pk, "done");
    msgpack_pack_uint64(&pk, r->done);
    s_pack_cstr(&pk, "failed");
    msgpack_pack_uint64(&pk, r->failed);
    if (r->job_options) {
        s_pack_cstr(&pk, "job_options");
        msgpack_pack_true(&pk);
    }
    if (python) {
        s_pack_cstr(&pk, "python");
        s_pack_str(&pk, r->python, r->python_len);
    }
    return tmq_proto_sbuffer_take(&sb, len);
}

void *tmq_proto_hello_body(const uint8_t *session, uint32_t linger_ms, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_init(&sb, &pk, session ? 3 : 1);
    s_pack_cstr(&pk, "oom");
    msgpack_pack_true(&pk);
    if (session) {
        s_pack_session(&pk, session);
        s_pack_cstr(&pk, "linger_ms");
        msgpack_pack_uint32(&pk, linger_ms);
    }
    return tmq_proto_sbuffer_take(&sb, len);
}

bool tmq_msg_get_true(const tmq_msg_t *m, const char *key)
{
    const msgpack_object *o = tmq_msg_get(m, key);
    return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

void *tmq_proto_error_body(int code, const char *reason, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_init(&sb, &pk, 2);
    s_pack_cstr(&pk, "code");
    msgpack_pack_uint32(&pk, (uint32_t)code);
    s_pack_cstr(&pk, "reason");
    s_pack_cstr(&pk, reason);
    return tmq_proto_sbuffer_take(&sb, len);
}

void *tmq_proto_revoke_body(uint32_t n, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    s_body_init(&sb, &pk, 1);
    s_pack_cstr(&pk, "n");
    msgpack_pack_uint32(&pk, n);
    return tmq_proto_sbuffer_take(&sb, len);
}
