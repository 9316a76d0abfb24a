/* tests/integration/plugins/tp_alloc.c — a test plugin whose `alloc` takes a number of MiB,
 * allocates that much and writes every page (so it is really used), then frees it and returns
 * the number: the memory-limit tests' hungry job. `hold` does the same and keeps it, so its
 * executor holds that much from then on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <taskmq/plugin.h>

static char *s_held;

static int s_alloc(const void *arg, size_t len, tmq_reply_t *reply, int hold)
{
    int64_t mib;
    if (tmq_arg_int(arg, len, &mib) != 0 || mib < 0 || mib > 65536)
        return tmq_reply_error(reply, "alloc: want a number of MiB (0..65536), got %s",
                               tmq_arg_type(arg, len));
    size_t n = (size_t)mib << 20;
    char *p = malloc(n ? n : 1);
    if (!p) return tmq_reply_error(reply, "alloc: malloc(%zu) failed", n);
    memset(p, 1, n);
    volatile char sink = p[n ? n - 1 : 0];
    (void)sink;
    if (hold) {
        free(s_held);
        s_held = p;
    } else {
        free(p);
    }
    return tmq_reply_int(reply, mib);
}

static int alloc(const void *arg, size_t len, tmq_reply_t *reply)
{
    return s_alloc(arg, len, reply, 0);
}

static int hold(const void *arg, size_t len, tmq_reply_t *reply)
{
    return s_alloc(arg, len, reply, 1);
}

int tmq_plugin_init(tmq_plugin_t *plugin)
{
    if (tmq_plugin_register(plugin, "hold", hold) != 0) return -1;
    return tmq_plugin_register(plugin, "alloc", alloc);
}
