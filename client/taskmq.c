/* client/taskmq.c — the `taskmq` command-line tool: parse, connect, run one subcommand.
 *
 * Exit status (common/exits.h, stated in --help): 0 all jobs ok, 1 some job failed, 2 usage
 * or input error, 3 no broker reachable (bad host, no answer within --connect-timeout, not a
 * client port), 4 lost the broker mid-run (one that journals: not back within
 * --broker-loss-timeout), 128+signal when interrupted (SIGINT: 130), 141 when stdout closed. On
 * SIGINT/SIGTERM the client is destroyed, which says BYE so the broker cancels the remaining jobs.
 */
#include "cli.h"
#include "curve.h"
#include "endpoint.h"
#include "log.h"
#include "platform.h"
#ifdef TMQ_HAVE_LOCAL
#include "local.h"
#endif

#include <czmq.h>
#include <signal.h>
#include <string.h>

volatile sig_atomic_t tmq_cli_interrupted;

static void s_on_signal(int sig)
{
    tmq_cli_interrupted = sig;
}

/* Our own handlers instead of czmq's: no SA_RESTART, so blocking waits return EINTR and
 * the loops see the flag at once. SIGPIPE is ignored: a closed stdout shows as EPIPE. */
static void s_signals(void)
{
    zsys_handler_set(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Checks the endpoint before connecting: a malformed one is a usage error (2), a host that
 * does not resolve fails at once with the resolver's words (3) instead of a silent wait. */
static int s_check_endpoint(const tmq_cli_t *o, const char *endpoint)
{
    char why[320];
    switch (tmq_endpoint_connectable(endpoint, why, sizeof why)) {
    case TMQ_EP_OK:
        return TMQ_EXIT_OK;
    case TMQ_EP_SYNTAX: {
        char err[400];
        snprintf(err, sizeof err, "%s: %s", o->broker ? "--broker" : "$TASKMQ_BROKER", why);
        tmq_cli_usage(stderr, o->cmd, err);
        return TMQ_EXIT_USAGE;
    }
    default:
        fprintf(stderr, "taskmq: %s\n", why);
        return TMQ_EXIT_NO_BROKER;
    }
}

static int s_run(tmq_client_t *c, const tmq_cli_t *o, const char *endpoint)
{
    tmq_client_set_timeout(c, (uint32_t)o->timeout_ms);
    tmq_client_set_retries(c, (int)o->retries);
    tmq_client_set_mem_limit(c, o->mem_limit);
    tmq_client_set_retry_oom(c, o->retry_oom);
    tmq_client_set_fail_when_full(c, o->fail_when_full);
    switch (o->cmd) {
    case TMQ_CLI_MAP:
        return tmq_cli_map(c, o);
    case TMQ_CLI_SUBMIT:
        return tmq_cli_submit(c, o);
    case TMQ_CLI_ATTACH:
        return tmq_cli_attach(c, o);
    case TMQ_CLI_STATUS:
    case TMQ_CLI_FUNCTIONS:
    case TMQ_CLI_BATCHES:
        return tmq_cli_status(c, o, endpoint);
    default:
        return TMQ_EXIT_USAGE;
    }
}

/* Connects (starting the local cluster first with --local), runs the subcommand, and
 * cleans up in the right order: client (BYE) before the embedded broker. */
static int s_connect_and_run(const tmq_cli_t *o)
{
    const char *endpoint = tmq_cli_broker(o);
    const char *cert = o->curve_cert, *broker_cert = o->broker_cert;
    char why[512] = "";
    if (tmq_curve_flags(&cert, &broker_cert, why, sizeof why) != 0) {
        fprintf(stderr, "taskmq: %s\n", why);
        return TMQ_EXIT_USAGE;
    }
    if (cert && o->local) {
        fprintf(stderr, "taskmq: --local runs its own broker, without keys: leave out "
                        "--curve-cert/--broker-cert (and unset TASKMQ_CURVE_CERT and "
                        "TASKMQ_BROKER_CERT)\n");
        return TMQ_EXIT_USAGE;
    }
#ifdef TMQ_HAVE_LOCAL
    char err[512];
    tmq_local_t *local = NULL;
    if (o->local) {
        local = tmq_local_start(o->local, o->verbose, o->exec, err, sizeof err);
        if (!local) {
            fprintf(stderr, "taskmq: --local: %s\n", err);
            return TMQ_EXIT_NO_BROKER;
        }
        endpoint = tmq_local_frontend(local);
    }
#else
    if (o->local) {
        fprintf(stderr, "taskmq: --local is not available in this build\n");
        return TMQ_EXIT_USAGE;
    }
#endif
    int status = o->local ? TMQ_EXIT_OK : s_check_endpoint(o, endpoint);
    if (status != TMQ_EXIT_OK) return status;
    status = TMQ_EXIT_NO_BROKER;
    tmq_client_t *c = cert ? tmq_client_new_curve(endpoint, cert, broker_cert, why, sizeof why)
                           : tmq_client_new(endpoint);
    /* Before the handshake completes: the broker learns it as our session's linger. */
    if (c) tmq_client_set_broker_loss_timeout(c, (uint32_t)o->broker_loss_timeout_s * 1000);
    if (!c && cert) {
        fprintf(stderr, "taskmq: %s\n", why);
        status = TMQ_EXIT_USAGE;
    } else if (!c) {
        fprintf(stderr, "taskmq: cannot connect to %s\n", endpoint);
    } else if (tmq_client_wait_ready(c, (int)o->connect_timeout_ms) != 0) {
        /* no answer within the time, or not a broker's client port (its words) */
        if (!tmq_cli_interrupted) fprintf(stderr, "taskmq: %s\n", tmq_client_error(c));
    }
#ifdef TMQ_HAVE_LOCAL
    else if (local && tmq_local_wait_worker(local, c, (int)o->connect_timeout_ms + 5000, err,
                                            sizeof err) != 0) {
        if (!tmq_cli_interrupted) fprintf(stderr, "taskmq: --local: %s\n", err);
    }
#endif
    else {
        status = s_run(c, o, endpoint);
    }
    size_t cancelled = tmq_pending(c);
    bool away = tmq_client_broker_away(c); /* BYE reaches nobody: nothing is cancelled */
    tmq_client_destroy(&c);
#ifdef TMQ_HAVE_LOCAL
    tmq_local_stop(&local);
#endif
    if (tmq_cli_interrupted) {
        if (o->cmd == TMQ_CLI_ATTACH)
            fprintf(stderr, "taskmq: interrupted (attach only reads: nothing was cancelled)\n");
        else if (cancelled && away)
            fprintf(stderr,
                    "taskmq: interrupted while the broker was away: %zu job%s not cancelled (it "
                    "journals: back within the session's linger, it runs them for no one)\n",
                    cancelled, cancelled == 1 ? "" : "s");
        else if (cancelled)
            fprintf(stderr, "taskmq: interrupted, %zu job%s cancelled\n", cancelled,
                    cancelled == 1 ? "" : "s");
        else
            fprintf(stderr, "taskmq: interrupted\n");
        return 128 + tmq_cli_interrupted;
    }
    return status;
}

int main(int argc, char **argv)
{
    /* Before anything opens a descriptor: with stdin closed (`taskmq map echo <&-`) libzmq's
     * eventfd would become fd 0 and map would wait on it forever. */
    tmq_std_fds_open();
    tmq_cli_t o;
    char err[256];
    if (tmq_cli_parse(&o, argc, argv, err, sizeof err) != 0) {
        tmq_cli_usage(stderr, o.cmd, err);
        tmq_cli_free(&o);
        return TMQ_EXIT_USAGE;
    }
    int status = TMQ_EXIT_OK;
    if (o.version) {
        printf("taskmq %s\n", TMQ_VERSION);
    } else if (o.help) {
        tmq_cli_help(stdout, o.cmd);
    } else if (o.cmd == TMQ_CLI_KEYGEN) {
        status = tmq_cli_keygen(&o);
    } else {
        tmq_log_init("taskmq", o.verbose >= 2 ? TMQ_LOG_DEBUG
                               : o.verbose    ? TMQ_LOG_INFO
                                              : TMQ_LOG_WARN);
        s_signals();
        status = s_connect_and_run(&o);
    }
    tmq_cli_free(&o);
    return status;
}
