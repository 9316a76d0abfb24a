"""bench/pyfuncs.py — the Python job functions of the benchmark, served by
`taskmq-worker --python bench/pyfuncs.py` as pyfuncs:NAME and run in-process by the
ProcessPoolExecutor peer (bench/peer_pool.py), so both sides run the same code.
"""


def accumulate(n):
    """0 + 1 + ... + n-1 in a Python loop: CPU-bound (the article's example job)."""
    s = 0
    for i in range(n):
        s += i
    return s
