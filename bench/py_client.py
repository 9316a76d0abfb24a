"""bench/py_client.py — taskmq's Python client on a running cluster (TASKMQ_BROKER), the
same no-op jobs peer_pool.py gives ProcessPoolExecutor(2).

    /usr/bin/python3 bench/py_client.py map N        Client.map over N echo jobs; prints jobs/s
    /usr/bin/python3 bench/py_client.py executor N   Executor + run_in_executor +
                                                     asyncio.as_completed over N; prints jobs/s
    /usr/bin/python3 bench/py_client.py aio N        async for over taskmq.aio.Client.map over
                                                     N echo jobs; prints jobs/s
    /usr/bin/python3 bench/py_client.py pyfn N SIZE  Executor + as_completed over N
                                                     pyfuncs.accumulate(SIZE) jobs, a Python
                                                     function served by a worker started with
                                                     --python bench/pyfuncs.py; prints wall s
Run with PYTHONPATH=python (the package of this tree).
"""
import asyncio
import concurrent.futures
import os
import sys
import time

import taskmq
import taskmq.aio


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    broker = os.environ.get("TASKMQ_BROKER", "tcp://127.0.0.1:5555")
    if mode == "map":
        with taskmq.Client(broker) as c:
            list(c.map("echo", range(100)))  # connected and warm before timing
            t0 = time.perf_counter()
            got = sum(1 for _ in c.map("echo", range(n)))
            dt = time.perf_counter() - t0
    elif mode == "executor":
        ex = taskmq.Executor(broker)

        async def run():
            loop = asyncio.get_running_loop()
            futs = [loop.run_in_executor(ex, "echo", i) for i in range(n)]
            done = 0
            for f in asyncio.as_completed(futs):
                await f
                done += 1
            return done

        list(ex.map("echo", range(100)))
        t0 = time.perf_counter()
        got = asyncio.run(run())
        dt = time.perf_counter() - t0
        ex.shutdown()
    elif mode == "aio":
        async def run():
            nonlocal t0
            async with taskmq.aio.Client(broker) as c:
                async for _ in c.map("echo", range(100)):
                    pass
                t0 = time.perf_counter()
                done = 0
                async for _ in c.map("echo", range(n)):
                    done += 1
                return done

        t0 = 0.0
        got = asyncio.run(run())
        dt = time.perf_counter() - t0
    elif mode == "pyfn":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from pyfuncs import accumulate
        size = int(sys.argv[3])
        with taskmq.Executor(broker) as ex:
            assert ex.submit(accumulate, 10).result(60) == 45   # the executors are up
            t0 = time.perf_counter()
            got = 0
            for f in concurrent.futures.as_completed([ex.submit(accumulate, size)
                                                      for _ in range(n)]):
                assert f.result() == size * (size - 1) // 2
                got += 1
            dt = time.perf_counter() - t0
        print(f"pyfn {n} jobs wall {dt:.3f} s")
        return
    else:
        sys.exit(f"unknown mode {mode!r} (map, executor, aio, pyfn)")
    assert got == n, f"{got} results for {n} jobs"
    print(f"{mode} {n} jobs {dt:.3f} s {n / dt:.0f} jobs/s")


if __name__ == "__main__":
    main()
