/* worker/exec.c — see exec.h.
 *
 * Three steps: parse the argument into C strings (every size is the argument's own, checked
 * by msgpack-c's unpacker before we see it), run the command, pack the result. Running is
 * fork + execve with everything the child needs built beforehand (argv, envp, the PATH
 * candidates, a /bin/sh argv for scripts without #!), because the executor has two threads
 * and after fork only async-signal-safe calls are allowed until exec. The child reports a
 * failed chdir or execve on a close-on-exec pipe, so "cannot run" is told apart from a
 * command that ran and exited 127. This file is the executor's OS corner for commands, as
 * common/platform.c is for executors: forking, signals and /proc stay here.
 */
#include "exec.h"

#include "jsonmp.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "xalloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define S_CHUNK (64u << 10)     /* bytes read or written per call */
#define S_EXIT_TICK_MS 50       /* without a pidfd: how often to look for the command's exit */
#define S_LEFTOVER_WAIT_MS 2000 /* longest the clean-up waits for killed leftovers */
#define S_NAME_MAX 200          /* bytes of a program or directory name quoted in errors */
#define S_DEFAULT_PATH "/bin:/usr/bin" /* what execvp searches when PATH is unset */

static size_t s_output_max = TMQ_EXEC_DEFAULT_OUTPUT_MAX;
static bool s_subreaper; /* tmq_exec_init made us the parent of every command's leftovers */

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- the argument ---- */

static bool s_is_text(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN;
}

static void s_text(const msgpack_object *o, const char **p, size_t *n)
{
    *p = o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr;
    *n = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : o->via.bin.size;
}

/* A NUL-terminated copy of a str or bin holding no NUL byte, else NULL. */
static char *s_cstr(const msgpack_object *o)
{
    if (!s_is_text(o)) return NULL;
    const char *p;
    size_t n;
    s_text(o, &p, &n);
    if (n && memchr(p, '\0', n)) return NULL;
    char *s = tmq_xmalloc(n + 1);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int s_parse_argv(const msgpack_object *a, tmq_exec_req_t *req, char *err, size_t errlen)
{
    if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size == 0)
        return s_fail(err, errlen, "exec: argv must be a non-empty array of strings");
    uint32_t n = a->via.array.size;
    req->argv = tmq_xcalloc((size_t)n + 1, sizeof *req->argv);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *w = &a->via.array.ptr[i];
        if (!s_is_text(w)) return s_fail(err, errlen, "exec: argv[%u] is not a string", i);
        if (!(req->argv[i] = s_cstr(w)))
            return s_fail(err, errlen, "exec: argv[%u] contains a NUL byte", i);
    }
    if (req->argv[0][0] == '\0') return s_fail(err, errlen, "exec: argv[0] is empty");
    return 0;
}

/* The name at k as a C string, when it is one an environment can hold. */
static char *s_env_name(const msgpack_object *k)
{
    char *name = s_cstr(k);
    if (name && (name[0] == '\0' || strchr(name, '='))) {
        free(name);
        return NULL;
    }
    return name;
}

static int s_parse_env(const msgpack_object *m, tmq_exec_req_t *req, char *err, size_t errlen)
{
    if (m->type == MSGPACK_OBJECT_NIL) return 0;
    if (m->type != MSGPACK_OBJECT_MAP)
        return s_fail(err, errlen, "exec: env must be a map of names to strings");
    uint32_t n = m->via.map.size;
    if (n > TMQ_EXEC_MAX_ENV)
        return s_fail(err, errlen, "exec: env sets %u names (at most %d)", n, TMQ_EXEC_MAX_ENV);
    req->env = tmq_xcalloc((size_t)n + 1, sizeof *req->env);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
        char *name = s_env_name(k);
        if (!name) {
            const char *p = "?";
            size_t n = 1;
            if (s_is_text(k)) s_text(k, &p, &n);
            return s_fail(err, errlen,
                          "exec: env name '%.*s' is not valid (it must be a non-empty string "
                          "without '=' or NUL)",
                          n > 40 ? 40 : (int)n, p);
        }
        size_t nlen = strlen(name);
        for (uint32_t j = 0; j < i; j++) {
            const char *e = req->env[j];
            if (strncmp(e, name, nlen) == 0 && (e[nlen] == '=' || e[nlen] == '\0')) {
                int shown = nlen > S_NAME_MAX ? S_NAME_MAX : (int)nlen;
                free(name);
                return s_fail(err, errlen, "exec: env sets '%.*s' twice", shown, e);
            }
        }
        if (v->type == MSGPACK_OBJECT_NIL) {
            req->env[i] = name; /* removed */
            continue;
        }
        char *value = s_cstr(v);
        if (!value) {
            int shown = nlen > S_NAME_MAX ? S_NAME_MAX : (int)nlen;
            int rc =
                s_fail(err, errlen, "exec: env '%.*s' must be a string without NUL bytes, or null",
                       shown, name);
            free(name);
            return rc;
        }
        size_t vlen = strlen(value);
        char *kv = tmq_xmalloc(nlen + 1 + vlen + 1);
        memcpy(kv, name, nlen);
        kv[nlen] = '=';
        memcpy(kv + nlen + 1, value, vlen + 1);
        free(name);
        free(value);
        req->env[i] = kv;
    }
    return 0;
}

/* "exec: argument must be ..., got 5" with the value as compact JSON (cut). */
static int s_wrong_arg(const msgpack_object *arg, char *err, size_t errlen)
{
    json_t *j = tmq_json_from_object(arg);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    int rc = s_fail(err, errlen,
                    "exec: argument must be {\"argv\":[PROGRAM, ARG...]} (with \"stdin\", "
                    "\"env\", \"cwd\" optional), got %.60s%s",
                    text ? text : "?", text && strlen(text) > 60 ? "..." : "");
    free(text);
    return rc;
}

int tmq_exec_parse(const msgpack_object *arg, tmq_exec_req_t *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    if (arg->type == MSGPACK_OBJECT_ARRAY) return s_parse_argv(arg, req, err, errlen);
    if (arg->type != MSGPACK_OBJECT_MAP) return s_wrong_arg(arg, err, errlen);
    bool have_argv = false;
    for (uint32_t i = 0; i < arg->via.map.size; i++) {
        const msgpack_object *k = &arg->via.map.ptr[i].key, *v = &arg->via.map.ptr[i].val;
        int rc = 0;
        if (tmq_proto_key_is(k, "argv")) {
            if (have_argv) return s_fail(err, errlen, "exec: argv given twice");
            have_argv = true;
            rc = s_parse_argv(v, req, err, errlen);
        } else if (tmq_proto_key_is(k, "env")) {
            if (req->env) return s_fail(err, errlen, "exec: env given twice");
            rc = s_parse_env(v, req, err, errlen);
        } else if (tmq_proto_key_is(k, "stdin")) {
            if (v->type == MSGPACK_OBJECT_NIL) continue;
            if (!s_is_text(v)) return s_fail(err, errlen, "exec: stdin must be a string");
            s_text(v, &req->stdin_data, &req->stdin_len);
        } else if (tmq_proto_key_is(k, "cwd")) {
            if (v->type == MSGPACK_OBJECT_NIL) continue;
            free(req->cwd);
            req->cwd = s_cstr(v);
            if (!req->cwd || !req->cwd[0])
                return s_fail(err, errlen, "exec: cwd must be a non-empty string without NUL");
        } else {
            const char *p = "?";
            size_t n = 1;
            if (s_is_text(k)) s_text(k, &p, &n);
            return s_fail(err, errlen, "exec: unknown key '%.*s' (known: argv, stdin, env, cwd)",
                          n > 40 ? 40 : (int)n, p);
        }
        if (rc != 0) return rc;
    }
    if (!have_argv) return s_wrong_arg(arg, err, errlen);
    return 0;
}

static void s_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void tmq_exec_req_free(tmq_exec_req_t *req)
{
    s_strv_free(req->argv);
    s_strv_free(req->env);
    free(req->cwd);
    memset(req, 0, sizeof *req);
}

/* ---- what the child needs, built before fork ---- */

typedef struct {
    char **envp;  /* the command's environment (strings borrowed from environ and req) */
    char **cands; /* paths to try, in order (owned) */
    size_t ncands;
    char **shargv; /* /bin/sh CAND ARG... for a candidate that is a script without #! */
    const char *cwd;
    char *const *argv;
    int in, out, err, report; /* the child's ends */
    pid_t parent;
} s_plan_t;

/* The length of NAME in "NAME=VALUE" (or all of a bare "NAME"). */
static size_t s_name_len(const char *e)
{
    const char *eq = strchr(e, '=');
    return eq ? (size_t)(eq - e) : strlen(e);
}

static bool s_overridden(char *const *env, const char *e)
{
    size_t n = s_name_len(e);
    for (size_t i = 0; env && env[i]; i++)
        if (s_name_len(env[i]) == n && strncmp(env[i], e, n) == 0) return true;
    return false;
}

/* environ without what req->env names, then what req->env sets. */
static char **s_envp(char *const *env)
{
    size_t n = 0, k = 0;
    while (environ && environ[n])
        n++;
    for (size_t i = 0; env && env[i]; i++)
        n++;
    char **envp = tmq_xcalloc(n + 1, sizeof *envp);
    for (size_t i = 0; environ && environ[i]; i++)
        if (!s_overridden(env, environ[i])) envp[k++] = environ[i];
    for (size_t i = 0; env && env[i]; i++)
        if (strchr(env[i], '=')) envp[k++] = env[i];
    envp[k] = NULL;
    return envp;
}

/* The PATH the lookup uses: the one env sets, else ours (unset, or removed by env: execvp's
 * default). */
static const char *s_search_path(char *const *env)
{
    for (size_t i = 0; env && env[i]; i++)
        if (s_name_len(env[i]) == 4 && strncmp(env[i], "PATH", 4) == 0)
            return env[i][4] == '=' ? env[i] + 5 : S_DEFAULT_PATH;
    const char *path = getenv("PATH");
    return path ? path : S_DEFAULT_PATH;
}

/* What execvp would try for file: file itself when it holds a '/', else DIR/file for each
 * PATH entry (an empty entry is the current directory). */
static void s_candidates(s_plan_t *p, const char *file, char *const *env)
{
    if (strchr(file, '/')) {
        p->cands = tmq_xcalloc(1, sizeof *p->cands);
        p->cands[p->ncands++] = tmq_xstrdup(file);
        return;
    }
    const char *path = s_search_path(env);
    size_t dirs = 1;
    for (const char *c = path; *c; c++)
        dirs += *c == ':';
    p->cands = tmq_xcalloc(dirs, sizeof *p->cands);
    size_t flen = strlen(file);
    for (const char *start = path;;) {
        const char *end = strchr(start, ':');
        size_t dlen = end ? (size_t)(end - start) : strlen(start);
        char *c = tmq_xmalloc(dlen + 1 + flen + 1);
        size_t at = 0;
        if (dlen) {
            memcpy(c, start, dlen);
            c[dlen] = '/';
            at = dlen + 1;
        }
        memcpy(c + at, file, flen + 1);
        p->cands[p->ncands++] = c;
        if (!end) break;
        start = end + 1;
    }
}

static void s_plan_free(s_plan_t *p)
{
    for (size_t i = 0; i < p->ncands; i++)
        free(p->cands[i]);
    free(p->cands);
    free(p->envp);
    free(p->shargv);
}

/* ---- the child ---- */

enum { S_STAGE_SETUP = 1, S_STAGE_CWD, S_STAGE_EXEC };

static void s_child_report(int fd, int stage, int err)
{
    int msg[2] = {stage, err};
    ssize_t w = write(fd, msg, sizeof msg);
    (void)w;
    _exit(127);
}

/* After fork: async-signal-safe calls only, then exec. Never returns. */
static void s_child(const s_plan_t *p)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* the executor ignores SIGPIPE and SIGINT: not the command */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != p->parent) _exit(127); /* the executor is already gone */
    if (dup2(p->in, 0) < 0 || dup2(p->out, 1) < 0 || dup2(p->err, 2) < 0)
        s_child_report(p->report, S_STAGE_SETUP, errno);
    /* everything else goes: the report pipe is close-on-exec */
    if (p->report > 3) close_range(3, (unsigned)p->report - 1, 0);
    close_range((unsigned)p->report + 1, ~0U, 0);
    if (p->cwd && chdir(p->cwd) != 0) s_child_report(p->report, S_STAGE_CWD, errno);
    /* execvp's search: EACCES is remembered and the search goes on, as do the errors that
     * say the file is not there; ENOEXEC runs the file with /bin/sh; anything else stops. */
    int err = ENOENT;
    bool denied = false;
    for (size_t i = 0; i < p->ncands; i++) {
        execve(p->cands[i], p->argv, p->envp);
        err = errno;
        if (err == ENOEXEC) {
            p->shargv[1] = p->cands[i];
            execve("/bin/sh", p->shargv, p->envp);
            break;
        }
        if (err == EACCES) {
            denied = true;
            continue;
        }
        if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
            break;
    }
    s_child_report(p->report, S_STAGE_EXEC, denied && err != ENOEXEC ? EACCES : err);
}

/* ---- running ---- */

typedef struct {
    int fd;     /* our end; -1 once closed */
    char *data; /* read so far (stdout, stderr) */
    size_t len, cap;
    const char *name;
} s_stream_t;

static void s_close(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void s_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Reads what s holds, up to max + 1 bytes in all. Returns 1 when s went over max, else 0. */
static int s_read(s_stream_t *s, size_t max)
{
    for (;;) {
        size_t room = max + 1 - s->len;
        if (room > S_CHUNK) room = S_CHUNK;
        if (s->len + room > s->cap) {
            size_t cap = s->cap ? s->cap : S_CHUNK;
            while (cap < s->len + room)
                cap *= 2;
            s->data = tmq_xrealloc(s->data, cap);
            s->cap = cap;
        }
        ssize_t n = read(s->fd, s->data + s->len, room);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (n <= 0) { /* end of file, or an error that means the same to us */
            s_close(&s->fd);
            return 0;
        }
        s->len += (size_t)n;
        if (s->len > max) return 1;
    }
}

/* Feeds stdin as far as the pipe takes it; closes it when all is written or the command
 * closed its end (EPIPE: it does not want the rest, which is not an error). */
static void s_feed(int *fd, const char *data, size_t len, size_t *off)
{
    while (*off < len) {
        size_t n = len - *off < S_CHUNK ? len - *off : S_CHUNK;
        ssize_t w = write(*fd, data + *off, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (w < 0) break;
        *off += (size_t)w;
    }
    s_close(fd);
}

static void s_msleep(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The pids whose parent is us, from /proc (every /proc/PID/stat: field 4, after the
 * parenthesised name, which may itself hold ") "). Returns how many went into pids. */
static size_t s_children(pid_t *pids, size_t max)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t self = getpid();
    size_t n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t got = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (got <= 0) continue;
        buf[got] = '\0';
        const char *rp = strrchr(buf, ')');
        int ppid;
        char state;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == self)
            pids[n++] = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    return n;
}

/* Kills and reaps every child this process has: what commands left behind (as a child
 * subreaper, orphans of our commands are ours). A killed process's own children become ours
 * in turn, so it goes on until waitpid says there are none, or S_LEFTOVER_WAIT_MS passed. */
static void s_kill_leftovers(void)
{
    int64_t until = tmq_clock_ms() + S_LEFTOVER_WAIT_MS;
    size_t killed = 0;
    for (;;) {
        pid_t r;
        while ((r = waitpid(-1, NULL, WNOHANG)) > 0) {
        }
        if (r < 0 && errno == ECHILD) break; /* none left */
        if (r < 0 && errno == EINTR) continue;
        if (tmq_clock_ms() >= until) {
            tmq_warn("exec: processes a command left behind did not die within %d ms",
                     S_LEFTOVER_WAIT_MS);
            break;
        }
        pid_t pids[256];
        size_t n = s_children(pids, sizeof pids / sizeof pids[0]);
        for (size_t i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        killed += n;
        s_msleep(1);
    }
    if (killed) tmq_debug("exec: killed %zu processes the command left behind", killed);
}

/* A name for an error message: cut, and the rest said to be cut. */
static void s_quote(char *buf, size_t len, const char *name)
{
    size_t n = strlen(name);
    snprintf(buf, len, "%.*s%s", n > S_NAME_MAX ? S_NAME_MAX : (int)n, name,
             n > S_NAME_MAX ? "..." : "");
}

/* Builds what the child needs and starts it. Returns its pid with our ends in fds (stdin,
 * stdout, stderr), or -1 with the reason in err. */
static pid_t s_start(const tmq_exec_req_t *req, int fds[3], char *err, size_t errlen)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1}, rep[2] = {-1, -1};
    pid_t pid = -1;
    s_plan_t p = {.argv = req->argv, .cwd = req->cwd, .parent = getpid()};
    char name[S_NAME_MAX + 8];
    s_quote(name, sizeof name, req->argv[0]);
    if (req->stdin_data) {
        if (pipe2(in, O_CLOEXEC) != 0) goto pipe_failed;
    } else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        goto pipe_failed;
    }
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(er, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0)
        goto pipe_failed;
    p.envp = s_envp(req->env);
    s_candidates(&p, req->argv[0], req->env);
    size_t argc = 0;
    while (req->argv[argc])
        argc++;
    p.shargv = tmq_xcalloc(argc + 2, sizeof *p.shargv);
    p.shargv[0] = "/bin/sh";
    for (size_t i = 1; i < argc; i++)
        p.shargv[i + 1] = req->argv[i];
    p.in = in[0];
    p.out = out[1];
    p.err = er[1];
    p.report = rep[1];
    pid = fork();
    if (pid == 0) s_child(&p);
    int fork_err = errno;
    s_close(&in[0]);
    s_close(&out[1]);
    s_close(&er[1]);
    s_close(&rep[1]);
    s_plan_free(&p);
    if (pid < 0) {
        s_fail(err, errlen, "exec: cannot start '%s': %s", name, strerror(fork_err));
        goto fail;
    }
    int msg[2];
    ssize_t got;
    while ((got = read(rep[0], msg, sizeof msg)) < 0 && errno == EINTR) {
    }
    s_close(&rep[0]);
    if (got == (ssize_t)sizeof msg) { /* the child did not get to exec */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        pid = -1;
        if (msg[0] == S_STAGE_CWD) {
            char dir[S_NAME_MAX + 8];
            s_quote(dir, sizeof dir, req->cwd);
            s_fail(err, errlen, "exec: cannot change directory to '%s': %s", dir, strerror(msg[1]));
        } else {
            s_fail(err, errlen, "exec: cannot run '%s': %s", name, strerror(msg[1]));
        }
        goto fail;
    }
    fds[0] = in[1];
    fds[1] = out[0];
    fds[2] = er[0];
    return pid;
pipe_failed:
    s_fail(err, errlen, "exec: cannot run '%s': cannot make a pipe: %s", name, strerror(errno));
fail:
    for (int i = 0; i < 2; i++) {
        s_close(&in[i]);
        s_close(&out[i]);
        s_close(&er[i]);
        s_close(&rep[i]);
    }
    return -1;
}

/* Feeds stdin and reads stdout and stderr until the command exits (then what it wrote is
 * read to the end of what the pipes hold: what it left running is not waited for, and is
 * killed after). Returns 0 with *status; 1 when a stream went over max (*over set); -1 when
 * poll failed (errno). *exited says whether the exit was seen. */
static int s_pump(const tmq_exec_req_t *req, pid_t pid, int *in, s_stream_t s[2], size_t max,
                  const s_stream_t **over, bool *exited, int *status)
{
    size_t off = 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* readable at the exit (Linux 5.3) */
    int rc = 0;
    while (!*exited) {
        struct pollfd pfd[4];
        int n = 0, at[4] = {-1, -1, -1, -1};
        if (*in >= 0) {
            at[0] = n;
            pfd[n++] = (struct pollfd){.fd = *in, .events = POLLOUT};
        }
        for (int i = 0; i < 2; i++)
            if (s[i].fd >= 0) {
                at[i + 1] = n;
                pfd[n++] = (struct pollfd){.fd = s[i].fd, .events = POLLIN};
            }
        if (pidfd >= 0) {
            at[3] = n;
            pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        }
        if (poll(pfd, (nfds_t)n, pidfd >= 0 ? -1 : S_EXIT_TICK_MS) < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        if (at[0] >= 0 && pfd[at[0]].revents) s_feed(in, req->stdin_data, req->stdin_len, &off);
        for (int i = 0; i < 2 && !rc; i++)
            if (at[i + 1] >= 0 && pfd[at[i + 1]].revents && s_read(&s[i], max)) {
                *over = &s[i];
                rc = 1;
            }
        if (rc) break;
        pid_t r = pidfd < 0 || pfd[at[3]].revents ? waitpid(pid, status, WNOHANG) : 0;
        if (r == pid || (r < 0 && errno == ECHILD)) { /* ECHILD: reaped behind our back */
            *exited = true;
            for (int i = 0; i < 2 && !rc; i++) /* what it wrote before it exited */
                if (s[i].fd >= 0 && s_read(&s[i], max)) {
                    *over = &s[i];
                    rc = 1;
                }
        }
    }
    if (pidfd >= 0) close(pidfd);
    return rc;
}

int tmq_exec_run(const tmq_exec_req_t *req, size_t output_max, tmq_exec_outcome_t *res, char *err,
                 size_t errlen)
{
    memset(res, 0, sizeof *res);
    signal(SIGCHLD, SIG_DFL); /* a plugin may have ignored it: then no exit could be waited for */
    int fds[3];
    pid_t pid = s_start(req, fds, err, errlen);
    if (pid < 0) return -1;
    int in = fds[0];
    if (in >= 0) s_nonblock(in);
    s_stream_t s[2] = {{.fd = fds[1], .name = "stdout"}, {.fd = fds[2], .name = "stderr"}};
    s_nonblock(s[0].fd);
    s_nonblock(s[1].fd);
    bool exited = false;
    int status = 0;
    const s_stream_t *over = NULL;
    int rc = s_pump(req, pid, &in, s, output_max, &over, &exited, &status);
    int pump_err = errno;
    s_close(&in);
    if (rc != 0 && !exited) kill(pid, SIGKILL); /* over the cap, or we cannot listen to it */
    while (!exited && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    s_close(&s[0].fd);
    s_close(&s[1].fd);
    if (s_subreaper) s_kill_leftovers();
    if (rc != 0) {
        if (rc > 0)
            s_fail(err, errlen, "exec: %s over %zu bytes", over->name, output_max);
        else
            s_fail(err, errlen, "exec: cannot watch the command: %s", strerror(pump_err));
        free(s[0].data);
        free(s[1].data);
        return -1;
    }
    res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    res->out = s[0].data;
    res->out_len = s[0].len;
    res->err = s[1].data;
    res->err_len = s[1].len;
    return 0;
}

void tmq_exec_outcome_free(tmq_exec_outcome_t *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}

/* ---- the result ---- */

static void s_pack_output(msgpack_packer *pk, const char *key, const char *data, size_t len)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
    if (tmq_utf8_valid(data, len))
        msgpack_pack_str_with_body(pk, data ? data : "", len);
    else
        msgpack_pack_bin_with_body(pk, data, len);
}

void tmq_exec_pack(msgpack_sbuffer *out, const tmq_exec_outcome_t *res)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    if (res->signal) {
        char name[32];
        tmq_signal_name(res->signal, name, sizeof name);
        msgpack_pack_str_with_body(&pk, "signal", 6);
        msgpack_pack_str_with_body(&pk, name, strlen(name));
    } else {
        msgpack_pack_str_with_body(&pk, "status", 6);
        msgpack_pack_int(&pk, res->status);
    }
    s_pack_output(&pk, "stdout", res->out, res->out_len);
    s_pack_output(&pk, "stderr", res->err, res->err_len);
}

/* ---- the built-in ---- */

int tmq_exec_init(size_t output_max)
{
    s_output_max = output_max;
    signal(SIGCHLD, SIG_DFL); /* waitpid must see our children, never have them reaped away */
    signal(SIGPIPE, SIG_IGN); /* a command that exits without reading its stdin: EPIPE */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return -1;
    s_subreaper = true;
    return 0;
}

int tmq_exec_call(const msgpack_object *arg, msgpack_sbuffer *out)
{
    char err[512];
    tmq_exec_req_t req;
    tmq_exec_outcome_t res;
    int st = TMQ_ST_ERROR;
    if (tmq_exec_parse(arg, &req, err, sizeof err) == 0 &&
        tmq_exec_run(&req, s_output_max, &res, err, sizeof err) == 0) {
        tmq_exec_pack(out, &res);
        tmq_exec_outcome_free(&res);
        st = TMQ_ST_OK;
    } else {
        msgpack_sbuffer_write(out, err, strlen(err));
    }
    tmq_exec_req_free(&req);
    return st;
}
