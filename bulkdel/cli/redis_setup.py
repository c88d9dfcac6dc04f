"""Redis on the command line: ``--redis URL`` (or ``$BULKDEL_REDIS_URL``) and ``--redis-wait``
(the options are defined in ``args``), the start-up check, and the account's budget in Redis.

Every command that uses Redis checks it before anything is read or sent: unreachable, not
Redis, or a refused password exits 3 at once with one line naming the URL (never its
password). During a run an outage is waited out for ``--redis-wait`` seconds. The ``redis``
package is imported only when a URL is given.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..core.redis_connection import DEFAULT_WAIT, REDIS_ENV, RedisWait, check_url, connect, ping
from ..core.redis_connection import describe as describe_error
from ..errors import RedisError, UsageError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..budget import AccountBudget
    from ..models import Settings
    from .options import RedisOptions

__all__ = ["REDIS_ENV", "account_budget", "check_redis", "redis_session", "resolve_redis_url"]


def resolve_redis_url(option: str | None, environ: Mapping[str, str]) -> str | None:
    """``--redis`` (checked by its parser), else ``$BULKDEL_REDIS_URL``, else None.

    Raises:
        UsageError: ``$BULKDEL_REDIS_URL`` is not a Redis URL.
    """
    if option:
        return option
    url = environ.get(REDIS_ENV) or None
    if url is not None:
        try:
            check_url(url)
        except UsageError as error:
            raise UsageError(f"${REDIS_ENV}: {error}") from None
    return url


@asynccontextmanager
async def redis_session(
    url: str, wait: float = DEFAULT_WAIT
) -> AsyncIterator[tuple[Redis, RedisWait]]:
    """A client for ``url`` that answered a PING, and the wait policy its users share.

    A redis-py error that escapes the body (a command that is not waited on, like
    ``job status``'s reads) leaves as a ``RedisError`` naming the redacted URL: one line.

    Raises:
        UsageError: a bad URL, or the ``redis`` package is missing (exit 2).
        RedisError: unreachable, not Redis, a refused password (exit 3).
    """
    client = connect(url)
    policy = RedisWait(url, total=wait)
    try:
        await ping(client, url)
        yield client, policy
    except Exception as error:
        from redis.exceptions import RedisError as RedisPyError

        if isinstance(error, RedisPyError):
            raise RedisError(policy.url, describe_error(error, url)) from None
        raise
    finally:
        await client.aclose()


async def check_redis(url: str | None, private_key: str | None, wait: float) -> None:
    """The start-up check of ``delete --redis``: Redis answers (no key: no budget, no check).

    Raises:
        RedisError: unreachable, not Redis, a refused password (exit 3).
    """
    if url is None or private_key is None:
        return
    async with redis_session(url, wait):
        pass


@asynccontextmanager
async def account_budget(
    redis_url: str | None,
    settings: Settings,
    private_key: str | None,
    *,
    wait: float = DEFAULT_WAIT,
) -> AsyncIterator[AccountBudget | None]:
    """The Redis budget for the account, closed at the end; None without a URL or a key
    (then the job takes the budget of this process).

    Args:
        wait: seconds an outage is waited out (``--redis-wait``) before the job ends, exit 3.

    Raises:
        UsageError: the ``redis`` package is not installed.
        RedisError: Redis does not answer at start, or refuses the password.
    """
    if redis_url is None or private_key is None:
        yield None
        return
    from ..budget.redis import RedisBudget

    async with redis_session(redis_url, wait) as (client, policy):
        yield RedisBudget(client, base_url=settings.base_url, private_key=private_key, wait=policy)


def job_redis(options: RedisOptions) -> tuple[str, float]:
    """A job command's Redis URL and wait: ``--redis``, else ``$BULKDEL_REDIS_URL``.

    Raises:
        UsageError: neither is given, or the variable is not a Redis URL.
    """
    url = resolve_redis_url(options.url, os.environ)
    if not url:
        raise UsageError(f"give --redis redis://host:6379/0 or set ${REDIS_ENV}")
    return url, options.wait
