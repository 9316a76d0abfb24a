/* broker/journal_file.h — the journal's files: record framing, segment headers, the checked
 * scan of a segment, the directory lock. Pure file format, no policy (that is journal.c).
 *
 * A segment DIR/journal-NNNNNNNN.seg (NNNNNNNN its sequence number, consecutive) begins with
 * a 40-byte header, then records back to back. All integers are little-endian.
 *
 *   header:  0 "TMQJRNL1"  8 u64 seq  16 u64 max_jid  24 u64 next_ord  32 u64 XXH3(bytes 0..32)
 *            (max_jid and next_ord: the largest job id and the next accept number when the
 *            segment was begun, so they survive the deletion of older segments)
 *   record:  0 u64 XXH3_64bits(bytes 8 .. 24+len)   8 u8 magic 0xA7   9 u8 type   10 u16 0
 *            12 u32 len   16 u64 jid   24 payload[len]
 *   payload: ACCEPT u64 ord (accept number, kept when the record is rewritten) + body;
 *            START u32 attempt; RESULT body; FORGET nothing.
 *
 * The checksum covers the header fields and the payload, and sits first, so a zero-filled
 * or short tail never passes. A scan stops at the first record that is short, has a bad
 * magic, type or length (bounded by TMQ_JOURNAL_MAX_BODY, so a damaged length never makes a
 * reader allocate gigabytes) or fails its checksum.
 */
#ifndef TMQ_BROKER_JOURNAL_FILE_H
#define TMQ_BROKER_JOURNAL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_JREC_HDR 24u
#define TMQ_JREC_MAGIC 0xA7u
#define TMQ_JSEG_HDR 40u
#define TMQ_JSEG_NAME_MAX 64
#define TMQ_JREC_START_SIZE (TMQ_JREC_HDR + 4u)
#define TMQ_JREC_FORGET_SIZE TMQ_JREC_HDR

typedef enum {
    TMQ_JREC_ACCEPT = 1,
    TMQ_JREC_START = 2,
    TMQ_JREC_RESULT = 3,
    TMQ_JREC_FORGET = 4,
} tmq_jrec_type_t;

typedef struct {
    uint64_t seq, max_jid, next_ord;
} tmq_jseg_hdr_t;

/* One checked record, as a scan hands it over (pointers valid during the callback only). */
typedef struct {
    uint64_t off;  /* where it begins in its file */
    uint32_t size; /* TMQ_JREC_HDR + len */
    uint8_t type;
    uint64_t jid;
    const uint8_t *rec;     /* all of it, header first */
    const uint8_t *payload; /* rec + TMQ_JREC_HDR */
    uint32_t len;
} tmq_jrec_t;

/* A growable scratch buffer that scans read through (reused, freed by the owner). */
typedef struct {
    uint8_t *data;
    size_t cap;
} tmq_jbuf_t;

void tmq_jbuf_reserve(tmq_jbuf_t *b, size_t n);
void tmq_jbuf_free(tmq_jbuf_t *b);

static inline uint32_t tmq_jget32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t tmq_jget64(const uint8_t *p)
{
    return (uint64_t)tmq_jget32(p) | (uint64_t)tmq_jget32(p + 4) << 32;
}
void tmq_jput32(uint8_t *p, uint32_t v);
void tmq_jput64(uint8_t *p, uint64_t v);

/* Frames a record into dst (room for TMQ_JREC_HDR + n1 + n2): the payload is the n1 bytes
 * of p1 then the n2 of p2 (either may be empty). Returns its size. */
size_t tmq_jrec_encode(uint8_t *dst, tmq_jrec_type_t type, uint64_t jid, const void *p1, size_t n1,
                       const void *p2, size_t n2);

/* Checks the record at p with avail bytes present. Returns 1 (whole and valid; *size its
 * size), 0 (more bytes are needed: *size how many in all, or TMQ_JREC_HDR when even the
 * header is short) or -1 (damaged: *why says how). */
int tmq_jrec_check(const uint8_t *p, size_t avail, size_t *size, const char **why);

void tmq_jseg_hdr_encode(uint8_t dst[TMQ_JSEG_HDR], const tmq_jseg_hdr_t *h);
/* 0 and *h from the TMQ_JSEG_HDR bytes at p, or -1 with *why. */
int tmq_jseg_hdr_decode(const uint8_t *p, tmq_jseg_hdr_t *h, const char **why);

/* "journal-00000042.seg" into buf. */
void tmq_jseg_name(char *buf, size_t len, uint32_t seq);
/* True when name is a segment's file name; *seq its number. */
bool tmq_jseg_parse_name(const char *name, uint32_t *seq);

/* Scans the records of the file fd in [from, end), reading through scratch, calling fn for
 * each whole valid one (fn returns 0 to go on, 1 to stop after that record). It also stops
 * once `limit` bytes of records were handed over (at a record boundary), and at the first
 * damaged or incomplete record: then *why says how. *stop gets the offset where the valid
 * records handed over end. Returns 0, or -1 when a read failed (errno set). */
int tmq_jseg_scan(int fd, uint64_t from, uint64_t end, uint64_t limit, tmq_jbuf_t *scratch,
                  int (*fn)(const tmq_jrec_t *r, void *arg), void *arg, uint64_t *stop,
                  const char **why);

/* The offset of the first whole valid record that begins after `from` and ends by `end`, -1
 * when there is none, -2 when a read failed: tells damage with good records behind it from
 * a torn tail. */
int64_t tmq_jseg_find_record(int fd, uint64_t from, uint64_t end, tmq_jbuf_t *scratch);

/* Takes the exclusive lock on DIR/LOCK (flock; the file says the holder's pid). Returns the
 * lock's descriptor, or -1 with err naming the other holder's pid when it has one. */
int tmq_jdir_lock(int dirfd, const char *dir, char *err, size_t errlen);

#endif
