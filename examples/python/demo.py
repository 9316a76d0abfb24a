"""examples/python/demo.py — the asyncio as_completed pattern, on one machine and on taskmq.

CPU-bound jobs of very different sizes go to ProcessPoolExecutor through run_in_executor and
come back with asyncio.as_completed, in completion order; then the same with one line
changed: taskmq.Executor(broker) instead of ProcessPoolExecutor(), the jobs running on the
cluster's Python workers (taskmq-worker --python examples/python/accumulate.py).

    PYTHONPATH=python:examples/python TASKMQ_BROKER=tcp://HOST:5555 /usr/bin/python3 \\
        examples/python/demo.py          (scripts/demo.sh python starts a cluster for it)
"""
import asyncio
import os
import time
from concurrent.futures import ProcessPoolExecutor

import taskmq
from accumulate import accumulate

SIZES = (30_000_000, 100_000, 10_000_000, 1_000, 5_000_000, 20_000_000)


async def run(executor, label):
    print(f"{label}:")
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    futs = [loop.run_in_executor(executor, accumulate, n) for n in SIZES]  # all at once, in order

    async def tagged(n, fut):
        return n, await fut

    order = []
    for fut in asyncio.as_completed([tagged(n, f) for n, f in zip(SIZES, futs)]):
        n, result = await fut
        order.append(n)
        print(f"  {time.perf_counter() - t0:6.2f}s  accumulate({n:>10,}) = {result}")
    wall = time.perf_counter() - t0
    print(f"  wall time {wall:.2f} s\n")
    return wall, order


async def main():
    procs = int(os.environ.get("DEMO_PROCS", os.cpu_count() or 2))
    with ProcessPoolExecutor(procs) as pool:
        local, local_order = await run(
            pool, f"ProcessPoolExecutor({procs}) + run_in_executor + as_completed")
    ex = taskmq.Executor()   # $TASKMQ_BROKER, else tcp://127.0.0.1:5555
    try:
        cluster, cluster_order = await run(ex, "taskmq.Executor(): the same, one line changed")
    finally:
        ex.shutdown()
    print(f"ProcessPoolExecutor {local:.2f} s, taskmq {cluster:.2f} s on this machine's workers;")
    if local_order == cluster_order:
        print("the same completion order.")
    else:   # jobs of nearly the same length may swap: each list is its own completion order
        print("both in completion order (jobs of similar length finished in another order).")
    print("Add worker hosts and taskmq's time shrinks; the pool's cannot.")


if __name__ == "__main__":
    asyncio.run(main())
