/* worker/frame.c — see frame.h. The encoder always writes uint64 (0xcf), str32 (0xdb),
 * bin32 (0xc6) and float64 (0xcb) so a frame's size is known before writing; the decoder
 * takes any msgpack width. */
#include "frame.h"

#include "proto.h"
#include "xalloc.h"

#include <msgpack.h>
#include <stdio.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_READ_MIN (64u << 10) /* room made before each read */

static void s_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t s_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint8_t *s_put_u64(uint8_t *p, uint64_t v)
{
    *p++ = 0xcf;
    s_put_be(p, v, 8);
    return p + 8;
}

static uint8_t *s_put_raw(uint8_t *p, uint8_t marker, const void *data, size_t len)
{
    *p++ = marker;
    s_put_be(p, len, 4);
    if (len) memcpy(p + 4, data, len);
    return p + 4 + len;
}

/* The array header and kind of a frame. */
static uint8_t *s_put_head(uint8_t *p, uint8_t elements, uint8_t kind)
{
    *p++ = (uint8_t)(0x90 | elements);
    *p++ = kind; /* positive fixint */
    return p;
}

/* Writes the length prefix for a frame ending at end; returns the frame's size. */
static size_t s_finish(uint8_t *out, const uint8_t *end)
{
    size_t n = (size_t)(end - out);
    s_put_be(out, n - TMQ_FRAME_PREFIX, TMQ_FRAME_PREFIX);
    return n;
}

size_t tmq_frame_job_size(size_t fn_len, size_t arg_len)
{
    return TMQ_FRAME_PREFIX + 2 + 9 + 5 + fn_len + 5 + arg_len;
}

size_t tmq_frame_job_write(uint8_t *out, uint64_t tag, const char *fn, size_t fn_len,
                           const void *arg, size_t arg_len)
{
    uint8_t *p = s_put_head(out + TMQ_FRAME_PREFIX, 4, TMQ_FRAME_JOB);
    p = s_put_u64(p, tag);
    p = s_put_raw(p, 0xdb, fn, fn_len);
    p = s_put_raw(p, 0xc6, arg, arg_len);
    return s_finish(out, p);
}

size_t tmq_frame_result_size(size_t data_len)
{
    return TMQ_FRAME_PREFIX + 2 + 9 + 2 + 5 + data_len + 9;
}

size_t tmq_frame_result_write(uint8_t *out, uint64_t tag, int status, const void *data,
                              size_t data_len, double ms)
{
    uint8_t *p = s_put_head(out + TMQ_FRAME_PREFIX, 5, TMQ_FRAME_RESULT);
    p = s_put_u64(p, tag);
    *p++ = 0xcc;
    *p++ = (uint8_t)status;
    p = s_put_raw(p, 0xc6, data, data_len);
    uint64_t bits;
    memcpy(&bits, &ms, sizeof bits);
    *p++ = 0xcb;
    s_put_be(p, bits, 8);
    return s_finish(out, p + 8);
}

size_t tmq_frame_revoke_write(uint8_t *out, uint32_t n)
{
    uint8_t *p = s_put_head(out + TMQ_FRAME_PREFIX, 2, TMQ_FRAME_REVOKE);
    *p++ = 0xce;
    s_put_be(p, n, 4);
    return s_finish(out, p + 4);
}

size_t tmq_frame_returned_size(size_t ntags)
{
    return TMQ_FRAME_PREFIX + 2 + 5 + 9 * ntags;
}

size_t tmq_frame_returned_write(uint8_t *out, const uint64_t *tags, size_t n)
{
    uint8_t *p = s_put_head(out + TMQ_FRAME_PREFIX, 2, TMQ_FRAME_RETURNED);
    *p++ = 0xdd; /* array32 */
    s_put_be(p, n, 4);
    p += 4;
    for (size_t i = 0; i < n; i++)
        p = s_put_u64(p, tags[i]);
    return s_finish(out, p);
}

/* ---- decoding ---- */

typedef struct {
    const uint8_t *p;
    size_t n, pos;
} s_cur_t;

static int s_take(s_cur_t *c, size_t k, const uint8_t **at)
{
    if (c->n - c->pos < k) return -1;
    *at = c->p + c->pos;
    c->pos += k;
    return 0;
}

/* Reads an array header of exactly `want` elements (fixarray or array16/32). */
static int s_array(s_cur_t *c, uint32_t want)
{
    const uint8_t *b, *x;
    if (s_take(c, 1, &b) != 0) return -1;
    if ((*b & 0xf0) == 0x90) return (uint32_t)(*b & 0x0f) == want ? 0 : -1;
    int w = *b == 0xdc ? 2 : *b == 0xdd ? 4 : 0;
    if (!w || s_take(c, (size_t)w, &x) != 0) return -1;
    return s_get_be(x, w) == want ? 0 : -1;
}

/* Reads any array header; its element count into *count. */
static int s_array_any(s_cur_t *c, uint64_t *count)
{
    const uint8_t *b, *x;
    if (s_take(c, 1, &b) != 0) return -1;
    if ((*b & 0xf0) == 0x90) {
        *count = *b & 0x0f;
        return 0;
    }
    int w = *b == 0xdc ? 2 : *b == 0xdd ? 4 : 0;
    if (!w || s_take(c, (size_t)w, &x) != 0) return -1;
    *count = s_get_be(x, w);
    return 0;
}

static int s_uint(s_cur_t *c, uint64_t *v)
{
    const uint8_t *b, *x;
    if (s_take(c, 1, &b) != 0) return -1;
    if (*b <= 0x7f) {
        *v = *b;
        return 0;
    }
    int w = *b == 0xcc ? 1 : *b == 0xcd ? 2 : *b == 0xce ? 4 : *b == 0xcf ? 8 : 0;
    if (!w || s_take(c, (size_t)w, &x) != 0) return -1;
    *v = s_get_be(x, w);
    return 0;
}

/* A str (want_str) or bin. */
#define S_STR 1 /* what s_bytes accepts */
#define S_BIN 2

/* A str or bin (as `accept` allows): its bytes. */
static int s_bytes(s_cur_t *c, int accept, const void **data, size_t *len)
{
    const uint8_t *b, *x;
    size_t w = 0, n;
    if (s_take(c, 1, &b) != 0) return -1;
    if ((accept & S_STR) && (*b & 0xe0) == 0xa0) {
        n = *b & 0x1f;
    } else {
        if ((accept & S_STR) && (*b == 0xd9 || *b == 0xda || *b == 0xdb))
            w = *b == 0xd9 ? 1 : *b == 0xda ? 2 : 4;
        else if ((accept & S_BIN) && (*b == 0xc4 || *b == 0xc5 || *b == 0xc6))
            w = *b == 0xc4 ? 1 : *b == 0xc5 ? 2 : 4;
        if (!w || s_take(c, w, &x) != 0) return -1;
        n = (size_t)s_get_be(x, (int)w);
    }
    if (s_take(c, n, &x) != 0) return -1;
    *data = x;
    *len = n;
    return 0;
}

static int s_double(s_cur_t *c, double *v)
{
    const uint8_t *b, *x;
    if (s_take(c, 1, &b) != 0) return -1;
    if (*b == 0xcb) {
        if (s_take(c, 8, &x) != 0) return -1;
        uint64_t bits = s_get_be(x, 8);
        memcpy(v, &bits, sizeof *v);
    } else if (*b == 0xca) {
        if (s_take(c, 4, &x) != 0) return -1;
        uint32_t bits = (uint32_t)s_get_be(x, 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        *v = f;
    } else {
        c->pos--;
        uint64_t u;
        if (s_uint(c, &u) != 0) return -1;
        *v = (double)u;
    }
    return 0;
}

/* An array of `elements` whose first element is the kind `kind`. */
static int s_head(s_cur_t *c, uint32_t elements, int kind)
{
    uint64_t k;
    if (s_array(c, elements) || s_uint(c, &k) || k != (uint64_t)kind) return -1;
    return 0;
}

int tmq_frame_kind(const uint8_t *p, size_t n)
{
    s_cur_t c = {p, n, 0};
    uint64_t count, k;
    if (s_array_any(&c, &count) || count == 0 || s_uint(&c, &k) || k == 0 || k > TMQ_FRAME_HELLO)
        return -1;
    return (int)k;
}

int tmq_frame_job_decode(const uint8_t *p, size_t n, tmq_frame_job_t *out)
{
    s_cur_t c = {p, n, 0};
    const void *fn;
    if (s_head(&c, 4, TMQ_FRAME_JOB) || s_uint(&c, &out->tag) ||
        s_bytes(&c, S_STR, &fn, &out->fn_len) || s_bytes(&c, S_BIN, &out->arg, &out->arg_len) ||
        c.pos != n)
        return -1;
    out->fn = fn;
    return 0;
}

int tmq_frame_result_decode(const uint8_t *p, size_t n, tmq_frame_result_t *out)
{
    s_cur_t c = {p, n, 0};
    uint64_t st;
    if (s_head(&c, 5, TMQ_FRAME_RESULT) || s_uint(&c, &out->tag) || s_uint(&c, &st) || st > 3 ||
        s_bytes(&c, S_BIN | S_STR, &out->data, &out->data_len) || s_double(&c, &out->ms) ||
        c.pos != n)
        return -1;
    out->status = (int)st;
    return 0;
}

int tmq_frame_revoke_decode(const uint8_t *p, size_t n, uint32_t *count)
{
    s_cur_t c = {p, n, 0};
    uint64_t v;
    if (s_head(&c, 2, TMQ_FRAME_REVOKE) || s_uint(&c, &v) || v > UINT32_MAX || c.pos != n)
        return -1;
    *count = (uint32_t)v;
    return 0;
}

int tmq_frame_returned_decode(const uint8_t *p, size_t n, uint64_t *tags, size_t max, size_t *ntags)
{
    s_cur_t c = {p, n, 0};
    uint64_t count;
    if (s_head(&c, 2, TMQ_FRAME_RETURNED) || s_array_any(&c, &count) || count > max) return -1;
    for (uint64_t i = 0; i < count; i++)
        if (s_uint(&c, &tags[i]) != 0) return -1;
    if (c.pos != n) return -1;
    *ntags = (size_t)count;
    return 0;
}

/* ---- HELLO ---- */

static void s_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void *tmq_frame_hello_write(const tmq_frame_hello_t *h, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&sb, "\0\0\0\0", TMQ_FRAME_PREFIX); /* the length, filled below */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint8(&pk, TMQ_FRAME_HELLO);
    msgpack_pack_map(&pk, 3 + (h->error != NULL));
    s_pack_cstr(&pk, "version");
    msgpack_pack_uint32(&pk, h->version);
    s_pack_cstr(&pk, "functions");
    msgpack_pack_array(&pk, (uint32_t)h->nfns);
    for (size_t i = 0; i < h->nfns; i++)
        s_pack_cstr(&pk, h->fns[i]);
    s_pack_cstr(&pk, "revoke");
    if (h->revoke)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    if (h->error) {
        s_pack_cstr(&pk, "error");
        s_pack_cstr(&pk, h->error);
    }
    s_put_be((uint8_t *)sb.data, sb.size - TMQ_FRAME_PREFIX, TMQ_FRAME_PREFIX);
    *len = sb.size;
    return msgpack_sbuffer_release(&sb);
}

static char *s_dup_str(const msgpack_object *o)
{
    char *s = tmq_xmalloc(o->via.str.size + 1);
    if (o->via.str.size) memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

static int s_why(char *why, size_t wl, const char *text)
{
    snprintf(why, wl, "%s", text);
    return -1;
}

/* The fields of a decoded HELLO map; 0, or -1 with why set. */
static int s_hello_fields(const msgpack_object *map, tmq_frame_hello_t *out, char *why, size_t wl)
{
    bool have_version = false, have_fns = false;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
        if (tmq_proto_key_is(k, "version")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > UINT32_MAX)
                return s_why(why, wl, "'version' must be a uint");
            out->version = (uint32_t)v->via.u64;
            have_version = true;
        } else if (tmq_proto_key_is(k, "revoke")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN) return s_why(why, wl, "'revoke' must be a bool");
            out->revoke = v->via.boolean;
        } else if (tmq_proto_key_is(k, "python")) { /* informational: a non-string is ignored */
            if (v->type == MSGPACK_OBJECT_STR && !out->python) out->python = s_dup_str(v);
        } else if (tmq_proto_key_is(k, "error")) {
            if (v->type != MSGPACK_OBJECT_STR || out->error)
                return s_why(why, wl, "'error' must be a string");
            out->error = s_dup_str(v);
        } else if (tmq_proto_key_is(k, "functions")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > TMQ_FRAME_MAX_FNS ||
                out->fns) {
                snprintf(why, wl, "'functions' must be an array of at most %d names",
                         TMQ_FRAME_MAX_FNS);
                return -1;
            }
            out->fns = tmq_xcalloc(v->via.array.size, sizeof *out->fns);
            for (uint32_t f = 0; f < v->via.array.size; f++) {
                const msgpack_object *name = &v->via.array.ptr[f];
                if (name->type != MSGPACK_OBJECT_STR || name->via.str.size == 0 ||
                    name->via.str.size > TMQ_PROTO_MAX_FNAME ||
                    memchr(name->via.str.ptr, '\0', name->via.str.size)) {
                    snprintf(why, wl, "function %u is not a name of 1 to %d bytes", f,
                             TMQ_PROTO_MAX_FNAME);
                    return -1;
                }
                char *fn = s_dup_str(name);
                for (size_t g = 0; g < out->nfns; g++) {
                    if (strcmp(out->fns[g], fn) == 0) {
                        snprintf(why, wl, "function '%s' announced twice", fn);
                        free(fn);
                        return -1;
                    }
                }
                out->fns[out->nfns++] = fn;
            }
            have_fns = true;
        }
    }
    if (!have_version || (!have_fns && !out->error))
        return s_why(why, wl, "HELLO needs 'version' and 'functions' (or 'error')");
    return 0;
}

int tmq_frame_hello_decode(const uint8_t *p, size_t n, tmq_frame_hello_t *out, char *why,
                           size_t why_len)
{
    memset(out, 0, sizeof *out);
    if (tmq_proto_check(p, n, 4) != 0) {
        snprintf(why, why_len, "HELLO is not one well-formed msgpack value");
        return -1;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = -1;
    snprintf(why, why_len, "HELLO must be [5, {version, functions, revoke}]");
    if (msgpack_unpack_next(&up, (const char *)p, n, &off) == MSGPACK_UNPACK_SUCCESS && off == n &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 2 &&
        up.data.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        up.data.via.array.ptr[0].via.u64 == TMQ_FRAME_HELLO &&
        up.data.via.array.ptr[1].type == MSGPACK_OBJECT_MAP)
        rc = s_hello_fields(&up.data.via.array.ptr[1], out, why, why_len);
    msgpack_unpacked_destroy(&up);
    if (rc != 0) tmq_frame_hello_free(out);
    return rc;
}

void tmq_frame_hello_free(tmq_frame_hello_t *h)
{
    for (size_t i = 0; i < h->nfns; i++)
        free(h->fns[i]);
    free(h->fns);
    free(h->error);
    free(h->python);
    memset(h, 0, sizeof *h);
}

/* ---- reader ---- */

void tmq_frame_reader_init(tmq_frame_reader_t *r)
{
    memset(r, 0, sizeof *r);
}

void tmq_frame_reader_destroy(tmq_frame_reader_t *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* Moves held bytes to the front and grows the buffer so `want` more bytes fit. */
static void s_room(tmq_frame_reader_t *r, size_t want)
{
    if (r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (r->cap - r->len >= want) return;
    size_t cap = r->cap ? r->cap : S_READ_MIN;
    while (cap - r->len < want)
        cap *= 2;
    uint8_t *b = realloc(r->buf, cap);
    if (!b) tmq_oom();
    r->buf = b;
    r->cap = cap;
}

/* How many more bytes the frame being assembled needs (at least S_READ_MIN). */
static size_t s_want(const tmq_frame_reader_t *r)
{
    size_t held = r->len - r->off;
    size_t want = S_READ_MIN;
    if (held >= TMQ_FRAME_PREFIX) {
        size_t total = TMQ_FRAME_PREFIX + (size_t)s_get_be(r->buf + r->off, TMQ_FRAME_PREFIX);
        if (total <= TMQ_FRAME_PREFIX + TMQ_FRAME_MAX && total > held && total - held > want)
            want = total - held;
    }
    return want;
}

ssize_t tmq_frame_reader_fill(tmq_frame_reader_t *r, int fd)
{
    size_t want = s_want(r);
    if (r->off == r->len) r->off = r->len = 0;
    if (r->cap - r->len < want) s_room(r, want);
    ssize_t got;
    do {
        got = read(fd, r->buf + r->len, r->cap - r->len);
    } while (got < 0 && errno == EINTR);
    if (got > 0) r->len += (size_t)got;
    return got;
}

void tmq_frame_reader_feed(tmq_frame_reader_t *r, const void *data, size_t len)
{
    if (len == 0) return; /* nothing to hold, and r->buf may not exist yet */
    s_room(r, len);
    memcpy(r->buf + r->len, data, len);
    r->len += len;
}

int tmq_frame_reader_next(tmq_frame_reader_t *r, const uint8_t **p, size_t *n)
{
    size_t held = r->len - r->off;
    if (held < TMQ_FRAME_PREFIX) return 0;
    uint64_t body = s_get_be(r->buf + r->off, TMQ_FRAME_PREFIX);
    if (body > TMQ_FRAME_MAX) return -1;
    if (held - TMQ_FRAME_PREFIX < body) return 0;
    *p = r->buf + r->off + TMQ_FRAME_PREFIX;
    *n = (size_t)body;
    r->off += TMQ_FRAME_PREFIX + (size_t)body;
    return 1;
}
