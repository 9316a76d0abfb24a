/* broker/journal_file.c — see journal_file.h. Scans read with pread through a scratch buffer
 * (not mmap), so a bad sector is an EIO with a file name and an offset, never a SIGBUS. */
#include "journal_file.h"
#include "journal.h"

#include <xalloc.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <xxhash.h>

#define S_CHUNK (1u << 20) /* bytes a scan reads at a time (more when a record is bigger) */
#define S_SEG_MAGIC "TMQJRNL1"
#define S_MAX_LEN (TMQ_JOURNAL_MAX_BODY + 8u) /* an ACCEPT's body and its accept number */

void tmq_jbuf_reserve(tmq_jbuf_t *b, size_t n)
{
    if (b->cap >= n) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < n)
        cap *= 2;
    b->data = tmq_xrealloc(b->data, cap);
    b->cap = cap;
}

void tmq_jbuf_free(tmq_jbuf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->cap = 0;
}

void tmq_jput32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void tmq_jput64(uint8_t *p, uint64_t v)
{
    tmq_jput32(p, (uint32_t)v);
    tmq_jput32(p + 4, (uint32_t)(v >> 32));
}

size_t tmq_jrec_encode(uint8_t *dst, tmq_jrec_type_t type, uint64_t jid, const void *p1, size_t n1,
                       const void *p2, size_t n2)
{
    size_t len = n1 + n2;
    dst[8] = TMQ_JREC_MAGIC;
    dst[9] = (uint8_t)type;
    dst[10] = dst[11] = 0;
    tmq_jput32(dst + 12, (uint32_t)len);
    tmq_jput64(dst + 16, jid);
    if (n1) memcpy(dst + TMQ_JREC_HDR, p1, n1);
    if (n2) memcpy(dst + TMQ_JREC_HDR + n1, p2, n2);
    tmq_jput64(dst, XXH3_64bits(dst + 8, TMQ_JREC_HDR - 8 + len));
    return TMQ_JREC_HDR + len;
}

/* The payload length a record of this type may have: [*lo, *hi]. */
static bool s_len_bounds(unsigned type, uint32_t *lo, uint32_t *hi)
{
    switch (type) {
    case TMQ_JREC_ACCEPT:
        *lo = 8, *hi = S_MAX_LEN;
        return true;
    case TMQ_JREC_START:
        *lo = *hi = 4;
        return true;
    case TMQ_JREC_RESULT:
        *lo = 0, *hi = TMQ_JOURNAL_MAX_BODY;
        return true;
    case TMQ_JREC_FORGET:
        *lo = *hi = 0;
        return true;
    default:
        return false;
    }
}

int tmq_jrec_check(const uint8_t *p, size_t avail, size_t *size, const char **why)
{
    *size = TMQ_JREC_HDR;
    if (avail < TMQ_JREC_HDR) return 0;
    uint32_t lo, hi;
    if (p[8] != TMQ_JREC_MAGIC || p[10] != 0 || p[11] != 0 || !s_len_bounds(p[9], &lo, &hi)) {
        *why = "not a record header (bad magic or type)";
        return -1;
    }
    uint32_t len = tmq_jget32(p + 12);
    if (len < lo || len > hi) {
        *why = "record length out of bounds";
        return -1;
    }
    *size = TMQ_JREC_HDR + (size_t)len;
    if (avail < *size) return 0;
    if (tmq_jget64(p) != XXH3_64bits(p + 8, TMQ_JREC_HDR - 8 + len)) {
        *why = "checksum mismatch";
        return -1;
    }
    return 1;
}

void tmq_jseg_hdr_encode(uint8_t dst[TMQ_JSEG_HDR], const tmq_jseg_hdr_t *h)
{
    memcpy(dst, S_SEG_MAGIC, 8);
    tmq_jput64(dst + 8, h->seq);
    tmq_jput64(dst + 16, h->max_jid);
    tmq_jput64(dst + 24, h->next_ord);
    tmq_jput64(dst + 32, XXH3_64bits(dst, 32));
}

int tmq_jseg_hdr_decode(const uint8_t *p, tmq_jseg_hdr_t *h, const char **why)
{
    if (memcmp(p, S_SEG_MAGIC, 8) != 0) {
        *why = "not a journal segment header";
        return -1;
    }
    if (tmq_jget64(p + 32) != XXH3_64bits(p, 32)) {
        *why = "segment header checksum mismatch";
        return -1;
    }
    h->seq = tmq_jget64(p + 8);
    h->max_jid = tmq_jget64(p + 16);
    h->next_ord = tmq_jget64(p + 24);
    return 0;
}

void tmq_jseg_name(char *buf, size_t len, uint32_t seq)
{
    snprintf(buf, len, "journal-%08u.seg", seq);
}

bool tmq_jseg_parse_name(const char *name, uint32_t *seq)
{
    const char *p = name + 8;
    if (strncmp(name, "journal-", 8) != 0) return false;
    uint64_t v = 0;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 10) {
        v = v * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (digits < 8 || strcmp(p, ".seg") != 0 || v == 0 || v > UINT32_MAX) return false;
    *seq = (uint32_t)v;
    return true;
}

/* Reads exactly n bytes at off (fewer only at end of file). Returns the count or -1. */
static ssize_t s_pread_full(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int tmq_jseg_scan(int fd, uint64_t from, uint64_t end, uint64_t limit, tmq_jbuf_t *scratch,
                  int (*fn)(const tmq_jrec_t *r, void *arg), void *arg, uint64_t *stop,
                  const char **why)
{
    *why = NULL;
    *stop = from;
    uint64_t bstart = from; /* file offset of scratch->data[0] */
    size_t blen = 0, pos = 0;
    tmq_jbuf_reserve(scratch, S_CHUNK);
    for (;;) {
        uint64_t at = bstart + pos;
        if (at >= end || at - from >= limit) return 0;
        size_t size;
        int ok = tmq_jrec_check(scratch->data + pos, blen - pos, &size, why);
        if (ok < 0) return 0;
        if (ok == 0) {
            if (at + size > end) {
                *why = size == TMQ_JREC_HDR && end - at < TMQ_JREC_HDR
                           ? "record header cut short by the end of the file"
                           : "record cut short by the end of the file";
                return 0;
            }
            /* keep the partial record, read at least the rest of it */
            memmove(scratch->data, scratch->data + pos, blen - pos);
            blen -= pos;
            bstart = at;
            pos = 0;
            size_t want = size > S_CHUNK ? size : S_CHUNK;
            if (want > end - at) want = (size_t)(end - at);
            tmq_jbuf_reserve(scratch, want);
            ssize_t r = s_pread_full(fd, scratch->data + blen, want - blen, at + blen);
            if (r < 0) return -1;
            if ((size_t)r < want - blen) {
                *why = "the file ended early while being read";
                return 0;
            }
            blen = want;
            continue;
        }
        tmq_jrec_t rec = {.off = at,
                          .size = (uint32_t)size,
                          .type = scratch->data[pos + 9],
                          .jid = tmq_jget64(scratch->data + pos + 16),
                          .rec = scratch->data + pos,
                          .payload = scratch->data + pos + TMQ_JREC_HDR,
                          .len = (uint32_t)(size - TMQ_JREC_HDR)};
        pos += size;
        *stop = at + size;
        if (fn && fn(&rec, arg)) return 0;
    }
}

int64_t tmq_jseg_find_record(int fd, uint64_t from, uint64_t end, tmq_jbuf_t *scratch)
{
    if (end <= from + 1) return -1;
    size_t n = (size_t)(end - from);
    tmq_jbuf_reserve(scratch, n);
    ssize_t r = s_pread_full(fd, scratch->data, n, from);
    if (r < 0) return -2;
    n = (size_t)r;
    for (size_t p = 1; p + TMQ_JREC_HDR <= n; p++) {
        if (scratch->data[p + 8] != TMQ_JREC_MAGIC) continue; /* cheap filter first */
        size_t size;
        const char *why;
        if (tmq_jrec_check(scratch->data + p, n - p, &size, &why) == 1) return (int64_t)(from + p);
    }
    return -1;
}

int tmq_jdir_lock(int dirfd, const char *dir, char *err, size_t errlen)
{
    int fd = openat(dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s/LOCK: %s", dir, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
        if (r > 0) pid[r] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK && pid[0])
            snprintf(err, errlen,
                     "journal %s is in use by another broker (pid %s): stop that one, or give "
                     "this one another --journal directory",
                     dir, pid);
        else if (e == EWOULDBLOCK)
            snprintf(err, errlen,
                     "journal %s is in use by another broker: stop that one, or give this one "
                     "another --journal directory",
                     dir);
        else
            snprintf(err, errlen, "cannot lock %s/LOCK: %s", dir, strerror(e));
        return -1;
    }
    /* The directory itself too: a LOCK file deleted under a running broker must not let a
       second one in (it would make a LOCK of its own) */
    if (flock(dirfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen,
                 e == EWOULDBLOCK ? "journal %s is in use by another broker (its LOCK file was "
                                    "removed): stop that one, or give this one another --journal "
                                    "directory"
                                  : "cannot lock %s: %s",
                 dir, strerror(e));
        return -1;
    }
    /* Best effort: a full disk must not keep a broker from starting on what it holds. */
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) < 0) {
        /* the lock holds without the pid; only the message to a second broker is poorer */
    }
    return fd;
}
