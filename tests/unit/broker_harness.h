/* tests/unit/broker_harness.h — drives the broker core message by message, without a network.
 *
 * Tests build real wire bodies with the codec, feed them to the core under an explicit clock
 * (bh_now), run a turn (tick + flush into a capturing send callback) and take apart what the
 * core sent to each peer. bh_setup / bh_teardown own the core: a test gets it from *state.
 * The capture is global (one core per test binary at a time), like cmocka itself.
 */
#ifndef TMQ_BROKER_HARNESS_H
#define TMQ_BROKER_HARNESS_H

#include "core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the core under test ---- */

/* The configuration bh_setup uses when a test gives none: heartbeat 1000 ms, max_queue 100,
 * max_payload 1024, retries 2. */
extern const tmq_core_config_t bh_default_config;

/* cmocka setup: *state is NULL (bh_default_config) or a tmq_core_config_t * given with
 * cmocka_unit_test_prestate_setup_teardown; it becomes the new tmq_core_t *. Resets the clock
 * to 1,000,000 ms, the fake socket to "sent" and the capture. */
int bh_setup(void **state);
/* cmocka teardown: destroys the core in *state (a test may have destroyed it already) and
 * frees the capture. */
int bh_teardown(void **state);

extern int64_t bh_now;  /* the clock every bh_ call passes to the core */
extern int bh_send_rc;  /* the fake socket's answer: 0 sent, 1 would block, -1 unreachable */
extern size_t bh_nsent; /* messages captured and not yet taken */

/* ---- capture of what the core sends ---- */

/* tmq_core_send_fn capturing every message (ctx unused). */
int bh_send(void *ctx, tmq_outbox_t *ob);
/* Frees every captured message. */
void bh_forget(void);

/* A decoded message taken from the capture. */
typedef struct {
    void *body;
    tmq_msg_t msg;
} bh_got_t;

/* Removes the first message sent to rid with cmd into g (decoded); false when there is none.
 * Release g with bh_got_free. */
bool bh_take(const char *rid, int cmd, bh_got_t *g);
void bh_got_free(bh_got_t *g);
/* Messages captured for rid with cmd. */
size_t bh_count(const char *rid, int cmd);

/* ---- feeding the core ---- */

/* Decodes body as cmd and hands it to the core's frontend or backend from rid (takes body). */
void bh_feed(tmq_core_t *core, int side, const char *rid, int cmd, void *body, size_t len);
/* Like bh_feed on the backend, with the peer address the loop would pass (NULL: none). */
void bh_feed_from(tmq_core_t *core, const char *rid, const char *addr, int cmd, void *body,
                  size_t len);
/* One loop turn: tick, then flush into bh_send. */
void bh_turn(tmq_core_t *core);

extern const uint8_t bh_arg[1]; /* msgpack 5: the argument bh_submit gives every job */

/* SUBMIT of n jobs for fn from client, cids cid0, cid0+1, ... */
void bh_submit_ex(tmq_core_t *core, const char *client, const char *fn, uint64_t cid0, size_t n,
                  const void *arg, size_t arg_len, int32_t retries);
void bh_submit(tmq_core_t *core, const char *client, const char *fn, uint64_t cid0, size_t n);
/* READY from worker rid (its name too), pid 4000, serving fn1 and, when non-NULL, fn2. */
/* READY from a current worker (it takes job options). */
void bh_ready(tmq_core_t *core, const char *rid, uint32_t procs, const char *fn1, const char *fn2);
/* HELLO from a current client (it knows status OOM); its WELCOME is taken. */
void bh_hello(tmq_core_t *core, const char *client);
/* A message with an empty body (HELLO, STATUS, HEARTBEAT, BYE ...). */
void bh_signal(tmq_core_t *core, int side, const char *rid, int cmd);
/* DONE with one result. */
void bh_done(tmq_core_t *core, const char *worker, uint64_t jid, uint32_t attempt, int status,
             const char *data, uint32_t pid, double ms);
/* RETURNED of n (jid, attempt) pairs from worker. */
void bh_returned(tmq_core_t *core, const char *worker, const uint64_t *jids,
                 const uint32_t *attempts, size_t n);

/* ---- reading what came back ---- */

/* Takes every JOBS message sent to worker; jids[i] (and attempts[i] when non-NULL) for the
 * first max jobs. Returns how many jobs there were in all. */
size_t bh_jobs(const char *worker, uint64_t *jids, uint32_t *attempts, size_t max);
/* bh_turn, then bh_jobs: the jobs a turn dispatched to worker. */
size_t bh_turn_jobs(tmq_core_t *core, const char *worker, uint64_t *jids, uint32_t *attempts,
                    size_t max);
/* Takes the ACK for client: returns its accepted count; the first rejection's code (0 when
 * none), reason and cid when the pointers are non-NULL. */
uint64_t bh_ack(const char *client, int *code, char *reason, size_t reason_size, uint64_t *cid);

/* Takes the first ERROR sent to rid: its code and reason (when the pointers are non-NULL).
 * False when there is none. */
bool bh_error(const char *rid, uint64_t *code, char *reason, size_t reason_size);

/* Sends STATUS from client, runs a turn and takes the STATUS_REPLY into g (asserted). */
void bh_status(tmq_core_t *core, const char *client, bh_got_t *g);

/* Fields of a decoded msgpack map (a body, or a map inside one): the value under key or NULL;
 * the uint under key (asserted present); asserts the string under key equals want. */
const msgpack_object *bh_map_get(const msgpack_object *map, const char *key);
uint64_t bh_map_uint(const msgpack_object *map, const char *key);
void bh_map_str_is(const msgpack_object *map, const char *key, const char *want);

size_t bh_queued(tmq_core_t *core);
size_t bh_leased(tmq_core_t *core);

/* Makes fn timed with run time ms, through one real job on a throwaway worker. */
void bh_teach(tmq_core_t *core, const char *fn, double ms);

#endif
