"""bench/peer_pool.py — the one-machine baseline taskmq extends: ProcessPoolExecutor with
asyncio-style completion order (concurrent.futures.as_completed), 2 processes; and
multiprocessing.Pool(2).imap_unordered, the stdlib's batched way of mapping a function.

    /usr/bin/python3 bench/peer_pool.py noop N        N no-op jobs at once; prints jobs/s
    /usr/bin/python3 bench/peer_pool.py asyncio N     the same through loop.run_in_executor and
                                                      asyncio.as_completed; prints jobs/s
    /usr/bin/python3 bench/peer_pool.py latency N     N no-op jobs one at a time; prints p50 us
    /usr/bin/python3 bench/peer_pool.py cpu N SIZE [PROCS]
                                                      N pyfuncs.accumulate(SIZE) jobs on PROCS
                                                      processes (default 2); prints wall s
    /usr/bin/python3 bench/peer_pool.py imap N CHUNK  multiprocessing.Pool(2).imap_unordered of a
                                                      no-op over N items, chunksize CHUNK; every
                                                      result checked to come exactly once (in
                                                      the timed loop); prints jobs/s, same fields
                                                      as noop (jobs/s is awk's $6)
"""
import asyncio
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyfuncs import accumulate  # noqa: E402  (the job taskmq's Python workers run too)


def noop(x):
    return x


def imap(n, chunk):
    """Pool(2).imap_unordered(noop, range(n), chunksize=chunk): jobs/s, each result once."""
    if n < 1 or chunk < 1:
        sys.exit("usage: peer_pool.py imap N CHUNK (both at least 1)")
    def expired(signum, frame):
        raise TimeoutError
    signal.signal(signal.SIGALRM, expired)
    limit = 120 + n // 10000  # s; the whole run, a result's wait included (SIGALRM interrupts it)
    signal.alarm(limit)
    try:
        with multiprocessing.Pool(2) as pool:
            pool.map(noop, range(100))  # start the processes before timing
            seen = bytearray(n)
            t0 = time.perf_counter()
            for r in pool.imap_unordered(noop, range(n), chunksize=chunk):
                seen[r] += 1  # IndexError/TypeError: not an input; ValueError: 256 copies
            dt = time.perf_counter() - t0
    except TimeoutError:
        sys.exit(f"imap: not done within {limit} s")
    except (IndexError, TypeError, ValueError) as e:
        sys.exit(f"imap: a wrong result ({e})")
    finally:
        signal.alarm(0)
    if seen.count(1) != n:
        sys.exit(f"imap: {seen.count(1)} of {n} results came exactly once")
    print(f"imap {n} jobs {dt:.3f} s {n / dt:.0f} jobs/s chunksize {chunk}")


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "imap":
        imap(n, int(sys.argv[3]))
        return
    procs = int(sys.argv[4]) if mode == "cpu" and len(sys.argv) > 4 else 2
    with ProcessPoolExecutor(max_workers=procs) as pool:
        list(pool.map(noop, range(100)))  # start the processes before timing
        if mode == "noop":
            t0 = time.perf_counter()
            for f in as_completed([pool.submit(noop, i) for i in range(n)]):
                f.result()
            dt = time.perf_counter() - t0
            print(f"noop {n} jobs {dt:.3f} s {n / dt:.0f} jobs/s")
        elif mode == "asyncio":

            async def run():
                loop = asyncio.get_running_loop()
                for f in asyncio.as_completed([loop.run_in_executor(pool, noop, i)
                                               for i in range(n)]):
                    await f

            t0 = time.perf_counter()
            asyncio.run(run())
            dt = time.perf_counter() - t0
            print(f"asyncio {n} jobs {dt:.3f} s {n / dt:.0f} jobs/s")
        elif mode == "latency":
            rts = []
            for i in range(n):
                t0 = time.perf_counter()
                pool.submit(noop, i).result()
                rts.append((time.perf_counter() - t0) * 1e6)
            rts.sort()
            print(f"latency {n} round trips p50 {rts[n // 2]:.0f} us")
        elif mode == "cpu":
            size = int(sys.argv[3])
            t0 = time.perf_counter()
            for f in as_completed([pool.submit(accumulate, size) for _ in range(n)]):
                assert f.result() == size * (size - 1) // 2
            print(f"cpu {n} jobs wall {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
