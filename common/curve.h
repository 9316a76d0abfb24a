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

/* Makes sock a CURVE client: its own certificate (secret) and the broker's public key. Call
 * before connecting. */
void tmq_curve_client(zsock_t *sock, zcert_t *mine, zcert_t *broker);

#endif
