"""``--redis URL`` (or ``$BULKDEL_REDIS_URL``): the account's budget kept in Redis, so that
every process using the account, on any host, shares its pace and its gate.

The ``redis`` package is imported only when a URL is given.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from ..budget import AccountBudget
    from ..models import Settings

#: the environment variable ``--redis`` falls back to
REDIS_ENV = "BULKDEL_REDIS_URL"


def add_redis_option(parser: argparse.ArgumentParser) -> None:
    """``--redis URL``, for the commands that take turns from the account's budget."""
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share the account's budget with every process using this Redis, on any host: "
        f"redis://host:6379/0 (default ${REDIS_ENV}; none: this process's own)",
    )


def resolve_redis_url(option: str | None, environ: Mapping[str, str]) -> str | None:
    """``--redis``, else ``$BULKDEL_REDIS_URL``, else None (the budget of this process)."""
    return option or environ.get(REDIS_ENV) or None


@asynccontextmanager
async def account_budget(
    redis_url: str | None, settings: Settings, private_key: str | None
) -> AsyncIterator[AccountBudget | None]:
    """The Redis budget for the account, closed at the end; None without a URL or a key
    (then the job takes the budget of this process).

    Raises:
        UsageError: the ``redis`` package is not installed.
    """
    if redis_url is None or private_key is None:
        yield None
        return
    from ..budget.redis import RedisBudget

    async with RedisBudget(redis_url, base_url=settings.base_url, private_key=private_key) as made:
        yield made


def open_redis(args: argparse.Namespace) -> Any:
    """A Redis client for a job command: ``--redis``, else ``$BULKDEL_REDIS_URL``."""
    from ..jobs import connect

    url = args.redis or os.environ.get(REDIS_ENV)
    if not url:
        raise UsageError(f"give --redis redis://host:6379/0 or set ${REDIS_ENV}")
    return connect(url)
