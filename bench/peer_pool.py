"""bench/peer_pool.py — the one-machine baseline taskmq extends: ProcessPoolExecutor with
asyncio-style completion order (concurrent.futures.as_completed), 2 processes.

    /usr/bin/python3 bench/peer_pool.py noop N        N no-op jobs at once; prints jobs/s
    /usr/bin/python3 bench/peer_pool.py asyncio N     the same through loop.run_in_executor and
                                                      asyncio.as_completed; prints jobs/s
    /usr/bin/python3 bench/peer_pool.py latency N     N no-op jobs one at a time; prints p50 us
    /usr/bin/python3 bench/peer_pool.py cpu N SIZE    N sum(range(SIZE)) jobs; prints wall s
"""
import asyncio
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed


def noop(x):
    return x


def cpu(n):
    s = 0
    for i in range(n):
        s += i
    return s


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    with ProcessPoolExecutor(max_workers=2) as pool:
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
            for f in as_completed([pool.submit(cpu, size) for _ in range(n)]):
                f.result()
            print(f"cpu {n} jobs wall {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
