"""taskmq for Python: submit jobs to a taskmq cluster and take each result as it finishes.

``Client`` speaks TMQ/1 (docs/PROTOCOL.md) to a broker's client port over pyzmq + msgpack;
``Executor`` is a concurrent.futures.Executor over one, for ``asyncio`` and
``concurrent.futures.as_completed``. See python/README.md.
"""

from .client import BrokerLost, Client, JobError, NoBroker, TaskmqError
from .pool import Executor

__all__ = ["Client", "Executor", "TaskmqError", "NoBroker", "BrokerLost", "JobError"]
