"""``bulkdel job status|report|cancel --job NAME``: read and steer a job from anywhere.

``--job NAME`` as in ``submit`` and ``worker``; the positional ``NAME`` of earlier versions is
still taken (the same name twice is fine, two different ones are refused).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from ...errors import UsageError
from ...record.report import format_text
from ..exits import EXIT_INCOMPLETE, EXIT_OK
from ..options import JobOptions
from ..redis_setup import job_redis, redis_session

if TYPE_CHECKING:
    from ...jobs import JobStatus


def job_name(options: JobOptions) -> str:
    """The job ``--job`` or the positional ``NAME`` names.

    Raises:
        UsageError: neither, or two different names.
    """
    named = {name for name in (options.job, options.job_name) if name is not None}
    if len(named) != 1:
        raise UsageError(
            "give the job as --job NAME" + (" (once: two names given)" if named else "")
        )
    return str(named.pop())


async def run_status(options: JobOptions) -> int:
    """``bulkdel job status --job NAME``: counts, batches, and each worker's figures with
    when it was last seen (``gone`` past the visibility timeout)."""
    from ...jobs import job_status
    from ...jobs.submit_watch import stalled_submit

    name = job_name(options)
    async with redis_session(*job_redis(options.redis)) as (redis, _):
        status = await job_status(redis, name)
        now, _ = await redis.time()
        _say_stalled(await stalled_submit(redis, name))
    liveness = worker_liveness(status, float(now), options.visibility_timeout)
    if options.json:
        shown = status.as_dict()
        for worker, (ago, gone) in liveness.items():
            shown["workers"][worker] = {**shown["workers"][worker], "seen_ago_s": ago, "gone": gone}
        print(json.dumps(shown, indent=2))
        return EXIT_OK
    print("\n".join(status_lines(status, liveness)))
    return EXIT_OK


def worker_liveness(
    status: JobStatus, now: float, visibility_timeout: float
) -> dict[str, tuple[float | None, bool]]:
    """Per worker: seconds since it was last seen (Redis server time; None: never), and
    whether that is past the visibility timeout (its batches may be taken over)."""
    result: dict[str, tuple[float | None, bool]] = {}
    for worker, figures in status.workers.items():
        seen = figures.get("seen")
        ago = None if seen is None else max(0.0, now - seen)
        result[worker] = (ago, ago is None or ago > visibility_timeout)
    return result


def status_lines(status: JobStatus, liveness: dict[str, tuple[float | None, bool]]) -> list[str]:
    """``job status``'s text."""
    c = status.counts
    lines = [
        f"job {status.name}: {status.state}" + (" (finished)" if status.finished else ""),
        f"  read {c.read:,}  unique {c.unique:,}  deleted {c.deleted:,}  missing {c.missing:,}"
        f"  failed {c.failed:,}  pending {c.pending:,}",
        f"  open batches {status.open_batches:,} ({status.in_flight:,} held by workers)",
    ]
    for name, figures in status.workers.items():
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(figures.items()) if k != "seen")
        ago, gone = liveness[name]
        seen = "never seen" if ago is None else f"last seen {ago:,.0f}s ago"
        lines.append(f"  worker {name}: {shown}; {seen}" + (" (gone)" if gone else ""))
    return lines


async def run_report(options: JobOptions) -> int:
    """``bulkdel job report --job NAME --report-dir D``."""
    from ...jobs import job_report
    from ...jobs.submit_watch import stalled_submit

    name = job_name(options)
    assert options.report_dir is not None  # required by its parser
    async with redis_session(*job_redis(options.redis)) as (redis, _):
        report = await job_report(redis, name, options.report_dir)
        _say_stalled(await stalled_submit(redis, name))
    if options.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(format_text(report), file=sys.stderr)
    return report.exit_code if report.complete else EXIT_INCOMPLETE


def _say_stalled(note: str | None) -> None:
    """A submitting job with no submitter running: say to run it again (one line)."""
    if note is not None:
        print(f"bulkdel: {note}", file=sys.stderr)


async def run_cancel(options: JobOptions) -> int:
    """``bulkdel job cancel --job NAME``: refused for a finished job (its report stays
    complete).

    Raises:
        UsageError: the job is finished: there is nothing to cancel.
    """
    from ...jobs import cancel_job, job_status

    name = job_name(options)
    async with redis_session(*job_redis(options.redis)) as (redis, _):
        if (await job_status(redis, name)).finished:
            raise UsageError(f"job {name!r} is finished: nothing to cancel (its report stands)")
        await cancel_job(redis, name)
    print(f"bulkdel: job {name} cancelled", file=sys.stderr)
    return EXIT_OK
