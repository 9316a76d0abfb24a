/* worker/memlimit.c — executors' memory cgroups (v1 and v2) and the RLIMIT_AS fallback. */
#include "memlimit.h"

#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PREFIX "taskmq-worker."
#define S_FILE_MAX 65536 /* /proc/self/mountinfo and cgroup.procs read at most this much */

struct tmq_memcg_t {
    int version; /* 1 or 2 */
    char *dir;   /* DIR/taskmq-worker.PID */
    size_t nslots;
};

/* ---- locating the memory cgroup ---- */

/* True when the comma-separated list [s, s+n) holds word. */
static bool s_has_word(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    const char *end = s + n;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        size_t len = comma ? (size_t)(comma - s) : (size_t)(end - s);
        if (len == w && memcmp(s, word, w) == 0) return true;
        s += len + 1;
    }
    return false;
}

/* The next line of *p (without its newline) into [*line, *line + *n); false at the end. */
static bool s_line(const char **p, const char **line, size_t *n)
{
    if (!**p) return false;
    const char *nl = strchr(*p, '\n');
    *line = *p;
    *n = nl ? (size_t)(nl - *p) : strlen(*p);
    *p = nl ? nl + 1 : *p + *n;
    return true;
}

/* Field i (0-based, space-separated) of a line. */
static bool s_field(const char *line, size_t n, int i, const char **f, size_t *fn)
{
    const char *p = line, *end = line + n;
    for (int k = 0;; k++) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end) return false;
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        size_t len = sp ? (size_t)(sp - p) : (size_t)(end - p);
        if (k == i) {
            *f = p;
            *fn = len;
            return true;
        }
        p += len;
    }
}

int tmq_memcg_locate(const char *proc_cgroup, const char *mountinfo, char *dir, size_t len)
{
    /* "4:memory:/a/b" (v1) or "0::/a/b" (v2); v1's memory controller wins when both are there */
    const char *p = proc_cgroup, *line, *path = NULL;
    size_t n, path_len = 0;
    int version = 0;
    while (s_line(&p, &line, &n)) {
        const char *c1 = memchr(line, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
        if (!c2) continue;
        const char *ctl = c1 + 1;
        size_t ctl_len = (size_t)(c2 - ctl);
        bool v1 = s_has_word(ctl, ctl_len, "memory");
        bool v2 = ctl_len == 0 && c1 - line == 1 && line[0] == '0';
        if (!v1 && !(v2 && version == 0)) continue;
        version = v1 ? 1 : 2;
        path = c2 + 1;
        path_len = n - (size_t)(path - line);
        if (v1) break;
    }
    if (!version || path_len == 0 || path[0] != '/') return 0;

    /* "36 35 0:30 ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS" */
    p = mountinfo;
    while (s_line(&p, &line, &n)) {
        const char *dash = strstr(line, " - ");
        if (!dash || dash >= line + n) continue;
        const char *fs, *super, *root, *mnt;
        size_t fs_len, super_len, root_len, mnt_len;
        size_t rest = n - (size_t)(dash + 3 - line);
        if (!s_field(dash + 3, rest, 0, &fs, &fs_len) || !s_field(line, n, 3, &root, &root_len) ||
            !s_field(line, n, 4, &mnt, &mnt_len))
            continue;
        if (version == 1) {
            if (fs_len != 6 || memcmp(fs, "cgroup", 6) != 0) continue;
            if (!s_field(dash + 3, rest, 2, &super, &super_len) ||
                !s_has_word(super, super_len, "memory"))
                continue;
        } else if (fs_len != 7 || memcmp(fs, "cgroup2", 7) != 0) {
            continue;
        }
        /* the mount shows ROOT of the hierarchy: our path lies under it */
        const char *sub = path;
        size_t sub_len = path_len;
        if (!(root_len == 1 && root[0] == '/')) {
            if (path_len < root_len || memcmp(path, root, root_len) != 0 ||
                (path_len > root_len && path[root_len] != '/'))
                continue;
            sub += root_len;
            sub_len -= root_len;
        }
        if (sub_len == 1) sub_len = 0; /* "/" */
        int w = snprintf(dir, len, "%.*s%.*s", (int)mnt_len, mnt, (int)sub_len, sub);
        return w > 0 && (size_t)w < len ? version : 0;
    }
    return 0;
}

/* ---- files ---- */

/* Reads up to S_FILE_MAX - 1 bytes of path, NUL-terminated; NULL on failure. */
static char *s_slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = tmq_xmalloc(S_FILE_MAX);
    size_t got = 0;
    ssize_t r;
    while (got < S_FILE_MAX - 1 && (r = read(fd, buf + got, S_FILE_MAX - 1 - got)) != 0) {
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return buf;
}

static int s_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    errno = err;
    return w == (ssize_t)strlen(text) ? 0 : -1;
}

static void s_slot_path(const tmq_memcg_t *self, size_t slot, const char *file, char *out,
                        size_t len)
{
    snprintf(out, len, "%s/e%zu%s%s", self->dir, slot, file ? "/" : "", file ? file : "");
}

/* The file with the slot's oom_kill counter. */
static const char *s_oom_file(const tmq_memcg_t *self)
{
    return self->version == 1 ? "memory.oom_control" : "memory.events";
}

/* Sends SIGKILL to every process listed in the cgroup.procs file at path; returns how many. */
static size_t s_kill_procs(const char *path)
{
    char *procs = s_slurp(path);
    size_t n = 0;
    for (char *p = procs, *end; p && *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0) n++;
    }
    free(procs);
    return n;
}

/* True when a process listed in the cgroup.procs file at path is a built-in executor (its
 * thread name): the tree is alive, its daemon only in another PID namespace than ours. */
static bool s_has_executor(const char *path)
{
    char *procs = s_slurp(path);
    bool found = false;
    for (char *p = procs, *end; p && *p && !found; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        char comm_path[64];
        snprintf(comm_path, sizeof comm_path, "/proc/%ld/comm", pid);
        char *comm = s_slurp(comm_path);
        found = comm && strncmp(comm, "taskmq-executor", 15) == 0;
        free(comm);
    }
    free(procs);
    return found;
}

/* Removes DIR's slot directories e* and DIR itself (each only when empty); with kill, first
 * kills what is left in them (a daemon that is gone left it: nobody else would), unless one
 * of them is an executor (then the tree is another namespace's live worker's: left alone). */
static void s_remove_tree(const char *dir, bool kill_left)
{
    if (kill_left) {
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[4096];
        bool alive = false;
        while (d && !alive && (e = readdir(d)))
            if (e->d_name[0] == 'e' && e->d_type == DT_DIR) {
                snprintf(path, sizeof path, "%s/%s/cgroup.procs", dir, e->d_name);
                alive = s_has_executor(path);
            }
        if (d) closedir(d);
        if (alive) return;
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)))
            if (e->d_name[0] == 'e' && e->d_type == DT_DIR) {
                snprintf(path, sizeof path, "%s/%s/cgroup.procs", dir, e->d_name);
                if (kill_left && s_kill_procs(path)) usleep(20000);
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                rmdir(path);
            }
        closedir(d);
    }
    rmdir(dir);
}

/* Removes what daemons that are gone (killed before they could clean up) left in parent. */
static void s_sweep(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, S_PREFIX, strlen(S_PREFIX)) != 0) continue;
        const char *num = e->d_name + strlen(S_PREFIX);
        if (strncmp(num, "daemon.", 7) == 0) num += 7; /* a v2 daemon's own leaf */
        char *end;
        long pid = strtol(num, &end, 10);
        if (*end || pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        s_remove_tree(path, true);
    }
    closedir(d);
}

/* "cannot WHAT PATH: ERRNO" into why; frees self. */
/* True when the space-separated list in file path holds word. */
static bool s_file_has(const char *path, const char *word)
{
    char *text = s_slurp(path);
    bool has = false;
    size_t w = strlen(word);
    for (char *p = text; p && (p = strstr(p, word)); p += w)
        if ((p == text || p[-1] == ' ') && (p[w] == ' ' || p[w] == '\n' || p[w] == '\0')) {
            has = true;
            break;
        }
    free(text);
    return has;
}

/* cgroup v2 gives children memory.max only where the parent's cgroup.subtree_control enables
 * the controller, which the kernel refuses for a cgroup with processes in it ("no internal
 * processes"). When ours is not enabled yet, this daemon moves itself into a leaf of its own
 * (S_PREFIX "daemon.PID", beside where the executors' cgroups go) and enables it; when that
 * fails (other processes live in the cgroup: it is not one given to the worker alone) it
 * moves back. Returns 0, or -1 with why. */
static int s_v2_enable(const char *parent, char *why, size_t why_len)
{
    char ctl[4096], leaf[3072], procs[4096], pid[24];
    snprintf(ctl, sizeof ctl, "%s/cgroup.subtree_control", parent);
    if (s_file_has(ctl, "memory")) return 0;
    snprintf(procs, sizeof procs, "%s/cgroup.controllers", parent);
    if (!s_file_has(procs, "memory")) {
        snprintf(why, why_len, "cgroup v2: the memory controller is not available in %s", parent);
        return -1;
    }
    snprintf(leaf, sizeof leaf, "%s/" S_PREFIX "daemon.%d", parent, (int)getpid());
    snprintf(procs, sizeof procs, "%s/cgroup.procs", leaf);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    if ((mkdir(leaf, 0755) != 0 && errno != EEXIST) || s_write_file(procs, pid) != 0) {
        snprintf(why, why_len, "cgroup v2: cannot make a cgroup of this worker's own in %s: %s",
                 parent, strerror(errno));
        rmdir(leaf);
        return -1;
    }
    if (s_write_file(ctl, "+memory") == 0) return 0;
    int err = errno;
    snprintf(procs, sizeof procs, "%s/cgroup.procs", parent);
    s_write_file(procs, pid); /* back where we were */
    rmdir(leaf);
    snprintf(why, why_len,
             "cgroup v2: cannot enable the memory controller below %s (%s): other processes "
             "live in it; run the worker in a cgroup of its own with the controller delegated "
             "(systemd: Delegate=yes)",
             parent, strerror(err));
    return -1;
}

static tmq_memcg_t *s_fail(tmq_memcg_t *self, char *why, size_t why_len, const char *what,
                           const char *path)
{
    int err = errno;
    snprintf(why, why_len, "cannot %s %s: %s", what, path, strerror(err));
    tmq_memcg_destroy(&self);
    return NULL;
}

tmq_memcg_t *tmq_memcg_new(size_t nslots, char *why, size_t why_len)
{
    char *cg = s_slurp("/proc/self/cgroup"), *mi = s_slurp("/proc/self/mountinfo");
    char parent[2048];
    int version = cg && mi ? tmq_memcg_locate(cg, mi, parent, sizeof parent) : 0;
    free(cg);
    free(mi);
    if (!version) {
        snprintf(why, why_len, "no memory cgroup is mounted for this process");
        return NULL;
    }
    char path[4096];
    s_sweep(parent);
    if (version == 2 && s_v2_enable(parent, why, why_len) != 0) return NULL;
    tmq_memcg_t *self = tmq_xcalloc(1, sizeof *self);
    self->version = version;
    snprintf(path, sizeof path, "%s/" S_PREFIX "%d", parent, (int)getpid());
    self->dir = tmq_xstrdup(path);
    if (mkdir(self->dir, 0755) != 0 && errno != EEXIST)
        return s_fail(self, why, why_len, "make the cgroup", self->dir);
    if (version == 2) {
        snprintf(path, sizeof path, "%s/cgroup.subtree_control", self->dir);
        if (s_write_file(path, "+memory") != 0)
            return s_fail(self, why, why_len, "enable the memory controller in", self->dir);
    }
    for (size_t i = 0; i < nslots; i++) {
        self->nslots = i + 1;
        s_slot_path(self, i, NULL, path, sizeof path);
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return s_fail(self, why, why_len, "make the cgroup", path);
        uint64_t kills;
        if (tmq_memcg_oom_kills(self, i, &kills) != 0) {
            s_slot_path(self, i, s_oom_file(self), path, sizeof path);
            if (errno == ENOENT) /* the file is there, the line is not: before Linux 4.13 */
                snprintf(why, why_len, "%s has no oom_kill counter (Linux 4.13 or later has)",
                         path);
            else
                snprintf(why, why_len, "cannot read %s: %s", path, strerror(errno));
            tmq_memcg_destroy(&self);
            return NULL;
        }
        if (tmq_memcg_set_limit(self, i, 0) != 0) {
            s_slot_path(self, i, NULL, path, sizeof path);
            return s_fail(self, why, why_len, "set a memory limit in", path);
        }
    }
    return self;
}

void tmq_memcg_destroy(tmq_memcg_t **self_p)
{
    tmq_memcg_t *self = *self_p;
    if (!self) return;
    size_t killed = 0;
    for (size_t i = 0; i < self->nslots; i++)
        killed += tmq_memcg_kill(self, i);
    if (killed) usleep(20000); /* let the killed leave their cgroups */
    s_remove_tree(self->dir, false);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

const char *tmq_memcg_path(const tmq_memcg_t *self)
{
    return self->dir;
}

int tmq_memcg_set_limit(tmq_memcg_t *self, size_t slot, uint64_t bytes)
{
    char path[4096], value[32];
    if (self->version == 2 && bytes) { /* v2 reclaims, even OOM-kills, inside the write */
        s_slot_path(self, slot, "memory.current", path, sizeof path);
        char *cur = s_slurp(path);
        uint64_t used = cur ? strtoull(cur, NULL, 10) : 0;
        free(cur);
        s_slot_path(self, slot, "memory.stat", path, sizeof path);
        char *stat = s_slurp(path); /* page cache ("file") is reclaimable: not held */
        const char *file = stat ? strstr(stat, "file ") : NULL;
        uint64_t cache =
            file && (file == stat || file[-1] == '\n') ? strtoull(file + 5, NULL, 10) : 0;
        free(stat);
        used = used > cache ? used - cache : 0;
        if (used > bytes) {
            errno = EBUSY; /* as v1 says */
            return -1;
        }
    }
    if (bytes)
        snprintf(value, sizeof value, "%" PRIu64, bytes);
    else
        snprintf(value, sizeof value, "%s", self->version == 1 ? "-1" : "max");
    s_slot_path(self, slot, self->version == 1 ? "memory.limit_in_bytes" : "memory.max", path,
                sizeof path);
    return s_write_file(path, value);
}

int tmq_memcg_attach(tmq_memcg_t *self, size_t slot, pid_t pid)
{
    char path[4096], value[24];
    s_slot_path(self, slot, "cgroup.procs", path, sizeof path);
    snprintf(value, sizeof value, "%d", (int)pid);
    return s_write_file(path, value);
}

int tmq_memcg_oom_kills(tmq_memcg_t *self, size_t slot, uint64_t *kills)
{
    char path[4096], buf[512];
    s_slot_path(self, slot, s_oom_file(self), path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf - 1)) < 0 && errno == EINTR) {
    }
    int err = errno;
    close(fd);
    if (n < 0) {
        errno = err;
        return -1;
    }
    buf[n] = '\0';
    /* "oom_kill N" is a line of both files */
    for (const char *p = buf; (p = strstr(p, "oom_kill ")); p++)
        if (p == buf || p[-1] == '\n') {
            *kills = strtoull(p + 9, NULL, 10);
            return 0;
        }
    errno = ENOENT;
    return -1;
}

int tmq_memcg_procs_fd(tmq_memcg_t *self, size_t slot)
{
    char path[4096];
    s_slot_path(self, slot, "cgroup.procs", path, sizeof path);
    return open(path, O_WRONLY | O_CLOEXEC);
}

size_t tmq_memcg_kill(tmq_memcg_t *self, size_t slot)
{
    char path[4096];
    s_slot_path(self, slot, "cgroup.procs", path, sizeof path);
    return s_kill_procs(path);
}

int tmq_memlimit_rlimit(pid_t pid, uint64_t bytes)
{
    struct rlimit cur;
    if (prlimit(pid, RLIMIT_AS, NULL, &cur) != 0) return -1;
    struct rlimit want = cur;
    want.rlim_cur = bytes && (cur.rlim_max == RLIM_INFINITY || bytes < cur.rlim_max) ? (rlim_t)bytes
                                                                                     : cur.rlim_max;
    return prlimit(pid, RLIMIT_AS, &want, NULL);
}
