/* worker/main.c — taskmq-worker: parse the command line, then run as the daemon or, when the
 * daemon started this binary again with the hidden --executor flag, as one executor serving
 * jobs on fd 3, REVOKE on fd 4 (shown in ps as "taskmq-worker: executor (NAME)"). Exit status: 0
 * clean stop, 1 failure, 2 usage, 3 broker unreachable or refusing (common/exits.h). */
#include "daemon.h"
#include "exec.h"
#include "executor.h"
#include "exits.h"
#include "log.h"
#include "options.h"
#include "platform.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    tmq_std_fds_open(); /* a closed 0-2 must not become one of our sockets */
    tmq_worker_opts_t o;
    char err[512];
    if (tmq_worker_opts_parse(&o, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "taskmq-worker: %s\nTry 'taskmq-worker --help'.\n", err);
        return TMQ_EXIT_USAGE;
    }
    if (o.help) {
        tmq_worker_usage(stdout);
        return TMQ_EXIT_OK;
    }
    if (o.version) {
        printf("taskmq-worker %s\n", TMQ_VERSION);
        return TMQ_EXIT_OK;
    }
    if (o.executor) {
        if (fcntl(3, F_GETFD) < 0) {
            fprintf(stderr, "taskmq-worker: --executor is internal: the daemon passes fd 3\n");
            return TMQ_EXIT_USAGE;
        }
        char *plugins[TMQ_WORKER_MAX_PLUGINS]; /* the title overwrites argv's strings */
        for (size_t i = 0; i < o.nplugins; i++)
            o.plugins[i] = plugins[i] = tmq_xstrdup(o.plugins[i]);
        char title[TMQ_WORKER_MAX_NAME + 32];
        snprintf(title, sizeof title, "taskmq-worker: executor (%s)", o.name);
        tmq_set_title(argc, argv, title, "taskmq-executor");
        tmq_log_init("executor", o.verbose ? TMQ_LOG_DEBUG : TMQ_LOG_INFO);
        int ctl = fcntl(4, F_GETFD) >= 0 ? 4 : -1;
        if (o.allow_exec && tmq_exec_init(o.max_exec_output) != 0)
            tmq_warn("exec: cannot become a child subreaper (%s): what a command leaves "
                     "running is not cleaned up after it",
                     strerror(errno));
        int rc = tmq_executor_run(3, ctl, &o);
        for (size_t i = 0; i < o.nplugins; i++)
            free(plugins[i]);
        return rc == 0 ? TMQ_EXIT_OK : TMQ_EXIT_FAILED;
    }
    if ((o.log_file && tmq_log_to_file(o.log_file, err, sizeof err) != 0) ||
        (o.pid_file && tmq_pid_file_write(o.pid_file, err, sizeof err) != 0)) {
        fprintf(stderr, "taskmq-worker: %s\n", err);
        return TMQ_EXIT_USAGE;
    }
    int rc = tmq_daemon_run(&o);
    tmq_pid_file_remove(o.pid_file);
    return rc;
}
