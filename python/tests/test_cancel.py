"""Cancelling jobs at the broker from Python (WITHDRAW, docs/PROTOCOL.md 5.6): Future.cancel()
on a queued or running job, concurrent.futures.as_completed over a cancelled future,
Executor.shutdown(cancel_futures=True), a map ended early, the asyncio task that awaited a job,
and a Python job function killed mid-run. Each checks the broker's status: the job is gone
(nothing queued, nothing running) long before it would have ended by itself. Real programs on
loopback ports (conftest.py).
"""

import asyncio
import concurrent.futures
import os
import sys
import time

import pytest

import taskmq
import taskmq.aio

from conftest import BIN

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "integration"))
import pyjobs  # noqa: E402  (the test module the --python worker serves too)


def wait_status(client, pred, seconds=5.0):
    """The first STATUS_REPLY for which pred holds; fails after seconds."""
    deadline = time.monotonic() + seconds
    while True:
        st = client.status()
        if pred(st):
            return st
        assert time.monotonic() < deadline, f"status never matched: {st}"
        time.sleep(0.05)


def idle(st):
    return st["queued"] == 0 and st["running"] == 0 and st["prefetched"] == 0


def running(n):
    return lambda st: st["running"] >= n


@pytest.fixture
def client(cluster):
    with taskmq.Client(cluster) as c:
        yield c


def test_cancel_running_and_queued(procs):
    _, fe, be = procs.broker()
    procs.worker(be, fe, procs=1)
    with taskmq.Client(fe) as c:
        before = c.status()["cancelled"]
        first = c.submit("sleep", 20_000)
        later = [c.submit("sleep", 20_000) for _ in range(3)]
        wait_status(c, running(1))
        t0 = time.monotonic()
        assert later[1].cancel() and later[1].cancelled()
        assert first.cancel() and first.cancelled()
        st = wait_status(c, lambda st: st["cancelled"] == before + 2 and st["running"] == 1)
        assert st["queued"] + st["prefetched"] == 1   # later[0] runs now, later[2] waits
        for f in (later[0], later[2]):
            assert f.cancel()
        wait_status(c, idle)
        assert time.monotonic() - t0 < 15   # not the 20 s the jobs would have slept
        assert c.status()["cancelled"] == before + 4
        # Cancelling again, or after the outcome, changes nothing; the worker goes on.
        assert first.cancel()
        done = c.submit("sum", 10)
        assert done.result(20) == 45
        assert not done.cancel() and not done.cancelled()
        with pytest.raises(concurrent.futures.CancelledError):
            first.result(0)


def test_as_completed_yields_a_cancelled_future(client):
    slow, quick = client.submit("sleep", 20_000), client.submit("sleep", 100)
    got = []
    for f in concurrent.futures.as_completed([slow, quick], timeout=10):
        got.append(f)
        if f is quick:
            slow.cancel()
    assert got == [quick, slow] and slow.cancelled()
    wait_status(client, idle)


def test_executor_shutdown_cancel_futures(procs):
    _, fe, be = procs.broker()
    procs.worker(be, fe, procs=2)
    ex = taskmq.Executor(fe)
    quick = ex.submit("echo", "x")
    assert quick.result(10) == "x"
    futures = [ex.submit("sleep", 20_000) for _ in range(5)]
    with taskmq.Client(fe) as c:
        wait_status(c, running(2))
        t0 = time.monotonic()
        ex.shutdown(wait=True, cancel_futures=True)
        assert time.monotonic() - t0 < 10
        assert all(f.cancelled() for f in futures) and quick.result() == "x"
        st = wait_status(c, idle)
        assert st["cancelled"] == 5
    with pytest.raises(RuntimeError):
        ex.submit("echo", 1)


def test_map_ended_early_withdraws_its_jobs(client):
    gen = client.map("sleep", [10, 20_000, 20_000, 20_000, 20_000])
    assert next(gen) == 10
    gen.close()
    wait_status(client, idle)
    # a failed job ends the generator too, and takes the rest with it
    with pytest.raises(taskmq.JobError):
        for _ in client.map("sleep", [20_000, "bad"]):   # "bad": not a number of ms
            pass
    wait_status(client, idle)


def test_aio_cancelled_task_withdraws_its_job(cluster):
    async def main():
        async with taskmq.aio.Client(cluster) as c:
            task = asyncio.create_task(c.submit("sleep", 20_000))
            while (await c.status())["running"] < 1:
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            t0 = time.monotonic()
            while not idle(await c.status()):
                assert time.monotonic() - t0 < 5
                await asyncio.sleep(0.05)
            # an async map left early withdraws what it has in flight
            gen = c.map("sleep", [10] + [20_000] * 4)
            async for r in gen:
                assert r == 10
                break
            await gen.aclose()
            while not idle(await c.status()):
                assert time.monotonic() - t0 < 10
                await asyncio.sleep(0.05)
            return await c.submit("sum", 10)
    assert asyncio.run(main()) == 45


def test_cancel_a_running_python_function(procs):
    _, fe, be = procs.broker()
    procs.start("pyworker", f"{BIN}/taskmq-worker", "--broker", be, "--procs", "1",
                "--name", "py", "--python", pyjobs.__file__)
    with taskmq.Executor(fe) as ex, taskmq.Client(fe) as c:
        assert ex.submit(pyjobs.accumulate, 10).result(30) == 45
        fut = ex.submit(pyjobs.sleepy, 20_000)
        wait_status(c, running(1))
        assert fut.cancel()
        wait_status(c, idle)
        # its executor was killed; a fresh one serves the next job
        assert ex.submit(pyjobs.accumulate, 100).result(30) == 4950


def test_cancel_while_the_executor_drains(procs):
    """shutdown(wait=False) stops new jobs, not cancels: a future cancelled afterwards is still
    withdrawn at the broker."""
    _, fe, be = procs.broker()
    procs.worker(be, fe, procs=1)
    ex = taskmq.Executor(fe)
    fut = ex.submit("sleep", 20_000)
    with taskmq.Client(fe) as c:
        wait_status(c, running(1))
        ex.shutdown(wait=False)
        assert fut.cancel()
        st = wait_status(c, idle)
        assert st["cancelled"] == 1


def test_a_done_callback_may_cancel_another_future(client):
    """A done-callback may cancel other jobs: run by a result (on the I/O thread) or by a
    cancel() (on the cancelling thread), and two futures cancelling each other."""
    slow = client.submit("sleep", 20_000)
    quick = client.submit("echo", 1)
    quick.add_done_callback(lambda f: slow.cancel())
    assert quick.result(10) == 1
    with pytest.raises(concurrent.futures.CancelledError):
        slow.result(5)
    a, b, c = (client.submit("sleep", 20_000) for _ in range(3))
    a.add_done_callback(lambda f: b.cancel())
    b.add_done_callback(lambda f: a.cancel())   # and back: must not deadlock
    b.add_done_callback(lambda f: c.cancel())
    assert a.cancel()
    assert a.cancelled() and b.cancelled() and c.cancelled()
    assert client.submit("echo", 2).result(10) == 2   # the I/O thread is alive
    wait_status(client, idle)


def test_cancel_jobs_held_after_queue_full(procs):
    """Jobs the broker refused "queue full" wait in the client: cancelled there, they end at
    once and never reach the broker (its cancelled count stays), whether cancelled while held
    or while their SUBMIT was still out."""
    _, fe, be = procs.broker("--max-queue", "1")
    procs.worker(be, fe, procs=1)
    with taskmq.Client(fe) as c:
        running_job = c.submit("sleep", 20_000)
        wait_status(c, running(1))
        early = [c.submit("sleep", 20_000) for _ in range(300)]
        for f in early[150:]:
            f.cancel()               # most before their ACK came back
        time.sleep(0.3)              # the rest are held now, but the one queued at the broker
        for f in early[:150]:
            f.cancel()
        assert all(f.cancelled() for f in early)
        running_job.cancel()
        st = wait_status(c, idle)
        assert st["cancelled"] <= 3, st   # the running one, and what reached the queue
        assert c.submit("sleep", 1).result(20) == 1
