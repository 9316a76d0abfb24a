/* client/cli_status.c — `taskmq status`, `taskmq functions` and `taskmq batches`: the
 * broker's STATUS_REPLY for people (render.c) or scripts.
 *
 * status --json prints the reply map as one compact JSON object (tmq_json_from_msgpack:
 * every field the broker sends, in its order); functions --json prints its functions list.
 */
#include "cli.h"
#include "jsonmp.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

/* The broker's status as JSON, or NULL with *status set to the exit status (and the reason
 * printed). */
static json_t *s_fetch(tmq_client_t *c, const tmq_cli_t *o, const char *endpoint, int *status)
{
    size_t len;
    void *body = tmq_client_status(c, (int)o->connect_timeout_ms, &len);
    if (!body) {
        *status = TMQ_EXIT_NO_BROKER;
        if (tmq_cli_interrupted) return NULL;
        if (*tmq_client_error(c))
            fprintf(stderr, "taskmq: %s\n", tmq_client_error(c));
        else
            fprintf(stderr, "taskmq: no status from the broker at %s within %ld ms\n", endpoint,
                    o->connect_timeout_ms);
        return NULL;
    }
    json_t *st = tmq_json_from_msgpack(body, len);
    free(body);
    if (!json_is_object(st)) {
        fprintf(stderr, "taskmq: the broker's status reply is not a map\n");
        json_decref(st);
        *status = TMQ_EXIT_FAILED;
        return NULL;
    }
    return st;
}

int tmq_cli_status(tmq_client_t *c, const tmq_cli_t *o, const char *endpoint)
{
    int status = TMQ_EXIT_OK;
    json_t *st = s_fetch(c, o, endpoint, &status);
    if (!st) return status;
    if (o->cmd == TMQ_CLI_BATCHES) {
        if (tmq_render_batches(stdout, st, o->json) != 0) {
            fprintf(stderr,
                    "taskmq: the broker at %s does not keep batches (taskmq 0.4 or older)\n",
                    endpoint);
            status = TMQ_EXIT_FAILED;
        }
    } else if (o->cmd == TMQ_CLI_FUNCTIONS) {
        if (tmq_render_functions(stdout, st, o->json) != 0) {
            fprintf(stderr,
                    "taskmq: the broker at %s does not say which functions it serves "
                    "(an older broker: see taskmq status)\n",
                    endpoint);
            status = TMQ_EXIT_FAILED;
        }
    } else if (o->json) {
        json_dumpf(st, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        tmq_render_status(stdout, st, endpoint);
    }
    json_decref(st);
    if (fflush(stdout) != 0) status = TMQ_EXIT_FAILED;
    return status;
}
