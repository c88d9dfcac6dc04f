"""A Dramatiq actor that deletes one batch of ImageKit files (docs/task-queue.md).

Run the workers with ``dramatiq bulkdel_tasks`` (this file on the path); enqueue with
``delete_ids.send(batch)``. Configuration from the environment: ``REDIS_URL`` (the broker,
the results and the account's budget), ``IMAGEKIT_PRIVATE_KEY``, ``IMAGEKIT_BASE_URL``.
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

import bulkdel
from bulkdel.budget.redis import RedisBudget

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
BASE_URL = os.environ.get("IMAGEKIT_BASE_URL", "https://api.imagekit.io")

broker = RedisBroker(url=REDIS_URL)
# Async actors run on one event loop per worker process: the budget and its connection
# live as long as the worker, so the pace learned from the answers carries over.
broker.add_middleware(AsyncIO())
broker.add_middleware(CurrentMessage())
broker.add_middleware(Results(backend=RedisBackend(url=REDIS_URL)))
dramatiq.set_broker(broker)

_budget: RedisBudget | None = None


def account_budget() -> RedisBudget:
    """The account's budget, shared through Redis by every worker process and host."""
    global _budget
    if _budget is None:
        _budget = RedisBudget(REDIS_URL, base_url=BASE_URL, private_key=_key())
    return _budget


def _key() -> str:
    return os.environ["IMAGEKIT_PRIVATE_KEY"]


# A bad key or a bad id is not retried: the same task would fail the same way.
@dramatiq.actor(
    store_results=True,
    max_retries=3,
    time_limit=15 * 60 * 1000,
    throws=(bulkdel.FatalAPIError, bulkdel.UsageError),
)
async def delete_ids(file_ids: list[str]) -> dict[str, Any]:
    """Delete one batch (at most 100 ids); the result is ``BatchOutcome.to_dict()``."""
    message = CurrentMessage.get_current_message()
    retried = message is not None and message.options.get("retries", 0) > 0
    outcome = await bulkdel.delete_batch(
        file_ids,
        private_key=_key(),
        base_url=BASE_URL,
        budget=account_budget(),
        # A retried task may have deleted some ids before its worker died: their 404s
        # are then "missing after retry", not plain "missing".
        in_flight_earlier=retried,
    )
    return outcome.to_dict()
