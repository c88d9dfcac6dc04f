"""``bulkdel job ...``: a delete job spread over worker processes on any hosts, via Redis."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from .._engine.pager import StandaloneHost
from .._engine.sources import FileReader, files_chunks, open_files
from .._journal.journal import fingerprint
from ..errors import UsageError
from ..imagekit import ImageKitClient
from ..models import Abort
from ..report import format_text
from .args import DEFAULTS, add_preflight_argument, batch_size, positive_int, shared_parent
from .preflight import check_api
from .settings import Job, read_private_key, selection_from_args, settings_from_args
from .signals import stop_on_signals

#: where the Redis URL comes from when --redis is not given
REDIS_ENV = "BULKDEL_REDIS_URL"
EXIT_OK, EXIT_INCOMPLETE, EXIT_FATAL, EXIT_INTERRUPTED = 0, 1, 3, 130


def add_job_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``bulkdel job`` and its sub-commands on the top-level sub-parsers."""
    job = commands.add_parser("job", help="a delete job spread over workers, through Redis")
    subs = job.add_subparsers(dest="job_command", required=True, parser_class=parser_class)
    submit = subs.add_parser(
        "submit", parents=[shared_parent()], help="put the ids to delete on the job's stream"
    )
    submit.add_argument("sources", nargs="*", metavar="SOURCE", help="files of ids; - is stdin")
    submit.add_argument("--format", choices=["auto", "lines", "csv", "jsonl"], default="auto")
    submit.add_argument("--column", default="fileId")
    submit.add_argument(
        "--batch-size", type=batch_size, default=DEFAULTS.batch_size, help="ids a batch, 1..100"
    )
    submit.add_argument("--max-open", type=positive_int, default=1000, help="unsettled batches")
    worker = subs.add_parser("worker", help="send the job's batches (run any number)")
    worker.add_argument("--base-url", default=None, help="default $IMAGE_KIT_BASE_URL")
    worker.add_argument("--private-key-file", type=Path)
    worker.add_argument("--allow-insecure-http", action="store_true")
    worker.add_argument("--concurrency", type=positive_int, default=DEFAULTS.concurrency)
    worker.add_argument("--rate", type=float, help="this worker's cap in requests per second")
    worker.add_argument(
        "--account-rate",
        type=float,
        help="pace the whole account at exactly this many requests per second (shared by "
        "every worker; default: adapt to the server's 429s)",
    )
    worker.add_argument("--max-attempts", type=positive_int, default=DEFAULTS.max_attempts)
    worker.add_argument("--timeout", type=float, default=DEFAULTS.timeout, help="seconds a request")
    worker.add_argument("--visibility-timeout", type=float, default=60.0, help="seconds")
    worker.add_argument("--name", help="consumer name (default: host-pid-random)")
    add_preflight_argument(worker)
    for sub in (submit, worker):
        sub.add_argument("--job", required=True, metavar="NAME")
    status = subs.add_parser("status", help="live counts of a job, per worker too")
    report = subs.add_parser("report", help="write a job's report files")
    report.add_argument("--report-dir", type=Path, required=True)
    cancel = subs.add_parser("cancel", help="stop a job: no new batch is taken")
    for sub in (status, report, cancel):
        sub.add_argument("job", metavar="NAME")
    for sub in (status, report):
        sub.add_argument("--json", action="store_true")
    for sub in (submit, worker, status, report, cancel):
        # The shared options may carry --redis already (the account's budget in Redis).
        with contextlib.suppress(argparse.ArgumentError):
            sub.add_argument("--redis", default=None, help=f"redis://host:port/db (${REDIS_ENV})")


def _redis(args: argparse.Namespace) -> Any:
    from ..jobs import connect

    url = args.redis or os.environ.get(REDIS_ENV)
    if not url:
        raise UsageError(f"give --redis redis://host:6379/0 or set ${REDIS_ENV}")
    return connect(url)


async def run_submit(args: argparse.Namespace) -> int:
    """``bulkdel job submit``: exit 0 once the whole input is on the job's stream."""
    from ..jobs import Submitter

    settings = settings_from_args(args, os.environ)
    selection = selection_from_args(args)
    if selection is not None and args.sources:
        raise UsageError("give files of ids or listing selectors (--path, --tag, ...), not both")
    redis = _redis(args)
    submitter = Submitter(redis, args.job, batch_size=args.batch_size, max_open=args.max_open)
    try:
        with stop_on_signals(submitter.stop.set):
            if selection is not None:
                from .delete import listing_for

                key = read_private_key(args.private_key_file, os.environ)
                listing = listing_for(Job(settings, selection, key))
                try:
                    chunks = listing.chunks(StandaloneHost(settings))
                    print_ = fingerprint([listing.name], settings.base_url)
                    result = await submitter.submit(chunks, print_, resumable=False)
                finally:
                    await listing.close()
            else:
                readers = open_files(args.sources or ["-"], args.format, args.column)
                print_ = fingerprint([r.name for r in readers], settings.base_url)
                result = await submitter.submit(_file_chunks(readers), print_)
    finally:
        await redis.aclose()
    what = "complete" if result.complete else "cancelled" if result.cancelled else "stopped"
    resumed = f" (resumed after {result.resumed_at:,} input items)" if result.resumed_at else ""
    print(
        f"bulkdel: job {args.job}: submit {what}: {result.batches:,} batches added{resumed}",
        file=sys.stderr,
    )
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


async def _file_chunks(readers: list[FileReader]) -> Any:
    try:
        async for chunk in files_chunks(readers):
            yield chunk
    finally:
        for reader in readers:
            reader.close()


async def run_worker(args: argparse.Namespace) -> int:
    """``bulkdel job worker``: exit 0 when the job is finished, 1 when it was cancelled or
    the worker stopped, 3 for a fatal answer (a job gone from Redis raises)."""
    from ..budget.redis import RedisBudget
    from ..jobs import PipelineProcessor, Worker

    settings = settings_from_args(args, os.environ)
    key = read_private_key(args.private_key_file, os.environ)
    # A wrong key or base URL stops the worker before it takes a batch: taken batches would
    # wait out the visibility timeout, and end "outcome unknown" if the job stopped.
    await check_api(settings, key, skip=args.no_preflight)
    redis = _redis(args)
    client = ImageKitClient.for_settings(key, settings)
    # Every worker of the account (and every `delete --redis`) takes its turns from one
    # budget in Redis: one pace and one gate for the account, on any host.
    budget = RedisBudget(redis, base_url=settings.base_url, private_key=key, rate=args.account_rate)
    try:
        async with PipelineProcessor(client, settings, budget=budget) as processor:
            worker = Worker(
                redis,
                args.job,
                processor,
                name=args.name,
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


async def run_status(args: argparse.Namespace) -> int:
    """``bulkdel job status NAME``."""
    from ..jobs import job_status

    redis = _redis(args)
    try:
        status = await job_status(redis, args.job)
    finally:
        await redis.aclose()
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

    redis = _redis(args)
    try:
        report = await job_report(redis, args.job, args.report_dir)
    finally:
        await redis.aclose()
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(format_text(report), file=sys.stderr)
    return report.exit_code if report.complete else EXIT_INCOMPLETE


async def run_cancel(args: argparse.Namespace) -> int:
    """``bulkdel job cancel NAME``."""
    from ..jobs import cancel_job

    redis = _redis(args)
    try:
        await cancel_job(redis, args.job)
    finally:
        await redis.aclose()
    print(f"bulkdel: job {args.job} cancelled", file=sys.stderr)
    return EXIT_OK


def run_job(args: argparse.Namespace) -> int:
    """Run ``bulkdel job ...``; returns the exit code (errors are raised, as ``main``
    turns them into one line: a job gone from Redis exits 3)."""
    runners = {
        "submit": run_submit,
        "worker": run_worker,
        "status": run_status,
        "report": run_report,
        "cancel": run_cancel,
    }
    return asyncio.run(runners[args.job_command](args))
