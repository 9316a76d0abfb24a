/* broker/kept.h — a job's outcome kept after its job record is gone: a session's result until
 * its client acknowledges it (session.c), a named batch's until the batch is forgotten
 * (batches.c). Each keeps a tmq_kept_t followed by the bytes (data, then worker) in one
 * allocation of its own shape; these helpers fill one from a result item and make the item
 * back, told as ERROR to a client that does not know OOM (PROTOCOL.md 5.1).
 */
#ifndef TMQ_BROKER_KEPT_H
#define TMQ_BROKER_KEPT_H

#include <proto.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t jid; /* its journal record, forgotten with it; 0: none */
    uint64_t cid;
    double ms;
    uint32_t attempts, data_len, worker_len;
    uint8_t status; /* as the worker ended it (an OOM stays OOM) */
} tmq_kept_t;

/* Bytes of the copy of its data and worker. */
static inline size_t tmq_kept_bytes(const tmq_result_item_t *it)
{
    return it->data_len + it->worker_len;
}

/* Fills k from it, copying its data and worker into bytes (tmq_kept_bytes of them). */
static inline void tmq_kept_set(tmq_kept_t *k, char *bytes, uint64_t jid,
                                const tmq_result_item_t *it)
{
    *k = (tmq_kept_t){.jid = jid,
                      .cid = it->cid,
                      .ms = it->ms,
                      .attempts = it->attempts,
                      .data_len = (uint32_t)it->data_len,
                      .worker_len = (uint32_t)it->worker_len,
                      .status = (uint8_t)it->status};
    if (it->data_len) memcpy(bytes, it->data, it->data_len);
    if (it->worker_len) memcpy(bytes + it->data_len, it->worker, it->worker_len);
}

/* The RESULTS item for k, for a client that knows status OOM or not. */
static inline tmq_result_item_t tmq_kept_item(const tmq_kept_t *k, const char *bytes, bool oom)
{
    return (tmq_result_item_t){.cid = k->cid,
                               .status = k->status == TMQ_ST_OOM && !oom ? TMQ_ST_ERROR : k->status,
                               .data = bytes,
                               .data_len = k->data_len,
                               .worker = bytes + k->data_len,
                               .worker_len = k->worker_len,
                               .ms = k->ms,
                               .attempts = k->attempts};
}

#endif
