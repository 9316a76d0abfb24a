/* tests/integration/plugins/tp_wrong_abi.c — a plugin as an SDK of plugin ABI 7 would build
 * it: the worker must refuse it at start, naming both versions. */
#include <taskmq/plugin.h>

#undef TMQ_PLUGIN_ABI
#define TMQ_PLUGIN_ABI 7

static int f(const void *arg, size_t len, tmq_reply_t *reply)
{
    return tmq_reply_nil(reply);
}

int tmq_plugin_init(tmq_plugin_t *plugin)
{
    return tmq_plugin_register(plugin, "from_the_future", f);
}
