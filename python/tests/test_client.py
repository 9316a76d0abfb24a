"""Tests of the Python client against the real programs: a broker and a worker daemon on
loopback ports the kernel picks (the broker logs them). Every test runs under an alarm, and
every process a test starts is stopped by its PID in teardown, pass or fail.
TASKMQ_BIN names the directory with taskmq-broker and taskmq-worker (default: build/bin).
"""

import asyncio
import json
import concurrent.futures
import os
import re
import socket
import subprocess
import sys
import time

import pytest

import taskmq

from conftest import BIN



@pytest.fixture
def client(cluster):
    with taskmq.Client(cluster) as c:
        yield c


def test_results(client):
    assert client.submit("sum", 1000).result(10) == 499500
    value = {"a": [1, 2.5, None, True], "b": b"\x00\xff", "c": "héllo"}
    assert client.submit("echo", value).result(10) == value
    with pytest.raises(taskmq.JobError) as e:
        client.submit("fail", "boom").result(10)
    assert e.value.status == "error" and e.value.text == "boom"
    with pytest.raises(taskmq.JobError) as e:
        client.submit("sum", "x").result(10)
    assert e.value.status == "error" and 'got "x"' in e.value.text
    for ordered in (False, True):
        with pytest.raises(taskmq.JobError, match="boom"):
            list(client.map("fail", ["boom"], ordered=ordered))


def test_unknown_function(client):
    with pytest.raises(taskmq.JobError) as e:
        client.submit("no_such_function", 1).result(10)
    assert e.value.status == "unknown_function"
    assert "no_such_function" in e.value.text


def test_completion_order(client):
    assert list(client.map("sleep", [600, 50])) == [50, 600]
    assert list(client.map("sleep", [600, 50], ordered=True)) == [600, 50]


def test_executor_asyncio(cluster):
    async def main(ex):
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(ex, "sum", 1000) == 499500
        jobs = [loop.run_in_executor(ex, "sleep", ms) for ms in (700, 50, 300)]
        return [await f for f in asyncio.as_completed(jobs)]

    with taskmq.Executor(cluster) as ex:
        assert asyncio.run(main(ex)) == [50, 300, 700]


def test_concurrent_as_completed(cluster):
    with taskmq.Executor(cluster) as ex:
        futures = {ex.submit("sleep", ms): ms for ms in (500, 20)}
        assert [f.result() for f in concurrent.futures.as_completed(futures, 10)] == [20, 500]
        assert list(ex.map("sum", [10, 100, 1000])) == [45, 4950, 499500]
        with pytest.raises(TypeError):
            ex.submit("sum", 1, 2)
        # A callable travels by reference; no executor here serves Python callables.
        with pytest.raises(taskmq.JobError) as e:
            ex.submit(os.path.join, "a", b="c").result(10)
        assert e.value.status == "unknown_function" and "posixpath:join" in e.value.text
    with pytest.raises(RuntimeError):
        ex.submit("sum", 1)


def test_map_100k_bounded_window(client):
    n, window = 100_000, 2000
    pulled = 0

    def items():
        nonlocal pulled
        for i in range(n):
            pulled += 1
            yield i

    seen = bytearray(n)
    taken = 0
    for value in client.map("echo", items(), window=window):
        taken += 1
        assert pulled - taken < window, "more jobs in flight than the window"
        seen[value] += 1
    assert taken == n and seen.count(1) == n


def test_queue_full_backpressure(procs):
    _, fe, be = procs.broker("--max-queue", "20")
    procs.worker(be, fe)
    with taskmq.Client(fe) as c:
        assert sorted(c.map("echo", range(3000))) == list(range(3000))


def test_no_broker():
    # A port held bound but not listening: connections are refused, and no other program
    # (other suites share this machine) can take it meanwhile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        t0 = time.monotonic()
        with pytest.raises(taskmq.NoBroker, match=re.escape(endpoint)):
            taskmq.Client(endpoint, connect_timeout=0.5)
        assert time.monotonic() - t0 < 2


def test_broker_lost_when_killed(procs):
    broker, fe, _ = procs.broker("--heartbeat", "100")
    with taskmq.Client(fe) as c:
        futures = [c.submit("sleep", 10) for _ in range(5)]  # no worker: they wait
        c.status()
        broker.kill()
        t0 = time.monotonic()
        for f in futures:
            assert isinstance(f.exception(5), taskmq.BrokerLost)
        assert time.monotonic() - t0 < 3


def test_broker_lost_on_shutdown(procs):
    broker, fe, _ = procs.broker()
    with taskmq.Client(fe) as c:
        f = c.submit("sleep", 10)
        c.status()
        broker.terminate()
        with pytest.raises(taskmq.BrokerLost, match="shut down"):
            f.result(3)


def _tool_map(frontend, fn, args):
    """The same jobs through the C library (the taskmq tool): [(ok, result or error)], in input
    order."""
    lines = "".join(json.dumps(a) + "\n" for a in args)
    out = subprocess.run([f"{BIN}/taskmq", "--broker", frontend, "map", "--ordered", "--json", fn],
                         input=lines.encode(), capture_output=True, timeout=30)
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [r["index"] for r in rows] == list(range(len(args))), out.stderr.decode()
    return [(r["ok"], r["result"] if r["ok"] else r["error"]) for r in rows]


def _py_map(client, fn, args):
    got = []
    for fut in [client.submit(fn, a) for a in args]:
        try:
            got.append((True, fut.result(30)))
        except taskmq.JobError as e:
            got.append((False, e.text))
    return got


def test_wire_agreement(cluster, client):
    """The Python client and the C library, each on its own reading of docs/PROTOCOL.md, give
    the same outcomes for the same jobs: results, function errors, and big integers."""
    cases = {
        "sum": [0, 1, 1000, 10**6, "x", -1, 1.5, None, [3]],
        "echo": [{"a": [1, 2.5, None, True]}, "héllo", [], {}, 1.5, -7, 2**63 - 1, -(2**63),
                 "", [[[]]], {"k": {"n": [0, "1"]}}],
        "fail": ["boom", "two words"],
        "primes": [10, 1000, 0],
    }
    for fn, args in cases.items():
        assert _py_map(client, fn, args) == _tool_map(cluster, fn, args), fn
    # What they differ in is the tool's JSON, not the wire: integers above 2^63 - 1 travel
    # exactly (Python gets the int) and the tool prints them as reals (jansson's integers are
    # int64; README "Input").
    (ok, exact), = _py_map(client, "echo", [2**64 - 1])
    (ok2, shown), = _tool_map(cluster, "echo", [2**64 - 1])
    assert ok and ok2 and exact == 2**64 - 1 and isinstance(shown, float)
    assert shown == pytest.approx(2**64 - 1, rel=1e-14)  # printed to 15 digits


def test_map_slow_producer_streams(client):
    """A slow producer's items start at once, and results come between its reads (the window
    is not filled first)."""
    produced = 0

    def slowly():
        nonlocal produced
        for i in range(8):
            produced += 1
            yield i
            time.sleep(0.15)

    seen = []
    for r in client.map("echo", slowly()):
        seen.append((r, produced))
    assert sorted(r for r, _ in seen) == list(range(8))
    assert seen[0][1] <= 2, f"the first result came only after {seen[0][1]} items were read"
    assert list(client.map("echo", [])) == []


def test_map_window_checked(client):
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="window"):
            list(client.map("echo", [1], window=bad))
    with pytest.raises(ValueError, match="window"):
        taskmq.Client(client.broker, window=0)


def test_executor_map_timeout_counts_from_the_call(cluster):
    with taskmq.Executor(cluster) as ex:
        t0 = time.monotonic()
        with pytest.raises(concurrent.futures.TimeoutError):
            list(ex.map("sleep", [400] * 6, timeout=0.7))   # 2 processes: 1.2 s in all
        assert time.monotonic() - t0 < 1.1


def test_unresolvable_host_fails_at_once():
    t0 = time.monotonic()
    with pytest.raises(taskmq.NoBroker, match="cannot resolve host 'no-such-host.invalid'"):
        taskmq.Client("tcp://no-such-host.invalid:5555", connect_timeout=10)
    assert time.monotonic() - t0 < 5


def _run_py(code, frontend, **env):
    """Runs code in a fresh /usr/bin/python3 with this tree's package; (returncode, output)."""
    pkg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    p = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": pkg, "FE": frontend, **env})
    return p.returncode, (p.stdout + p.stderr).decode()


def test_at_exit(procs):
    """An Executor left open (even unreferenced) finishes its jobs when the program exits, as
    ProcessPoolExecutor does, and says so; a Client left open says BYE, so its jobs are
    cancelled at once. The broker defaults to $TASKMQ_BROKER."""
    _, fe, be = procs.broker("-v")
    procs.worker(be, fe)
    with taskmq.Client(fe) as client:
        before = client.status()
        rc, out = _run_py("import os, taskmq\n"
                          "taskmq.Executor(os.environ['FE']).submit('sleep', 300)\n", fe)
        assert rc == 0, out
        assert "waiting for 1 jobs of a taskmq.Executor that was not shut down" in out
        after = client.status()
        assert after["done"] == before["done"] + 1 and after["cancelled"] == before["cancelled"]
        rc, out = _run_py("import taskmq\n"
                          "c = taskmq.Client()\n"
                          "c.submit('sleep', 20000)\n"
                          "c.status()\n", "", TASKMQ_BROKER=fe)
        assert rc == 0, out
        deadline = time.monotonic() + 5
        while client.status()["cancelled"] != after["cancelled"] + 1:
            assert time.monotonic() < deadline, client.status()
            time.sleep(0.05)
    log = (procs.tmp / "broker.log").read_text()
    assert re.search(r"client \S+ left \(BYE\); 1 jobs cancelled", log), log


def test_function_references(monkeypatch):
    """What travels for a callable: "module:name"; functools.partial spreads; the running
    script's functions go as the script's file name; what a worker cannot import is refused
    at once, saying why."""
    import functools
    import types
    from taskmq.pool import _job_of

    assert _job_of(os.path.join, ("a",), {"b": 1}) == \
        ("posixpath:join", {"args": ["a"], "kwargs": {"b": 1}})
    part = functools.partial(os.path.join, "a", sep="/")
    assert _job_of(part, ("b",), {}) == \
        ("posixpath:join", {"args": ["a", "b"], "kwargs": {"sep": "/"}})

    def nested(x):
        return x

    class Callable:
        def __call__(self, x):
            return x
    for fn, why in ((lambda x: x, "lambda"), (nested, "not at the top level"),
                    (len, "not a Python function"), (Callable(), "not a Python function")):
        with pytest.raises(TypeError, match=why):
            _job_of(fn, (1,), {})

    class Thing:
        def method(self):
            return 1
    with pytest.raises(TypeError, match="bound method"):
        _job_of(Thing().method, (), {})

    def script_fn(x):
        return x
    script_fn.__module__ = "__main__"
    script_fn.__qualname__ = "script_fn"
    main = types.ModuleType("__main__")
    main.__file__ = "/some/where/myscript.py"
    main.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert _job_of(script_fn, (1,), {})[0] == "myscript:script_fn"
    del main.__file__
    with pytest.raises(TypeError, match="interactive session"):
        _job_of(script_fn, (1,), {})
