/* client/reorder.h — the reorder buffer behind `taskmq map --ordered`.
 *
 * Lines arrive tagged with their input index in any order and leave in index order,
 * starting at 0, each as soon as every earlier one has left. Slots form a ring indexed by
 * index - next, grown (power of two) to cover the farthest index seen, so put and pop are
 * O(1) and memory tracks the span between the oldest missing line and the newest arrival.
 */
#ifndef TMQ_REORDER_H
#define TMQ_REORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tmq_reorder_t tmq_reorder_t;

tmq_reorder_t *tmq_reorder_new(void);
/* Frees the buffer and every line still in it. */
void tmq_reorder_destroy(tmq_reorder_t **self);
/* Stores the line (malloc'd, taken) for index. Returns 0, or -1 when index was already
 * stored or already popped (the line is freed). */
int tmq_reorder_put(tmq_reorder_t *self, uint64_t index, char *line, size_t len);
/* The line for the next index when it has arrived (caller frees), else NULL. */
char *tmq_reorder_pop(tmq_reorder_t *self, size_t *len);
/* Moves past the next index without storing it (its line was emitted directly). Returns 0,
 * or -1 when a line for it is stored (pop it instead). */
int tmq_reorder_skip(tmq_reorder_t *self);
/* The index the next pop waits for. */
uint64_t tmq_reorder_next(const tmq_reorder_t *self);
/* Lines stored and not yet popped. */
size_t tmq_reorder_size(const tmq_reorder_t *self);

#endif
