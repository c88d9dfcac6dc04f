"""``bulkdel job worker``: send a job's batches, as one of any number of workers."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

from ..errors import Stopped
from ..imagekit import ImageKitClient
from ..models import Abort
from .budget import job_redis, redis_session
from .exits import EXIT_FATAL, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK
from .preflight import check_api
from .settings import read_private_key, settings_from_args
from .signals import stop_on_signals

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..models import Settings
    from ..redis_connection import RedisWait


async def run_worker(args: argparse.Namespace) -> int:
    """``bulkdel job worker``: exit 0 when the job is finished, 1 when it was cancelled or
    the worker stopped, 3 for a fatal answer (a job gone from Redis, or a Redis that cannot
    be used, raises)."""
    settings = settings_from_args(args, os.environ)
    key = read_private_key(args.private_key_file, os.environ)
    url, wait = job_redis(args)
    # A wrong key or base URL stops the worker before it takes a batch: taken batches would
    # wait out the visibility timeout, and end "outcome unknown" if the job stopped.
    await check_api(settings, key, skip=args.no_preflight)
    async with redis_session(url, wait) as (redis, policy):
        client = ImageKitClient.for_settings(key, settings)
        try:
            return await _work(args, settings, key, redis, policy, client)
        finally:
            await client.close()


async def _work(
    args: argparse.Namespace,
    settings: Settings,
    key: str,
    redis: Redis,
    policy: RedisWait,
    client: ImageKitClient,
) -> int:
    from ..budget.redis import RedisBudget
    from ..jobs import PipelineProcessor, Worker

    # Every worker of the account (and every `delete --redis`) takes its turns from one
    # budget in Redis: one pace and one gate for the account, on any host; one outage of
    # the client is one outage for the jobs and the budget (one wait policy).
    budget = RedisBudget(
        redis, base_url=settings.base_url, private_key=key, rate=args.account_rate, wait=policy
    )
    async with PipelineProcessor(client, settings, budget=budget) as processor:
        worker = Worker(
            redis,
            args.job,
            processor,
            name=args.name,
            capacity=3 * settings.concurrency + 2,
            visibility_timeout=args.visibility_timeout,
            wait=policy,
        )

        def stop(reason: Abort) -> None:
            # Requests in flight settle; batches not sent are given back to others.
            worker.stop(str(reason))
            processor.stop(str(reason))

        with stop_on_signals(stop) as interrupts:
            try:
                result = await worker.run()
            except asyncio.CancelledError:
                if not interrupts.forced:
                    raise
                print("bulkdel: stopped at once", file=sys.stderr)
                return EXIT_INTERRUPTED
            except Stopped as stopped:  # a signal while waiting for Redis at the start
                print(f"bulkdel: worker {worker.name}: {stopped}", file=sys.stderr)
                return EXIT_INTERRUPTED if interrupts.abort else EXIT_INCOMPLETE
    return _worker_exit(result)


def _worker_exit(result: Any) -> int:
    print(
        f"bulkdel: worker {result.name}: {result.batches:,} batches settled, "
        f"{result.claimed:,} taken over, {result.late:,} late"
        + (" (job finished)" if result.finished else "")
        + (" (job cancelled)" if result.cancelled else "")
        + (f" (aborted: {result.aborted})" if result.aborted else ""),
        file=sys.stderr,
    )
    if result.aborted is not None:
        return EXIT_FATAL
    return EXIT_OK if result.finished else EXIT_INCOMPLETE
