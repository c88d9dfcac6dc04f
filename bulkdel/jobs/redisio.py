"""Talking to Redis through outages: retry while it is unreachable, stop when the job is gone.

A worker or submitter that loses Redis waits and reconnects with capped exponential backoff
(tenacity) for as long as it takes, or until its stop signal is set; nothing it would record
is treated as recorded until a call has returned. A job whose keys are missing (``NOGROUP``,
or a script's -1) raises ``JobGoneError`` at once: waiting cannot bring it back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_never, wait_random_exponential

from ..core.stop import StopSignal
from ..errors import JobGoneError
from .redis_keys import JobKeys, gone

T = TypeVar("T")
log = logging.getLogger("bulkdel.jobs")
#: longest wait between two attempts to reach Redis, seconds
BACKOFF_MAX: Final = 5.0


def _unreachable(exc: BaseException) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return True
    # A server still loading its AOF after a restart answers LOADING: it is coming back.
    return type(exc).__name__ == "BusyLoadingError"


async def call(
    keys: JobKeys,
    operation: Callable[[], Awaitable[T]],
    stop: StopSignal,
    *,
    backoff_base: float = 0.05,
) -> T:
    """``await operation()``, again and again while Redis is unreachable.

    Args:
        keys: the job's keys (for the error when it is gone).
        operation: one Redis call or script (idempotent or atomic).
        stop: waits end when it is set.
        backoff_base: first backoff step, seconds.

    Raises:
        JobGoneError: the job's consumer group or metadata is missing.
        Stopped: ``stop`` was set while waiting for Redis.
    """
    from redis.exceptions import ResponseError

    def before_sleep(state: object) -> None:
        log.warning("Redis unreachable; retrying")

    retrying = AsyncRetrying(
        retry=retry_if_exception(_unreachable),
        wait=wait_random_exponential(multiplier=backoff_base, max=BACKOFF_MAX),
        stop=stop_never,
        sleep=stop.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )

    async def attempt() -> T:
        return await operation()

    try:
        return await retrying(attempt)
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
