"""The taskmq client: jobs as concurrent.futures.Future objects over one DEALER (PROTOCOL.md 5).

One background I/O thread owns the socket; user threads only hand it work through a deque
and a wake-up pipe, so the socket is never shared. Every job gets exactly one outcome on its
future: a result, or JobError / BrokerLost / TaskmqError, or cancellation: ``Future.cancel()``
withdraws the job at the broker (WITHDRAW), queued or running, and its late result, if any, is
dropped. A lost broker (BYE, ERROR "unknown peer", or silence for 5 heartbeat intervals while
anything is awaited) fails every awaited job and the thread goes on with a fresh socket, so a
restarted broker is met as a new client.
"""

import atexit
import collections
import concurrent.futures
import itertools
import logging
import os
import queue
import socket
import threading
import time
import weakref

import zmq

from . import _wire as w

log = logging.getLogger("taskmq")

_BATCH_JOBS = 1000            # jobs per SUBMIT at most
_BATCH_BYTES = 1 << 20        # encoded argument bytes per SUBMIT at most
_LIVENESS = 5                 # heartbeat intervals of broker silence before giving up
_HOLD_MIN, _HOLD_MAX = 0.01, 1.0   # seconds between resubmissions of "queue full" jobs
_CLOSE, _DRAIN = "close", "drain"  # inbox markers: stop now / stop once nothing is pending
DEFAULT_BROKER = "tcp://127.0.0.1:5555"
_live = weakref.WeakSet()     # clients not closed: they say BYE at exit


@atexit.register
def _at_exit():
    for c in list(_live):
        c.close()


def _settle(fut, value=None, exc=None):
    """Sets fut's outcome unless it was cancelled meanwhile (a status() given up on)."""
    try:
        if exc is None:
            fut.set_result(value)
        else:
            fut.set_exception(exc)
    except concurrent.futures.InvalidStateError:
        pass


def _check_host(broker):
    """NoBroker at once when a tcp:// endpoint's host does not resolve (as the tool says)."""
    if not broker.startswith("tcp://") or ":" not in broker[6:]:
        return
    host = broker[6:].rsplit(":", 1)[0].strip("[]")
    if host in ("", "*"):
        return
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError) as e:
        raise NoBroker(f"cannot resolve host {host!r} (in {broker}): {e}") from None


class TaskmqError(Exception):
    """Base of every taskmq error; raised as is when the client was closed under a job."""


class NoBroker(TaskmqError):
    """No broker answered HELLO within connect_timeout (or the endpoint is not a client port)."""


class BrokerLost(TaskmqError):
    """The broker shut down (BYE) or fell silent while the job was awaited."""


class JobError(TaskmqError):
    """A job that ended without a result.

    ``status`` is one of "error", "died", "timeout", "rejected", "unknown_function",
    "out_of_memory"; ``text`` is the cause as the worker or broker gave it; ``worker``
    ("name:pid", "" when no executor ran it), ``ms`` and ``attempts`` as in RESULTS.
    """

    def __init__(self, status, text, worker="", ms=0.0, attempts=0):
        super().__init__(f"{status}: {text}")
        self.status, self.text = status, text
        self.worker, self.ms, self.attempts = worker, ms, attempts


_NOTIFY_LOCK = threading.Lock()   # a cancelled JobFuture's waiters are told once


class JobFuture(concurrent.futures.Future):
    """The Future of one job. ``cancel()`` works until the job's outcome is set, queued or
    running: the job is withdrawn at the broker (a running one's executor is killed and
    replaced) and the future is cancelled at once. ``running()`` stays False: the broker,
    not this client, knows when a job starts."""

    def __init__(self, client, cid):
        super().__init__()
        self._client, self._cid = client, cid
        self._notified = False

    def cancel(self):
        if not self._cancel_here():
            return False
        self._client._withdraw(self._cid)
        return True

    def _cancel_here(self):
        """Cancels the future itself (not the job); False when it has its outcome. The
        done-callbacks run with no lock held (one may cancel other futures); then, once,
        the waiters of as_completed() and wait() are woken."""
        if not super().cancel():
            return False
        with _NOTIFY_LOCK:   # no user code runs under it
            if self._notified:
                return True
            self._notified = True
        self.set_running_or_notify_cancel()
        return True


class _Job:
    """One job until its outcome: delivered to its Future, or (map's jobs, which need no
    Future) put on a queue as (tag, value, exception)."""
    __slots__ = ("cid", "fn", "arg", "timeout_ms", "retries", "future", "sink", "tag")

    def __init__(self, client, cid, fn, arg, timeout_ms, retries, sink=None, tag=None):
        self.cid, self.fn, self.arg = cid, fn, arg
        self.timeout_ms, self.retries = timeout_ms, retries
        self.sink, self.tag = sink, tag
        self.future = JobFuture(client, cid) if sink is None else None

    def cancelled(self):
        return self.future is not None and self.future.cancelled()

    def resolve(self, value):
        if self.sink is None:
            try:
                self.future.set_result(value)
            except concurrent.futures.InvalidStateError:
                pass    # cancelled meanwhile
        else:
            self.sink.put((self.tag, value, None))

    def reject(self, exc):
        if self.sink is None:
            try:
                self.future.set_exception(exc)
            except concurrent.futures.InvalidStateError:
                pass
        else:
            self.sink.put((self.tag, None, exc))

    def cancel(self):
        """Ends the job cancelled (its WITHDRAW, if one is needed, is the caller's)."""
        if self.sink is None:
            self.future._cancel_here()
        else:
            self.sink.put((self.tag, None, concurrent.futures.CancelledError()))


class _InOrder:
    """The outcomes (tag, value, exc) of a map, as they may be handed out: each as it comes, or
    with ordered, in tag order from 0 (the early ones held until their turn)."""

    def __init__(self, ordered):
        self.ordered, self.ready, self.next = ordered, {}, 0

    def take(self, outcome):
        """The outcomes that outcome's arrival lets out, in order."""
        if not self.ordered:
            yield outcome
            return
        self.ready[outcome[0]] = outcome
        while (out := self.ready.pop(self.next, None)) is not None:
            self.next += 1
            yield out


class Client:
    """A connection to a taskmq broker's client port.

    ``Client(broker=None, connect_timeout=5.0, window=20000, timeout_ms=0, retries=-1,
    curve_cert=None, broker_cert=None)`` says HELLO and waits for WELCOME, raising NoBroker
    (naming the endpoint) after connect_timeout seconds, or at once when the host does not
    resolve. ``curve_cert`` (this client's secret certificate, ``taskmq keygen``) and
    ``broker_cert`` (the broker's public one), or ``$TASKMQ_CURVE_CERT`` and
    ``$TASKMQ_BROKER_CERT``, connect over CurveZMQ to a broker with keys (a refused key looks
    like no broker: NoBroker). ``broker`` defaults to
    ``$TASKMQ_BROKER``, else tcp://127.0.0.1:5555 (as the ``taskmq`` tool). ``window`` bounds
    the jobs :meth:`map` keeps in flight; ``timeout_ms`` (0: none) and ``retries`` (-1: the
    broker's default) are every job's defaults. Thread-safe; use it as a context manager or
    call :meth:`close` (a client left open says BYE when the program exits: its jobs are
    cancelled at the broker). Done-callbacks of its futures run on its I/O thread: keep them
    short, or hand the work to another thread.
    """

    def __init__(self, broker=None, connect_timeout=5.0, window=20000, timeout_ms=0,
                 retries=-1, curve_cert=None, broker_cert=None):
        if broker is None:
            broker = os.environ.get("TASKMQ_BROKER") or DEFAULT_BROKER
        if not isinstance(broker, str):
            raise TypeError(f"broker is an endpoint such as 'tcp://host:5555', got {broker!r}")
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int of at least 1, got {window!r}")
        _check_host(broker)
        curve_cert = curve_cert or os.environ.get("TASKMQ_CURVE_CERT") or None
        broker_cert = broker_cert or os.environ.get("TASKMQ_BROKER_CERT") or None
        self._curve = None
        if curve_cert or broker_cert:
            if not (curve_cert and broker_cert):
                raise ValueError("curve_cert ($TASKMQ_CURVE_CERT) and broker_cert "
                                 "($TASKMQ_BROKER_CERT) go together")
            public, secret = w.load_cert(curve_cert, True)
            self._curve = (public, secret, w.load_cert(broker_cert, False)[0])
        self.broker, self.window = broker, window
        self.timeout_ms, self.retries = timeout_ms, retries
        self._cids = itertools.count(1)
        self._inbox = collections.deque()
        self._lock = threading.Lock()      # the flags below and the wake pipe's life
        self._closed = False               # no new jobs (closing, or draining to a stop)
        self._ended = False                # the I/O thread has exited
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._woken = False
        ready = concurrent.futures.Future()
        self._loop = _Loop(self, connect_timeout, ready)
        self._thread = threading.Thread(target=self._loop.run, name="taskmq-client",
                                        daemon=True)
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            self._thread.join()
            raise
        _live.add(self)

    # ---- jobs ----

    def submit(self, fn, arg=None, *, timeout_ms=None, retries=None):
        """Submit one job: function name ``fn`` (str) on ``arg`` (any msgpack value).

        Returns a :class:`JobFuture` (a concurrent.futures.Future) whose result is the
        decoded result, or whose exception is JobError / BrokerLost. Jobs are batched into
        SUBMITs by the I/O thread, so submitting many in a row costs no round trip each.
        ``Future.cancel()`` withdraws the job at the broker, queued or running (a 0.3 broker
        does not know WITHDRAW: the job then runs on and its result is dropped).
        """
        job = self._job(fn, arg, timeout_ms, retries)
        self._put((job,))
        return job.future

    def map(self, fn, iterable, ordered=False, *, window=None, timeout=None):
        """Run ``fn`` on every item of ``iterable``; a generator of the results.

        Results come in completion order (``ordered=True``: input order). At most ``window``
        (default: the client's) jobs are submitted and not yet yielded, and the iterable is
        read lazily, so an input of any length never sits in memory; jobs start as items come
        (a slow producer's items go out one by one), and results are yielded between reads.
        A failed job raises its JobError when its turn comes (which ends the generator).
        ``timeout`` (seconds) bounds each wait for the next result
        (concurrent.futures.TimeoutError). When the generator
        ends early (a failed job, ``break`` then ``close()`` or garbage collection), the jobs
        still in flight are withdrawn at the broker.
        """
        return self._map(((fn, arg) for arg in iterable), ordered, window, timeout)

    def status(self, timeout=5.0):
        """The broker's STATUS_REPLY as a dict (PROTOCOL.md 5.4); TimeoutError after
        ``timeout`` seconds."""
        fut = self._status()
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise concurrent.futures.TimeoutError(
                f"the broker at {self.broker} did not answer STATUS within {timeout:g} s") from None

    def close(self):
        """Say BYE and stop the I/O thread; jobs still awaited fail with TaskmqError."""
        _live.discard(self)
        self._stop(_CLOSE, join=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- internals shared with Executor ----

    def _job(self, fn, arg, timeout_ms, retries, sink=None, tag=None):
        if not isinstance(fn, str) or not 1 <= len(fn.encode()) <= 64 or "\0" in fn:
            raise ValueError(f"a function name is a str of 1..64 bytes, got {fn!r}")
        return _Job(self, next(self._cids), fn, w.pack_value(arg),
                    self.timeout_ms if timeout_ms is None else timeout_ms,
                    self.retries if retries is None else retries, sink, tag)

    def _put(self, items):
        with self._lock:
            if self._closed:
                raise TaskmqError("the client is closed")
            self._inbox.extend(items)
            if not self._woken:
                self._woken = True
                os.write(self._wake_w, b"x")

    def _unfinished(self):
        """Jobs without an outcome yet (about: read from another thread than the I/O one)."""
        return len(self._loop.inflight) + len(self._inbox)

    def _status(self):
        """A future of the next STATUS_REPLY (cancelling it is safe)."""
        fut = concurrent.futures.Future()
        self._put((("status", fut),))
        return fut

    def _withdraw(self, cid=None, sink=None, every=False):
        """Asks the I/O thread to withdraw the job cid, the jobs of a map's sink, or every
        job: also while it drains after shutdown(); a no-op once it has exited (nothing is
        awaited then)."""
        with self._lock:
            if self._ended:
                return
            self._inbox.append(("withdraw", cid, sink, every))
            if not self._woken:
                self._woken = True
                os.write(self._wake_w, b"x")

    def _map(self, jobs, ordered, window, timeout, deadline=None):
        """map's generator. timeout bounds each wait; deadline (monotonic) all of them."""
        if window is None:
            window = self.window
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an int of at least 1, got {window!r}")
        chunk = max(1, min(256, window // 4))   # refill in chunks so SUBMITs stay batched
        jobs, done = iter(jobs), queue.SimpleQueue()
        index, pending, exhausted, order = 0, 0, False, _InOrder(ordered)
        try:
            while True:
                if not exhausted and window - pending >= min(chunk, window):
                    # each item goes to the I/O thread as it is read (a slow producer's jobs
                    # start at once; the thread, woken once per turn, batches the SUBMITs),
                    # and reading stops to hand out results as soon as one is in
                    for fn, arg in jobs:
                        self._put((self._job(fn, arg, None, None, done, index),))
                        index, pending = index + 1, pending + 1
                        if pending >= window or not done.empty():
                            break
                    else:
                        exhausted = True
                if pending == 0:
                    return
                wait = exhausted or window - pending < min(chunk, window)
                try:
                    if not wait:
                        outcome = done.get_nowait()
                    elif deadline is not None:
                        outcome = done.get(timeout=max(0.0, deadline - time.monotonic()))
                    else:
                        outcome = done.get(timeout=timeout)
                except queue.Empty:
                    if not wait:
                        continue   # read more input
                    raise concurrent.futures.TimeoutError(
                        f"no result within {timeout:g} s" if deadline is None
                        else "map's timeout passed") from None
                for _, value, exc in order.take(outcome):
                    pending -= 1
                    if exc is not None:
                        raise exc
                    yield value
        finally:
            if pending:   # ended early: nobody will take these outcomes
                self._withdraw(sink=done)

    def _stop(self, how, join):
        with self._lock:   # a close also ends a drain under way (shutdown(wait=False))
            if not self._ended and (not self._closed or how == _CLOSE):
                self._closed = True
                self._inbox.append(how)
                os.write(self._wake_w, b"x")
        if join and self._thread is not threading.current_thread():
            self._thread.join()

    def _exited(self):
        """Called by the I/O thread last: fails what the inbox still holds, closes the pipe."""
        with self._lock:
            self._closed = self._ended = True
            for item in self._inbox:
                if isinstance(item, _Job) and not item.cancelled():
                    item.reject(TaskmqError("the client is closed"))
                elif isinstance(item, tuple) and item[0] == "status":
                    _settle(item[1], exc=TaskmqError("the client is closed"))
            self._inbox.clear()
            os.close(self._wake_r)
            os.close(self._wake_w)


class _Loop:
    """The I/O thread's state: everything here is touched by that thread alone."""

    def __init__(self, client, connect_timeout, ready):
        self.c, self.connect_timeout, self.ready = client, connect_timeout, ready
        self.ctx = zmq.Context.instance()
        self.sock = None
        self.monitor = None                    # during the handshake: its failures
        self.inflight = {}                     # cid -> _Job: sent or held, no outcome yet
        self.unacked = collections.deque()     # per SUBMIT sent, its cids (ACKs come in order)
        self.batch, self.batch_cids, self.batch_bytes = [], [], 0
        self.held = {}                         # cid -> _Job refused "queue full", oldest first
        self.hold_until, self.hold_delay = 0.0, _HOLD_MIN
        self.withdrawn = set()                 # cids a WITHDRAW went out for, no outcome yet
        self.withdraw_batch = []               # cids to name in the next WITHDRAW
        self.told_old = False                  # said that the broker does not know WITHDRAW
        self.status_waiters = collections.deque()
        self.hb = w.HEARTBEAT_DEFAULT_MS / 1000
        self.last_sent = self.last_heard = time.monotonic()
        self.draining = False
        self.unserved_told = set()

    # ---- connection ----

    def _connect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(zmq.DEALER)
        for opt, val in ((zmq.SNDHWM, w.HWM), (zmq.RCVHWM, w.HWM), (zmq.MAXMSGSIZE, w.MAX_MSG),
                         (zmq.LINGER, 500)):
            self.sock.setsockopt(opt, val)
        if self.c._curve:
            public, secret, server = self.c._curve
            self.sock.curve_publickey, self.sock.curve_secretkey = public, secret
            self.sock.curve_serverkey = server
        if self.monitor is None:   # the first socket's handshake failures (before connecting)
            self.monitor = self.sock.get_monitor_socket(
                zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        self.sock.connect(self.c.broker)
        self.poller = zmq.Poller()
        self.poller.register(self.sock, zmq.POLLIN)
        self.poller.register(self.c._wake_r, zmq.POLLIN)
        self._send(w.HELLO, {"oom": True})
        self.last_heard = time.monotonic()

    def _handshake(self):
        """WELCOME within connect_timeout, or the NoBroker to raise."""
        try:
            self._connect()
        except zmq.ZMQError as e:
            return NoBroker(f"cannot connect to {self.c.broker}: {e}")
        deadline = time.monotonic() + self.connect_timeout
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        try:
            while (left := deadline - time.monotonic()) > 0:
                events = dict(poller.poll(max(1, int(left * 1000))))
                if self.monitor in events:
                    why = self._refusal()
                    if why:
                        return NoBroker(f"{self.c.broker}: {why}")
                if self.sock not in events:
                    continue
                err = self._handshake_reply()
                if err is not False:
                    return err
        finally:
            self.sock.disable_monitor()
            self.monitor.close(linger=0)
            self.monitor = None
        return NoBroker(f"no broker answered at {self.c.broker} within {self.connect_timeout:g} s")

    def _refusal(self):
        """Why the broker refused our handshake, from a monitor event, or None."""
        from zmq.utils.monitor import recv_monitor_message
        ev = recv_monitor_message(self.monitor)
        curve = self.c._curve is not None
        if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return ("the broker refused our key (this certificate is not among its --curve-dir "
                    "keys)" if curve else
                    "the broker refused the connection: without keys it lets in loopback "
                    "addresses only (use CurveZMQ keys, or run the broker --insecure on a "
                    "trusted network)")
        if ev["value"] == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            return ("the broker does not use CurveZMQ keys (connect without curve_cert)" if curve
                    else "the broker requires CurveZMQ keys (curve_cert and broker_cert)")
        return None

    def _handshake_reply(self):
        """A message during the handshake: None (WELCOME), a NoBroker, or False (go on)."""
        try:
            cmd, body = w.decode(self.sock.recv_multipart())
        except w.WireError:
            return False
        if cmd == w.WELCOME:
            self.hb = w.heartbeat_ms(body) / 1000
            self.last_heard = time.monotonic()
            return None
        if cmd == w.ERROR and body.get("code") == w.ERR_WRONG_PORT:
            return NoBroker(f"{self.c.broker}: {w.text(body.get('reason', ''))}")
        return False

    def _send(self, cmd, body=None):
        # Blocking only at the 100,000-message HWM, which the broker (it never blocks) drains.
        self.sock.send_multipart(w.encode(cmd, body))
        self.last_sent = time.monotonic()

    # ---- the loop ----

    def run(self):
        try:
            err = self._handshake()
            if err is not None:
                self.ready.set_exception(err)
                return
            self.ready.set_result(None)
            while self._turn():
                pass
            if self.sock is not None:
                self._send(w.BYE)
            self._fail_all(TaskmqError("the client is closed"))
        except BaseException as e:  # a bug: say so on every future rather than hang them
            log.exception("taskmq: the client's I/O thread failed")
            self._fail_all(TaskmqError(f"the client's I/O thread failed: {e!r}"))
            if not self.ready.done():
                self.ready.set_exception(e)
        finally:
            if self.sock is not None:
                self.sock.close()
            self.c._exited()

    def _turn(self):
        """One poll and what it brought; False when the thread must stop."""
        events = dict(self.poller.poll(self._timeout_ms()))
        silent = time.monotonic() - self.last_sent
        if self._awaiting() and silent > _LIVENESS * self.hb:
            # this thread was held up (a done-callback that blocked) past what the broker
            # waits for a silent client: it has dropped us and our jobs; say so, not hang
            self._lost(f"the client sent nothing for {silent:.1f} s (a done-callback blocked "
                       "its I/O thread?), so the broker dropped it")
        if self.c._wake_r in events:
            try:
                os.read(self.c._wake_r, 4096)
            except BlockingIOError:
                pass
            self.c._woken = False   # before draining: a put after this wakes us again
        if not self._take_inbox():
            return False
        if self.sock in events:
            self._receive()
        now = time.monotonic()
        if self.held and now >= self.hold_until:
            self._release(len(self.held))
        self._flush()
        if now - self.last_sent >= self.hb:
            self._send(w.HEARTBEAT)
        if self._awaiting() and now - self.last_heard > _LIVENESS * self.hb:
            self._receive()   # a long turn (a huge inbox) must not pass for silence
        if self._awaiting() and now - self.last_heard > _LIVENESS * self.hb:
            self._lost(f"lost contact with the broker at {self.c.broker} "
                       f"(silent for {_LIVENESS * self.hb * 1000:.0f} ms)")
        return not (self.draining and not self._awaiting())

    def _awaiting(self):
        return bool(self.inflight or self.status_waiters)

    def _timeout_ms(self):
        now = time.monotonic()
        t = self.last_sent + self.hb
        if self._awaiting():
            t = min(t, self.last_heard + _LIVENESS * self.hb + 0.001)
        if self.held:
            t = min(t, self.hold_until)
        return max(0, int((t - now) * 1000) + 1)

    def _take_inbox(self):
        inbox = self.c._inbox
        while True:
            try:
                item = inbox.popleft()
            except IndexError:
                return True
            if isinstance(item, _Job):
                if not item.cancelled():
                    self.inflight[item.cid] = item
                    self._enqueue(item)
            elif item == _CLOSE:
                return False
            elif item == _DRAIN:
                self.draining = True
            elif item[0] == "withdraw":
                self._withdraw(*item[1:])
            else:  # ("status", future)
                self._flush()
                self.status_waiters.append(item[1])
                self._send(w.STATUS)

    def _withdraw(self, cid, sink, every):
        """WITHDRAW for cid, a sink's jobs, or every job in flight. A job held after "queue
        full" is not at the broker: it just ends. The others stay in flight until the broker's
        CANCELLED (or their own outcome, already on its way) arrives; their futures are
        cancelled already, a map's outcomes have nobody to take them."""
        if cid is not None:
            jobs = [self.inflight[cid]] if cid in self.inflight else []
        else:
            jobs = [j for j in self.inflight.values() if every or j.sink is sink]
        if not jobs:
            return
        for job in jobs:
            if job.future is not None and not job.future._cancel_here():
                continue    # it has its outcome already
            if self.held.pop(job.cid, None) is not None:
                self.inflight.pop(job.cid, None)
                self.withdrawn.discard(job.cid)
                job.cancel()
            elif job.cid not in self.withdrawn:
                self.withdrawn.add(job.cid)
                self.withdraw_batch.append(job.cid)   # sent by _flush, after the SUBMITs

    def _enqueue(self, job):
        if self.batch and self.batch_bytes + len(job.arg) > _BATCH_BYTES:
            self._flush()
        self.batch.append(w.submit_item(job.cid, job.fn, job.arg, job.timeout_ms, job.retries))
        self.batch_cids.append(job.cid)
        self.batch_bytes += len(job.arg)
        if len(self.batch) >= _BATCH_JOBS:
            self._flush()

    def _flush(self):
        if self.batch:
            self._send(w.SUBMIT, {"jobs": self.batch, "oom": True})
            self.unacked.append(self.batch_cids)
            self.batch, self.batch_cids, self.batch_bytes = [], [], 0
        if self.withdraw_batch:   # after the SUBMITs carrying its jobs (5.6)
            self._send(w.WITHDRAW, {"jobs": self.withdraw_batch})
            self.withdraw_batch = []

    def _release(self, n):
        """Resubmits up to n jobs held after "queue full"."""
        out = list(itertools.islice(self.held.values(), n))
        for job in out:
            del self.held[job.cid]
            if job.cid in self.withdrawn:   # refused again after its WITHDRAW went out
                self.withdrawn.discard(job.cid)
                self.inflight.pop(job.cid, None)
                job.cancel()
            elif job.cid in self.inflight:
                self._enqueue(job)

    # ---- what the broker says ----

    def _receive(self):
        for _ in range(1000):  # then let the inbox and timers have a turn
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.last_heard = time.monotonic()
            try:
                cmd, body = w.decode(frames)
            except w.WireError as e:
                log.warning("taskmq: dropped a malformed message from the broker: %s", e)
                continue
            handler = self._HANDLERS.get(cmd)
            if handler is not None:
                handler(self, body)
                if self.sock is None or cmd in (w.BYE, w.ERROR):
                    return  # the socket may be a fresh one now

    def _on_ack(self, body):
        if not self.unacked:
            log.warning("taskmq: an ACK for no SUBMIT; ignored")
            return
        cids = self.unacked.popleft()
        if "error" in body:
            why = w.text(body["error"])
            for cid in cids:
                self._fail(cid, JobError("rejected", why))
            return
        full = 0
        for cid, code, reason in w.rejections(body):
            job = self.inflight.get(cid)
            if job is None:
                continue
            if code == w.REJ_QUEUE_FULL:
                self.held[cid] = job
                full += 1
            else:
                status = "unknown_function" if code == w.REJ_UNKNOWN_FUNCTION else "rejected"
                self._fail(cid, JobError(status, reason))
        if full:
            self.hold_until = time.monotonic() + self.hold_delay
            self.hold_delay = min(self.hold_delay * 2, _HOLD_MAX)
            log.info("taskmq: queue full: holding %d jobs", len(self.held))
        else:
            self.hold_delay = _HOLD_MIN
        for fn in body.get("unserved") or ():
            if fn not in self.unserved_told:
                self.unserved_told.add(fn)
                log.warning("taskmq: jobs for %r wait at the broker: no worker is connected yet",
                            fn)

    def _on_results(self, body):
        items, dropped = w.results(body)
        if dropped:
            log.warning("taskmq: dropped %d malformed result items", dropped)
        for cid, status, data, worker, ms, attempts in items:
            job = self.inflight.pop(cid, None)
            if job is None:
                continue  # a second result for a cid already answered
            if self.withdrawn:
                self.withdrawn.discard(cid)
            if status == w.STATUS_CANCELLED:
                job.cancel()   # a future is cancelled already; a map's sink hears of it
                continue
            if status == w.STATUS_OK:
                try:
                    value = w.unpack_value(data)
                except Exception as e:
                    job.reject(JobError("error", f"result does not decode: {e}"))
                    continue
                job.resolve(value)
                continue
            text = w.text(data)
            name = w.STATUS_NAMES.get(status, "error")
            if name == "rejected" and text.startswith(w.UNKNOWN_FUNCTION_PREFIX):
                name = "unknown_function"
            job.reject(JobError(name, text, w.text(worker), ms, attempts))
        if self.held:  # each result frees room at the broker: resubmit as many held jobs
            self._release(len(items))

    def _on_welcome(self, body):  # the answer to the HELLO of a fresh socket
        self.hb = w.heartbeat_ms(body) / 1000

    def _on_status_reply(self, body):
        if self.status_waiters:
            _settle(self.status_waiters.popleft(), body)

    def _on_bye(self, body):
        self._lost(f"the broker at {self.c.broker} shut down")

    def _on_error(self, body):
        code, reason = body.get("code"), w.text(body.get("reason", ""))
        if code == 4:  # unknown peer: the broker restarted since it knew us
            self._lost(f"lost contact with the broker at {self.c.broker} (it restarted)")
        elif code == w.ERR_COMMAND and self.withdrawn:
            if not self.told_old:
                self.told_old = True
                log.warning("taskmq: the broker does not know WITHDRAW (taskmq 0.3 or older): "
                            "cancelled jobs run to their end there; their results are dropped")
        else:
            log.warning("taskmq: the broker says error %s: %s", code, reason)

    _HANDLERS = {w.WELCOME: _on_welcome, w.ACK: _on_ack, w.RESULTS: _on_results,
                 w.STATUS_REPLY: _on_status_reply,
                 w.BYE: _on_bye, w.ERROR: _on_error}

    # ---- failing ----

    def _fail(self, cid, exc):
        job = self.inflight.pop(cid, None)
        self.withdrawn.discard(cid)
        if job is not None:
            job.reject(exc)

    def _fail_all(self, exc):
        jobs, self.inflight = self.inflight, {}
        for job in jobs.values():
            job.reject(exc)
        while self.status_waiters:
            _settle(self.status_waiters.popleft(), exc=exc)
        self.unacked.clear()
        self.withdrawn.clear()
        self.withdraw_batch = []
        self.held, self.batch, self.batch_cids, self.batch_bytes = {}, [], [], 0

    def _lost(self, why):
        """Fails everything awaited with BrokerLost and starts over on a fresh socket."""
        log.warning("taskmq: %s; failing %d jobs", why, len(self.inflight))
        self._fail_all(BrokerLost(why))
        self._connect()
