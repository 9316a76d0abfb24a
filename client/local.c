/* client/local.c — see local.h. The worker program is $TASKMQ_WORKER when set, else
 * taskmq-worker beside this program, else taskmq-worker from PATH (the order `taskmq --help`
 * states); it is spawned by fork+exec with PR_SET_PDEATHSIG, so even a SIGKILLed tool leaves
 * no worker behind. When it cannot be run, the error says which of the three was tried. */
#include "local.h"
#include "actor.h"
#include "broker.h"
#include "cli.h"
#include "jsonmp.h"
#include "platform.h"
#include "xalloc.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_STOP_GRACE_MS 2000

struct tmq_local_t {
    tmq_actor_t *broker;
    char *frontend, *backend;
    pid_t worker;
    char *worker_path;       /* the program started */
    const char *worker_from; /* where it was found: $TASKMQ_WORKER, beside taskmq, PATH */
};

/* Spawns the worker, its stderr sent to /dev/null unless verbose. */
static pid_t s_spawn(char *const argv[], int verbose)
{
    if (verbose) return tmq_spawn(NULL, argv, -1, true);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int saved = dup(STDERR_FILENO);
    if (null < 0 || saved < 0) {
        if (null >= 0) close(null);
        if (saved >= 0) close(saved);
        return tmq_spawn(NULL, argv, -1, true);
    }
    fflush(stderr);
    dup2(null, STDERR_FILENO);
    pid_t pid = tmq_spawn(NULL, argv, -1, true);
    int e = errno;
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(null);
    errno = e;
    return pid;
}

static int s_start_worker(tmq_local_t *self, long procs, int verbose, bool allow_exec, char *err,
                          size_t errlen)
{
    const char *env = getenv("TASKMQ_WORKER");
    char *path = NULL;
    if (env && *env) {
        path = tmq_xstrdup(env);
        self->worker_from = "$TASKMQ_WORKER";
    } else if ((path = tmq_sibling_path("taskmq-worker"))) {
        self->worker_from = "beside taskmq";
    } else {
        path = tmq_xstrdup("taskmq-worker");
        self->worker_from = "PATH";
    }
    self->worker_path = path;
    char nprocs[24];
    snprintf(nprocs, sizeof nprocs, "%ld", procs);
    /* it serves this run only: when the run stops there is nothing to drain for */
    char *argv[12] = {path,    "--procs",         nprocs, "--broker", self->backend, "--name",
                      "local", "--drain-timeout", "0"};
    int argc = 9;
    if (allow_exec) argv[argc++] = "--allow-exec"; /* the user's own commands, as the user */
    if (verbose) argv[argc++] = "-v";
    argv[argc] = NULL;
    self->worker = s_spawn(argv, verbose);
    if (self->worker < 0) snprintf(err, errlen, "cannot start %s: %s", path, strerror(errno));
    return self->worker < 0 ? -1 : 0;
}

/* Why the worker could not be run (it exited 127, as a failed exec does), into buf. */
static void s_not_run(const tmq_local_t *self, char *buf, size_t len)
{
    if (strcmp(self->worker_from, "PATH") == 0)
        snprintf(buf, len,
                 ": no taskmq-worker beside this taskmq nor in PATH (set TASKMQ_WORKER to "
                 "its path)");
    else
        snprintf(buf, len, ": cannot run %s (%s)", self->worker_path, self->worker_from);
}

tmq_local_t *tmq_local_start(long procs, int verbose, bool allow_exec, char *err, size_t errlen)
{
    tmq_local_t *self = tmq_xcalloc(1, sizeof *self);
    self->worker = -1;
    char frontend[64];
    snprintf(frontend, sizeof frontend, "inproc://taskmq-local-%d", (int)getpid());
    tmq_broker_config_t cfg;
    tmq_broker_config_defaults(&cfg);
    cfg.frontend = frontend;
    cfg.backend = "tcp://127.0.0.1:*";
    self->broker = tmq_actor_new(tmq_broker_actor, &cfg);
    if (!self->broker) {
        snprintf(err, errlen, "cannot start the embedded broker");
        free(self);
        return NULL;
    }
    zstr_send(tmq_actor_sock(self->broker), "ENDPOINTS");
    if (zstr_recvx(tmq_actor_sock(self->broker), &self->frontend, &self->backend, NULL) != 2 ||
        !*self->frontend || !*self->backend) {
        snprintf(err, errlen, "the embedded broker could not bind its endpoints");
        tmq_local_stop(&self);
        return NULL;
    }
    if (s_start_worker(self, procs, verbose, allow_exec, err, errlen) != 0) tmq_local_stop(&self);
    return self;
}

const char *tmq_local_frontend(const tmq_local_t *self)
{
    return self->frontend;
}

/* Workers the broker's status lists; -1 when it did not answer. */
static long s_workers(tmq_client_t *c, int timeout_ms)
{
    size_t len;
    void *body = tmq_client_status(c, timeout_ms, &len);
    if (!body) return -1;
    json_t *st = tmq_json_from_msgpack(body, len);
    free(body);
    long n = (long)json_array_size(json_object_get(st, "workers"));
    json_decref(st);
    return n;
}

int tmq_local_wait_worker(tmq_local_t *self, tmq_client_t *c, int timeout_ms, char *err,
                          size_t errlen)
{
    int64_t deadline = tmq_clock_ms() + timeout_ms;
    while (tmq_clock_ms() < deadline) {
        int status;
        if (tmq_cli_interrupted) {
            snprintf(err, errlen, "interrupted while the local worker started");
            return -1;
        }
        if (waitpid(self->worker, &status, WNOHANG) == self->worker) {
            char why[64], which[320] = "";
            self->worker = -1;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                s_not_run(self, which, sizeof which);
            snprintf(err, errlen, "the local worker exited at start (%s)%s",
                     tmq_describe_status(status, why, sizeof why), which);
            return -1;
        }
        if (s_workers(c, 1000) > 0) return 0;
        zclock_sleep(20);
    }
    snprintf(err, errlen, "the local worker did not register within %d ms", timeout_ms);
    return -1;
}

static void s_stop_worker(pid_t pid)
{
    kill(pid, SIGTERM);
    int64_t deadline = tmq_clock_ms() + S_STOP_GRACE_MS;
    while (tmq_clock_ms() < deadline) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) return;
        zclock_sleep(10);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

void tmq_local_stop(tmq_local_t **pself)
{
    if (!pself || !*pself) return;
    tmq_local_t *self = *pself;
    *pself = NULL;
    if (self->worker > 0) s_stop_worker(self->worker);
    tmq_actor_destroy(&self->broker);
    zstr_free(&self->frontend);
    zstr_free(&self->backend);
    free(self->worker_path);
    free(self);
}
