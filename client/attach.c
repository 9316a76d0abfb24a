/* client/attach.c — see attach.h. Results of the attachment are the submitter's cids, so the
 * set of cids seen is the one de-duplication; the phase says which messages are ours.
 */
#include "attach.h"
#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

void tmq_cattach_init(tmq_cattach_t *a)
{
    memset(a, 0, sizeof *a);
    tmq_idmap_init(&a->seen);
}

void tmq_cattach_destroy(tmq_cattach_t *a)
{
    tmq_idmap_destroy(&a->seen);
    free(a->ok);
    a->ok = NULL;
    a->nok = 0;
}

static bool s_same(const tmq_cattach_t *a, const char *name, size_t len)
{
    return a->name_len == len && memcmp(a->name, name, len) == 0;
}

void tmq_cattach_ask(tmq_cattach_t *a, const char *name, size_t len, bool resume)
{
    if (len > TMQ_PROTO_MAX_BATCH_NAME) len = TMQ_PROTO_MAX_BATCH_NAME;
    /* a new attachment reads everything again (the library's own repeat after a restart is
     * tmq_cattach_again, which keeps what was seen); results of one being replaced that are
     * in the client's queue stay there, counted in queued */
    tmq_idmap_destroy(&a->seen);
    tmq_idmap_init(&a->seen);
    a->attached = false;
    memset(&a->st, 0, sizeof a->st);
    memcpy(a->name, name, len);
    a->name[len] = '\0';
    a->name_len = len;
    a->resume = resume;
    a->answered = a->refused = false;
    free(a->ok);
    a->ok = NULL;
    a->nok = 0;
    a->phase = TMQ_CATTACH_ASKED;
}

static void s_status(tmq_batch_status_t *st, const tmq_batch_info_t *info)
{
    *st = (tmq_batch_status_t){.known = info->known,
                               .total = info->total,
                               .done = info->done,
                               .failed = info->failed,
                               .running = info->running,
                               .closed = info->closed,
                               .cancelled = info->cancelled,
                               .complete = info->complete};
}

/* The `ok` array of a resume's answer: uints (anything else is skipped). */
static void s_ok(tmq_cattach_t *a, const tmq_msg_t *m)
{
    const msgpack_object *ok = tmq_msg_get(m, "ok");
    if (!ok || ok->type != MSGPACK_OBJECT_ARRAY || ok->via.array.size == 0) return;
    a->ok = tmq_xmalloc(ok->via.array.size * sizeof *a->ok);
    for (uint32_t i = 0; i < ok->via.array.size; i++)
        if (ok->via.array.ptr[i].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            a->ok[a->nok++] = ok->via.array.ptr[i].via.u64;
}

bool tmq_cattach_on_batch(tmq_cattach_t *a, const tmq_msg_t *m)
{
    tmq_batch_info_t info;
    if (tmq_msg_batch_info(m, &info) != 0 || !s_same(a, info.name, info.name_len)) return false;
    if (a->phase == TMQ_CATTACH_ASKED) {
        /* the answer: a resume's carries `ok` (or says unknown); an attach's is never complete
         * (a complete one is the end of an attachment this ATTACH replaces) */
        bool answer = a->resume ? (!info.known || tmq_msg_get(m, "ok")) : !info.complete;
        if (!answer) return false;
        s_status(&a->st, &info);
        a->answer = a->st;
        a->answered = true;
        if (a->resume) {
            s_ok(a, m);
            a->phase = TMQ_CATTACH_NONE;
        } else if (!info.known) {
            a->phase = TMQ_CATTACH_NONE;
            a->attached = false;
        } else {
            a->phase = TMQ_CATTACH_READING;
            a->attached = true;
        }
        return true;
    }
    if (a->phase == TMQ_CATTACH_READING || a->phase == TMQ_CATTACH_COMPLETE) {
        s_status(&a->st, &info);
        if (info.complete) a->phase = TMQ_CATTACH_COMPLETE;
    }
    return false;
}

bool tmq_cattach_take(tmq_cattach_t *a, uint64_t cid)
{
    if (a->phase != TMQ_CATTACH_READING && a->phase != TMQ_CATTACH_COMPLETE) return false;
    if (cid == TMQ_IDMAP_NONE || !tmq_idmap_put(&a->seen, cid, NULL)) return false;
    a->queued++;
    return true;
}

void tmq_cattach_returned(tmq_cattach_t *a)
{
    if (a->queued) a->queued--;
}

bool tmq_cattach_on_refusal(tmq_cattach_t *a)
{
    if (a->phase != TMQ_CATTACH_ASKED) return false;
    a->answered = a->refused = true;
    a->phase = TMQ_CATTACH_NONE;
    a->attached = false;
    return true;
}

void tmq_cattach_lose(tmq_cattach_t *a)
{
    if (a->phase == TMQ_CATTACH_ASKED) {
        a->phase = a->attached ? TMQ_CATTACH_LOST : TMQ_CATTACH_NONE;
    } else if (a->phase == TMQ_CATTACH_READING) {
        a->phase = TMQ_CATTACH_LOST;
    }
}

bool tmq_cattach_again(tmq_cattach_t *a)
{
    if (a->phase == TMQ_CATTACH_READING) {
        a->phase = TMQ_CATTACH_ASKED; /* keeps what was seen: the broker sends it all again */
        a->answered = false;
        return true;
    }
    return a->phase == TMQ_CATTACH_ASKED;
}

bool tmq_cattach_active(const tmq_cattach_t *a)
{
    return a->phase == TMQ_CATTACH_ASKED || a->phase == TMQ_CATTACH_READING;
}

tmq_attach_state_t tmq_cattach_state(const tmq_cattach_t *a)
{
    switch (a->phase) {
    case TMQ_CATTACH_READING:
        return TMQ_ATTACH_READING;
    case TMQ_CATTACH_COMPLETE:
        return a->queued ? TMQ_ATTACH_READING : TMQ_ATTACH_COMPLETE;
    case TMQ_CATTACH_LOST:
        return TMQ_ATTACH_LOST;
    case TMQ_CATTACH_ASKED:
        return a->attached ? TMQ_ATTACH_READING : TMQ_ATTACH_NONE;
    case TMQ_CATTACH_NONE:
        break;
    }
    return TMQ_ATTACH_NONE;
}
