"""``bulkdel job status|report|cancel NAME``: read and steer a job from anywhere."""

from __future__ import annotations

import argparse
import json
import sys

from ..report import format_text
from .budget import job_redis, redis_session
from .exits import EXIT_INCOMPLETE, EXIT_OK


async def run_status(args: argparse.Namespace) -> int:
    """``bulkdel job status NAME``."""
    from ..jobs import job_status

    async with redis_session(*job_redis(args)) as (redis, _):
        status = await job_status(redis, args.job)
    if args.json:
        print(json.dumps(status.as_dict(), indent=2))
        return EXIT_OK
    c = status.counts
    lines = [
        f"job {status.name}: {status.state}" + (" (finished)" if status.finished else ""),
        f"  read {c.read:,}  unique {c.unique:,}  deleted {c.deleted:,}  missing {c.missing:,}"
        f"  failed {c.failed:,}  pending {c.pending:,}",
        f"  open batches {status.open_batches:,} ({status.in_flight:,} held by workers)",
    ]
    for name, figures in status.workers.items():
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(figures.items()) if k != "seen")
        lines.append(f"  worker {name}: {shown}")
    print("\n".join(lines))
    return EXIT_OK


async def run_report(args: argparse.Namespace) -> int:
    """``bulkdel job report NAME --report-dir D``."""
    from ..jobs import job_report

    async with redis_session(*job_redis(args)) as (redis, _):
        report = await job_report(redis, args.job, args.report_dir)
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(format_text(report), file=sys.stderr)
    return report.exit_code if report.complete else EXIT_INCOMPLETE


async def run_cancel(args: argparse.Namespace) -> int:
    """``bulkdel job cancel NAME``."""
    from ..jobs import cancel_job

    async with redis_session(*job_redis(args)) as (redis, _):
        await cancel_job(redis, args.job)
    print(f"bulkdel: job {args.job} cancelled", file=sys.stderr)
    return EXIT_OK
