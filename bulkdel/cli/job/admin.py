"""``bulkdel job list`` and ``bulkdel job delete NAME``: the jobs a Redis holds, and removing
one."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from ...errors import JobGoneError, UsageError
from ..exits import EXIT_OK
from ..options import JobOptions
from ..redis_setup import job_redis, redis_session
from .query import job_name

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ...jobs import JobEntry, JobStatus


async def start_retention(redis: Redis, job: str) -> None:
    """The job is finished: its keys expire after its ``--keep``, if it has one. The settle
    that finished it did so for the keys it is given; this covers the input records' lists
    too. Best effort: the job's work is done whatever Redis answers here."""
    from ...jobs import keep_job

    try:
        await keep_job(redis, job)
    except Exception as error:  # a retention not started is said, not fatal
        print(f"bulkdel: job {job}: its retention could not be started: {error}", file=sys.stderr)


async def run_list(options: JobOptions) -> int:
    """``bulkdel job list``: every job on the Redis, with its state, counts, age and when
    its keys expire."""
    from ...jobs import list_jobs

    async with redis_session(*job_redis(options.redis)) as (redis, _):
        jobs = await list_jobs(redis)
    if options.json:
        print(json.dumps([job.as_dict() for job in jobs], indent=2))
    elif jobs:
        print("\n".join(list_lines(jobs)))
    else:
        print("bulkdel: no job on this Redis", file=sys.stderr)
    return EXIT_OK


def list_lines(jobs: list[JobEntry]) -> list[str]:
    """``job list``'s table."""
    head = ("JOB", "STATE", "UNIQUE", "DELETED", "MISSING", "FAILED", "PENDING", "AGE", "EXPIRES")
    rows: list[tuple[str, ...]] = [head]
    for job in jobs:
        c = job.counts
        figures = (c.unique, c.deleted, c.missing, c.failed, c.pending)
        expires = _expires(job)
        rows.append((job.name, job.state, *(f"{n:,}" for n in figures), span(job.age_s), expires))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _expires(job: JobEntry) -> str:
    """When the job's keys go: a countdown once it has ended, its ``--keep`` before."""
    if job.expires_in_s is not None:
        return "in " + span(job.expires_in_s)
    if job.keep_after_end_s is not None:
        return "end+" + span(job.keep_after_end_s)  # narrow: the table fits 80 columns
    return "never"


def span(seconds: float) -> str:
    """``45s``, ``12min``, ``5h 3min``, ``6d 22h``: the two largest units."""
    left = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if left >= size or (size == 1 and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


async def run_delete(options: JobOptions) -> int:
    """``bulkdel job delete NAME``: remove every key of a job and its registry entry.

    Raises:
        UsageError: the job is still running (submitting, batches open, or cancelled with
            batches still held by workers) and ``--force`` was not given.
        JobGoneError: the job is not in Redis (and ``--force`` was not given).
    """
    from ...jobs import delete_job, job_status

    name = job_name(options)
    async with redis_session(*job_redis(options.redis)) as (redis, _):
        try:
            status = await job_status(redis, name)
        except JobGoneError:
            if not options.force:
                raise
        else:
            if not options.force and _running(status):
                raise UsageError(
                    f"job {name!r} is not finished ({_why(status)}); deleting it loses its "
                    "record in Redis: write its report first (job report), wait for it, "
                    "or give --force"
                )
        deleted = await delete_job(redis, name)
    print(f"bulkdel: job {name} deleted ({deleted:,} keys)", file=sys.stderr)
    return EXIT_OK


def _running(status: JobStatus) -> bool:
    """Work may still happen: not finished, and not a cancelled job nobody holds a batch of."""
    if status.state == "cancelled":
        return status.in_flight > 0
    return not status.finished


def _why(status: JobStatus) -> str:
    if status.state == "submitting":
        return "still being submitted"
    held = f", {status.in_flight:,} held by workers" if status.in_flight else ""
    return f"{status.state}, {status.open_batches:,} batches open{held}"
