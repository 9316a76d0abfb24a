/* worker/main.c — taskmq-worker: parse the command line, then run as the daemon or, when the
 * daemon started this binary again with the hidden --executor flag, as one executor serving
 * jobs on fd 3. Exit status: 0 clean stop, 1 failure, 2 usage. */
#include "daemon.h"
#include "executor.h"
#include "log.h"
#include "options.h"

#include <fcntl.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    tmq_worker_opts_t o;
    char err[256];
    if (tmq_worker_opts_parse(&o, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "taskmq-worker: %s\nTry 'taskmq-worker --help' for more information.\n",
                err);
        return 2;
    }
    if (o.help) {
        tmq_worker_usage(stdout);
        return 0;
    }
    if (o.executor) {
        if (fcntl(3, F_GETFD) < 0) {
            fprintf(stderr, "taskmq-worker: --executor is internal: the daemon passes fd 3\n");
            return 2;
        }
        tmq_log_init("executor", o.verbose ? TMQ_LOG_DEBUG : TMQ_LOG_INFO);
        return tmq_executor_run(3, o.test_functions) == 0 ? 0 : 1;
    }
    return tmq_daemon_run(&o);
}
