"""bench/celery_app.py — the Celery app of bench/peer_celery.py: one no-op task, broker and
result backend both the Redis that peer_celery.py starts (TMQ_CELERY_REDIS, redis://HOST:PORT/0).

The worker loads it as `-A celery_app` (PYTHONPATH=bench); peer_celery.py imports it too.
"""
import os

from celery import Celery

URL = os.environ.get("TMQ_CELERY_REDIS", "redis://127.0.0.1:6379/0")
QUEUE = "tmqbench"

app = Celery("celery_app", broker=URL, backend=URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # settings from Celery's own "Optimizing" guide for many short tasks
    worker_prefetch_multiplier=int(os.environ.get("TMQ_CELERY_PREFETCH", "4")),
    worker_disable_rate_limits=True,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")
def noop(x):
    return x
