/* common/platform.c — see platform.h. */
#include "platform.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t tmq_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tmq_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double tmq_clock_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t tmq_spawn(const char *path, char *const argv[], int keep_fd, bool die_with_parent)
{
    return tmq_spawn_fds(path, argv, &keep_fd, keep_fd >= 0 ? 1 : 0,
                         die_with_parent ? TMQ_SPAWN_DIE_WITH_PARENT : 0);
}

#define S_MAX_FDS 8

pid_t tmq_spawn_fds(const char *path, char *const argv[], const int *fds, size_t nfds, int flags)
{
    return tmq_spawn_fds_ex(path, argv, fds, nfds, flags, -1);
}

pid_t tmq_spawn_fds_ex(const char *path, char *const argv[], const int *fds, size_t nfds, int flags,
                       int join_fd)
{
    if (nfds > S_MAX_FDS) {
        errno = EINVAL;
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        /* both sides set the group, so it exists before either goes on (the usual idiom) */
        if (pid > 0 && (flags & TMQ_SPAWN_OWN_GROUP)) setpgid(pid, pid);
        return pid;
    }

    /* Child: only async-signal-safe calls until exec; never touch the parent's ZeroMQ state. */
    if (flags & TMQ_SPAWN_DIE_WITH_PARENT) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127); /* parent already gone */
    }
    if ((flags & TMQ_SPAWN_OWN_GROUP) && setpgid(0, 0) != 0) _exit(127);
    if (join_fd >= 0) {
        ssize_t w = write(join_fd, "0", 1); /* "0": the writer; the parent checks */
        (void)w;
    }
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    /* Park each above the targets 3..3+nfds-1 first, so no dup2 below overwrites a
     * descriptor still to be moved (lowest free number from there: works under any
     * RLIMIT_NOFILE that can hold them at all). */
    int parked[S_MAX_FDS];
    for (size_t i = 0; i < nfds; i++)
        if ((parked[i] = fcntl(fds[i], F_DUPFD, 3 + (int)nfds)) < 0) _exit(127);
    for (size_t i = 0; i < nfds; i++)
        if (dup2(parked[i], 3 + (int)i) < 0) _exit(127); /* dup2 clears close-on-exec */
    close_range(3 + (unsigned)nfds, ~0U, 0);
    execvp(path ? path : argv[0], argv);
    _exit(127);
}

const char *tmq_self_exe(void)
{
    return "/proc/self/exe";
}

void tmq_set_title(int argc, char **argv, const char *title, const char *comm)
{
    if (argc > 0 && argv && argv[0]) {
        /* the arguments lie back to back: their whole span is the room for the title */
        char *start = argv[0];
        char *end = argv[argc - 1] + strlen(argv[argc - 1]);
        size_t room = (size_t)(end - start);
        size_t n = strlen(title);
        if (n > room) n = room;
        memset(start, 0, room);
        memcpy(start, title, n);
    }
    if (comm) prctl(PR_SET_NAME, comm);
}

const char *tmq_signal_name(int sig, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, len, "SIG%s", abbrev);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(buf, len, sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(buf, len, "SIG%d", sig);
    return buf;
}

int tmq_signal_number(const char *name, size_t n)
{
    char buf[32];
    for (int sig = 1; sig < NSIG; sig++) {
        tmq_signal_name(sig, buf, sizeof buf);
        if (strlen(buf) == n && memcmp(buf, name, n) == 0) return sig;
    }
    return 0;
}

const char *tmq_describe_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status)) {
        tmq_signal_name(WTERMSIG(status), buf, len);
    } else if (WIFEXITED(status)) {
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    } else {
        snprintf(buf, len, "status %d", status);
    }
    return buf;
}

char *tmq_sibling_path(const char *name)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return NULL;
    *slash = '\0';
    char *path = NULL;
    if (asprintf(&path, "%s/%s", self, name) < 0) return NULL;
    if (access(path, X_OK) != 0) {
        free(path);
        return NULL;
    }
    return path;
}

int tmq_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void tmq_hostname(char *buf, size_t len)
{
    if (gethostname(buf, len) != 0 || buf[0] == '\0') snprintf(buf, len, "localhost");
    buf[len - 1] = '\0';
    char *dot = strchr(buf, '.');
    if (dot) *dot = '\0';
}

void tmq_std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        /* open() takes the lowest free descriptor, which is fd unless a lower one could not
         * be opened either; dup2 puts it in place then. */
        int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (null >= 0 && null != fd) {
            dup2(null, fd);
            close(null);
        }
    }
}

int tmq_parse_size(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;
    const char *p = v;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10) return -1;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    int shift = 0;
    if (*p == 'K' || *p == 'k')
        shift = 10;
    else if (*p == 'M' || *p == 'm')
        shift = 20;
    else if (*p == 'G' || *p == 'g')
        shift = 30;
    else if (*p == 'T' || *p == 't')
        shift = 40;
    if (shift) {
        p++;
        if (strcmp(p, "iB") == 0) p += 2;
        if (n > (UINT64_MAX >> shift)) return -1;
        n <<= shift;
    }
    if (*p || n < min || n > max) return -1;
    *out = n;
    return 0;
}

void tmq_format_size(uint64_t n, char *buf, size_t len)
{
    static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u < 4 && n >= 1024 && n % 1024 == 0) {
        n /= 1024;
        u++;
    }
    snprintf(buf, len, "%llu %s", (unsigned long long)n, n == 1 && u == 0 ? "byte" : units[u]);
}

int tmq_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tmq_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int tmq_log_to_file(const char *path, char *why, size_t why_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
        snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int tmq_pid_file_write(const char *path, char *why, size_t why_len)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp%d", path, (int)getpid()) < 0) tmq_oom();
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "%d\n", (int)getpid()) > 0;
    if (f && fclose(f) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) ok = false; /* whole or not at all */
    if (!ok) {
        snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

void tmq_pid_file_remove(const char *path)
{
    if (path) unlink(path);
}
