"""taskmq.Executor: a concurrent.futures.Executor whose pool is a taskmq cluster.

A thin layer over Client: it turns ``submit(fn, *args, **kwargs)`` into one job. A function
name (str) takes exactly one argument, sent as is; a Python callable travels by reference as
``"module:qualname"`` with ``{"args": [...], "kwargs": {...}}``, for workers whose executors
run Python (the executor side of taskmq's Python support).
"""

import concurrent.futures

from .client import Client, _DRAIN


def _job_of(fn, args, kwargs):
    """(function name, argument) of one call."""
    if isinstance(fn, str):
        if len(args) != 1 or kwargs:
            raise TypeError(f"a job for the function {fn!r} takes exactly one argument")
        return fn, args[0]
    if callable(fn):
        return f"{fn.__module__}:{fn.__qualname__}", {"args": list(args), "kwargs": kwargs}
    raise TypeError(f"fn must be a function name (str) or a callable, got {fn!r}")


class Executor(concurrent.futures.Executor):
    """A concurrent.futures.Executor running jobs on a taskmq broker's workers.

    ``Executor(broker="tcp://127.0.0.1:5555", **options)`` takes Client's options
    (connect_timeout, window, timeout_ms, retries) and raises NoBroker like it. Works with
    ``loop.run_in_executor(ex, "sum", 1000)``, ``concurrent.futures.as_completed`` and
    ``wait``. ``fn`` is a function name served by the workers, called with exactly one
    argument; or a Python callable, sent by reference as ``f"{fn.__module__}:{fn.__qualname__}"``
    with the argument ``{"args": [...], "kwargs": {...}}`` (a Python executor must serve it).
    Futures fail with JobError, BrokerLost or TaskmqError (see Client.submit).
    """

    def __init__(self, broker="tcp://127.0.0.1:5555", **options):
        self.client = Client(broker, **options)
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        """One job ``fn(*args, **kwargs)`` (see the class); returns its Future."""
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        name, arg = _job_of(fn, args, kwargs)
        return self.client.submit(name, arg)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Results of ``fn`` over the zipped iterables, in input order.

        Unlike ProcessPoolExecutor.map the input is read lazily, at most the client's window
        of jobs ahead of the results taken; ``timeout`` bounds each wait for the next result.
        ``chunksize`` is accepted and ignored (jobs are batched anyway).
        """
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        jobs = (_job_of(fn, args, {}) for args in zip(*iterables))
        return self.client._map(jobs, True, None, timeout)

    def shutdown(self, wait=True, *, cancel_futures=False):
        """No new jobs. ``cancel_futures=True`` cancels every job without an outcome yet,
        withdrawing it at the broker (queued or running), and ends the iterators of running
        ``map`` calls with CancelledError. ``wait=True`` returns once every job has its
        outcome; ``wait=False`` returns at once and the connection closes by itself then.
        """
        self._shutdown = True
        if cancel_futures:
            self.client._withdraw(every=True)   # before the stop: the inbox is read in order
        self.client._stop(_DRAIN, join=wait)


__all__ = ["Executor"]
