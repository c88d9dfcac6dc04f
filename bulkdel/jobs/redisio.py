"""Talking to Redis for a job: the one wait policy, and "the job is gone" told apart.

Every call goes through ``bulkdel.core.redis_connection.RedisWait``: an outage is waited out with
capped backoff (bounded by the policy's ``total``, ``--redis-wait``), what waiting cannot fix
raises ``RedisError`` at once; nothing a caller would record is treated as recorded until a
call has returned. A job whose keys are missing (``NOGROUP``, or a script's -1) raises
``JobGoneError`` at once: waiting cannot bring it back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..core.redis_connection import RedisWait
from ..core.stop import StopSignal
from ..errors import JobGoneError
from .redis_keys import JobKeys, gone

T = TypeVar("T")
log = logging.getLogger("bulkdel.jobs")


async def call(
    keys: JobKeys,
    operation: Callable[[], Awaitable[T]],
    stop: StopSignal,
    *,
    wait: RedisWait,
) -> T:
    """``await operation()``, as ``wait`` says while Redis has an outage.

    Args:
        keys: the job's keys (for the error when it is gone).
        operation: one Redis call or script (idempotent or atomic).
        stop: waits end when it is set.
        wait: the client's wait policy (shared by all its users).

    Raises:
        JobGoneError: the job's consumer group or metadata is missing.
        RedisError: Redis cannot be used, or did not answer within ``wait.total``.
        Stopped: ``stop`` was set while waiting for Redis.
    """
    from redis.exceptions import ResponseError

    try:
        return await wait.call(operation, stop)
    except ResponseError as exc:
        if "NOGROUP" in str(exc):
            raise gone(keys) from None
        raise


def check_gone(keys: JobKeys, answer: object) -> None:
    """Raise ``JobGoneError`` for a script's "no job" answer (-1, or a list led by -1)."""
    first = answer[0] if isinstance(answer, list) and answer else answer
    if first == -1:
        raise gone(keys)


__all__ = ["JobGoneError", "call", "check_gone"]
