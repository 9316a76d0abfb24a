/* worker/python.c — see python.h. Nothing here runs Python: the daemon starts the command
 * through the supervisor like any --executor-cmd, and the executor's HELLO says the rest
 * (its functions, or why a module did not import). */
#include "python.h"

#include "platform.h"
#include "xalloc.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TMQ_PYTHON_REL_DIR
#define TMQ_PYTHON_REL_DIR "lib/python3/dist-packages"
#endif
#ifndef TMQ_PYTHON_INSTALL_DIR
#define TMQ_PYTHON_INSTALL_DIR "/usr/local/" TMQ_PYTHON_REL_DIR
#endif
#ifndef TMQ_PYTHON_SOURCE_DIR
#define TMQ_PYTHON_SOURCE_DIR "python"
#endif
#ifndef TMQ_BUILD_BIN_DIR
#define TMQ_BUILD_BIN_DIR ""
#endif

static bool s_has_package(const char *dir)
{
    char f[PATH_MAX];
    int n = snprintf(f, sizeof f, "%s/taskmq/executor.py", dir);
    return n > 0 && (size_t)n < sizeof f && access(f, R_OK) == 0;
}

const char *tmq_python_package_dir(void)
{
    static char found[PATH_MAX];
    char exe[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink(tmq_self_exe(), exe, sizeof exe - 1); /* the binary, resolved */
    if (n > 0) {
        exe[n] = '\0';
        const char *bindir = dirname(exe);
        int m = snprintf(found, sizeof found, "%s/../" TMQ_PYTHON_REL_DIR, bindir);
        if (m > 0 && (size_t)m < sizeof found && s_has_package(found) && realpath(found, real)) {
            memcpy(found, real, sizeof found);
            return found;
        }
        /* a worker of the build tree runs the tree's package, not an installed older one */
        if (*TMQ_BUILD_BIN_DIR && realpath(TMQ_BUILD_BIN_DIR, real) && strcmp(real, bindir) == 0 &&
            s_has_package(TMQ_PYTHON_SOURCE_DIR))
            return TMQ_PYTHON_SOURCE_DIR;
    }
    if (s_has_package(TMQ_PYTHON_INSTALL_DIR)) return TMQ_PYTHON_INSTALL_DIR;
    return TMQ_PYTHON_SOURCE_DIR;
}

void tmq_python_argv(const tmq_worker_opts_t *o, char ***argv, char **program)
{
    const char *py = getenv("TASKMQ_PYTHON");
    if (!py || !*py) py = TMQ_PYTHON_DEFAULT;
    char **out = tmq_xcalloc(o->npython + 4, sizeof *out);
    size_t n = 0;
    out[n++] = tmq_xstrdup(py);
    out[n++] = tmq_xstrdup("-m");
    out[n++] = tmq_xstrdup("taskmq.executor");
    size_t len = 1;
    for (size_t i = 0; i < o->npython; i++)
        out[n++] = tmq_xstrdup(o->python[i]);
    for (size_t i = 0; i < n; i++)
        len += strlen(out[i]) + 1;
    char *s = tmq_xcalloc(len, 1);
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(s, " ");
        strcat(s, out[i]);
    }
    *argv = out;
    *program = s;
}

int tmq_python_setenv(void)
{
    const char *dir = tmq_python_package_dir();
    const char *old = getenv("PYTHONPATH");
    char *val;
    if (old && *old) {
        if (asprintf(&val, "%s:%s", dir, old) < 0) tmq_oom();
    } else {
        val = tmq_xstrdup(dir);
    }
    int rc = setenv("PYTHONPATH", val, 1);
    free(val);
    return rc;
}
