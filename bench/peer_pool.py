"""bench/peer_pool.py — the one-machine baseline taskmq extends: ProcessPoolExecutor with
asyncio-style completion order (concurrent.futures.as_completed), 2 processes.

    /usr/bin/python3 bench/peer_pool.py noop N        N no-op jobs at once; prints jobs/s
    /usr/bin/python3 bench/peer_pool.py asyncio N     the same through loop.run_in_executor and
                                                      asyncio.as_completed; prints jobs/s
    /usr/bin/python3 bench/peer_pool.py latency N     N no-op jobs one at a time; prints p50 us
    /usr/bin/python3 bench/peer_pool.py cpu N SIZE [PROCS]
                                                      N pyfuncs.accumulate(SIZE) jobs on PROCS
                                                      processes (default 2); prints wall s
"""
import asyncio
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyfuncs import accumulate  # noqa: E402  (the job taskmq's Python workers run too)


def noop(x):
    return x


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
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
