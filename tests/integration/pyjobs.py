"""Job functions for tests/integration/test_python.sh (served by taskmq-worker --python)."""
import ctypes
import os
import time

from os.path import join  # imported, so not served


def accumulate(n):
    """0 + 1 + ... + n-1."""
    return sum(range(n))


def boom():
    """Raises ValueError("bad"); notes each call in $PYJOBS_LOG (to count attempts)."""
    log = os.environ.get("PYJOBS_LOG")
    if log:
        with open(log, "a") as f:
            f.write("boom\n")
    raise ValueError("bad")


def segv():
    """Dies of SIGSEGV, as a crashing C extension would."""
    return ctypes.string_at(0)


def sleepy(ms):
    time.sleep(ms / 1000.0)
    return ms


def pair(a, b=1):
    return (a, b)  # a tuple goes out as a list


def unpackable():
    return {1, 2}  # a set: msgpack cannot pack it


def interrupted():
    """Raises KeyboardInterrupt, as code that catches Ctrl-C badly might: a job error too."""
    raise KeyboardInterrupt("stop")


async def later(x):
    """An async def job: run to its end with asyncio.run."""
    import asyncio
    await asyncio.sleep(0.01)
    return x


def _private():
    return "not served"
