"""``bulkdel job worker``: send a job's batches, as one of any number of workers."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import JobGoneError, Stopped, UsageError
from ...imagekit import DeleteClient
from ...models import Abort
from ..exits import EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK
from ..metrics import serving_metrics
from ..options import WorkerOptions
from ..preflight import check_api
from ..redis_setup import job_redis, redis_session
from ..settings import read_private_key, settings_for
from ..signals import stop_on_signals
from .admin import start_retention

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ...core.redis_connection import RedisWait
    from ...jobs import PipelineProcessor, Worker
    from ...jobs.fleet import Fleet
    from ...jobs.worker import WorkerResult
    from ...models import Settings
    from ...telemetry.observer import RunObserver


_Result = TypeVar("_Result")


async def run_worker(options: WorkerOptions) -> int:
    """``bulkdel job worker``: exit 0 when the job is finished, 1 when it was cancelled or
    the worker stopped, 3 for a fatal answer (a job gone from Redis, or a Redis that cannot
    be used, raises). With no ``--job`` it serves every open job: exit 0 when stopped by a
    signal or (``--exit-when-idle``) when no job is open."""
    from ...jobs.worker import worker_name

    settings = settings_for(options.connection, options.requests, os.environ)
    key = read_private_key(options.connection.private_key_file, os.environ)
    url, wait = job_redis(options.redis)
    name = options.name or worker_name()
    labels = {"worker": name, "bulkdel_job": options.job or "*"}
    # one series per worker: a fleet's /metrics endpoints are told apart by these labels
    with serving_metrics(options.metrics, labels) as observers:
        # A wrong key or base URL stops the worker before it takes a batch: taken batches
        # would wait out the visibility timeout, and end "outcome unknown" if the job stopped.
        await check_api(settings, key, skip=options.no_preflight)
        async with redis_session(url, wait) as (redis, policy):
            client = DeleteClient.for_settings(key, settings)
            work = _work if options.job else _serve
            try:
                return await work(options, settings, key, (redis, policy), client, name, observers)
            finally:
                await client.close()


async def _work(
    options: WorkerOptions,
    settings: Settings,
    key: str,
    connection: tuple[Redis, RedisWait],
    client: DeleteClient,
    name: str,
    observers: Sequence[RunObserver],
) -> int:
    from ...jobs import PipelineProcessor, Worker

    redis, policy = connection
    job = options.job
    assert job is not None
    record_dir = options.record_dir or default_record_dir(job, name)
    check_record_dir(record_dir)
    processor = PipelineProcessor(
        client,
        settings,
        budget=_account_budget(options.account_rate, settings, key, connection),
        observers=observers,
        attributes={"bulkdel.worker": name, "bulkdel.job": job},
        record_dir=record_dir,
    )
    async with processor:
        worker = Worker(
            redis,
            job,
            processor,
            name=name,
            capacity=3 * settings.concurrency + 2,
            visibility_timeout=options.visibility_timeout,
            wait=policy,
            on_wait=lambda: _say_waiting(name, job),
        )

        code = await _run_worker(worker, processor, record_dir)
    if worker.result.finished:
        await start_retention(redis, job)
    return code


def _say_waiting(name: str, job: str) -> None:
    print(
        f"bulkdel: worker {name}: job {job!r} has not been submitted yet; waiting for it",
        file=sys.stderr,
    )


async def _serve(
    options: WorkerOptions,
    settings: Settings,
    key: str,
    connection: tuple[Redis, RedisWait],
    client: DeleteClient,
    name: str,
    observers: Sequence[RunObserver],
) -> int:
    """No ``--job``: serve every open job (``jobs.fleet``), a record directory per job
    under one of this worker's own."""
    from ...jobs import PipelineProcessor
    from ...jobs.fleet import Fleet

    redis, policy = connection
    record_base = options.record_dir or default_record_dir("fleet", name)
    check_record_dir(record_base)
    budget = _account_budget(options.account_rate, settings, key, connection)

    def processor_for(job: str) -> PipelineProcessor:
        return PipelineProcessor(
            client,
            settings,
            budget=budget,
            observers=observers,
            attributes={"bulkdel.worker": name, "bulkdel.job": job},
            record_dir=record_base / job,
        )

    fleet = Fleet(
        redis,
        processor_for,
        name=name,
        capacity=3 * settings.concurrency + 2,
        visibility_timeout=options.visibility_timeout,
        wait=policy,
        exit_when_idle=options.exit_when_idle,
    )
    return await _run_fleet(fleet, record_base)


async def _run_fleet(fleet: Fleet, record_base: Path) -> int:
    """Run the fleet worker until a signal (or idle, with ``--exit-when-idle``)."""
    print(
        f"bulkdel: worker {fleet.name}: serving every open job on Redis; records in {record_base}",
        file=sys.stderr,
    )
    result = await _until_stopped(
        fleet.run, lambda reason: fleet.stop(str(reason)), fleet.name, record_base
    )
    if isinstance(result, int):
        return result
    total = result.total()
    total.aborted = result.aborted
    code = _worker_exit(total, jobs=len(result.jobs))
    return code if result.aborted is not None else EXIT_OK


async def _run_worker(worker: Worker, processor: PipelineProcessor, record_dir: Path) -> int:
    """Run the worker until the job is done or a signal stops it; its exit code."""

    def stop(reason: Abort) -> None:
        # Batches begun finish (207 re-sends included); the others go back unsent.
        worker.stop(str(reason))
        processor.stop(str(reason))

    result = await _until_stopped(worker.run, stop, worker.name, record_dir)
    return result if isinstance(result, int) else _worker_exit(result)


async def _until_stopped(
    run: Callable[[], Awaitable[_Result]], stop: Callable[[Abort], None], name: str, record: Path
) -> _Result | int:
    """``run()``'s result, or the exit code when a signal ended it: the first SIGINT/SIGTERM
    calls ``stop`` (``run`` then ends on its own), a second ends at once (exit 130).

    Raises:
        JobGoneError: Redis lost the job; the message names ``record``, this host's proof of
            what it deleted.
    """
    with stop_on_signals(stop) as interrupts:
        try:
            return await run()
        except JobGoneError as gone:
            raise JobGoneError(
                f"{gone}; what this worker deleted is on record in {record}"
            ) from None
        except asyncio.CancelledError:
            if not interrupts.forced:
                raise
            print("bulkdel: stopped at once", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Stopped as stopped:  # a signal while waiting for Redis at the start
            print(f"bulkdel: worker {name}: {stopped}", file=sys.stderr)
            return EXIT_INTERRUPTED if interrupts.abort else EXIT_INCOMPLETE


def default_record_dir(job: str, name: str) -> Path:
    """``./bulkdel-worker-<job>-<name>-<UTC timestamp>``: one directory per worker run."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return Path(f"bulkdel-worker-{job}-{name}-{stamp}")


def check_record_dir(path: Path) -> None:
    """A worker's record goes into a new or empty directory, never over another record.

    Raises:
        UsageError: ``path`` holds files already, or is not a directory.
    """
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(
            f"record_dir {str(path)!r} is not a new or empty directory: a worker's record "
            "is never written over another; pick a new one",
            "record_dir",
        )


def _account_budget(
    rate: float | None, settings: Settings, key: str, connection: tuple[Redis, RedisWait]
) -> Any:
    """One budget in Redis for every worker of the account (``--account-rate``: at exactly
    ``rate``), on the job's wait policy."""
    from ...budget.redis import RedisBudget

    redis, policy = connection
    return RedisBudget(redis, base_url=settings.base_url, private_key=key, rate=rate, wait=policy)


def _worker_exit(result: WorkerResult, jobs: int | None = None) -> int:
    over = "" if jobs is None else f" over {jobs:,} jobs"
    print(
        f"bulkdel: worker {result.name}: {result.batches:,} batches settled{over}, "
        f"{result.claimed:,} taken over, {result.late:,} late"
        + (" (job finished)" if result.finished else "")
        + (" (job cancelled)" if result.cancelled and (result.batches or result.claimed) else "")
        + (
            " (job cancelled: took no batch)"
            if result.cancelled and not (result.batches or result.claimed)
            else ""
        )
        + (f" (aborted: {result.aborted.detail or result.aborted})" if result.aborted else ""),
        file=sys.stderr,
    )
    if result.aborted is not None:
        code = result.aborted.exit_code  # the one table (models.EXIT_CODES)
        return EXIT_INCOMPLETE if code is None else code
    return EXIT_OK if result.finished else EXIT_INCOMPLETE
