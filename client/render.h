/* client/render.h — `taskmq status`, `taskmq functions` and `taskmq batches` for people, from the
 * broker's STATUS_REPLY (as JSON, common/jsonmp's mapping).
 *
 * Pure: a parsed reply in, text out, so the tests render a known reply. Every field may be
 * absent (an older broker sends fewer): what is there is shown, what is not is left out,
 * never shown as a made-up 0. Workers are named by host and address ("vm 10.0.0.7:41822").
 */
#ifndef TMQ_RENDER_H
#define TMQ_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* The status: broker line, jobs line, then one or two lines per worker. */
void tmq_render_status(FILE *out, const json_t *status, const char *endpoint);

/* The functions the cluster serves, from the reply's `functions` or, from an older broker,
 * gathered from its workers' `functions` (then without queued counts). With json, one JSON
 * array of {name, workers, procs, queued}. Returns 0, or -1 (nothing printed) when the reply
 * says nothing about functions. */
int tmq_render_functions(FILE *out, const json_t *status, bool json);

/* The named batches the broker holds (PROTOCOL.md 5.8, the reply's `batches`): a table of
 * name, total, done, failed, running, state (running, closed, complete) and age, or with json
 * the list as the broker sent it. Returns 0, or -1 (nothing printed) when the reply has no
 * `batches` (an older broker). */
int tmq_render_batches(FILE *out, const json_t *status, bool json);

#endif
