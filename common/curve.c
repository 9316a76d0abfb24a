/* common/curve.c — see curve.h. */
#include "curve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char s_zero_key[] = "0000000000000000000000000000000000000000";

zcert_t *tmq_curve_load(const char *path, bool need_secret, char *why, size_t why_len)
{
    if (!zsys_has_curve()) {
        snprintf(why, why_len, "this build of libzmq has no CurveZMQ support");
        return NULL;
    }
    char *secret = zsys_sprintf("%s_secret", path);
    bool readable = access(path, R_OK) == 0 || access(secret, R_OK) == 0;
    int err = errno;
    zstr_free(&secret);
    if (!readable) {
        snprintf(why, why_len, "cannot read %s: %s", path, strerror(err));
        return NULL;
    }
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

void tmq_curve_client(zsock_t *sock, zcert_t *mine, zcert_t *broker)
{
    zcert_apply(mine, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(broker));
}
