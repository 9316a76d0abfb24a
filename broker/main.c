/* broker/main.c — taskmq-broker: parse the command line, run the broker (and, with
 * --metrics, its metrics endpoint in the loop's thread).
 *
 * Exit status: 0 after a clean shutdown (SIGINT/SIGTERM), 1 when a socket (or the metrics
 * port) cannot be bound, 2 on a usage error (a bad flag or value, an endpoint that is not one,
 * a metrics address the broker's protected mode does not allow). Everything else lives in the
 * tmq_broker and tmq_broker_metrics libraries.
 */
#include "broker.h"
#include "journal.h"
#include "loop.h"
#include "metrics.h"

#include <endpoint.h>
#include <exits.h>
#include <log.h>
#include <platform.h>
#include <proto.h>

#include <curve.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: taskmq-broker [OPTIONS]\n"
            "Routes jobs from taskmq clients to taskmq workers.\n\n"
            "  --frontend EP        endpoint for clients (default tcp://*:5555)\n"
            "  --backend EP         endpoint for workers (default tcp://*:5556)\n"
            "  --max-queue N        most jobs waiting to run; more are refused with\n"
            "                       \"queue full\" (default 1000000)\n"
            "  --heartbeat MS       heartbeat interval given to clients and workers; a worker\n"
            "                       silent for 3 intervals is dropped and its jobs requeued,\n"
            "                       a client silent for 5 is dropped (default 1000)\n"
            "  --max-payload BYTES  largest job argument or result (default %u)\n"
            "  --retries N          default retries of a job whose process dies (default 2)\n"
            "  --curve-cert FILE    the broker's secret certificate (taskmq keygen): CurveZMQ\n"
            "                       on both ports; with --curve-dir\n"
            "  --curve-dir DIR      public certificates of the clients and workers allowed in\n"
            "                       (read again when it changes, and on SIGHUP: add keys\n"
            "                       without a restart)\n"
            "  --curve-worker-dir DIR  when set, the only keys allowed on the worker port, so\n"
            "                       a client's key cannot register as a worker\n"
            "  --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics, e.g.\n"
            "                       127.0.0.1:9100, [::1]:9100 or localhost:9100 (PORT '*':\n"
            "                       any free port; logged as \"metrics at URL\"). They name\n"
            "                       the functions and show their load, and the port has no\n"
            "                       keys: an address other hosts reach (0.0.0.0:9100) needs\n"
            "                       --insecure, CURVE keys or not (and then a firewall)\n"
            "  --journal DIR        keep an append-only journal of clients' jobs in DIR\n"
            "                       (created if missing; one broker per DIR): a job is\n"
            "                       acknowledged once written, and after a crash or restart\n"
            "                       the broker queues again every job not finished and holds\n"
            "                       the results not yet delivered, so clients that wait for it\n"
            "                       (the taskmq tool and C library do, --broker-loss-timeout)\n"
            "                       lose nothing\n"
            "  --fsync POLICY       with --journal: 'always' (default: an acknowledgement waits\n"
            "                       for fdatasync, one per loop turn for all its jobs), MS (sync\n"
            "                       at most every MS ms, 1..60000: an OS crash or power cut can\n"
            "                       lose the last MS ms of acknowledged jobs; a broker crash\n"
            "                       loses nothing) or 'never' (the OS writes back when it will)\n"
            "  --log-file FILE      append the log to FILE instead of stderr\n"
            "  --pid-file FILE      write the broker's pid to FILE (removed at a clean exit)\n"
            "  --insecure           accept clients and workers from any address without keys;\n"
            "                       by default a broker without CURVE keys lets in loopback\n"
            "                       (127.0.0.0/8, ::1) peers only. Trusted networks only: a\n"
            "                       job can be code\n"
            "  -v, --verbose        debug logging: clients coming and going, registrations,\n"
            "                       why jobs wait\n"
            "  -V, --version        print the version and exit\n"
            "  -h, --help           this help\n\n"
            "Endpoints are tcp://HOST:PORT (HOST '*' for every interface, an address, an\n"
            "interface or a host name of this machine; PORT '*' for any free port), ipc://PATH\n"
            "or inproc://NAME, e.g. tcp://*:5555 or tcp://127.0.0.1:*. The bound endpoints are\n"
            "logged as \"frontend bound to ...\" and \"backend bound to ...\".\n\n"
            "Exit status: 0 after a clean shutdown (SIGINT or SIGTERM: clients and workers are\n"
            "told BYE), 1 when an endpoint cannot be bound or the journal cannot be opened\n"
            "(another broker holds it, damage not at its end: the message names the file),\n"
            "2 on a usage error.\n",
            TMQ_PROTO_MAX_PAYLOAD);
}

/* Prints a usage error ("unknown option '--x'") and returns 2. */
static int s_bad(const char *what, const char *arg)
{
    fprintf(stderr, "taskmq-broker: %s '%s'\nTry 'taskmq-broker --help'.\n", what, arg);
    return TMQ_EXIT_USAGE;
}

/* Checks an endpoint to bind; returns 0, or prints why (naming the flag) and returns 2. */
static int s_endpoint(const char *opt, const char *arg)
{
    char err[512];
    if (tmq_endpoint_check(arg, true, err, sizeof err) == TMQ_EP_OK) return 0;
    fprintf(stderr, "taskmq-broker: %s: %s\nTry 'taskmq-broker --help'.\n", opt, err);
    return TMQ_EXIT_USAGE;
}

/* Parses a numeric option value into *out; returns 0, or prints why and returns 2. */
static int s_number(const char *opt, const char *arg, long min, long max, long *out)
{
    if (tmq_parse_long(arg, min, max, out) == 0) return 0;
    fprintf(stderr,
            "taskmq-broker: %s: '%s' is not a number in %ld..%ld\n"
            "Try 'taskmq-broker --help'.\n",
            opt, arg, min, max);
    return TMQ_EXIT_USAGE;
}

static const char *s_log_file, *s_pid_file; /* --log-file, --pid-file */
static const char *s_metrics;               /* --metrics */
static bool s_fsync_given;                  /* --fsync (it needs --journal) */
static tmq_metrics_addr_t s_metrics_addr;

/* Checks that a key directory exists; returns 0, or prints why and returns 2. */
static int s_directory(const char *opt, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    fprintf(stderr, "taskmq-broker: %s: '%s' is not a directory\nTry 'taskmq-broker --help'.\n",
            opt, arg);
    return TMQ_EXIT_USAGE;
}

/* Checks --metrics (after every other flag: whether it may face the network depends on
 * --insecure and the keys); returns -1 to run, or prints why and returns 2. */
static int s_check_metrics(const tmq_broker_config_t *cfg)
{
    char why[512];
    if (tmq_metrics_parse(s_metrics, &s_metrics_addr, why, sizeof why) == 0 &&
        tmq_metrics_allowed(&s_metrics_addr, cfg->insecure, cfg->curve_cert != NULL, why,
                            sizeof why) == 0)
        return -1;
    fprintf(stderr, "taskmq-broker: --metrics: %s\nTry 'taskmq-broker --help'.\n", why);
    return TMQ_EXIT_USAGE;
}

/* getopt_long takes any unambiguous prefix (--ins for --insecure); the other programs do not,
 * and a flag that opens the broker must be written out. Returns 0, or prints the word not
 * known (with the option it may mean) and returns 2. */
static int s_whole_words(int argc, char **argv, const struct option *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) return 0;
        if (strncmp(arg, "--", 2) != 0) continue;
        size_t n = strcspn(arg + 2, "=");
        const struct option *o = opts;
        while (o->name && (strlen(o->name) != n || strncmp(o->name, arg + 2, n) != 0))
            o++;
        if (!o->name) {
            for (o = opts; o->name && strncmp(o->name, arg + 2, n) != 0; o++) {
            }
            fprintf(stderr,
                    "taskmq-broker: unknown option '%.*s'%s%s%s\nTry 'taskmq-broker --help'.\n",
                    (int)(n + 2), arg, o->name ? " (did you mean --" : "", o->name ? o->name : "",
                    o->name ? "?)" : "");
            return TMQ_EXIT_USAGE;
        }
        if (o->has_arg == required_argument && !arg[2 + n]) i++; /* its value, whatever it is */
    }
    return 0;
}

/* Parses argv into cfg; returns -1 to run, or an exit status. */
static int s_parse(int argc, char **argv, tmq_broker_config_t *cfg, int *level)
{
    static const struct option opts[] = {{"frontend", required_argument, NULL, 'f'},
                                         {"backend", required_argument, NULL, 'b'},
                                         {"max-queue", required_argument, NULL, 'q'},
                                         {"heartbeat", required_argument, NULL, 'H'},
                                         {"max-payload", required_argument, NULL, 'p'},
                                         {"retries", required_argument, NULL, 'r'},
                                         {"insecure", no_argument, NULL, 'I'},
                                         {"curve-cert", required_argument, NULL, 'C'},
                                         {"log-file", required_argument, NULL, 'L'},
                                         {"pid-file", required_argument, NULL, 'P'},
                                         {"curve-dir", required_argument, NULL, 'D'},
                                         {"curve-worker-dir", required_argument, NULL, 'W'},
                                         {"metrics", required_argument, NULL, 'M'},
                                         {"journal", required_argument, NULL, 'J'},
                                         {"fsync", required_argument, NULL, 'F'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long v;
    int c;
    opterr = 0;
    if (s_whole_words(argc, argv, opts)) return TMQ_EXIT_USAGE;
    while ((c = getopt_long(argc, argv, ":vhV", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (s_endpoint("--frontend", optarg)) return TMQ_EXIT_USAGE;
            cfg->frontend = optarg;
            break;
        case 'b':
            if (s_endpoint("--backend", optarg)) return TMQ_EXIT_USAGE;
            cfg->backend = optarg;
            break;
        case 'q':
            if (s_number("--max-queue", optarg, 1, 100000000, &v)) return TMQ_EXIT_USAGE;
            cfg->max_queue = (size_t)v;
            break;
        case 'H':
            if (s_number("--heartbeat", optarg, TMQ_PROTO_HEARTBEAT_MIN, TMQ_PROTO_HEARTBEAT_MAX,
                         &v))
                return TMQ_EXIT_USAGE;
            cfg->heartbeat_ms = (uint32_t)v;
            break;
        case 'p':
            if (s_number("--max-payload", optarg, 1, TMQ_PROTO_MAX_BODY - (2u << 20), &v))
                return TMQ_EXIT_USAGE;
            cfg->max_payload = (uint32_t)v;
            break;
        case 'r':
            if (s_number("--retries", optarg, 0, 1000, &v)) return TMQ_EXIT_USAGE;
            cfg->retries = (int)v;
            break;
        case 'I':
            cfg->insecure = true;
            break;
        case 'C':
            cfg->curve_cert = optarg;
            break;
        case 'L':
            s_log_file = optarg;
            break;
        case 'M':
            s_metrics = optarg;
            break;
        case 'J':
            if (!*optarg) return s_bad("an empty directory for", "--journal");
            cfg->journal_dir = optarg;
            break;
        case 'F':
            if (tmq_journal_parse_fsync(optarg, &cfg->fsync_ms) != 0) {
                fprintf(stderr,
                        "taskmq-broker: --fsync: '%s' is not 'always', 'never' or a number of "
                        "milliseconds in 1..60000\nTry 'taskmq-broker --help'.\n",
                        optarg);
                return TMQ_EXIT_USAGE;
            }
            s_fsync_given = true;
            break;
        case 'P':
            s_pid_file = optarg;
            break;
        case 'D':
            if (s_directory("--curve-dir", optarg)) return TMQ_EXIT_USAGE;
            cfg->curve_dir = optarg;
            break;
        case 'W':
            if (s_directory("--curve-worker-dir", optarg)) return TMQ_EXIT_USAGE;
            cfg->curve_worker_dir = optarg;
            break;
        case 'v':
            *level = TMQ_LOG_DEBUG;
            break;
        case 'V':
            printf("taskmq-broker %s\n", TMQ_VERSION);
            return TMQ_EXIT_OK;
        case 'h':
            s_usage(stdout);
            return TMQ_EXIT_OK;
        case ':':
            return s_bad("a value is needed for option", argv[optind - 1]);
        default:
            return s_bad("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc) return s_bad("unexpected argument", argv[optind]);
    if (s_fsync_given && !cfg->journal_dir) {
        fprintf(stderr, "taskmq-broker: --fsync needs --journal DIR (without a journal nothing "
                        "is synced)\nTry 'taskmq-broker --help'.\n");
        return TMQ_EXIT_USAGE;
    }
    if (!cfg->curve_cert != !cfg->curve_dir) {
        fprintf(stderr, "taskmq-broker: --curve-cert and --curve-dir go together (the broker's "
                        "key, and the keys it lets in)\nTry 'taskmq-broker --help'.\n");
        return TMQ_EXIT_USAGE;
    }
    if (cfg->curve_worker_dir && !cfg->curve_cert) {
        fprintf(stderr, "taskmq-broker: --curve-worker-dir needs --curve-cert and --curve-dir\n"
                        "Try 'taskmq-broker --help'.\n");
        return TMQ_EXIT_USAGE;
    }
    if (cfg->curve_cert) {
        char why[512];
        zcert_t *cert = tmq_curve_load(cfg->curve_cert, true, why, sizeof why);
        if (!cert) {
            fprintf(stderr, "taskmq-broker: --curve-cert: %s\n", why);
            return TMQ_EXIT_USAGE;
        }
        zcert_destroy(&cert);
    }
    return s_metrics ? s_check_metrics(cfg) : -1;
}

/* Binds, serves until SIGINT/SIGTERM, says BYE; returns the exit status. The metrics
 * endpoint is watched by the loop and read from its thread, so it goes before the core. */
static int s_serve(const tmq_broker_config_t *cfg)
{
    tmq_broker_loop_t *loop = tmq_broker_loop_new(cfg);
    if (!loop) return TMQ_EXIT_FAILED;
    tmq_metrics_t *metrics = NULL;
    if (s_metrics) {
        char why[512];
        metrics = tmq_metrics_new(&s_metrics_addr, tmq_broker_loop_core(loop), why, sizeof why);
        if (!metrics) {
            tmq_error("cannot serve the metrics at %s: %s", s_metrics, why);
            tmq_broker_loop_destroy(&loop);
            return TMQ_EXIT_FAILED;
        }
        tmq_broker_loop_watch(loop, tmq_metrics_source(metrics));
    }
    tmq_broker_loop_run(loop, NULL);
    tmq_info("shutting down");
    tmq_metrics_destroy(&metrics);
    tmq_broker_loop_destroy(&loop);
    return TMQ_EXIT_OK;
}

int main(int argc, char **argv)
{
    tmq_std_fds_open(); /* a closed 0-2 must not become one of our sockets */
    tmq_broker_config_t cfg;
    tmq_broker_config_defaults(&cfg);
    int level = TMQ_LOG_INFO;
    int rc = s_parse(argc, argv, &cfg, &level);
    if (rc >= 0) return rc;
    char why[512];
    if ((s_log_file && tmq_log_to_file(s_log_file, why, sizeof why) != 0) ||
        (s_pid_file && tmq_pid_file_write(s_pid_file, why, sizeof why) != 0)) {
        fprintf(stderr, "taskmq-broker: %s\n", why);
        return TMQ_EXIT_USAGE;
    }
    tmq_log_init("broker", level);
    rc = s_serve(&cfg);
    tmq_pid_file_remove(s_pid_file);
    return rc;
}
