/* common/curve.c — see curve.h. */
#include "curve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char s_zero_key[] = "0000000000000000000000000000000000000000";

zcert_t *tmq_curve_load(const char *path, bool need_secret, char *why, size_t why_len)
{
    if (!zsys_has_curve()) {
        snprintf(why, why_len, "this build of libzmq has no CurveZMQ support");
        return NULL;
    }
    /* zcert_load reads PATH_secret when there is one, else PATH: say why neither can be read,
     * naming the one that exists (an unreadable secret is "Permission denied", not missing,
     * and not a public certificate holding no secret) */
    char *secret = zsys_sprintf("%s_secret", path);
    int err = access(path, R_OK) == 0 ? 0 : errno;
    int serr = access(secret, R_OK) == 0 ? 0 : errno;
    if ((err && serr) || (need_secret && serr && serr != ENOENT)) {
        bool named_secret = serr != ENOENT;
        snprintf(why, why_len, "cannot read %s: %s", named_secret ? secret : path,
                 strerror(named_secret ? serr : err));
        zstr_free(&secret);
        return NULL;
    }
    zstr_free(&secret);
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        snprintf(why, why_len, "%s is not a certificate (taskmq keygen writes them)", path);
        return NULL;
    }
    if (need_secret && strcmp(zcert_secret_txt(cert), s_zero_key) == 0) {
        snprintf(why, why_len, "%s holds no secret key: give the secret certificate (%s_secret)",
                 path, path);
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

const char *tmq_curve_refusal(unsigned event, unsigned value, bool curve)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return curve ? "the broker refused our key (this certificate is not among its "
                       "--curve-dir keys)"
                     : "the broker refused the connection: without keys it lets in loopback "
                       "addresses only (use CurveZMQ keys, or run the broker --insecure on a "
                       "trusted network)";
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return curve ? "the broker does not use CurveZMQ keys (connect without --curve-cert)"
                     : "the broker requires CurveZMQ keys (--curve-cert and --broker-cert)";
    return NULL;
}

zsock_t *tmq_curve_monitor(zsock_t *sock)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://tmq-monitor-%p", (void *)sock);
    if (zmq_socket_monitor(zsock_resolve(sock), ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) !=
        0)
        return NULL;
    zsock_t *pair = zsock_new(ZMQ_PAIR);
    if (pair && zsock_connect(pair, "%s", ep) == 0) return pair;
    zsock_destroy(&pair);
    zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
    return NULL;
}

void tmq_curve_unmonitor(zsock_t *sock, zsock_t **monitor_p)
{
    if (!*monitor_p) return;
    if (sock) zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
    zsock_destroy(monitor_p);
}

const char *tmq_curve_refused(zsock_t *monitor, bool curve)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    const char *why = NULL;
    if (zmq_msg_recv(&ev, zsock_resolve(monitor), ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_more(&ev)) zmq_msg_recv(&addr, zsock_resolve(monitor), ZMQ_DONTWAIT);
        if (zmq_msg_size(&ev) >= 6) {
            uint16_t event;
            uint32_t value;
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&value, (const uint8_t *)zmq_msg_data(&ev) + 2, 4);
            why = tmq_curve_refusal(event, value, curve);
        }
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
    return why;
}

static const char *s_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int tmq_curve_flags(const char **cert, const char **broker_cert, char *why, size_t why_len)
{
    if (!*cert) *cert = s_env("TASKMQ_CURVE_CERT");
    if (!*broker_cert) *broker_cert = s_env("TASKMQ_BROKER_CERT");
    if (!*cert == !*broker_cert) return 0;
    snprintf(why, why_len, "%s needs %s too",
             *cert ? "--curve-cert ($TASKMQ_CURVE_CERT)" : "--broker-cert ($TASKMQ_BROKER_CERT)",
             *cert ? "--broker-cert ($TASKMQ_BROKER_CERT)" : "--curve-cert ($TASKMQ_CURVE_CERT)");
    return -1;
}

void tmq_curve_client(zsock_t *sock, zcert_t *mine, zcert_t *broker)
{
    zcert_apply(mine, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(broker));
}
