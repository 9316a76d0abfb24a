/* client/cli_keygen.c — `taskmq keygen PATH`: a new CurveZMQ certificate pair, PATH (public)
 * and PATH_secret (mode 0600).
 *
 * An existing PATH or PATH_secret is never replaced without --force (losing a secret key
 * is not undoable). Both files are opened here first, so a failure names the file and the
 * system's reason (czmq only says that saving failed), and a pair is never left half
 * written: a public file this run created is removed when the secret cannot be written.
 */
#include "cli.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path for writing (created with mode, which a secret also gets when it existed):
 * exclusively unless force. Returns 0 and sets *created, or -1 with errno. */
static int s_prepare(const char *path, mode_t mode, bool force, bool *created)
{
    struct stat st;
    *created = lstat(path, &st) != 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? 0 : O_EXCL), mode);
    if (fd < 0) return -1;
    int rc = (mode & 077) == 0 ? fchmod(fd, mode) : 0;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int s_refuse(const char *path, int err)
{
    if (err == EEXIST)
        fprintf(stderr, "taskmq: %s exists; --force to overwrite\n", path);
    else
        fprintf(stderr, "taskmq: cannot write %s: %s\n", path, strerror(err));
    return TMQ_EXIT_FAILED;
}

int tmq_cli_keygen(const tmq_cli_t *o)
{
    const char *path = o->function;
    zcert_t *cert = zsys_has_curve() ? zcert_new() : NULL;
    if (!cert) {
        fprintf(stderr, "taskmq: this build of czmq has no CurveZMQ support\n");
        return TMQ_EXIT_FAILED;
    }
    char *secret = zsys_sprintf("%s_secret", path);
    int status = TMQ_EXIT_OK;
    struct stat st;
    bool made_public = false, made_secret = false;
    if (!o->force && lstat(path, &st) == 0) {
        status = s_refuse(path, EEXIST);
    } else if (!o->force && lstat(secret, &st) == 0) {
        status = s_refuse(secret, EEXIST);
    } else if (s_prepare(path, 0644, o->force, &made_public) != 0) {
        status = s_refuse(path, errno);
    } else if (s_prepare(secret, 0600, o->force, &made_secret) != 0) {
        status = s_refuse(secret, errno);
    } else {
        errno = 0;
        if (zcert_save_public(cert, path) != 0)
            status = s_refuse(path, errno ? errno : EIO);
        else if ((errno = 0, zcert_save_secret(cert, secret)) != 0)
            status = s_refuse(secret, errno ? errno : EIO);
    }
    if (status != TMQ_EXIT_OK) {
        if (made_public) unlink(path);
        if (made_secret) unlink(secret);
    } else {
        printf("wrote %s (public) and %s (secret)\n", path, secret);
    }
    zstr_free(&secret);
    zcert_destroy(&cert);
    return status;
}
