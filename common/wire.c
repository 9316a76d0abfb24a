/* common/wire.c — see wire.h. */
#include "wire.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void *s_handle(void *sock)
{
    return zsock_is(sock) ? zsock_resolve(sock) : sock;
}

void tmq_wire_setup(void *zsock)
{
    zsock_set_sndhwm(zsock, TMQ_WIRE_HWM);
    zsock_set_rcvhwm(zsock, TMQ_WIRE_HWM);
    zsock_set_maxmsgsize(zsock, TMQ_WIRE_MAX_MSG);
}

/* The command a header frame names, or 0. */
static int s_header_cmd(const zmq_msg_t *hdr)
{
    const uint8_t *h = zmq_msg_data((zmq_msg_t *)hdr);
    if (zmq_msg_size((zmq_msg_t *)hdr) != TMQ_PROTO_HDR_LEN || h[0] != 'T' || h[1] != 'M' ||
        h[2] != 'Q' || h[3] != TMQ_PROTO_VERSION || h[4] == 0 || h[4] >= TMQ_CMD_MAX_)
        return 0;
    return h[4];
}

static void s_drain(void *h, zmq_msg_t *scratch)
{
    while (zmq_msg_more(scratch)) {
        zmq_msg_close(scratch);
        zmq_msg_init(scratch);
        if (zmq_msg_recv(scratch, h, 0) < 0) break;
    }
}

int tmq_wire_recv(void *sock, bool router, tmq_wire_in_t *in, int *errcode)
{
    void *h = s_handle(sock);
    in->live = false;
    in->rid_len = 0;
    memset(&in->msg, 0, sizeof in->msg);
    zmq_msg_init(&in->hdr);
    if (router) {
        /* The routing id frame */
        if (zmq_msg_recv(&in->hdr, h, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&in->hdr);
            return 0;
        }
        size_t n = zmq_msg_size(&in->hdr);
        in->rid_len = n > TMQ_WIRE_MAX_RID ? TMQ_WIRE_MAX_RID : n;
        memcpy(in->rid, zmq_msg_data(&in->hdr), in->rid_len);
        if (!zmq_msg_more(&in->hdr)) {
            zmq_msg_close(&in->hdr);
            *errcode = TMQ_ERR_MALFORMED;
            return -1;
        }
        zmq_msg_close(&in->hdr);
        zmq_msg_init(&in->hdr);
        if (zmq_msg_recv(&in->hdr, h, 0) < 0) {
            zmq_msg_close(&in->hdr);
            return 0;
        }
    } else if (zmq_msg_recv(&in->hdr, h, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&in->hdr);
        return 0;
    }
    zmq_msg_init(&in->body);
    in->live = true;
    in->msg.cmd = s_header_cmd(&in->hdr);
    if (!zmq_msg_more(&in->hdr)) {
        *errcode = TMQ_ERR_MALFORMED;
        in->msg.body = NULL;
        return -1;
    }
    if (zmq_msg_recv(&in->body, h, 0) < 0) { /* interrupted mid-message: nothing usable */
        in->msg.body = NULL;
        tmq_wire_in_release(in);
        return 0;
    }
    if (zmq_msg_more(&in->body)) {
        s_drain(h, &in->body);
        *errcode = TMQ_ERR_MALFORMED;
        in->msg.body = NULL;
        return -1;
    }
    if (tmq_proto_decode(&in->msg, zmq_msg_data(&in->hdr), zmq_msg_size(&in->hdr),
                         zmq_msg_data(&in->body), zmq_msg_size(&in->body), errcode) != 0)
        return -1;
    return 1;
}

void tmq_wire_in_release(tmq_wire_in_t *in)
{
    if (!in->live) return;
    tmq_msg_release(&in->msg);
    zmq_msg_close(&in->hdr);
    zmq_msg_close(&in->body);
    in->live = false;
}

static void s_free(void *data, void *hint)
{
    (void)hint;
    free(data);
}

int tmq_wire_send_envelope(void *sock, const void *rid, size_t rid_len)
{
    return zmq_send(s_handle(sock), rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Header + body (taken); `first` when no envelope went before (then it must not block
 * either). */
static int s_send_rest(void *sock, tmq_cmd_t cmd, void **body_p, size_t len, bool first)
{
    void *h = s_handle(sock);
    void *body = *body_p;
    *body_p = NULL;
    uint8_t hdr[TMQ_PROTO_HDR_LEN];
    tmq_proto_header(hdr, cmd);
    /* After the first frame of a multipart message the rest go out atomically. */
    if (zmq_send(h, hdr, sizeof hdr, ZMQ_SNDMORE | (first ? ZMQ_DONTWAIT : 0)) < 0) {
        free(body);
        return -1;
    }
    zmq_msg_t m;
    zmq_msg_init_data(&m, body, len, s_free, NULL);
    if (zmq_msg_send(&m, h, 0) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        errno = e;
        return -1;
    }
    return 0;
}

int tmq_wire_send_after_envelope(void *sock, tmq_cmd_t cmd, void **body_p, size_t len)
{
    return s_send_rest(sock, cmd, body_p, len, false);
}

int tmq_wire_send(void *sock, const void *rid, size_t rid_len, tmq_cmd_t cmd, void **body_p,
                  size_t len)
{
    if (rid && tmq_wire_send_envelope(sock, rid, rid_len) != 0) {
        int e = errno;
        free(*body_p);
        *body_p = NULL;
        errno = e;
        return -1;
    }
    return s_send_rest(sock, cmd, body_p, len, rid == NULL);
}

int tmq_wire_send_empty(void *sock, const void *rid, size_t rid_len, tmq_cmd_t cmd)
{
    size_t len;
    void *body = tmq_proto_empty_body(&len);
    return tmq_wire_send(sock, rid, rid_len, cmd, &body, len);
}

int tmq_wire_send_error(void *sock, const void *rid, size_t rid_len, int code, const char *reason)
{
    size_t len;
    void *body = tmq_proto_error_body(code, reason, &len);
    return tmq_wire_send(sock, rid, rid_len, TMQ_CMD_ERROR, &body, len);
}

/* ---- relaying ---- */

int tmq_wire_frames_recv(void *sock, tmq_wire_frames_t *fr)
{
    void *h = s_handle(sock);
    zmq_msg_init(&fr->f[0]);
    zmq_msg_init(&fr->f[1]);
    if (zmq_msg_recv(&fr->f[0], h, ZMQ_DONTWAIT) < 0) {
        tmq_wire_frames_close(fr);
        return 0;
    }
    fr->n = 1;
    if (!zmq_msg_more(&fr->f[0])) return 1;
    /* the rest of a message is already here once its first frame is */
    if (zmq_msg_recv(&fr->f[1], h, 0) < 0) return 1;
    fr->n = 2;
    bool more = zmq_msg_more(&fr->f[1]);
    while (more) { /* frames beyond two: counted and dropped */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        more = zmq_msg_recv(&extra, h, 0) >= 0 && zmq_msg_more(&extra);
        fr->n++;
        zmq_msg_close(&extra);
    }
    return 1;
}

int tmq_wire_frames_send(void *sock, tmq_wire_frames_t *fr)
{
    void *h = s_handle(sock);
    if (zmq_msg_send(&fr->f[0], h, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN) return -1;
        tmq_wire_frames_close(fr);
        return 0; /* not retryable: dropped */
    }
    /* once the first frame is in, the rest of the message is accepted atomically */
    if (zmq_msg_send(&fr->f[1], h, 0) < 0) zmq_msg_close(&fr->f[1]);
    return 0;
}

void tmq_wire_frames_move(tmq_wire_frames_t *dst, tmq_wire_frames_t *src)
{
    for (int i = 0; i < 2; i++) {
        zmq_msg_init(&dst->f[i]);
        zmq_msg_move(&dst->f[i], &src->f[i]);
    }
    dst->n = src->n;
}

void tmq_wire_frames_close(tmq_wire_frames_t *fr)
{
    zmq_msg_close(&fr->f[0]);
    zmq_msg_close(&fr->f[1]);
}

int tmq_wire_frames_cmd(const tmq_wire_frames_t *fr)
{
    return s_header_cmd(&fr->f[0]);
}
