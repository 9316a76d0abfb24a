/* broker/journal.h — the broker's append-only journal of accepted jobs (--journal DIR).
 *
 * A job is live from its ACCEPT until its FORGET (result delivered, or cancelled); in between
 * it may gather STARTs (attempts) and a RESULT. Records go to segment files
 * DIR/journal-NNNNNNNN.seg, each framed with its length, job id and an XXH3 checksum, so a torn
 * tail after a crash is found and cut at the last whole record (docs in journal_file.h).
 * Appends only buffer; tmq_journal_commit writes them in one call and, per the fsync policy,
 * one fdatasync (group commit), and tells by sequence number what is durable: the core sends
 * an ACK only for appends at or below tmq_journal_durable_seq. A failed write or sync puts the
 * journal in a failed state (new jobs refused, "journal unavailable: ..."), undoes the partial
 * write and retries later; nothing acknowledged is lost. tmq_journal_maintain deletes dead
 * segments and rewrites the live records of the oldest one forward when dead space exceeds
 * twice the live data, in bounded steps. No sockets here and no clock of its own: time comes
 * in as `now` (milliseconds, any monotonic origin).
 *
 * Size bound (live bytes L: the current ACCEPT, latest START and RESULT records of the live
 * jobs; S the segment size): after a maintain call that leaves no compaction under way the
 * directory holds at most 3L + 2S + one loop turn's appends; while a compaction is under way
 * (it paces itself at four times what is appended) at most 3.25L + 3S + one turn's appends.
 * Memory: 32 bytes per live job in the index plus its idmap slot (16 bytes at 25-50% load):
 * 64-96 bytes per live job (67 measured at 1,000,000).
 */
#ifndef TMQ_BROKER_JOURNAL_H
#define TMQ_BROKER_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The largest ACCEPT or RESULT body: the wire's largest frame (64 MiB) and room for the
 * core's own fields. Longer bodies are refused; a record claiming more is damage. */
#define TMQ_JOURNAL_MAX_BODY ((64u << 20) + (64u << 10))

/* The fsync policy, and what a crash can lose. Every commit writes (so a crash of the broker
 * alone loses nothing committed: it is in the page cache); they differ in an OS crash or a
 * power cut:
 *   ALWAYS  fdatasync in every commit that wrote an ACCEPT: it is durable, and may be
 *           acknowledged, only once it is on disk; nothing acknowledged is lost. STARTs,
 *           RESULTs and FORGETs (and compaction's copies) count as durable once written and
 *           are synced with the next commit that syncs: one lost in an OS crash only means
 *           less progress at replay — a START lost lowers the attempt count, a RESULT lost
 *           runs its job again (its client drops the repeat), a FORGET lost holds a result
 *           again until its client, or its session's linger, lets it go. (A segment is
 *           deleted only once the FORGETs that emptied it are synced.)
 *   MS > 0  fdatasync at most every MS ms (beanstalkd's -f): appends count as durable once
 *           written, so the last MS ms of acknowledged jobs (and one fdatasync's time) can be
 *           lost; their clients were told they were accepted.
 *   NEVER   no fdatasync in commits: whatever the kernel had not written back is lost (by
 *           default up to ~30 s, vm.dirty_expire_centisecs).
 * Whatever the policy, a full segment is fdatasync'd before the next begins, and so are
 * compaction's copies before their source is deleted: only the last segment can be torn. */
#define TMQ_JOURNAL_FSYNC_ALWAYS 0
#define TMQ_JOURNAL_FSYNC_NEVER -1

#define TMQ_JOURNAL_SEGMENT_DEFAULT (64u << 20)
#define TMQ_JOURNAL_SEGMENT_MIN 4096u
#define TMQ_JOURNAL_SEGMENT_MAX (1u << 30)
#define TMQ_JOURNAL_RETRY_DEFAULT_MS 500
#define TMQ_JOURNAL_PENDING_DEFAULT (64u << 20)
#define TMQ_JOURNAL_BUDGET_DEFAULT (1u << 20)

/* What a test may put between the journal and the disk (fault injection); NULL members are
 * the real calls. */
typedef struct {
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    int (*fdatasync)(int fd);
} tmq_journal_io_t;

typedef struct {
    int fsync_ms;               /* TMQ_JOURNAL_FSYNC_ALWAYS, _NEVER or milliseconds (> 0) */
    uint32_t segment_size;      /* a segment is sealed and the next begun once it is this big */
    uint32_t retry_ms;          /* after a failure, the next commit tries again this much later */
    size_t max_pending;         /* bytes buffered and unwritten past which appends are refused */
    const tmq_journal_io_t *io; /* NULL: the real system calls */
} tmq_journal_opts_t;

/* Defaults: fsync always, 64 MiB segments, retry after 500 ms, 64 MiB pending. */
void tmq_journal_opts_init(tmq_journal_opts_t *opts);

/* Parses an --fsync value: "always", "never" or a number of milliseconds 1..60000 into
 * *fsync_ms. Returns 0, or -1 when s is none of these. */
int tmq_journal_parse_fsync(const char *s, int *fsync_ms);

typedef struct tmq_journal_t tmq_journal_t;

/* Opens (creating it if need be) the journal in dir: takes the directory lock (DIR/LOCK),
 * reads every segment, checks every record, cuts a torn tail of the last segment, and builds
 * the index of live jobs. opts NULL: the defaults. Returns the journal, or NULL with the reason
 * in err (another broker holds the lock, a damaged segment that is not the last, a missing
 * segment, an I/O error), naming the file and what the operator can do. */
tmq_journal_t *tmq_journal_open(const char *dir, const tmq_journal_opts_t *opts, char *err,
                                size_t errlen);

/* Closes the files and frees everything; appends not yet committed are dropped (commit first
 * for a clean stop). Safe on NULL and twice; nulls *j_p. */
void tmq_journal_close(tmq_journal_t **j_p);

/* One live job as replay hands it over. The bodies point into the journal's files and are
 * valid during the callback only. */
typedef struct {
    uint64_t jid;
    const void *accept; /* the body given to tmq_journal_accept */
    size_t accept_len;
    uint32_t attempt;   /* the highest attempt of a START, 0 if it never started */
    const void *result; /* the body of its RESULT, NULL if it has none */
    size_t result_len;
} tmq_journal_job_t;

/* Returns 0 to go on, anything else to stop the replay. */
typedef int (*tmq_journal_replay_fn)(const tmq_journal_job_t *job, void *arg);

/* Calls fn for every live job once, in the order the jobs were accepted. Only before the
 * first append (the journal then stops keeping what replay needs). Returns the number of
 * jobs handed over, or -1 when fn stopped it, it is too late, or a file could not be mapped
 * (tmq_journal_last_error says which). */
long tmq_journal_replay(tmq_journal_t *j, tmq_journal_replay_fn fn, void *arg);

/* The largest job id the journal has ever held (0 if none): the broker continues from the
 * next one, so an id is never reused and an old record never meets a new job. */
uint64_t tmq_journal_max_jid(const tmq_journal_t *j);

/* ---- appends: they buffer only; *seq (may be NULL) gets the append's sequence number ----
 * Each returns 0, or -1 with the reason in tmq_journal_last_error: the journal is failed
 * ("journal unavailable: No space left on device"; accept only, or any append once
 * max_pending bytes wait), a body over TMQ_JOURNAL_MAX_BODY, or a programmer error (accept of
 * a job already live, start/result/forget of a job that is not). A FORGET is always taken
 * (24 bytes), so the journal can always let go of a job. */
int tmq_journal_accept(tmq_journal_t *j, uint64_t jid, const void *body, size_t len, uint64_t *seq);
int tmq_journal_start(tmq_journal_t *j, uint64_t jid, uint32_t attempt, uint64_t *seq);
/* A second RESULT for a job replaces the first. */
int tmq_journal_result(tmq_journal_t *j, uint64_t jid, const void *body, size_t len, uint64_t *seq);
int tmq_journal_forget(tmq_journal_t *j, uint64_t jid, uint64_t *seq);

/* Writes everything appended (one write), fdatasyncs per the policy and, when the current
 * segment is full, seals it (fdatasync) and begins the next. Returns 0 when every append so
 * far is durable per the policy (then durable_seq is the last append's seq), or -1 when the
 * journal is failed: the records stay buffered, the partial write is undone (ftruncate), and
 * a later commit retries once retry_ms have passed. While failed and not yet due it returns
 * -1 at once. Call it once per loop turn, and when tmq_journal_next_sync_ms says. */
int tmq_journal_commit(tmq_journal_t *j, int64_t now);

/* Every append with a sequence number <= this is durable per the policy. */
uint64_t tmq_journal_durable_seq(const tmq_journal_t *j);
/* Appends not yet durable per the policy. */
uint64_t tmq_journal_pending(const tmq_journal_t *j);

/* Milliseconds until the journal wants a commit call of its own (a delayed fdatasync under
 * --fsync MS, or a retry while failed), 0 if it is due, -1 if it wants none. */
int64_t tmq_journal_next_sync_ms(const tmq_journal_t *j, int64_t now);

/* NULL while the journal takes new jobs, else why it does not ("journal unavailable:
 * <strerror>"), the text a client is refused with. Borrowed. */
const char *tmq_journal_failed(const tmq_journal_t *j);
/* The reason of the last call that returned -1 (borrowed; "" if none). */
const char *tmq_journal_last_error(const tmq_journal_t *j);

/* Bounded upkeep, once per loop turn after commit: deletes the oldest segments while they hold
 * no live record (their deaths durable first), and while dead bytes exceed twice the live
 * bytes and one segment, rewrites the live records of the oldest segment forward, reading
 * about max(budget, four times what was appended since the last call) bytes of it (budget
 * 0: TMQ_JOURNAL_BUDGET_DEFAULT), so compaction keeps pace with the appends; the current
 * segment is rolled between steps when the copies fill it. While failed it only
 * deletes, and then also segments whose FORGETs are not yet written: a disk the journal filled
 * frees itself as jobs are forgotten. Returns 0, or -1 when a write, sync or unlink failed (see
 * tmq_journal_last_error; a failed write or sync also fails the journal). Call tmq_journal_replay
 * before the first maintain: a compaction's copies are appends. */
int tmq_journal_maintain(tmq_journal_t *j, int64_t now, size_t budget);

typedef struct {
    uint32_t segments;
    uint64_t bytes;      /* in all segments, counting what is buffered */
    uint64_t live_bytes; /* the live jobs' current records */
    uint64_t dead_bytes; /* bytes - live_bytes */
    uint64_t live_jobs;
    uint64_t appended_seq, durable_seq;
    uint64_t commits, syncs, failures;
    uint64_t copied_bytes;     /* rewritten forward by compaction */
    uint64_t deleted_segments; /* since open */
    uint64_t cut_bytes;        /* torn tail cut at open */
    uint64_t orphans;          /* records at open that belonged to no job (ignored) */
    bool failed;
} tmq_journal_stats_t;

void tmq_journal_stats(const tmq_journal_t *j, tmq_journal_stats_t *st);

#endif
