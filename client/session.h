/* client/session.h — a client's session (docs/PROTOCOL.md 5.7) as plain data.
 *
 * Its id (16 random bytes for the client's whole life), whether the broker's last WELCOME said
 * it journals, the numbering of SUBMITs, the count of RESULTS items that RACK reports, and the
 * wait for a journaled broker that went away: HELLO again after 250 ms doubling to 2 s, give
 * up after the loss timeout. Pure: each function takes `now` and says what is due; client.c
 * does it (sends, fails jobs), so the rules are tested without a network. Without a journal
 * nothing here changes what the client does: no seq, no RACK, and a loss is not waited out.
 */
#ifndef TMQ_CLIENT_SESSION_H
#define TMQ_CLIENT_SESSION_H

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TMQ_SESSION_LOSS_TIMEOUT 60000 /* ms to wait for a lost journaled broker, by default */
#define TMQ_SESSION_BACKOFF_MIN 250    /* ms before greeting a lost journaled broker again */
#define TMQ_SESSION_BACKOFF_MAX 2000   /* ... doubling up to this */
#define TMQ_SESSION_HELLO_STALE 5      /* heartbeats after which an unanswered HELLO is lost */

typedef struct {
    uint8_t id[TMQ_PROTO_SESSION_LEN];
    uint32_t loss_timeout_ms; /* 0: a lost broker fails every awaited job at once */
    bool journal;             /* the last WELCOME said journal: SUBMITs carry seq + session */
    bool ever_welcomed;       /* some WELCOME came: a later one takes the session over again */
    uint64_t seq;             /* the last SUBMIT's seq (from 1, under a journal) */
    uint64_t received;        /* RESULTS items since the last WELCOME, every one counted */
    uint64_t racked;          /* the count the last RACK said */
    unsigned hellos_out;      /* HELLOs sent that no WELCOME has answered yet */
    int64_t last_hello;       /* when the latest HELLO was sent */
    int64_t lost_at;          /* when a journaled broker went away; 0 while it has not */
    int64_t hello_at;         /* while lost: when to say HELLO again */
    uint32_t backoff_ms;
    char how[96]; /* how it went away ("silent for 5000 ms", "it shut down") */
} tmq_csession_t;

/* A new session: a random id from the kernel (getrandom), the default loss timeout. Returns
 * 0, or -1 with errno set when no random bytes could be had. */
int tmq_csession_init(tmq_csession_t *s);

/* The linger_ms for HELLO: the loss timeout, at most TMQ_PROTO_LINGER_MAX. */
uint32_t tmq_csession_linger(const tmq_csession_t *s);

/* A HELLO went out at now. */
void tmq_csession_hello_sent(tmq_csession_t *s, int64_t now);

/* The seq for the next SUBMIT: 1, 2, ... under a journal; 0 (none) without. */
uint64_t tmq_csession_next_seq(tmq_csession_t *s);

/* The broker went away at now (how: how it was noticed). True when the session waits for it
 * (it journals and the loss timeout is not 0): fail nothing, say HELLO now (the caller does)
 * and as tmq_csession_tick says. Also true, doing nothing, while already waiting. False: fail
 * every awaited job, as without a journal. */
bool tmq_csession_lose(tmq_csession_t *s, int64_t now, const char *how);

typedef enum {
    TMQ_SESSION_IDLE = 0, /* nothing due */
    TMQ_SESSION_HELLO,    /* say HELLO again (the backoff has moved on) */
    TMQ_SESSION_GIVE_UP,  /* no broker answered within the loss timeout: fail what is awaited
                             (the wait has ended) */
} tmq_csession_due_t;

/* What the wait for a lost broker needs at now. */
tmq_csession_due_t tmq_csession_tick(tmq_csession_t *s, int64_t now);

/* When tmq_csession_tick next has something to do; INT64_MAX while no broker is waited for. */
int64_t tmq_csession_deadline(const tmq_csession_t *s);

/* True while a lost journaled broker is waited for. */
bool tmq_csession_waiting(const tmq_csession_t *s);

/* What a WELCOME means, for tmq_csession_welcome. */
typedef struct {
    bool gone;       /* the session's broker journaled and this one does not: its jobs are gone
                        with it (fail every awaited job, "it came back without a journal") */
    bool resume;     /* a journaled broker took the session over again: resubmit every SUBMIT
                        not yet ACKed */
    int64_t away_ms; /* how long the broker was waited for; -1 when it was not */
} tmq_csession_welcome_t;

/* A WELCOME (journal: what it said) came at now, while the client was welcomed or not. The
 * RESULTS count starts again at 0; the wait, if any, ends. */
tmq_csession_welcome_t tmq_csession_welcome(tmq_csession_t *s, bool journal, bool welcomed,
                                          int64_t now);

/* n RESULTS items arrived (valid or not: RACK counts every item). */
void tmq_csession_received(tmq_csession_t *s, size_t n);

/* Whether a RACK is due at now, and its count in *n: under a journal, welcomed, with items
 * not yet RACKed, and no HELLO unanswered (its WELCOME restarts the broker's count, and a
 * RACK crossing it would be read against the new count) unless that HELLO is older than
 * TMQ_SESSION_HELLO_STALE heartbeats (it went to a connection that is gone). A true answer
 * counts as sent. */
bool tmq_csession_rack(tmq_csession_t *s, bool welcomed, uint32_t heartbeat_ms, int64_t now,
                      uint64_t *n);

#endif
