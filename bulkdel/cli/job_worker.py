"""``bulkdel job worker``: send a job's batches, as one of any number of workers."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from ..imagekit import ImageKitClient
from ..models import Abort, Settings
from ..telemetry.observer import RunObserver
from .budget import open_redis
from .exits import EXIT_FATAL, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK
from .metrics import serving_metrics
from .preflight import check_api
from .settings import read_private_key, settings_from_args
from .signals import stop_on_signals


async def run_worker(args: argparse.Namespace) -> int:
    """``bulkdel job worker``: exit 0 when the job is finished, 1 when it was cancelled or
    the worker stopped, 3 for a fatal answer (a job gone from Redis raises)."""
    from ..jobs.worker import worker_name

    settings = settings_from_args(args, os.environ)
    key = read_private_key(args.private_key_file, os.environ)
    name = args.name or worker_name()
    # one series per worker: a fleet's /metrics endpoints are told apart by these labels
    with serving_metrics(args, {"worker": name, "bulkdel_job": args.job}) as observers:
        # A wrong key or base URL stops the worker before it takes a batch: taken batches
        # would wait out the visibility timeout, and end "outcome unknown" if the job stopped.
        await check_api(settings, key, skip=args.no_preflight)
        return await _run_worker(args, settings, key, name, observers)


async def _run_worker(
    args: argparse.Namespace,
    settings: Settings,
    key: str,
    name: str,
    observers: Sequence[RunObserver],
) -> int:
    from ..budget.redis import RedisBudget
    from ..jobs import PipelineProcessor, Worker

    redis = open_redis(args)
    client = ImageKitClient.for_settings(key, settings)
    # Every worker of the account (and every `delete --redis`) takes its turns from one
    # budget in Redis: one pace and one gate for the account, on any host.
    budget = RedisBudget(redis, base_url=settings.base_url, private_key=key, rate=args.account_rate)
    try:
        async with PipelineProcessor(
            client,
            settings,
            budget=budget,
            observers=observers,
            attributes={"bulkdel.worker": name, "bulkdel.job": args.job},
        ) as processor:
            worker = Worker(
                redis,
                args.job,
                processor,
                name=name,
                capacity=3 * settings.concurrency + 2,
                visibility_timeout=args.visibility_timeout,
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
    finally:
        await client.close()
        await budget.aclose()
        await redis.aclose()
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
