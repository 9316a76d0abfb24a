"""bench/peer_celery.py — Celery + Redis as a peer of taskmq: its own redis-server on loopback
(a free port, no persistence) as broker and result backend, one Celery worker
(`celery -A celery_app worker --concurrency 2 --pool prefork`, bench/celery_app.py), the same
no-op job as peer_pool.py.

    /usr/bin/python3 bench/peer_celery.py noop N      N no-op tasks sent at once, one apply_async
                                                      each (one message per task), collected with
                                                      a ResultSet's .get() (Redis backend: native
                                                      join over pub/sub); every result checked to
                                                      come exactly once; prints jobs/s (awk's $6,
                                                      as peer_pool.py noop)
    /usr/bin/python3 bench/peer_celery.py latency N   N no-op tasks one at a time
                                                      (delay(i).get()) after a warm-up; prints
                                                      p50 (awk's $6), p99 ($9), max ($12) in us

Environment: TMQ_CELERY_PREFETCH (worker_prefetch_multiplier, default 4, Celery's own default);
TMQ_CELERY_SEND=group sends the N as a group (group(...).apply_async(), the same messages) and
joins its GroupResult: 10-25% slower here, 5 of 5 times in one process taking turns.

stdout is the one result line; the worker's and Redis's output go to files in a temporary
directory (shown on stderr when they fail). Bounded: every wait has a deadline. Redis and the
worker (in its own process group, with its pool processes) are stopped in finally, also on
Ctrl-C and SIGTERM: by their PIDs / the worker's process group id, never by name.
"""
import gc
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REDIS = shutil.which("redis-server", path="/usr/bin:/usr/local/bin:" + os.environ.get("PATH", ""))
START_S = 60  # the longest wait for Redis / the worker to answer
RESULT_S = 30  # the longest wait for one result (noop: RESULT_S + N/10 s for all)


def fail(msg, logs=()):
    for path in logs:
        try:
            with open(path, errors="replace") as f:
                tail = f.read()[-4000:]
        except OSError:
            continue
        print(f"--- {os.path.basename(path)} (last 4000 characters)\n{tail}", file=sys.stderr)
    sys.exit(f"peer_celery: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(tmp):
    """redis-server on 127.0.0.1 at a free port, in its own session; (Popen, port)."""
    import redis
    log = os.path.join(tmp, "redis.log")
    for _ in range(3):  # another process may take the free port before Redis binds it
        port = free_port()
        with open(log, "ab") as out:
            p = subprocess.Popen(
                [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", tmp],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + START_S
        while p.poll() is None and time.monotonic() < deadline:
            try:
                if r.ping():
                    r.close()
                    return p, port
            except redis.RedisError:
                time.sleep(0.05)
        if p.poll() is None:
            return p, None  # running, never answered: stopped by the caller
        p.wait()
    return None, None


def start_worker(tmp, url):
    env = dict(os.environ, TMQ_CELERY_REDIS=url,
               PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(os.path.join(tmp, "worker.log"), "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_app", "worker",
             "--concurrency", "2", "--pool", "prefork", "-Q", "tmqbench",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning",
             "-n", f"tmqbench{os.getpid()}@%h"],
            cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: pgid == pid, the pool inside


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop(p, grace):
    """SIGTERM to p's process group (p started with start_new_session), SIGKILL after grace s;
    waits, bounded, until the group is gone. Returns whether it is."""
    if p is None:
        return True
    pgid = p.pid
    for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            p.poll()  # reaps the leader, so that it does not keep the group alive as a zombie
            if p.returncode is not None and not group_alive(pgid):
                return True
            time.sleep(0.05)
    return False


def wait_worker(noop, worker, logs):
    r = noop.delay(-1)  # queued until the worker consumes it
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            fail(f"the celery worker exited ({worker.returncode}) before answering", logs)
        try:
            got = r.get(timeout=0.5)
        except Exception as e:  # celery.exceptions.TimeoutError: not yet
            if type(e).__name__ != "TimeoutError":
                fail(f"the first task failed: {e!r}", logs)
            continue
        if got != -1:
            fail(f"the first task answered {got!r}", logs)
        return
    fail(f"the celery worker did not answer within {START_S} s", logs)


def run(mode, n, logs):
    from celery import group
    from celery.exceptions import TimeoutError as CeleryTimeout
    from celery.result import ResultSet
    import celery_app
    noop = celery_app.noop
    try:
        if mode == "noop":
            t0 = time.perf_counter()
            if os.environ.get("TMQ_CELERY_SEND") == "group":
                res = group(noop.s(i) for i in range(n)).apply_async()
            else:
                res = ResultSet([noop.apply_async((i,)) for i in range(n)])
            got = res.get(timeout=RESULT_S + n / 10)  # bounded: the whole collection
            dt = time.perf_counter() - t0
            if got != list(range(n)):  # in order of sending: each result exactly once
                wrong = sum(1 for i, r in enumerate(got) if r != i) + abs(len(got) - n)
                fail(f"{wrong} of {n} results wrong or missing")
            print(f"noop {n} jobs {dt:.3f} s {n / dt:.0f} jobs/s")
        else:
            for i in range(20):
                if noop.delay(i).get(timeout=RESULT_S) != i:
                    fail("a wrong answer in the warm-up")
            rts = []
            for i in range(n):
                t0 = time.perf_counter()
                r = noop.delay(i).get(timeout=RESULT_S)
                rts.append((time.perf_counter() - t0) * 1e6)
                if r != i:
                    fail(f"task {i} answered {r!r}")
            rts.sort()
            print(f"latency {n} round trips p50 {rts[n // 2]:.0f} us "
                  f"p99 {rts[min(n - 1, 99 * n // 100)]:.0f} us max {rts[-1]:.0f} us")
    except CeleryTimeout as e:
        fail(f"timed out: {e}", logs)


class Stopped(Exception):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""


def on_sigterm(signum, frame):
    raise Stopped


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("noop", "latency") or int(sys.argv[2]) < 1:
        sys.exit("usage: peer_celery.py noop|latency N")
    mode, n = sys.argv[1], int(sys.argv[2])
    missing = [m for m in ("celery", "redis") if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"peer_celery: Python package(s) not installed: {', '.join(missing)}")
    if not REDIS:
        sys.exit("peer_celery: redis-server not found")
    signal.signal(signal.SIGTERM, on_sigterm)  # so that finally runs
    tmp = tempfile.mkdtemp(prefix="peer_celery.")
    logs = [os.path.join(tmp, "worker.log"), os.path.join(tmp, "redis.log")]
    redis_p = worker = None
    end = None  # (exit status, message): a failure or an interrupt, said once all is stopped
    try:
        redis_p, port = start_redis(tmp)
        if port is None:
            fail("redis-server did not start or answer PING", logs)
        url = f"redis://127.0.0.1:{port}/0"
        os.environ["TMQ_CELERY_REDIS"] = url  # read by celery_app at import
        sys.path.insert(0, HERE)
        worker = start_worker(tmp, url)
        import celery_app
        # this client only: give up at once on a Redis gone away (the default retries for ~20 s,
        # e.g. in a result's __del__ at exit); set before the backend is first made
        celery_app.app.conf.result_backend_transport_options = {
            "retry_policy": {"max_retries": 1}}
        wait_worker(celery_app.noop, worker, logs)
        run(mode, n, logs)
    except (KeyboardInterrupt, Stopped) as e:  # handled here: its frames (results) freed below
        end = (130 if isinstance(e, KeyboardInterrupt) else 143,
               "peer_celery: interrupted; stopped what it started")
    except SystemExit as e:  # fail(): the message after the cleanup
        end = (e.code, None) if isinstance(e.code, int) else (1, str(e.code))
    except Exception as e:  # e.g. a task that raised, Redis gone away
        end = (1, f"peer_celery: {type(e).__name__}: {e}")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # the cleanup (bounded) is not interrupted
            signal.signal(sig, signal.SIG_IGN)
        gc.collect()  # results in reference cycles unsubscribe now, while Redis still answers
        # stop the worker first (it would reconnect to a Redis gone away), then Redis
        ok = stop(worker, 15)
        ok = stop(redis_p, 10) and ok
        if not ok:
            print(f"peer_celery: processes of groups {[p.pid for p in (worker, redis_p) if p]}"
                  " did not end", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        if not ok and end is None:
            end = (1, None)
    if end:
        if end[1]:
            print(end[1], file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # everything is stopped; skip the interpreter's teardown, where a result still waited
        # for would try to unsubscribe from the Redis that is gone (noise, retries)
        os._exit(end[0])


if __name__ == "__main__":
    main()
