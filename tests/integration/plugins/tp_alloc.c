/* tests/integration/plugins/tp_alloc.c — a test plugin whose `alloc` takes a number of MiB,
 * allocates that much and writes every page (so it is really used), then frees it and returns
 * the number: the memory-limit tests' hungry job. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <taskmq/plugin.h>

static int alloc(const void *arg, size_t len, tmq_reply_t *reply)
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
    free(p);
    return tmq_reply_int(reply, mib);
}

int tmq_plugin_init(tmq_plugin_t *plugin)
{
    return tmq_plugin_register(plugin, "alloc", alloc);
}
