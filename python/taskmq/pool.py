"""taskmq.Executor: a concurrent.futures.Executor whose pool is a taskmq cluster.

A thin layer over Client: it turns ``submit(fn, *args, **kwargs)`` into one job. A function
name (str) takes exactly one argument, sent as is; a Python callable travels by reference as
``"module:qualname"`` with ``{"args": [...], "kwargs": {...}}``, for workers whose executors
run Python (the executor side of taskmq's Python support).
"""

import atexit
import concurrent.futures
import functools
import inspect
import os
import sys
import time

from .client import Client, _DRAIN

_SERVE = "taskmq-worker --python MODULE"


def _main_module():
    """The name a worker imports the running script as: its file's name without .py (the
    worker is given the file, --python script.py), or its name under ``python3 -m``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return spec.name
    path = getattr(main, "__file__", None)
    if path:
        return os.path.splitext(os.path.basename(path))[0]
    raise TypeError("a function defined in an interactive session cannot travel to a worker: "
                    f"define it in a module and serve that ({_SERVE})")


def _reference(fn):
    """The "module:name" a Python worker serves fn as; TypeError saying why fn cannot go."""
    if inspect.ismethod(fn):
        raise TypeError(f"{fn!r} is a bound method: a worker serves a module's top-level "
                        "functions only; pass a function and the object's data as arguments")
    if not inspect.isfunction(fn):
        raise TypeError(f"{fn!r} is not a Python function: a worker serves the top-level "
                        f"functions of the modules it imports ({_SERVE})")
    qualname, module = fn.__qualname__, fn.__module__
    if "<lambda>" in qualname or "." in qualname:
        raise TypeError(f"{module}.{qualname} is not at the top level of its module (a lambda, "
                        "a method, or a function inside a function): a worker cannot import "
                        "it; define it at the top level")
    if module == "__main__":
        module = _main_module()
    return f"{module}:{qualname}"


def _job_of(fn, args, kwargs):
    """(function name, argument) of one call."""
    if isinstance(fn, str):
        if len(args) != 1 or kwargs:
            raise TypeError(f"a job for the function {fn!r} takes exactly one argument")
        return fn, args[0]
    if isinstance(fn, functools.partial):  # how asyncio's docs pass keywords to run_in_executor
        args, kwargs = fn.args + tuple(args), {**fn.keywords, **kwargs}
        fn = fn.func
    if callable(fn):
        return _reference(fn), {"args": list(args), "kwargs": kwargs}
    raise TypeError(f"fn must be a function name (str) or a callable, got {fn!r}")


_live = set()   # executors not shut down (held, as ProcessPoolExecutor's threads hold theirs)


@atexit.register
def _at_exit():
    """Finishes the jobs of executors not shut down, as ProcessPoolExecutor does at exit;
    Ctrl-C meanwhile cancels them (BYE) instead of leaving them to run."""
    for ex in list(_live):
        pending = ex.client._unfinished()
        if pending:
            sys.stderr.write(f"taskmq: waiting for {pending} jobs of a taskmq.Executor that was "
                             "not shut down (Ctrl-C cancels them)\n")
        try:
            ex.shutdown(wait=True)
        except KeyboardInterrupt:
            ex.client.close()


class Executor(concurrent.futures.Executor):
    """A concurrent.futures.Executor running jobs on a taskmq broker's workers.

    ``Executor(broker=None, max_workers=None, **options)``: ``broker`` defaults to
    ``$TASKMQ_BROKER``, else tcp://127.0.0.1:5555; ``max_workers`` is accepted and ignored (the
    cluster's worker processes are the pool); the other options are Client's
    (connect_timeout, window, timeout_ms, retries), and it raises NoBroker like it. Works with
    ``loop.run_in_executor(ex, "sum", 1000)``, ``concurrent.futures.as_completed`` and
    ``wait``. ``fn`` is a function name served by the workers, called with exactly one
    argument; or a top-level Python function (or a functools.partial of one), sent by
    reference as ``"module:name"`` (a function of the running script as the script's file
    name, which is how ``taskmq-worker --python script.py`` serves it) with the argument
    ``{"args": [...], "kwargs": {...}}``; a lambda, a method or a nested function raises
    TypeError at once. Futures fail with JobError, BrokerLost or TaskmqError (see
    Client.submit). An executor not shut down when the program exits is shut down then,
    waiting for its jobs, as ProcessPoolExecutor does.
    """

    def __init__(self, broker=None, max_workers=None, **options):
        self.client = Client(broker, **options)
        self._shutdown = False
        _live.add(self)

    def submit(self, fn, /, *args, **kwargs):
        """One job ``fn(*args, **kwargs)`` (see the class); returns its Future."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        name, arg = _job_of(fn, args, kwargs)
        return self.client.submit(name, arg)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Results of ``fn`` over the zipped iterables, in input order.

        Unlike ProcessPoolExecutor.map the input is read lazily, at most the client's window
        of jobs ahead of the results taken, and jobs start as the items come; as there,
        ``timeout`` (seconds from this call) raises TimeoutError from the iteration when a
        result is not in by then. ``chunksize`` is accepted and ignored (jobs are batched).
        """
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        deadline = None if timeout is None else time.monotonic() + timeout
        jobs = (_job_of(fn, args, {}) for args in zip(*iterables))
        return self.client._map(jobs, True, None, None, deadline)

    def shutdown(self, wait=True, *, cancel_futures=False):
        """No new jobs. ``cancel_futures=True`` cancels every job without an outcome yet,
        withdrawing it at the broker (queued or running), and ends the iterators of running
        ``map`` calls with CancelledError. ``wait=True`` returns once every job has its
        outcome; ``wait=False`` returns at once and the connection closes by itself then.
        """
        self._shutdown = True
        _live.discard(self)
        if cancel_futures:
            self.client._withdraw(every=True)   # before the stop: the inbox is read in order
        self.client._stop(_DRAIN, join=wait)


__all__ = ["Executor"]
