"""bench/peer_dask.py — Dask (dask.distributed) as a peer of taskmq: a LocalCluster of 2 worker
processes with 1 thread each on loopback (no dashboard), the same no-op job as peer_pool.py.

    /usr/bin/python3 bench/peer_dask.py noop N      client.map of a no-op over N distinct inputs
                                                    (pure=False) + distributed.as_completed, every
                                                    result checked to come exactly once; prints
                                                    jobs/s (awk's $6, as peer_pool.py noop)
    /usr/bin/python3 bench/peer_dask.py noop N inf  the same with the scheduler's queuing off
                                                    (distributed.scheduler.worker-saturation:
                                                    inf; Dask's default here is 1.1, which sends
                                                    a 1-thread worker ~2 tasks at a time: ~3x
                                                    fewer no-op jobs/s on this machine)
    /usr/bin/python3 bench/peer_dask.py latency N   N no-op jobs one at a time (submit().result())
                                                    after a warm-up; prints p50 (awk's $6), p99
                                                    ($9) and max ($12) in us

stdout is the one result line; Dask's logging goes to stderr. Bounded: every result has a
timeout; a watchdog ends the whole run if it takes longer than WATCHDOG_S + N/100 s. The
cluster is closed in finally, then every process this script started is checked, by PID, to be
gone. Ctrl-C, SIGTERM and the watchdog stop those processes by PID (SIGTERM, then SIGKILL after
3 s) and exit at once, without Dask's close (a KeyboardInterrupt that lands in one of Dask's gc
callbacks is swallowed, and a run went on for minutes).
"""
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

WATCHDOG_S = 120
TMP = None  # the workers' local directory, removed at the end
RESULT_S = 30  # the longest wait for one result


def noop(x):
    return x


def descendants():
    """The processes this script started (the nannies, their workers, multiprocessing's
    helpers), by PID."""
    import psutil
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def lingering():
    """descendants() still running, but for multiprocessing's resource tracker (it ends with
    this process)."""
    import psutil
    left = []
    for p in descendants():
        try:
            if "resource_tracker" not in " ".join(p.cmdline()):
                left.append(p)
        except psutil.Error:
            pass
    return left


def stop_descendants():
    """SIGTERM to every process this script started, by PID; SIGKILL to any left after 3 s.
    Again on what appeared meanwhile (a nanny restarts a worker that died), up to 5 rounds.
    Not multiprocessing's resource tracker: it ends by itself with the last of them and this
    process, and complains when stopped first."""
    import psutil
    for _ in range(5):
        procs = lingering()
        if not procs:
            return
        for p in procs:
            try:
                p.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(procs, timeout=3)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=3)


def abandon(msg, status):
    """The end on Ctrl-C, SIGTERM or the watchdog: Dask's own close may be what is stuck, and a
    KeyboardInterrupt raised inside one of its gc callbacks is swallowed, so no exception: stop
    the processes by PID and exit at once (the scheduler is a thread of this process)."""
    print(f"peer_dask: {msg}; stopping its processes", file=sys.stderr, flush=True)
    stop_descendants()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.stdout.flush()
    os._exit(status)


def watchdog(limit):
    t = threading.Timer(limit, abandon, (f"not done within {limit} s", 3))
    t.daemon = True
    t.start()
    return t


def run(mode, n, client):
    from distributed import as_completed
    client.wait_for_workers(2, timeout=60)
    warm = client.map(noop, range(100), pure=False)  # the workers have the function, and answer
    if client.gather(warm) != list(range(100)):
        sys.exit("peer_dask: a wrong answer in the warm-up")
    del warm
    if mode == "noop":
        seen = bytearray(n)
        t0 = time.perf_counter()
        futs = client.map(noop, range(n), pure=False)
        for f in as_completed(futs):  # bounded by the watchdog
            seen[f.result(timeout=RESULT_S)] += 1
        dt = time.perf_counter() - t0
        if seen.count(1) != n:
            sys.exit(f"peer_dask: {seen.count(1)} of {n} results came exactly once")
        print(f"noop {n} jobs {dt:.3f} s {n / dt:.0f} jobs/s")
    elif mode == "latency":
        for i in range(20):
            if client.submit(noop, i, pure=False).result(timeout=RESULT_S) != i:
                sys.exit("peer_dask: a wrong answer in the warm-up")
        rts = []
        for i in range(n):
            t0 = time.perf_counter()
            r = client.submit(noop, i, pure=False).result(timeout=RESULT_S)
            rts.append((time.perf_counter() - t0) * 1e6)
            if r != i:
                sys.exit(f"peer_dask: job {i} answered {r!r}")
        rts.sort()
        print(f"latency {n} round trips p50 {rts[n // 2]:.0f} us "
              f"p99 {rts[min(n - 1, 99 * n // 100)]:.0f} us max {rts[-1]:.0f} us")


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("noop", "latency") \
            or int(sys.argv[2]) < 1:
        sys.exit("usage: peer_dask.py noop|latency N [WORKER_SATURATION]")
    mode, n = sys.argv[1], int(sys.argv[2])
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _: abandon("interrupted", 128 + signum))
    watchdog(WATCHDOG_S + n // 100)
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        sys.exit(f"peer_dask: dask.distributed is not installed ({e})")
    if len(sys.argv) == 4:  # the scheduler's queuing knob (it runs in this process)
        import dask
        dask.config.set({"distributed.scheduler.worker-saturation": float(sys.argv[3])})
    global TMP
    TMP = tempfile.mkdtemp(prefix="peer_dask.")
    cluster = client = None
    status = 0
    try:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               worker_dashboard_address=None, local_directory=TMP)
        client = Client(cluster, timeout=60)
        run(mode, n, client)
    except Exception as e:  # the cluster did not start, a result timed out or failed
        print(f"peer_dask: {type(e).__name__}: {e}", file=sys.stderr)
        status = 1
    finally:
        for c in (client, cluster):
            try:
                if c is not None:
                    c.close(timeout=20)
            except Exception as e:  # closing is best effort; what remains is killed below
                print(f"peer_dask: closing {type(c).__name__}: {e!r}", file=sys.stderr)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and lingering():
            time.sleep(0.1)
        left = lingering()
        if left:
            print(f"peer_dask: stopping what remained: {[p.pid for p in left]}", file=sys.stderr)
            stop_descendants()
        shutil.rmtree(TMP, ignore_errors=True)
    if status:
        sys.exit(status)


if __name__ == "__main__":
    main()
