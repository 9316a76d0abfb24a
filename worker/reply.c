/* worker/reply.c — see reply.h: the SDK's tmq_reply_* calls and their bookkeeping.
 *
 * Every write goes through s_open (may one more value go here?) and s_close (count it, open
 * its container, close the containers it completed), so the bytes in the buffer are always a
 * prefix of one msgpack value and tmq_reply_end only has to ask whether it is complete. The
 * first misuse is remembered and every later write refused, so the job fails with the first
 * thing that went wrong; an error reply replaces the buffer's content and wins over all.
 */
#include "reply.h"

#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void tmq_reply_init(tmq_reply_t *r)
{
    memset(r, 0, sizeof *r);
    if (!msgpack_zone_init(&r->zone, 4096)) tmq_oom();
}

void tmq_reply_destroy(tmq_reply_t *r)
{
    msgpack_zone_destroy(&r->zone);
}

void tmq_reply_begin(tmq_reply_t *r, msgpack_sbuffer *out, const char *fn)
{
    out->size = 0;
    r->out = out;
    msgpack_packer_init(&r->pk, out, msgpack_sbuffer_write);
    r->fn = fn;
    r->status = TMQ_ST_OK;
    r->raw = r->wrote = false;
    r->misuse[0] = '\0';
    r->depth = 0;
    r->left[0] = 1;
    r->map[0] = false;
}

static void s_text(tmq_reply_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Replaces the buffer's content with text. */
static void s_text(tmq_reply_t *r, const char *fmt, ...)
{
    char text[TMQ_REPLY_ERROR_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n > TMQ_REPLY_ERROR_MAX) n = TMQ_REPLY_ERROR_MAX;
    r->out->size = 0;
    msgpack_sbuffer_write(r->out, text, (size_t)n);
}

int tmq_reply_end(tmq_reply_t *r, int rc)
{
    int st = TMQ_ST_ERROR;
    const char *kind = r->depth > 0 && r->map[r->depth] ? "a map" : "an array";
    if (r->raw || r->status == TMQ_ST_ERROR)
        st = r->status;
    else if (r->misuse[0])
        s_text(r, "%s: %s", r->fn, r->misuse);
    else if (rc != 0)
        s_text(r, "%s: failed without saying why (returned %d without tmq_reply_error)", r->fn, rc);
    else if (!r->wrote)
        s_text(r, "%s: returned without a result", r->fn);
    else if (r->depth > 0)
        s_text(r, "%s: the reply is incomplete: %s still wants %llu item%s", r->fn, kind,
               (unsigned long long)r->left[r->depth], r->left[r->depth] == 1 ? "" : "s");
    else
        st = TMQ_ST_OK;
    r->out = NULL;
    r->fn = NULL;
    msgpack_zone_clear(&r->zone);
    return st;
}

msgpack_sbuffer *tmq_reply_buffer(tmq_reply_t *r)
{
    return r->out;
}

msgpack_zone *tmq_reply_zone(tmq_reply_t *r)
{
    return &r->zone;
}

int tmq_reply_raw(tmq_reply_t *r, int status)
{
    r->raw = true;
    r->status = status;
    return status == TMQ_ST_OK ? 0 : -1;
}

/* ---- the public calls ---- */

static int s_misuse(tmq_reply_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Remembers the first misuse (the job fails with it) and returns -1. */
static int s_misuse(tmq_reply_t *r, const char *fmt, ...)
{
    if (r->misuse[0]) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->misuse, sizeof r->misuse, fmt, ap);
    va_end(ap);
    return -1;
}

/* May a value (a container when container is true) be written at the current position? */
static int s_open(tmq_reply_t *r, const char *call, bool container)
{
    if (!r || !r->out) return -1; /* outside a call: a kept pointer; nothing to fail */
    if (r->status == TMQ_ST_ERROR || r->misuse[0]) return -1;
    if (r->depth == 0 && r->left[0] == 0)
        return s_misuse(r, "%s after the reply was complete (a result is one value)", call);
    if (container && r->depth >= TMQ_PROTO_MAX_DEPTH)
        return s_misuse(r, "%s: the reply is nested deeper than %d", call, TMQ_PROTO_MAX_DEPTH);
    return 0;
}

/* Counts the value just written; items > 0 opens it as a container of that many items. */
static int s_close(tmq_reply_t *r, uint64_t items, bool map)
{
    r->wrote = true;
    r->left[r->depth]--;
    if (items > 0) {
        r->depth++;
        r->left[r->depth] = items;
        r->map[r->depth] = map;
    }
    while (r->depth > 0 && r->left[r->depth] == 0)
        r->depth--;
    return 0;
}

int tmq_reply_error(tmq_reply_t *r, const char *fmt, ...)
{
    if (!r || !r->out || r->status == TMQ_ST_ERROR) return -1;
    char text[TMQ_REPLY_ERROR_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n > TMQ_REPLY_ERROR_MAX) n = TMQ_REPLY_ERROR_MAX;
    r->out->size = 0;
    msgpack_sbuffer_write(r->out, text, (size_t)n);
    r->status = TMQ_ST_ERROR;
    return -1;
}

int tmq_reply_result(tmq_reply_t *r, const void *msgpack, size_t len)
{
    if (s_open(r, "tmq_reply_result", false) != 0) return -1;
    if (!msgpack || tmq_proto_check(msgpack, len, TMQ_PROTO_MAX_DEPTH - r->depth) != 0)
        return s_misuse(r,
                        "tmq_reply_result was given %zu bytes that are not one well-formed "
                        "msgpack value (nested at most %d deep)",
                        len, TMQ_PROTO_MAX_DEPTH);
    msgpack_sbuffer_write(r->out, msgpack, len);
    return s_close(r, 0, false);
}

int tmq_reply_map(tmq_reply_t *r, uint32_t npairs)
{
    if (s_open(r, "tmq_reply_map", true) != 0) return -1;
    msgpack_pack_map(&r->pk, npairs);
    return s_close(r, 2 * (uint64_t)npairs, true);
}

int tmq_reply_array(tmq_reply_t *r, uint32_t n)
{
    if (s_open(r, "tmq_reply_array", true) != 0) return -1;
    msgpack_pack_array(&r->pk, n);
    return s_close(r, n, false);
}

int tmq_reply_key(tmq_reply_t *r, const char *key)
{
    if (s_open(r, "tmq_reply_key", false) != 0) return -1;
    /* a map of n pairs wants 2n items: a key where an even number is left */
    if (r->depth == 0 || !r->map[r->depth] || r->left[r->depth] % 2 != 0)
        return s_misuse(r, "tmq_reply_key(\"%.40s\") where no map key is due", key ? key : "");
    if (!key) return s_misuse(r, "tmq_reply_key(NULL)");
    size_t n = strlen(key);
    msgpack_pack_str_with_body(&r->pk, key, n);
    return s_close(r, 0, false);
}

int tmq_reply_int(tmq_reply_t *r, int64_t v)
{
    if (s_open(r, "tmq_reply_int", false) != 0) return -1;
    msgpack_pack_int64(&r->pk, v);
    return s_close(r, 0, false);
}

int tmq_reply_uint(tmq_reply_t *r, uint64_t v)
{
    if (s_open(r, "tmq_reply_uint", false) != 0) return -1;
    msgpack_pack_uint64(&r->pk, v);
    return s_close(r, 0, false);
}

int tmq_reply_double(tmq_reply_t *r, double v)
{
    if (s_open(r, "tmq_reply_double", false) != 0) return -1;
    msgpack_pack_double(&r->pk, v);
    return s_close(r, 0, false);
}

int tmq_reply_bool(tmq_reply_t *r, bool v)
{
    if (s_open(r, "tmq_reply_bool", false) != 0) return -1;
    if (v)
        msgpack_pack_true(&r->pk);
    else
        msgpack_pack_false(&r->pk);
    return s_close(r, 0, false);
}

int tmq_reply_nil(tmq_reply_t *r)
{
    if (s_open(r, "tmq_reply_nil", false) != 0) return -1;
    msgpack_pack_nil(&r->pk);
    return s_close(r, 0, false);
}

int tmq_reply_strn(tmq_reply_t *r, const char *s, size_t len)
{
    if (s_open(r, "tmq_reply_strn", false) != 0) return -1;
    if (!s && len) return s_misuse(r, "tmq_reply_strn(NULL, %zu)", len);
    if (len > UINT32_MAX) return s_misuse(r, "tmq_reply_strn: %zu bytes is too long", len);
    msgpack_pack_str_with_body(&r->pk, s, len);
    return s_close(r, 0, false);
}

int tmq_reply_str(tmq_reply_t *r, const char *s)
{
    if (!s) {
        if (s_open(r, "tmq_reply_str", false) != 0) return -1;
        return s_misuse(r, "tmq_reply_str(NULL)");
    }
    return tmq_reply_strn(r, s, strlen(s));
}

int tmq_reply_bin(tmq_reply_t *r, const void *p, size_t len)
{
    if (s_open(r, "tmq_reply_bin", false) != 0) return -1;
    if (!p && len) return s_misuse(r, "tmq_reply_bin(NULL, %zu)", len);
    if (len > UINT32_MAX) return s_misuse(r, "tmq_reply_bin: %zu bytes is too long", len);
    msgpack_pack_bin_with_body(&r->pk, p, len);
    return s_close(r, 0, false);
}
