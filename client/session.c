/* client/session.c — see session.h. Times are the caller's monotonic milliseconds; lost_at 0
 * means "not waiting", so a real time of 0 is taken as 1 (it cannot happen with tmq_clock_ms,
 * but the tests drive their own clock).
 */
#include "session.h"
#include "platform.h"

#include <stdio.h>
#include <string.h>

int tmq_csession_init(tmq_csession_t *s)
{
    memset(s, 0, sizeof *s);
    s->loss_timeout_ms = TMQ_SESSION_LOSS_TIMEOUT;
    return tmq_random_bytes(s->id, sizeof s->id);
}

uint32_t tmq_csession_linger(const tmq_csession_t *s)
{
    return s->loss_timeout_ms < TMQ_PROTO_LINGER_MAX ? s->loss_timeout_ms : TMQ_PROTO_LINGER_MAX;
}

void tmq_csession_hello_sent(tmq_csession_t *s, int64_t now)
{
    s->hellos_out++;
    s->last_hello = now;
}

uint64_t tmq_csession_next_seq(tmq_csession_t *s)
{
    return s->journal ? ++s->seq : 0;
}

bool tmq_csession_lose(tmq_csession_t *s, int64_t now, const char *how)
{
    if (!s->journal || s->loss_timeout_ms == 0) return false;
    if (s->lost_at) return true; /* waiting already: the backoff greets it */
    s->lost_at = now > 0 ? now : 1;
    s->hellos_out = 0; /* those went to a broker that is gone */
    snprintf(s->how, sizeof s->how, "%s", how);
    s->backoff_ms = TMQ_SESSION_BACKOFF_MIN;
    s->hello_at = now + s->backoff_ms;
    return true;
}

tmq_csession_due_t tmq_csession_tick(tmq_csession_t *s, int64_t now)
{
    if (!s->lost_at) return TMQ_SESSION_IDLE;
    if (now - s->lost_at >= (int64_t)s->loss_timeout_ms) {
        s->lost_at = 0;
        return TMQ_SESSION_GIVE_UP;
    }
    if (now < s->hello_at) return TMQ_SESSION_IDLE;
    s->backoff_ms *= 2;
    if (s->backoff_ms > TMQ_SESSION_BACKOFF_MAX) s->backoff_ms = TMQ_SESSION_BACKOFF_MAX;
    s->hello_at = now + s->backoff_ms;
    return TMQ_SESSION_HELLO;
}

int64_t tmq_csession_deadline(const tmq_csession_t *s)
{
    if (!s->lost_at) return INT64_MAX;
    int64_t give_up = s->lost_at + (int64_t)s->loss_timeout_ms;
    return s->hello_at < give_up ? s->hello_at : give_up;
}

bool tmq_csession_waiting(const tmq_csession_t *s)
{
    return s->lost_at != 0;
}

tmq_csession_welcome_t tmq_csession_welcome(tmq_csession_t *s, bool journal, bool welcomed,
                                          int64_t now)
{
    tmq_csession_welcome_t w = {.away_ms = s->lost_at ? now - s->lost_at : -1};
    w.gone = s->journal && !journal && (s->lost_at || welcomed);
    /* a broker back, a restarted one meeting us by a SUBMIT, or the answer to a repeated
     * HELLO: each takes the session over, and SUBMITs not yet ACKed may be unknown to it */
    w.resume = journal && s->ever_welcomed;
    s->journal = journal;
    s->ever_welcomed = true;
    s->received = s->racked = 0; /* the broker counts this connection's RESULTS from here */
    if (s->hellos_out) s->hellos_out--;
    s->lost_at = 0;
    return w;
}

void tmq_csession_received(tmq_csession_t *s, size_t n)
{
    s->received += n;
}

bool tmq_csession_rack(tmq_csession_t *s, bool welcomed, uint32_t heartbeat_ms, int64_t now,
                      uint64_t *n)
{
    if (!s->journal || !welcomed || s->received == s->racked) return false;
    if (s->hellos_out &&
        now - s->last_hello < (int64_t)TMQ_SESSION_HELLO_STALE * (int64_t)heartbeat_ms)
        return false;
    s->hellos_out = 0;
    s->racked = s->received;
    *n = s->received;
    return true;
}
