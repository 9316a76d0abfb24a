"""Tests of taskmq.aio (the asyncio face of the Python client) against the real programs: a
broker and a worker daemon on loopback ports the kernel picks (the fixtures in conftest.py:
Procs, cluster, alarm). Every test runs under an alarm, and every
process a test starts is stopped by its PID in teardown, pass or fail.
"""

import asyncio
import os
import re
import subprocess
import sys
import time

import pytest

import taskmq
import taskmq.aio




def run(coro_fn, cluster, **options):
    """Runs coro_fn(client) on a fresh event loop with a taskmq.aio.Client of the cluster."""
    async def main():
        async with taskmq.aio.Client(cluster, **options) as c:
            return await coro_fn(c)
    return asyncio.run(main())


def test_reachable():
    assert taskmq.aio is sys.modules["taskmq.aio"]
    assert taskmq.aio.JobError is taskmq.JobError
    out = subprocess.run([sys.executable, "-c", "import taskmq, sys; taskmq.job; "
                          "assert 'zmq' not in sys.modules; taskmq.aio; "
                          "assert 'zmq' in sys.modules"], capture_output=True,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(taskmq.__path__[0])})
    assert out.returncode == 0, out.stderr.decode()


def test_submit_results_and_errors(cluster):
    async def main(c):
        assert await c.submit("sum", 1000) == 499500
        value = {"a": [1, 2.5, None, True], "b": b"\x00\xff", "c": "h\u00e9llo"}
        assert await c.submit("echo", value) == value
        with pytest.raises(taskmq.JobError) as e:
            await c.submit("fail", "boom")
        assert e.value.status == "error" and e.value.text == "boom"
        with pytest.raises(taskmq.JobError) as e:
            await c.submit("no_such_function", 1)
        assert e.value.status == "unknown_function"
        for ordered in (False, True):
            with pytest.raises(taskmq.JobError, match="boom"):
                async for _ in c.map("fail", ["boom"], ordered=ordered):
                    pass
        st = await c.status()
        assert st["workers"]
        return "ok"
    assert run(main, cluster) == "ok"


def test_map_completion_order(cluster):
    async def main(c):
        unordered = [r async for r in c.map("sleep", [600, 50])]
        ordered = [r async for r in c.map("sleep", [600, 50], ordered=True)]
        return unordered, ordered
    assert run(main, cluster) == ([50, 600], [600, 50])


def test_map_async_generator_20k(cluster):
    n, window = 20_000, 2000
    pulled = 0

    async def items():
        nonlocal pulled
        for i in range(n):
            pulled += 1
            if i % 1000 == 0:
                await asyncio.sleep(0)   # a producer that really yields to the loop
            yield i

    async def main(c):
        seen = bytearray(n)
        taken = 0
        async for value in c.map("echo", items(), window=window):
            taken += 1
            assert pulled - taken <= window, "more jobs in flight than the window"
            seen[value] += 1
        return taken, seen.count(1)
    assert run(main, cluster) == (n, n)


def test_map_input_error_and_early_break(cluster):
    def items():
        yield 1
        yield 2
        raise KeyError("input")

    async def main(c):
        with pytest.raises(KeyError):
            async for _ in c.map("echo", items()):
                pass
        gen = c.map("echo", range(100_000), window=1000)
        async for _ in gen:
            break
        await gen.aclose()
        return await c.submit("echo", "still")
    assert run(main, cluster) == "still"


def test_as_completed(cluster):
    async def main(c):
        aws = [c.submit("sleep", ms) for ms in (700, 50, 300)]
        got = [await f for f in c.as_completed(aws)]
        mixed = [c.sync.submit("sleep", 200), c.submit("sleep", 20)]
        got2 = [await f for f in c.as_completed(mixed)]
        return got, got2
    assert run(main, cluster) == ([50, 300, 700], [20, 200])


def test_cancel_awaiting_task(cluster):
    async def main(c):
        task = asyncio.create_task(c.submit("sleep", 3000))
        await asyncio.sleep(0.3)          # sent and running at a worker by now
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - t0 < 0.5
        # The wrapped concurrent future is cancelled with its waiter (and its job withdrawn
        # at the broker: test_cancel.py checks that side).
        fut = c.sync.submit("sleep", 3000)
        waiter = asyncio.wrap_future(fut)
        waiter.cancel()
        await asyncio.sleep(0)
        assert fut.cancelled()
        # Still usable.
        assert await c.submit("sum", 10) == 45
        assert sorted([r async for r in c.map("echo", range(100))]) == list(range(100))
        return "ok"
    assert run(main, cluster) == "ok"


def test_close(cluster):
    async def main():
        c = taskmq.aio.Client(cluster)
        assert await c.submit("echo", 1) == 1
        await c.close()
        with pytest.raises(taskmq.TaskmqError, match="closed"):
            await c.submit("echo", 1)
        return "ok"
    assert asyncio.run(main()) == "ok"


def test_no_broker():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(taskmq.NoBroker, match=re.escape(endpoint)):
            taskmq.aio.Client(endpoint, connect_timeout=0.5)


def test_status_given_up_on_leaves_the_client_working(procs):
    """A status() abandoned (wait_for timing out while the broker is stopped) must not break
    the client when the reply comes late."""
    import signal
    broker, fe, be = procs.broker()
    procs.worker(be, fe)

    async def main():
        async with taskmq.aio.Client(fe) as c:
            os.kill(broker.pid, signal.SIGSTOP)
            try:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(c.status(), 0.3)
                with pytest.raises(asyncio.TimeoutError):
                    await c.status(timeout=0.3)
            finally:
                os.kill(broker.pid, signal.SIGCONT)
            await asyncio.sleep(0.2)   # the late replies arrive now
            assert (await c.status())["clients"] >= 1
            return await c.submit("sum", 10)
    assert asyncio.run(main()) == 45
