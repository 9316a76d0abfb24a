/* worker/options.c — see options.h. Accepts "--flag VALUE" and "--flag=VALUE". */
#include "options.h"

#include "curve.h"
#include "endpoint.h"
#include "platform.h"
#include "xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wordexp.h>

static int s_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int s_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* The value of a flag taking one: from "--flag=V" or the next argument. NULL when missing. */
static const char *s_value(const char *arg, const char *eq, int argc, char **argv, int *i)
{
    if (eq) return eq + 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

static int s_set_name(tmq_worker_opts_t *o, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n == 0 || n > TMQ_WORKER_MAX_NAME)
        return s_err(err, errlen, "--name must be 1 to %d characters", TMQ_WORKER_MAX_NAME);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return s_err(err, errlen, "--name must not contain control characters");
    memcpy(o->name, v, n + 1);
    return 0;
}

/* --plugin FILE: a readable file (dlopen's own words come later, from the executors). */
static int s_add_plugin(tmq_worker_opts_t *o, const char *v, char *err, size_t errlen)
{
    struct stat st;
    if (o->nplugins == TMQ_WORKER_MAX_PLUGINS)
        return s_err(err, errlen, "--plugin: at most %d plugins", TMQ_WORKER_MAX_PLUGINS);
    if (stat(v, &st) != 0 || access(v, R_OK) != 0)
        return s_err(err, errlen, "--plugin: cannot read '%s': %s", v, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return s_err(err, errlen, "--plugin: '%s' is not a file (a plugin is a .so file)", v);
    for (size_t i = 0; i < o->nplugins; i++) {
        struct stat other;
        if (stat(o->plugins[i], &other) == 0 && other.st_dev == st.st_dev &&
            other.st_ino == st.st_ino)
            return s_err(err, errlen, "--plugin: '%s' is given twice (also as '%s')", v,
                         o->plugins[i]);
    }
    o->plugins[o->nplugins++] = v;
    return 0;
}

/* --python MODULE: a module name, or a path to a .py file (checked here: a typo is named at
 * once; a module name is looked up by Python itself, at start). */
static int s_add_python(tmq_worker_opts_t *o, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (o->npython == TMQ_WORKER_MAX_PYTHON)
        return s_err(err, errlen, "--python: at most %d modules", TMQ_WORKER_MAX_PYTHON);
    if (n == 0) return s_err(err, errlen, "--python needs a module name or a .py file");
    bool is_path = strchr(v, '/') || (n > 3 && strcmp(v + n - 3, ".py") == 0);
    if (is_path) {
        struct stat st;
        if (stat(v, &st) != 0 || access(v, R_OK) != 0)
            return s_err(err, errlen, "--python: cannot read '%s': %s", v, strerror(errno));
        if (!S_ISREG(st.st_mode))
            return s_err(err, errlen, "--python: '%s' is not a file (a module name or a .py file)",
                         v);
    } else if (v[0] == '-' || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_.") != n) {
        return s_err(err, errlen, "--python: '%s' is neither a module name nor a .py file", v);
    }
    o->python[o->npython++] = v;
    return 0;
}

static int s_set_size(const char *flag, const char *v, uint64_t min, uint64_t max, size_t *out,
                      char *err, size_t errlen)
{
    uint64_t n;
    if (tmq_parse_size(v, min, max, &n) == 0) {
        *out = (size_t)n;
        return 0;
    }
    char lo[32], hi[32];
    tmq_format_size(min, lo, sizeof lo);
    tmq_format_size(max, hi, sizeof hi);
    return s_err(err, errlen,
                 "--%s: '%s' is not a size in %s..%s (bytes, or K, M, G: KiB, MiB, GiB; e.g. "
                 "512M)",
                 flag, v, lo, hi);
}

int tmq_worker_split_cmd(const char *cmd, char ***argv, char *why, size_t why_len)
{
    wordexp_t we;
    int rc = wordexp(cmd, &we, WRDE_NOCMD | WRDE_UNDEF);
    if (rc == 0 && we.we_wordc == 0) {
        wordfree(&we);
        snprintf(why, why_len, "names no program");
        return -1;
    }
    if (rc != 0) {
        snprintf(why, why_len, "cannot split '%s' into words (%s)", cmd,
                 rc == WRDE_BADCHAR  ? "a character like | & ; < > ( ) { } needs quoting"
                 : rc == WRDE_SYNTAX ? "unbalanced quotes"
                 : rc == WRDE_CMDSUB ? "$(...) and `...` are not run"
                 : rc == WRDE_BADVAL ? "an unset variable"
                                     : "out of memory");
        return -1;
    }
    if (argv) {
        char **out = tmq_xcalloc(we.we_wordc + 1, sizeof *out);
        for (size_t i = 0; i < we.we_wordc; i++)
            out[i] = tmq_xstrdup(we.we_wordv[i]);
        *argv = out;
    }
    wordfree(&we);
    return 0;
}

int tmq_worker_opts_parse(tmq_worker_opts_t *o, int argc, char **argv, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->broker = TMQ_WORKER_DEFAULT_BROKER;
    o->procs = tmq_online_cpus();
    if (o->procs > TMQ_WORKER_MAX_PROCS) o->procs = TMQ_WORKER_MAX_PROCS;
    tmq_hostname(o->name, sizeof o->name);
    o->max_result = TMQ_WORKER_DEFAULT_MAX_RESULT;
    o->max_exec_output = TMQ_WORKER_DEFAULT_EXEC_OUTPUT;
    o->drain_timeout_s = TMQ_WORKER_DEFAULT_DRAIN_S;
    bool exec_output_given = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
#define IS(flag) (klen == strlen(flag) && strncmp(arg, flag, klen) == 0)
        bool takes_value = IS("--broker") || IS("--procs") || IS("--name") || IS("--curve-cert") ||
                           IS("--log-file") || IS("--pid-file") || IS("--broker-cert") ||
                           IS("--executor-cmd") || IS("--plugin") || IS("--max-result") ||
                           IS("--max-exec-output") || IS("--mem-limit") || IS("--python") ||
                           IS("--drain-timeout");
        if (!takes_value && eq)
            return s_err(err, errlen, "option '%.*s' takes no value", (int)klen, arg);
        const char *v = NULL;
        if (takes_value && !(v = s_value(arg, eq, argc, argv, &i)))
            return s_err(err, errlen, "option '%s' needs a value", arg);
        if (IS("--broker")) {
            char why[256];
            if (tmq_endpoint_check_ex(v, false, "tcp://127.0.0.1:5556", why, sizeof why) !=
                TMQ_EP_OK)
                return s_err(err, errlen, "--broker: %s", why);
            o->broker = v;
        } else if (IS("--log-file")) {
            o->log_file = v;
        } else if (IS("--pid-file")) {
            o->pid_file = v;
        } else if (IS("--curve-cert")) {
            o->curve_cert = v;
        } else if (IS("--broker-cert")) {
            o->broker_cert = v;
        } else if (IS("--procs")) {
            long n;
            if (tmq_parse_long(v, 1, TMQ_WORKER_MAX_PROCS, &n) != 0)
                return s_err(err, errlen, "--procs: '%s' is not a number in 1..%d", v,
                             TMQ_WORKER_MAX_PROCS);
            o->procs = (int)n;
        } else if (IS("--drain-timeout")) {
            if (tmq_parse_long(v, 0, TMQ_WORKER_MAX_DRAIN_S, &o->drain_timeout_s) != 0)
                return s_err(err, errlen,
                             "--drain-timeout: '%s' is not a number of seconds in 0..%d", v,
                             TMQ_WORKER_MAX_DRAIN_S);
        } else if (IS("--name")) {
            if (s_set_name(o, v, err, errlen) != 0) return -1;
        } else if (IS("--executor-cmd")) {
            char why[128];
            if (tmq_worker_split_cmd(v, NULL, why, sizeof why) != 0)
                return s_err(err, errlen, "--executor-cmd: %s", why);
            o->executor_cmd = v;
        } else if (IS("--plugin")) {
            if (s_add_plugin(o, v, err, errlen) != 0) return -1;
        } else if (IS("--python")) {
            if (s_add_python(o, v, err, errlen) != 0) return -1;
        } else if (IS("--test-functions")) {
            o->test_functions = true;
        } else if (IS("--allow-exec")) {
            o->allow_exec = true;
        } else if (IS("--max-result")) {
            if (s_set_size("max-result", v, 1, TMQ_WORKER_MAX_RESULT_LIMIT, &o->max_result, err,
                           errlen) != 0)
                return -1;
        } else if (IS("--max-exec-output")) {
            if (s_set_size("max-exec-output", v, 0, TMQ_WORKER_MAX_EXEC_OUTPUT, &o->max_exec_output,
                           err, errlen) != 0)
                return -1;
            exec_output_given = true;
        } else if (IS("--mem-limit")) {
            size_t n = 0;
            if (s_set_size("mem-limit", v, TMQ_WORKER_MIN_MEM_LIMIT, TMQ_WORKER_MAX_MEM_LIMIT, &n,
                           err, errlen) != 0)
                return -1;
            o->mem_limit = n;
        } else if (IS("-v") || IS("--verbose")) {
            o->verbose++;
        } else if (IS("-h") || IS("--help")) {
            o->help = true;
        } else if (IS("-V") || IS("--version")) {
            o->version = true;
        } else if (IS("--executor")) {
            o->executor = true;
        } else if (arg[0] == '-') {
            return s_err(err, errlen, "unknown option '%s'", arg);
        } else {
            return s_err(err, errlen, "unexpected argument '%s'", arg);
        }
#undef IS
    }
    /* Python executors are the --executor-cmd path with a command line of ours */
    if (o->npython &&
        (o->executor_cmd || o->nplugins || o->allow_exec || exec_output_given || o->test_functions))
        return s_err(err, errlen,
                     "--python and %s do not go together: --python runs Python executors, %s",
                     o->executor_cmd     ? "--executor-cmd"
                     : o->nplugins       ? "--plugin"
                     : o->allow_exec     ? "--allow-exec"
                     : exec_output_given ? "--max-exec-output"
                                         : "--test-functions",
                     o->executor_cmd ? "--executor-cmd another program"
                                     : "which serve only the modules' functions (that flag is "
                                       "for the built-in executor)");
    if (o->nplugins && o->executor_cmd)
        return s_err(err, errlen,
                     "--plugin and --executor-cmd do not go together: plugins load into the "
                     "built-in executor");
    /* the built-in executor serves exec; another program serves what it announces */
    if (o->executor_cmd && (o->allow_exec || exec_output_given || o->test_functions))
        return s_err(err, errlen, "%s is for the built-in executor, not --executor-cmd",
                     o->allow_exec       ? "--allow-exec"
                     : exec_output_given ? "--max-exec-output"
                                         : "--test-functions");
    if (exec_output_given && !o->allow_exec)
        return s_err(err, errlen, "--max-exec-output is for --allow-exec (exec's output cap)");
    return tmq_curve_flags(&o->curve_cert, &o->broker_cert, err, errlen);
}

void tmq_worker_usage(FILE *out)
{
    fprintf(out,
            "Usage: taskmq-worker [--broker EP] [--procs N] [--name NAME] [--test-functions]\n"
            "                     [--plugin FILE.so]... [--allow-exec [--max-exec-output BYTES]]\n"
            "                     [--max-result BYTES] [--mem-limit BYTES]\n"
            "                     [--executor-cmd 'PROGRAM ARGS' | --python MODULE...]\n"
            "                     [--drain-timeout S] [--curve-cert FILE --broker-cert FILE]\n"
            "                     [--log-file FILE] [--pid-file FILE] [-v] [--help] [--version]\n"
            "\n"
            "Serves jobs from a taskmq broker in N executor processes.\n"
            "\n"
            "  --broker EP        the broker's worker endpoint (default %s)\n"
            "  --curve-cert FILE  this worker's secret certificate (taskmq keygen), for a\n"
            "                     broker with CURVE keys (default $TASKMQ_CURVE_CERT); with\n"
            "  --broker-cert FILE the broker's public certificate (default $TASKMQ_BROKER_CERT)\n"
            "  --log-file FILE    append the log (and the executors' stderr) to FILE\n"
            "  --pid-file FILE    write the daemon's pid to FILE (removed at a clean exit)\n"
            "  --procs N          executor processes (default: online CPUs, %d here)\n"
            "  --name NAME        worker name shown in status and results (default: host name)\n"
            "  --drain-timeout S  on SIGTERM or Ctrl-C, how long the running jobs may take to\n"
            "                     finish (default %d s); past it they are handed back to the\n"
            "                     broker, which runs them elsewhere\n"
            "  --test-functions   also serve 'crash' (dies of SIGSEGV), for testing\n"
            "  --plugin FILE.so   also serve the job functions of a C plugin (taskmq/plugin.h);\n"
            "                     repeatable, loaded in order by every executor; a function\n"
            "                     name served twice (two plugins, or a plugin and a built-in)\n"
            "                     stops the worker at start\n"
            "  --allow-exec       also serve 'exec': run the commands clients send, as this\n"
            "                     worker's user. Off by default: with it, anyone who can submit\n"
            "                     jobs to the broker can run programs on this host\n"
            "  --max-exec-output BYTES\n"
            "                     the most an exec job's stdout, and its stderr, may hold\n"
            "                     (default 1M); past it the command is killed and the job\n"
            "                     fails 'exec: stdout over BYTES bytes'\n"
            "  --max-result BYTES a job whose result is larger fails 'result too large: N\n"
            "                     bytes (limit BYTES)' (default 16M, at most 65535K); the\n"
            "                     broker's --max-payload (default 1M) limits results too\n"
            "  --mem-limit BYTES  the memory each executor (with what it runs) may use, e.g.\n"
            "                     512M (default: none); a job past it fails 'out of memory\n"
            "                     (limit 512 MiB)', not retried, and its executor is replaced.\n"
            "                     A job's own --mem-limit (taskmq) applies when smaller\n"
            "  --executor-cmd CMD run CMD as the executors instead of the built-in one: any\n"
            "                     program that speaks the executor protocol on fds 3 and 4\n"
            "                     (docs/EXECUTOR.md) and says which functions it serves;\n"
            "                     CMD is split into words like a shell would, nothing is run\n"
            "  --python MODULE    run Python executors serving MODULE's public functions as\n"
            "                     MODULE:function (a module name on PYTHONPATH or in the\n"
            "                     current directory, or a path to a .py file); repeatable.\n"
            "                     Runs $TASKMQ_PYTHON (default /usr/bin/python3) -m\n"
            "                     taskmq.executor MODULE...; a module that does not import\n"
            "                     stops the worker at start (exit 2) with its traceback\n"
            "  -v, --verbose      debug logging\n"
            "  -h, --help         show this help\n"
            "  -V, --version      show the version\n"
            "\n"
            "Sizes are bytes, or with K, M, G or T (KiB, MiB, GiB, TiB): 512K, 16M.\n"
            "Built-in functions: sum N (0+1+...+N-1), primes N (count of primes below N),\n"
            "echo ANY, sleep MS, fail TEXT. With --allow-exec also\n"
            "  exec {\"argv\":[PROGRAM, ARG...], \"stdin\":TEXT, \"env\":{NAME:VALUE},\n"
            "        \"cwd\":DIR}   (only argv needed; no shell; PROGRAM is looked up in PATH)\n"
            "giving {\"status\":N, \"stdout\":TEXT, \"stderr\":TEXT}, or {\"signal\":\"SIGKILL\",\n"
            "...} when a signal ended the command; a program that cannot run fails the job.\n"
            "What a command leaves running is killed when it ends; --timeout kills it all.\n"
            "The worker serves what its executors announce.\n"
            "Executors show in ps as 'taskmq-worker: executor (NAME)'.\n"
            "SIGTERM or SIGINT (Ctrl-C) drains: the worker takes no new jobs, hands the ones\n"
            "it has not started back to the broker, lets the running ones finish (for up to\n"
            "--drain-timeout), says BYE and exits 0. A second signal stops it at once: its\n"
            "running jobs are killed and the broker runs them again elsewhere. SIGHUP is ignored.\n"
            "\n"
            "Exit status: 0 stopped cleanly, 1 could not start its executors (the program\n"
            "cannot run, a plugin crashed while loading, or it said nothing), 2 usage error\n"
            "(bad option or endpoint, a --plugin file that cannot be read), an executor that\n"
            "cannot serve (it said why) or a plugin that cannot load (not a plugin, built for\n"
            "another plugin ABI, its init refused, a name taken), 3 the broker's host does not\n"
            "resolve or the broker refused this worker (--broker names its client port, not\n"
            "its worker port).\n",
            TMQ_WORKER_DEFAULT_BROKER, tmq_online_cpus(), TMQ_WORKER_DEFAULT_DRAIN_S);
}
