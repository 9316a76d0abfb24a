/* tests/integration/plugins/tp_init_fail.c — refuses to load: its init returns -1, saying
 * why ($TP_REASON) when that is set. */
#include <stdlib.h>
#include <taskmq/plugin.h>

static int f(const void *arg, size_t len, tmq_reply_t *reply)
{
    return tmq_reply_nil(reply);
}

int tmq_plugin_init(tmq_plugin_t *plugin)
{
    tmq_plugin_register(plugin, "never_served", f);
    const char *reason = getenv("TP_REASON");
    if (reason) return tmq_plugin_error(plugin, "%s", reason);
    return -1;
}
