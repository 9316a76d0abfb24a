/* tests/integration/plugins/tp_crash.c — a test plugin whose `segv` dies of SIGSEGV, beside
 * `tp_pid` (the executor's pid: shows which process served a job) and `tp_args` (the SDK's
 * argument readers on [int, float, bool, str, {"k": int}]). Its per-process hooks append
 * "init PID" and "exit PID" lines to $TP_MARKS when that is set; with $TP_CRASH_INIT set its
 * init dies of SIGSEGV. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <taskmq/plugin.h>
#include <unistd.h>

static void mark(const char *what)
{
    const char *path = getenv("TP_MARKS");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (!f) return;
    fprintf(f, "%s %d\n", what, (int)getpid());
    fclose(f);
}

static void on_exit_hook(void *arg)
{
    mark(arg);
}

static int segv(const void *arg, size_t len, tmq_reply_t *reply)
{
    volatile uintptr_t bad = 16; /* not NULL: UBSan would report the store first */
    signal(SIGSEGV, SIG_DFL);    /* a sanitizer's handler would make it an exit */
    *(volatile int *)bad = 1;
    return tmq_reply_error(reply, "segv: still alive");
}

static int tp_pid(const void *arg, size_t len, tmq_reply_t *reply)
{
    return tmq_reply_int(reply, getpid());
}

static int tp_args(const void *arg, size_t len, tmq_reply_t *reply)
{
    const void *v;
    size_t n, sn;
    int64_t i, k;
    double d;
    bool b;
    const char *s;
    uint32_t count;
    if (tmq_arg_count(arg, len, &count) != 0 || count != 5 ||
        tmq_arg_item(arg, len, 0, &v, &n) != 0 || tmq_arg_int(v, n, &i) != 0 ||
        tmq_arg_item(arg, len, 1, &v, &n) != 0 || tmq_arg_double(v, n, &d) != 0 ||
        tmq_arg_item(arg, len, 2, &v, &n) != 0 || tmq_arg_bool(v, n, &b) != 0 ||
        tmq_arg_item(arg, len, 3, &v, &n) != 0 || tmq_arg_str(v, n, &s, &sn) != 0 ||
        tmq_arg_item(arg, len, 4, &v, &n) != 0 || tmq_arg_field(v, n, "k", &v, &n) != 0 ||
        tmq_arg_int(v, n, &k) != 0)
        return tmq_reply_error(reply, "tp_args: want [int, float, bool, str, {\"k\": int}], got %s",
                               tmq_arg_type(arg, len));
    tmq_reply_array(reply, 5);
    tmq_reply_int(reply, i + k);
    tmq_reply_double(reply, d * 2);
    tmq_reply_bool(reply, !b);
    tmq_reply_strn(reply, s, sn);
    return tmq_reply_nil(reply);
}

int tmq_plugin_init(tmq_plugin_t *plugin)
{
    if (getenv("TP_CRASH_INIT")) { /* dies while loading */
        volatile uintptr_t bad = 16;
        signal(SIGSEGV, SIG_DFL);
        *(volatile int *)bad = 1;
    }
    mark("init");
    tmq_plugin_on_exit(plugin, on_exit_hook, "exit");
    if (tmq_plugin_register(plugin, "segv", segv) != 0) return -1;
    if (tmq_plugin_register(plugin, "tp_pid", tp_pid) != 0) return -1;
    return tmq_plugin_register(plugin, "tp_args", tp_args);
}
