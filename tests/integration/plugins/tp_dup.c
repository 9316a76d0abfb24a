/* tests/integration/plugins/tp_dup.c — registers a name someone else has: $TP_DUP_NAME, or
 * `wordcount` (the example plugin's). */
#include <stdlib.h>
#include <taskmq/plugin.h>

static int f(const void *arg, size_t len, tmq_reply_t *reply)
{
    return tmq_reply_nil(reply);
}

int tmq_plugin_init(tmq_plugin_t *plugin)
{
    const char *name = getenv("TP_DUP_NAME");
    return tmq_plugin_register(plugin, name ? name : "wordcount", f);
}
