"""taskmq for Python: submit jobs to a taskmq cluster and take each result as it finishes.

``Client`` speaks TMQ/1 (docs/PROTOCOL.md) to a broker's client port over pyzmq + msgpack;
``Executor`` is a concurrent.futures.Executor over one, for ``asyncio`` and
``concurrent.futures.as_completed``; ``taskmq.aio.Client`` is the asyncio face of Client
(``await c.submit(...)``, ``async for r in c.map(...)``). ``job`` marks the functions a
Python worker serves (``taskmq-worker --python MODULE``). See python/README.md.

The client names (and ``taskmq.aio``) are loaded on first use, so a worker's Python executor
(``python3 -m taskmq.executor``) needs neither pyzmq nor the client code.
"""

__version__ = "0.5.0"   # the same as taskmq's (include/taskmq/client.h; a test checks)

__all__ = ["Client", "JobFuture", "Executor", "TaskmqError", "NoBroker", "BrokerLost", "JobError",
           "job", "aio"]

_CLIENT_NAMES = ("Client", "JobFuture", "TaskmqError", "NoBroker", "BrokerLost", "JobError")


def job(fn):
    """Marks fn as a job function: once any function of a module is marked, a Python worker
    serves only the marked ones (as ``MODULE:name``). Returns fn unchanged otherwise."""
    fn.__taskmq_job__ = True
    return fn


def __getattr__(name):
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    if name == "aio":  # import_module: "from . import aio" would come back here for the name
        import importlib

        return importlib.import_module(".aio", __name__)
    if name == "Executor":
        from .pool import Executor

        return Executor
    raise AttributeError(f"module 'taskmq' has no attribute {name!r}")
