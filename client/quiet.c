/* client/quiet.c — libtaskmq.so's logging default: warnings and errors only.
 *
 * A library must not chatter on its user's stderr: the informational lines (the broker
 * address, its answer, backpressure) are for the `taskmq` tool's -v, which links the static
 * library and sets its own level. Warnings do show: jobs waiting because no worker is
 * connected, a broker reporting an error. Linked into the shared library alone.
 */
#include "log.h"

__attribute__((constructor)) static void s_quiet(void)
{
    tmq_log_init("taskmq", TMQ_LOG_WARN);
}
