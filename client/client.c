/* client/client.c — libtaskmq's public API on the user's thread (see taskmq/client.h).
 *
 * The user thread owns the job state; the link actor (link.c) owns the socket. tmq_submit
 * packs a job into the current SUBMIT batch, sent at 512 jobs / 256 KiB, on tmq_flush and
 * whenever the caller waits (tmq_next, tmq_wait). Messages from the broker are only read
 * while the caller is inside the API, and always drained completely: ACKs go to acks.c,
 * results are de-duplicated by id and queued for tmq_next in arrival order.
 */
#include "client_internal.h"
#include "link.h"
#include "log.h"
#include "platform.h"
#include "wire.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* ---- sending to the link ---- */

static void s_free(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Hands header + body (taken) to the link. Blocks only if the pipe is full, which the link
 * prevents by always reading it. */
static void s_send(tmq_client_t *c, tmq_cmd_t cmd, void *body, size_t len)
{
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, cmd);
    while (zmq_send(c->pipe, hdr, sizeof hdr, ZMQ_SNDMORE) < 0) {
        if (errno != EINTR) {
            free(body);
            return;
        }
    }
    zmq_msg_t m;
    zmq_msg_init_data(&m, body, len, s_free, NULL);
    if (zmq_msg_send(&m, c->pipe, 0) < 0) zmq_msg_close(&m);
}

static void s_send_empty(tmq_client_t *c, tmq_cmd_t cmd)
{
    size_t len;
    void *body = tmq_proto_empty_body(&len);
    s_send(c, cmd, body, len);
}

void tmq_client_send_batch(tmq_client_t *c)
{
    if (c->batch.count == 0) return;
    size_t len;
    void *body = tmq_batch_finish(&c->batch, TMQ_CMD_SUBMIT, 0, &len);
    tmq_acks_sent(c, body, len);
    s_send(c, TMQ_CMD_SUBMIT, body, len);
}

void tmq_client_enqueue(tmq_client_t *c, const tmq_submit_item_t *it)
{
    if (c->batch.count > 0 &&
        c->batch.buf.size + it->arg_len + it->fn_len + 32 > TMQ_CLIENT_BATCH_BYTES)
        tmq_client_send_batch(c);
    tmq_batch_add_submit(&c->batch, it);
    if (c->batch.count >= TMQ_CLIENT_BATCH_JOBS || c->batch.buf.size >= TMQ_CLIENT_BATCH_BYTES)
        tmq_client_send_batch(c);
}

void tmq_client_fail(tmq_client_t *c, uint64_t id, const char *text, size_t len)
{
    if (!tmq_idset_remove(&c->inflight, id)) return;
    tmq_resq_push(&c->results, tmq_result_new(id, false, text, len, "", 0, 0.0, 0));
}

/* ---- receiving from the link ---- */

static void s_on_results(tmq_client_t *c, const tmq_msg_t *m)
{
    size_t n = tmq_msg_count(m);
    for (size_t i = 0; i < n; i++) {
        tmq_result_item_t it;
        if (tmq_msg_result_item(m, i, &it) != 0) continue;
        if (!tmq_idset_remove(&c->inflight, it.cid)) continue; /* duplicate or unknown */
        tmq_resq_push(&c->results,
                      tmq_result_new(it.cid, it.status == TMQ_ST_OK, it.data, it.data_len,
                                     it.worker, it.worker_len, it.ms, it.attempts));
        c->drained++;
    }
}

static void s_on_status(tmq_client_t *c, const tmq_wire_in_t *in)
{
    c->status_answered++;
    if (c->status_answered != c->status_asked) return; /* answer to a request given up on */
    free(c->status_body);
    c->status_len = zmq_msg_size((zmq_msg_t *)&in->body);
    c->status_body = malloc(c->status_len ? c->status_len : 1);
    if (!c->status_body) abort();
    memcpy(c->status_body, zmq_msg_data((zmq_msg_t *)&in->body), c->status_len);
}

static void s_broker_lost(tmq_client_t *c);

static void s_dispatch(tmq_client_t *c, const tmq_wire_in_t *in)
{
    const tmq_msg_t *m = &in->msg;
    switch (m->cmd) {
    case TMQ_CMD_RESULTS:
        s_on_results(c, m);
        break;
    case TMQ_CMD_ACK:
        tmq_acks_on_ack(c, m);
        break;
    case TMQ_CMD_WELCOME: {
        uint64_t v;
        c->welcomed = true;
        c->hello_sent = false;
        if (tmq_msg_get_uint(m, "max_payload", &v) == 0 && v <= UINT32_MAX)
            c->max_payload = (uint32_t)v;
        if (tmq_msg_get_uint(m, "heartbeat", &v) == 0 && v >= 10 && v <= 3600000)
            c->heartbeat_ms = (uint32_t)v;
        break;
    }
    case TMQ_CMD_STATUS_REPLY:
        s_on_status(c, in);
        break;
    case TMQ_CMD_ERROR: {
        const char *reason = "";
        size_t len = 0;
        uint64_t code = 0;
        tmq_msg_get_str(m, "reason", &reason, &len);
        tmq_msg_get_uint(m, "code", &code);
        if (code != TMQ_ERR_UNKNOWN_PEER) {
            tmq_warn("client: broker reported an error: %.*s", (int)len, reason);
            break;
        }
        /* the broker restarted and does not know us: the jobs it held are gone */
        if (c->inflight.count) s_broker_lost(c);
        tmq_wire_send_empty(c->pipe, NULL, 0, TMQ_CMD_HELLO);
        break;
    }
    default:
        break;
    }
}

/* When the broker must have been heard from again (results are due and it heartbeats
 * when idle), or INT64_MAX when nothing is due. */
static int64_t s_liveness_deadline(const tmq_client_t *c)
{
    if (!c->welcomed || c->inflight.count == 0) return INT64_MAX;
    int64_t heard = atomic_load_explicit(&c->shared.last_heard, memory_order_relaxed);
    return heard + (int64_t)TMQ_CLIENT_BROKER_LIVENESS * c->heartbeat_ms;
}

static void s_fail_lost(uint64_t id, void *arg)
{
    static const char why[] = "lost contact with the broker";
    tmq_resq_push(arg, tmq_result_new(id, false, why, sizeof why - 1, "", 0, 0.0, 0));
}

/* The broker fell silent with results due: it is gone (crashed, or it forgot us). Every
 * job still awaiting a result fails, so callers waiting for them are released. */
static void s_broker_lost(tmq_client_t *c)
{
    tmq_warn("client: lost the broker (silent for %u ms, or restarted); failing %zu jobs",
             TMQ_CLIENT_BROKER_LIVENESS * c->heartbeat_ms, c->inflight.count);
    tmq_acks_destroy(c); /* their ACKs will not come */
    c->welcomed = false; /* until a broker answers again */
    tmq_idset_drain(&c->inflight, s_fail_lost, &c->results);
}

/* Reads every message the link has for us, without blocking; then resubmits held jobs
 * when due and gives up on a silent broker. */
static void s_drain(tmq_client_t *c)
{
    for (;;) {
        tmq_wire_in_t in;
        int err = 0;
        int rc = tmq_wire_recv(c->pipe, false, &in, &err);
        if (rc == 0) break;
        if (rc == 1)
            s_dispatch(c, &in);
        else
            tmq_debug("client: malformed message from the broker (code %d)", err);
        tmq_wire_in_release(&in);
    }
    int64_t now = tmq_clock_ms();
    tmq_acks_retry(c, now);
    if (now >= s_liveness_deadline(c)) s_broker_lost(c);
}

/* Shortens timeout_ms (-1: forever) so the wait ends by `at`. */
static int s_until(int timeout_ms, int64_t at)
{
    if (at == INT64_MAX) return timeout_ms;
    int64_t left = at - tmq_clock_ms();
    if (left < 0) left = 0;
    return (timeout_ms < 0 || left < timeout_ms) ? (int)left : timeout_ms;
}

/* Waits up to timeout_ms (-1 forever; shortened to the next resubmission time and the
 * broker's liveness deadline) for the link, then drains it. extra_fd >= 0 is polled too;
 * returns its readiness as 2, or 0, or -1 when a signal interrupted the wait. */
static int s_pump(tmq_client_t *c, int timeout_ms, int extra_fd)
{
    if (c->held_count > 0) timeout_ms = s_until(timeout_ms, c->retry_at);
    timeout_ms = s_until(timeout_ms, s_liveness_deadline(c));
    zmq_pollitem_t items[2] = {{c->pipe, 0, ZMQ_POLLIN, 0}, {NULL, extra_fd, ZMQ_POLLIN, 0}};
    int rc = zmq_poll(items, extra_fd >= 0 ? 2 : 1, timeout_ms);
    if (rc < 0) return errno == EINTR ? -1 : 0;
    s_drain(c);
    return extra_fd >= 0 && (items[1].revents & ZMQ_POLLIN) ? 2 : 0;
}

/* Milliseconds left until deadline (timeout -1: forever). */
static int s_left(int timeout_ms, int64_t deadline)
{
    if (timeout_ms < 0) return -1;
    int64_t left = deadline - tmq_clock_ms();
    return left > 0 ? (int)left : 0;
}

const char *tmq_version(void)
{
    return TMQ_VERSION;
}

/* ---- lifecycle ---- */

/* czmq installs SIGINT/SIGTERM handlers when first used; a library must not take the
 * application's Ctrl-C away, so the handlers in place before are put back. */
static zsock_t *s_new_dealer(const char *endpoint)
{
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!dealer) return NULL;
    tmq_wire_setup(dealer);
    if (zsock_connect(dealer, "%s", endpoint) != 0) {
        zsock_destroy(&dealer);
        return NULL;
    }
    return dealer;
}

tmq_client_t *tmq_client_new(const char *endpoint)
{
    if (!endpoint || !*endpoint) return NULL;
    zsock_t *dealer = s_new_dealer(endpoint);
    if (!dealer) return NULL;
    tmq_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        zsock_destroy(&dealer);
        return NULL;
    }
    c->shared.dealer = dealer;
    atomic_init(&c->shared.last_heard, tmq_clock_ms());
    c->link = zactor_new(tmq_link_actor, &c->shared);
    if (!c->link) {
        zsock_destroy(&dealer);
        free(c);
        return NULL;
    }
    c->pipe = zsock_resolve(c->link);
    c->retries = -1;
    c->hello_sent = true; /* by the link, as it starts */
    c->heartbeat_ms = TMQ_LINK_DEFAULT_HEARTBEAT_MS;
    c->window = TMQ_CLIENT_WINDOW;
    c->retry_delay_ms = TMQ_CLIENT_RETRY_MIN_MS;
    tmq_batch_init(&c->batch);
    tmq_idset_init(&c->inflight);
    tmq_resq_init(&c->results);
    return c;
}

void tmq_client_destroy(tmq_client_t **cp)
{
    if (!cp || !*cp) return;
    tmq_client_t *c = *cp;
    *cp = NULL;
    /* BYE goes through the pipe ahead of $TERM; the link's DEALER lingers to deliver it. */
    s_send_empty(c, TMQ_CMD_BYE);
    zactor_destroy(&c->link);
    tmq_batch_destroy(&c->batch);
    tmq_idset_destroy(&c->inflight);
    tmq_resq_destroy(&c->results);
    tmq_acks_destroy(c);
    free(c->status_body);
    free(c);
}

int tmq_client_wait_ready(tmq_client_t *c, int timeout_ms)
{
    if (!c) return -1;
    int64_t deadline = tmq_clock_ms() + timeout_ms;
    s_drain(c);
    if (!c->welcomed && !c->hello_sent) {
        /* The broker we knew was lost: greet whichever answers now. */
        s_send_empty(c, TMQ_CMD_HELLO);
        c->hello_sent = true;
    }
    while (!c->welcomed) {
        int left = s_left(timeout_ms, deadline);
        if (left == 0 || s_pump(c, left, -1) < 0) return -1;
    }
    return 0;
}

void tmq_client_set_timeout(tmq_client_t *c, uint32_t timeout_ms)
{
    if (c) c->timeout_ms = timeout_ms;
}

void tmq_client_set_retries(tmq_client_t *c, int retries)
{
    if (c) c->retries = retries < 0 ? -1 : retries;
}

void tmq_client_set_fail_when_full(tmq_client_t *c, bool fail)
{
    if (c) c->fail_when_full = fail;
}

void tmq_client_set_window(tmq_client_t *c, size_t jobs)
{
    if (c) c->window = jobs ? jobs : 1;
}

/* ---- jobs ---- */

/* The biggest argument worth sending: the broker's limit once known, else what fits a
 * body. A larger one fails at once instead of making the broker drop a whole batch. */
static size_t s_max_arg(const tmq_client_t *c)
{
    if (c->max_payload) return c->max_payload;
    return TMQ_PROTO_MAX_BODY - 4096;
}

int tmq_submit(tmq_client_t *c, const char *function, const void *arg, size_t arg_len,
               uint64_t *job_id)
{
    if (!c || !function) {
        errno = EINVAL;
        return -1;
    }
    /* A job the broker would refuse still takes an id and fails as a result, so ids stay
     * input positions and every submitted job yields exactly one result. */
    size_t fn_len = strlen(function);
    const char *bad = NULL;
    if (fn_len == 0 || fn_len > TMQ_PROTO_MAX_FNAME)
        bad = "bad job: function name must be 1 to 64 bytes";
    else if (!arg || tmq_proto_check(arg, arg_len, TMQ_PROTO_MAX_DEPTH) != 0)
        bad = "bad job: argument is not one msgpack value nested at most 32 deep";
    else if (arg_len > s_max_arg(c))
        bad = "payload too large";
    if (c->inflight.count >= c->window) {
        tmq_client_send_batch(c);
        while (c->inflight.count >= c->window) {
            if (s_pump(c, -1, -1) < 0) {
                errno = EINTR;
                return -1;
            }
        }
    }
    uint64_t id = c->next_id++;
    if (job_id) *job_id = id;
    tmq_idset_add(&c->inflight, id);
    if (bad) {
        tmq_client_fail(c, id, bad, strlen(bad));
        return 0;
    }
    tmq_submit_item_t it = {.cid = id,
                            .fn = function,
                            .fn_len = fn_len,
                            .arg = arg,
                            .arg_len = arg_len,
                            .timeout_ms = c->timeout_ms,
                            .retries = c->retries};
    tmq_client_enqueue(c, &it);
    return 0;
}

int tmq_flush(tmq_client_t *c)
{
    if (c) tmq_client_send_batch(c);
    return 0;
}

static tmq_result_t *s_take(tmq_client_t *c)
{
    tmq_result_t *r = tmq_resq_pop(&c->results);
    if (r) c->returned++;
    return r;
}

tmq_result_t *tmq_next(tmq_client_t *c, int timeout_ms)
{
    if (!c) return NULL;
    tmq_client_send_batch(c);
    if (c->results.count) return s_take(c);
    s_drain(c);
    int64_t deadline = tmq_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    while (c->results.count == 0) {
        int left = s_left(timeout_ms, deadline);
        if (left == 0) return NULL;
        if (s_pump(c, left, -1) < 0) return NULL;
    }
    return s_take(c);
}

int tmq_wait(tmq_client_t *c, int fd, int timeout_ms)
{
    if (!c) return -1;
    tmq_client_send_batch(c);
    s_drain(c);
    int64_t deadline = tmq_clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int ready = c->results.count ? TMQ_WAIT_RESULT : 0;
        if (ready) {
            /* A result is ready: only look at fd, do not wait for it. */
            zmq_pollitem_t it = {NULL, fd, ZMQ_POLLIN, 0};
            if (fd >= 0 && zmq_poll(&it, 1, 0) > 0) ready |= TMQ_WAIT_FD;
            return ready;
        }
        int left = s_left(timeout_ms, deadline);
        int rc = s_pump(c, left, fd);
        if (rc < 0) return -1;
        if (rc > 0) return TMQ_WAIT_FD | (c->results.count ? TMQ_WAIT_RESULT : 0);
        if (c->results.count) continue;
        if (s_left(timeout_ms, deadline) == 0) return 0;
    }
}

size_t tmq_pending(const tmq_client_t *c)
{
    return c ? (size_t)(c->next_id - c->returned) : 0;
}

void *tmq_client_status(tmq_client_t *c, int timeout_ms, size_t *len)
{
    if (!c) return NULL;
    int64_t deadline = tmq_clock_ms() + timeout_ms;
    free(c->status_body);
    c->status_body = NULL;
    c->status_asked++;
    s_send_empty(c, TMQ_CMD_STATUS);
    while (!c->status_body) {
        int left = s_left(timeout_ms, deadline);
        if (left == 0) return NULL;
        if (s_pump(c, left, -1) < 0) return NULL;
    }
    void *body = c->status_body;
    if (len) *len = c->status_len;
    c->status_body = NULL;
    return body;
}
