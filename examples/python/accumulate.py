"""examples/python/accumulate.py — the job module of the Python demo: a CPU-bound function,
served by `taskmq-worker --python examples/python/accumulate.py` as accumulate:accumulate."""


def accumulate(n):
    """0 + 1 + ... + (n - 1), by a Python loop (CPU-bound on purpose)."""
    total = 0
    for i in range(n):
        total += i
    return total
