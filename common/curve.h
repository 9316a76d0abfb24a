/* common/curve.h — CurveZMQ certificates for the broker, workers and clients.
 *
 * Certificates are czmq's zcert files, as `taskmq keygen PATH` writes them: PATH holds the
 * public key, PATH_secret both. A secret certificate may be named either way (zcert_load
 * reads PATH_secret when it exists).
 */
#ifndef TMQ_CURVE_H
#define TMQ_CURVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

/* Loads the certificate at path; with need_secret, one that holds its secret key. NULL with
 * a reason naming the file ("cannot read broker.cert", "... holds no secret key: give the
 * _secret file") in why. */
zcert_t *tmq_curve_load(const char *path, bool need_secret, char *why, size_t why_len);

/* A client's or worker's certificates: *cert and *broker_cert as the flags gave them (NULL
 * when not given) are completed from $TASKMQ_CURVE_CERT and $TASKMQ_BROKER_CERT (unset or
 * empty: none). Returns 0 (both NULL: no CURVE), or -1 with why when only one is known. */
int tmq_curve_flags(const char **cert, const char **broker_cert, char *why, size_t why_len);

/* Makes sock a CURVE client: its own certificate (secret) and the broker's public key. Call
 * before connecting. */
void tmq_curve_client(zsock_t *sock, zcert_t *mine, zcert_t *broker);

/* Why a broker refused our handshake, for a socket monitor event (its number and value);
 * NULL for other failures (a wrong broker key only shows as connections that close: it
 * cannot be told apart). curve: we spoke CurveZMQ. */
const char *tmq_curve_refusal(unsigned event, unsigned value, bool curve);

/* A PAIR receiving sock's handshake failures (for tmq_curve_refusal), set up before sock
 * connects so none is missed; NULL when libzmq would not. tmq_curve_unmonitor ends it. */
zsock_t *tmq_curve_monitor(zsock_t *sock);
void tmq_curve_unmonitor(zsock_t *sock, zsock_t **monitor_p);
/* The refusal in the next event waiting on monitor, or NULL (none, or another kind). */
const char *tmq_curve_refused(zsock_t *monitor, bool curve);

#endif
