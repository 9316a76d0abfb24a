"""taskmq.aio: the asyncio face of taskmq.Client.

A thin layer over the threaded :class:`taskmq.Client` (one background I/O thread owns the
socket and speaks TMQ/1); this module adds no second protocol implementation. Outcomes come
back to the event loop through ``asyncio.wrap_future`` (``submit``) or through a queue that
wakes the loop once per burst of results (``map``), so a map over many jobs does not cost one
loop wake-up per job.

    async with taskmq.aio.Client("tcp://127.0.0.1:5555") as c:
        print(await c.submit("sum", 1000))              # 499500
        async for r in c.map("sleep", [600, 50]):        # completion order: 50, 600
            print(r)

Cancellation reaches the broker: cancelling a task awaiting ``submit`` withdraws its job
(queued, it is dropped; running, its executor is killed and replaced), and a ``map`` that ends
early withdraws the jobs it still has in flight.
"""

import asyncio
import collections
import concurrent.futures
import threading

from .client import (BrokerLost, Client as _ThreadedClient, JobError, NoBroker,  # noqa: F401
                     TaskmqError, _InOrder)

_CHUNK_MAX = 256    # jobs handed to the I/O thread at once by map (SUBMITs stay batched)


class _Sink:
    """Where the I/O thread puts map's outcomes, (tag, value, exception); wakes the loop once
    per burst (call_soon_threadsafe only when no wake-up is pending)."""

    def __init__(self, loop):
        self.loop = loop
        self.items = collections.deque()
        self.event = asyncio.Event()
        self.lock = threading.Lock()
        self.scheduled = False
        self.closed = False

    def put(self, item):  # any thread
        if self.closed:
            return
        self.items.append(item)
        with self.lock:
            if self.scheduled:
                return
            self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def _wake(self):
        with self.lock:
            self.scheduled = False
        self.event.set()

    async def get(self):
        while not self.items:
            self.event.clear()
            await self.event.wait()
        return self.items.popleft()


_END = object()   # tag of the producer's "input exhausted" and "input raised" outcomes


class Client:
    """An asyncio client of a taskmq broker's client port.

    ``Client(broker=None, **options)`` (``$TASKMQ_BROKER``, else tcp://127.0.0.1:5555) takes
    the threaded Client's options (connect_timeout, window, timeout_ms, retries) and, like
    it, says HELLO and waits for
    WELCOME, raising NoBroker after connect_timeout. The handshake blocks the constructor (on
    loopback it takes a millisecond); use ``await asyncio.to_thread(taskmq.aio.Client, ...)``
    to keep the loop free while connecting to a far broker. Use it as ``async with`` or
    ``await client.close()``. The underlying threaded client is ``client.sync``.

    Meant for one event loop at a time (the one its methods are awaited on).
    """

    def __init__(self, broker=None, **options):
        self.sync = _ThreadedClient(broker, **options)
        self.broker, self.window = self.sync.broker, self.sync.window

    async def submit(self, fn, arg=None, *, timeout_ms=None, retries=None):
        """Run one job ``fn(arg)``; returns its decoded result.

        Raises JobError (the job failed, timed out, was rejected...), BrokerLost or
        TaskmqError as the threaded Client's future would. Cancelling the awaiting task
        withdraws the job at the broker, queued or running.
        """
        fut = self.sync.submit(fn, arg, timeout_ms=timeout_ms, retries=retries)
        return await asyncio.wrap_future(fut)

    async def map(self, fn, iterable, ordered=False, *, window=None):
        """``async for r in client.map(fn, items)``: the results of ``fn`` on every item.

        ``items`` is an iterable or an async iterable, read lazily: at most ``window``
        (default: the client's) jobs are submitted and not yet yielded. Results come in
        completion order (``ordered=True``: input order). A failed job raises its JobError at
        its turn, which ends the iteration; so does an exception from ``items``. When the
        iteration ends early (break, an exception, cancellation), no more items are read and
        the jobs in flight are withdrawn at the broker; after a ``break`` that happens when the
        generator is closed: wrap it in ``contextlib.aclosing`` to make it happen at once.
        """
        if window is None:
            window = self.window
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int of at least 1, got {window!r}")
        chunk = max(1, min(_CHUNK_MAX, window // 4))
        loop = asyncio.get_running_loop()
        sink = _Sink(loop)
        c = self.sync
        state = {"sent": 0, "taken": 0}   # jobs submitted; outcomes taken (yielded or held)
        room = asyncio.Event()
        batch = []

        def flush():
            if batch:
                jobs = batch[:]
                batch.clear()
                c._put(jobs)

        def add(arg):
            if not batch:
                loop.call_soon(flush)   # hand jobs over whenever the producer yields
            batch.append(c._job(fn, arg, None, None, sink, state["sent"]))
            state["sent"] += 1
            if len(batch) >= chunk:
                flush()

        async def wait_room():
            while state["sent"] - state["taken"] >= window:
                flush()
                room.clear()
                await room.wait()

        async def produce():
            try:
                if hasattr(iterable, "__aiter__"):
                    async for arg in iterable:
                        await wait_room()
                        add(arg)
                else:
                    for arg in iterable:
                        await wait_room()
                        add(arg)
                flush()
                sink.put((_END, None, None))
            except asyncio.CancelledError:
                raise
            except BaseException as e:
                flush()
                sink.put((_END, None, e))

        producer = loop.create_task(produce())
        order, exhausted = _InOrder(ordered), False
        try:
            while not exhausted or state["taken"] < state["sent"]:
                outcome = await sink.get()
                tag, value, exc = outcome
                if tag is _END:
                    if exc is not None:
                        raise exc
                    exhausted = True
                    continue
                for _, value, exc in order.take(outcome):
                    state["taken"] += 1
                    if window - (state["sent"] - state["taken"]) >= chunk:
                        room.set()
                    if exc is not None:
                        raise exc
                    yield value
        finally:
            sink.closed = True
            producer.cancel()
            batch.clear()   # jobs read but not handed to the I/O thread: dropped
            if state["sent"] > state["taken"]:
                c._withdraw(sink=sink)

    def as_completed(self, awaitables, *, timeout=None):
        """Like asyncio.as_completed: an iterator of awaitables in completion order.

        ``awaitables`` may hold coroutines (``client.submit(...)``), tasks, asyncio futures
        or concurrent.futures futures (the threaded client's, wrapped here). Coroutines are
        made tasks here, in the given order, so their jobs are submitted in that order
        (asyncio.as_completed alone would start them in a set's order).
        """
        aws = [asyncio.wrap_future(a) if isinstance(a, concurrent.futures.Future)
               else asyncio.ensure_future(a) for a in awaitables]
        return asyncio.as_completed(aws, timeout=timeout)

    async def status(self, timeout=5.0):
        """The broker's STATUS_REPLY as a dict (PROTOCOL.md 5.4); TimeoutError after
        ``timeout`` seconds."""
        fut = concurrent.futures.Future()
        self.sync._put((("status", fut),))
        return await asyncio.wait_for(asyncio.wrap_future(fut), timeout)

    async def close(self):
        """Say BYE and stop the I/O thread (waited for off the loop); jobs still awaited fail
        with TaskmqError("the client is closed")."""
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()


__all__ = ["Client", "TaskmqError", "NoBroker", "BrokerLost", "JobError"]
