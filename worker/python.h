/* worker/python.h — the command line of Python executors (taskmq-worker --python).
 *
 * --python MODULE... makes the executors `$TASKMQ_PYTHON -m taskmq.executor MODULE...`
 * (python/taskmq/executor.py), run exactly as an --executor-cmd is: this module only builds
 * the words and says where the taskmq package is, so there is one supervisor for both.
 */
#ifndef TMQ_WORKER_PYTHON_H
#define TMQ_WORKER_PYTHON_H

#include "options.h"

#define TMQ_PYTHON_DEFAULT "/usr/bin/python3"

/* The directory holding the taskmq Python package (its taskmq/executor.py): the first of
 * BINDIR/../PYDIR (an installed worker, wherever its prefix was moved), the source tree's
 * python/ for the build tree's worker, INSTALL_PREFIX/PYDIR and the source tree's python/,
 * that has one (PYDIR: TASKMQ_PYTHON_DIR, CMakeLists.txt);
 * the source tree's when none has. Borrowed, static. */
const char *tmq_python_package_dir(void);

/* Builds the executors' argv from o->python (o->npython >= 1): the interpreter
 * ($TASKMQ_PYTHON when set and not empty, else TMQ_PYTHON_DEFAULT), "-m", "taskmq.executor",
 * then the modules in order. *argv is NULL-terminated, malloc'd, strings too (the caller
 * frees); *program is the same as one string for messages (malloc'd). */
void tmq_python_argv(const tmq_worker_opts_t *o, char ***argv, char **program);

/* Puts the package directory first in PYTHONPATH (what was there stays after it), so the
 * executors find taskmq.executor. Returns 0 or -1 (setenv failed). */
int tmq_python_setenv(void);

#endif
