/* tests/unit/test_worker_options.c — the taskmq-worker command line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "options.h"
#include "platform.h"
#include "python.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(tmq_worker_opts_t *o, char *err, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {"taskmq-worker", (char *)a1, (char *)a2, (char *)a3, NULL};
    int argc = 1;
    while (argv[argc])
        argc++;
    return tmq_worker_opts_parse(o, argc, argv, err, 256);
}

static void test_defaults(void **state)
{
    tmq_worker_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, NULL, NULL, NULL), 0);
    assert_string_equal(o.broker, "tcp://127.0.0.1:5556");
    assert_int_equal(o.procs, tmq_online_cpus());
    char host[256];
    tmq_hostname(host, sizeof host);
    assert_string_equal(o.name, host);
    assert_false(o.test_functions || o.help || o.executor || o.allow_exec);
    assert_int_equal(o.max_result, 16u << 20);
    assert_int_equal(o.max_exec_output, 1u << 20);
    assert_int_equal(o.verbose, 0);
}

static void test_flags(void **state)
{
    tmq_worker_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "--broker", "tcp://h:1", "--test-functions"), 0);
    assert_string_equal(o.broker, "tcp://h:1");
    assert_true(o.test_functions);
    assert_int_equal(parse(&o, err, "--procs=3", "--name=w1", "-v"), 0);
    assert_int_equal(o.procs, 3);
    assert_string_equal(o.name, "w1");
    assert_int_equal(o.verbose, 1);
    assert_int_equal(parse(&o, err, "--procs", "7", "--help"), 0);
    assert_int_equal(o.procs, 7);
    assert_true(o.help);
    assert_int_equal(parse(&o, err, "--executor", NULL, NULL), 0);
    assert_true(o.executor);
    assert_int_equal(parse(&o, err, "--version", NULL, NULL), 0);
    assert_true(o.version);
    assert_int_equal(parse(&o, err, "-V", NULL, NULL), 0);
    assert_true(o.version);
}

static void test_limits(void **state)
{
    tmq_worker_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "--allow-exec", "--max-exec-output", "4096"), 0);
    assert_true(o.allow_exec);
    assert_int_equal(o.max_exec_output, 4096);
    assert_int_equal(parse(&o, err, "--max-result=1000", "--allow-exec", "--max-exec-output=0"), 0);
    assert_int_equal(o.max_result, 1000);
    assert_int_equal(o.max_exec_output, 0);
    assert_int_equal(parse(&o, err, "--max-result", "2K", NULL), 0);
    assert_int_equal(o.max_result, 2048);
    assert_int_equal(parse(&o, err, "--max-result", "3MiB", NULL), 0);
    assert_int_equal(o.max_result, 3u << 20);
    assert_int_equal(parse(&o, err, "--max-result", "65535k", NULL), 0);
    assert_int_equal(o.max_result, 65535u << 10);
    assert_int_equal(parse(&o, err, "--allow-exec", "--max-exec-output=1g", NULL), -1);
    assert_string_equal(err, "--max-exec-output: '1g' is not a size in 0 bytes..64 MiB (bytes, or "
                             "K, M, G: KiB, MiB, GiB; e.g. 512M)");
    assert_int_equal(parse(&o, err, "--max-exec-output", "1M", NULL), -1);
    assert_string_equal(err, "--max-exec-output is for --allow-exec (exec's output cap)");
    assert_int_equal(parse(&o, err, "--max-result", "64M", NULL), -1); /* a frame must hold it */
    assert_string_equal(err, "--max-result: '64M' is not a size in 1 byte..65535 KiB (bytes, or "
                             "K, M, G: KiB, MiB, GiB; e.g. 512M)");
    assert_int_equal(parse(&o, err, "--mem-limit", "512K", NULL), -1);
    assert_string_equal(err, "--mem-limit: '512K' is not a size in 1 MiB..1 TiB (bytes, or K, M, "
                             "G: KiB, MiB, GiB; e.g. 512M)");
    assert_int_equal(parse(&o, err, "--mem-limit", "512M", NULL), 0);
    assert_true(o.mem_limit == 512u << 20);
    assert_int_equal(o.drain_timeout_s, 30); /* the default */
    assert_int_equal(parse(&o, err, "--drain-timeout", "0", NULL), 0);
    assert_int_equal(o.drain_timeout_s, 0);
    assert_int_equal(parse(&o, err, "--drain-timeout=600", NULL, NULL), 0);
    assert_int_equal(o.drain_timeout_s, 600);
    assert_int_equal(parse(&o, err, "--drain-timeout", "1.5", NULL), -1);
    assert_string_equal(err, "--drain-timeout: '1.5' is not a number of seconds in 0..86400");
    assert_int_equal(parse(&o, err, "--drain-timeout", "-1", NULL), -1);
    assert_int_equal(parse(&o, err, "--drain-timeout", NULL, NULL), -1);
    assert_int_equal(parse(&o, err, "--max-result", "0", NULL), -1);
    assert_int_equal(parse(&o, err, "--max-result", "1.5M", NULL), -1);
    assert_int_equal(parse(&o, err, "--max-result", "-1", NULL), -1);
    assert_int_equal(parse(&o, err, "--max-result", "5MB", NULL), -1);
    assert_int_equal(parse(&o, err, "--max-result", "99999999999999999999999", NULL), -1);
    assert_int_equal(parse(&o, err, "--max-result", "", NULL), -1);
    assert_int_equal(parse(&o, err, "--allow-exec=1", NULL, NULL), -1);
    /* exec is the built-in executor's */
    assert_int_equal(parse(&o, err, "--allow-exec", "--executor-cmd", "python3 x.py"), -1);
    assert_string_equal(err, "--allow-exec is for the built-in executor, not --executor-cmd");
    assert_int_equal(parse(&o, err, "--executor-cmd=python3", "--max-exec-output", "1"), -1);
    assert_string_equal(err, "--max-exec-output is for the built-in executor, not --executor-cmd");
    assert_int_equal(parse(&o, err, "--executor-cmd=python3", "--max-result", "1"), 0);
}

static void test_errors(void **state)
{
    tmq_worker_opts_t o;
    char err[256];
    assert_int_equal(parse(&o, err, "--bogus", NULL, NULL), -1);
    assert_string_equal(err, "unknown option '--bogus'");
    assert_int_equal(parse(&o, err, "--procs", NULL, NULL), -1);
    assert_string_equal(err, "option '--procs' needs a value");
    assert_int_equal(parse(&o, err, "--procs", "0", NULL), -1);
    assert_string_equal(err, "--procs: '0' is not a number in 1..4096");
    assert_int_equal(parse(&o, err, "--procs", "2x", NULL), -1);
    assert_int_equal(parse(&o, err, "--broker", "localhost", NULL), -1);
    assert_non_null(strstr(err, "--broker"));
    assert_non_null(strstr(err, "tcp://HOST:PORT"));      /* says what a valid one looks like */
    assert_non_null(strstr(err, "tcp://127.0.0.1:5556")); /* with a worker port */
    assert_int_equal(parse(&o, err, "--broker", "tcp://h:0", NULL), -1);
    assert_non_null(strstr(err, "port"));
    assert_int_equal(parse(&o, err, "--broker", "tcp://*:5556", NULL), -1); /* '*' binds */
    assert_int_equal(parse(&o, err, "--name=", NULL, NULL), -1);
    assert_int_equal(parse(&o, err, "--test-functions=1", NULL, NULL), -1);
    assert_int_equal(parse(&o, err, "extra", NULL, NULL), -1);
    assert_string_equal(err, "unexpected argument 'extra'");
}

/* --plugin FILE: repeatable, in order; FILE must be a readable file; not with --executor-cmd. */
static void test_plugins(void **state)
{
    tmq_worker_opts_t o;
    char err[256];
    char dir[] = "/tmp/test_worker_options.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[64], b[64];
    snprintf(a, sizeof a, "%s/a.so", dir);
    snprintf(b, sizeof b, "%s/b.so", dir);
    fclose(fopen(a, "w"));
    fclose(fopen(b, "w"));
    assert_int_equal(parse(&o, err, "--plugin", a, "--plugin=/dev/null"), -1);
    assert_string_equal(err, "--plugin: '/dev/null' is not a file (a plugin is a .so file)");
    char *argv[] = {"taskmq-worker", "--plugin", a, "--plugin", b, NULL};
    assert_int_equal(tmq_worker_opts_parse(&o, 5, argv, err, sizeof err), 0);
    assert_int_equal(o.nplugins, 2);
    assert_string_equal(o.plugins[0], a);
    assert_string_equal(o.plugins[1], b);
    char again[96];
    snprintf(again, sizeof again, "%s/./a.so", dir); /* the same file under another name */
    char *twice[] = {"taskmq-worker", "--plugin", a, "--plugin", again, NULL};
    assert_int_equal(tmq_worker_opts_parse(&o, 5, twice, err, sizeof err), -1);
    char want[256];
    snprintf(want, sizeof want, "--plugin: '%s' is given twice (also as '%s')", again, a);
    assert_string_equal(err, want);
    assert_int_equal(parse(&o, err, "--plugin", "x.so", NULL), -1);
    assert_string_equal(err, "--plugin: cannot read 'x.so': No such file or directory");
    assert_int_equal(parse(&o, err, "--plugin", dir, NULL), -1);
    assert_non_null(strstr(err, "is not a file"));
    assert_int_equal(parse(&o, err, "--plugin", NULL, NULL), -1);
    assert_string_equal(err, "option '--plugin' needs a value");
    assert_int_equal(parse(&o, err, "--plugin", a, "--executor-cmd=cat"), -1);
    assert_string_equal(err, "--plugin and --executor-cmd do not go together: plugins load into "
                             "the built-in executor");
    assert_int_equal(parse(&o, err, "--test-functions", "--executor-cmd=cat", NULL), -1);
    assert_string_equal(err, "--test-functions is for the built-in executor, not --executor-cmd");
    if (geteuid() != 0) { /* root reads anything */
        chmod(a, 0);
        assert_int_equal(parse(&o, err, "--plugin", a, NULL), -1);
        assert_non_null(strstr(err, "Permission denied"));
    }
    char *many[2 * TMQ_WORKER_MAX_PLUGINS + 4] = {"taskmq-worker"};
    char names[TMQ_WORKER_MAX_PLUGINS + 1][64];
    int n = 1;
    for (int i = 0; i <= TMQ_WORKER_MAX_PLUGINS; i++) {
        snprintf(names[i], sizeof names[i], "%s/p%d.so", dir, i);
        fclose(fopen(names[i], "w"));
        many[n++] = "--plugin";
        many[n++] = names[i];
    }
    assert_int_equal(tmq_worker_opts_parse(&o, n, many, err, sizeof err), -1);
    assert_string_equal(err, "--plugin: at most 64 plugins");
    for (int i = 0; i <= TMQ_WORKER_MAX_PLUGINS; i++)
        unlink(names[i]);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

/* --python MODULE: names and .py files, repeatable, alone (no other executor's flags). */
static void test_python(void **state)
{
    tmq_worker_opts_t o;
    char err[256];
    char dir[] = "/tmp/test_worker_options.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char f[64];
    snprintf(f, sizeof f, "%s/jobs.py", dir);
    fclose(fopen(f, "w"));

    assert_int_equal(parse(&o, err, NULL, NULL, NULL), 0);
    assert_int_equal(o.npython, 0);
    assert_int_equal(parse(&o, err, "--python", "pkg.jobs", "--python=jobs_2"), 0);
    assert_int_equal(o.npython, 2);
    assert_string_equal(o.python[0], "pkg.jobs");
    assert_string_equal(o.python[1], "jobs_2");
    assert_int_equal(parse(&o, err, "--python", f, NULL), 0);
    assert_string_equal(o.python[0], f);

    assert_int_equal(parse(&o, err, "--python", NULL, NULL), -1);
    assert_string_equal(err, "option '--python' needs a value");
    assert_int_equal(parse(&o, err, "--python=", NULL, NULL), -1);
    assert_string_equal(err, "--python needs a module name or a .py file");
    assert_int_equal(parse(&o, err, "--python", "no/such.py", NULL), -1);
    assert_string_equal(err, "--python: cannot read 'no/such.py': No such file or directory");
    assert_int_equal(parse(&o, err, "--python", dir, NULL), -1);
    assert_non_null(strstr(err, "is not a file"));
    assert_int_equal(parse(&o, err, "--python", "a b", NULL), -1);
    assert_string_equal(err, "--python: 'a b' is neither a module name nor a .py file");

    assert_int_equal(parse(&o, err, "--python", f, "--executor-cmd=cat"), -1);
    assert_string_equal(err, "--python and --executor-cmd do not go together: --python runs "
                             "Python executors, --executor-cmd another program");
    assert_int_equal(parse(&o, err, "--allow-exec", "--python", f), -1);
    assert_string_equal(err, "--python and --allow-exec do not go together: --python runs Python "
                             "executors, which serve only the modules' functions (that flag is "
                             "for the built-in executor)");
    assert_int_equal(parse(&o, err, "--python", f, "--plugin"), -1); /* needs its value */
    assert_int_equal(parse(&o, err, "--plugin", f, "--python=x"), -1);
    assert_non_null(strstr(err, "--python and --plugin do not go together"));
    assert_int_equal(parse(&o, err, "--python=x", "--test-functions", NULL), -1);
    assert_non_null(strstr(err, "--python and --test-functions do not go together"));

    char *many[2 * TMQ_WORKER_MAX_PYTHON + 4] = {"taskmq-worker"};
    int n = 1;
    for (int i = 0; i <= TMQ_WORKER_MAX_PYTHON; i++) {
        many[n++] = "--python";
        many[n++] = "m";
    }
    assert_int_equal(tmq_worker_opts_parse(&o, n, many, err, sizeof err), -1);
    assert_string_equal(err, "--python: at most 64 modules");
    unlink(f);
    rmdir(dir);
}

/* The Python executors' command: the interpreter, -m taskmq.executor, the modules. */
static void test_python_argv(void **state)
{
    tmq_worker_opts_t o;
    char err[256], **argv, *program;
    assert_int_equal(parse(&o, err, "--python", "a", "--python=b.c"), 0);
    unsetenv("TASKMQ_PYTHON");
    tmq_python_argv(&o, &argv, &program);
    assert_string_equal(argv[0], "/usr/bin/python3");
    assert_string_equal(argv[1], "-m");
    assert_string_equal(argv[2], "taskmq.executor");
    assert_string_equal(argv[3], "a");
    assert_string_equal(argv[4], "b.c");
    assert_null(argv[5]);
    assert_string_equal(program, "/usr/bin/python3 -m taskmq.executor a b.c");
    for (int i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
    free(program);
    setenv("TASKMQ_PYTHON", "python3.11", 1);
    tmq_python_argv(&o, &argv, &program);
    assert_string_equal(program, "python3.11 -m taskmq.executor a b.c");
    for (int i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
    free(program);
    unsetenv("TASKMQ_PYTHON");

    /* the package is found (here: the source tree's python/), and goes first in PYTHONPATH */
    const char *dir = tmq_python_package_dir();
    char f[4096];
    snprintf(f, sizeof f, "%s/taskmq/executor.py", dir);
    assert_int_equal(access(f, R_OK), 0);
    setenv("PYTHONPATH", "/elsewhere", 1);
    assert_int_equal(tmq_python_setenv(), 0);
    char want[4200];
    snprintf(want, sizeof want, "%s:/elsewhere", dir);
    assert_string_equal(getenv("PYTHONPATH"), want);
    unsetenv("PYTHONPATH");
    assert_int_equal(tmq_python_setenv(), 0);
    assert_string_equal(getenv("PYTHONPATH"), dir);
    unsetenv("PYTHONPATH");
}

/* Sizes on every command line: parsed with suffixes, and named back in whole units. */
static void test_sizes(void **state)
{
    (void)state;
    uint64_t n;
    assert_int_equal(tmq_parse_size("512M", 1, UINT64_MAX, &n), 0);
    assert_true(n == 512u << 20);
    assert_int_equal(tmq_parse_size("2GiB", 1, UINT64_MAX, &n), 0);
    assert_true(n == 2ull << 30);
    assert_int_equal(tmq_parse_size("4096", 1, UINT64_MAX, &n), 0);
    assert_true(n == 4096);
    assert_int_equal(tmq_parse_size("1k", 1, UINT64_MAX, &n), 0);
    assert_true(n == 1024);
    assert_int_equal(tmq_parse_size("", 1, 10, &n), -1);
    assert_int_equal(tmq_parse_size("1.5G", 1, UINT64_MAX, &n), -1);
    assert_int_equal(tmq_parse_size("-1", 0, 10, &n), -1);
    assert_int_equal(tmq_parse_size("11", 0, 10, &n), -1);
    assert_int_equal(tmq_parse_size("1T", 0, UINT64_MAX, &n), 0);
    assert_true(n == 1ull << 40);
    assert_int_equal(tmq_parse_size("1P", 0, UINT64_MAX, &n), -1);
    assert_int_equal(tmq_parse_size("99999999999G", 0, UINT64_MAX, &n), -1);
    char buf[32];
    tmq_format_size(512u << 20, buf, sizeof buf);
    assert_string_equal(buf, "512 MiB");
    tmq_format_size(1ull << 30, buf, sizeof buf);
    assert_string_equal(buf, "1 GiB");
    tmq_format_size(1536, buf, sizeof buf);
    assert_string_equal(buf, "1536 bytes");
    tmq_format_size(3 * 1024 + 0, buf, sizeof buf);
    assert_string_equal(buf, "3 KiB");
    tmq_format_size(0, buf, sizeof buf);
    assert_string_equal(buf, "0 bytes");
    tmq_format_size(1, buf, sizeof buf);
    assert_string_equal(buf, "1 byte");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_flags),
        cmocka_unit_test(test_limits),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_plugins),  cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_python),   cmocka_unit_test(test_python_argv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
