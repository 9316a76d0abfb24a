/* tests/integration/plugins/tp_noinit.c — a shared object that is not a taskmq plugin: it
 * has no tmq_plugin_init. */
int tp_not_a_plugin(void);

int tp_not_a_plugin(void)
{
    return 42;
}
