"""The parser of ``bulkdel job ...`` and its sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..args import (
    add_attempt_arguments,
    add_concurrency_argument,
    add_connection_arguments,
    add_debug_argument,
    add_preflight_argument,
    add_redis_arguments,
    add_source_arguments,
    rate,
    shared_parent,
)
from ..metrics import add_metrics_arguments
from ..values import keep_duration, number, whole

#: a worker's default visibility timeout, seconds (``jobs.worker``'s)
VISIBILITY_TIMEOUT = 12.0
#: ``--visibility-timeout``'s values: a second to a day
VISIBILITY = number(1.0, 86400.0, low_open=False)
#: the most batches ``--max-open`` lets wait unsettled (about 3 KB each in Redis)
MAX_OPEN = 1_000_000


def add_job_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Register ``bulkdel job`` and its sub-commands on the top-level sub-parsers."""
    job = commands.add_parser("job", help="a delete job spread over workers, through Redis")
    subs = job.add_subparsers(dest="job_command", required=True, parser_class=parser_class)
    submit = subs.add_parser(
        "submit", parents=[shared_parent()], help="put the ids to delete on the job's stream"
    )
    add_source_arguments(submit)
    submit.add_argument(
        "--max-open",
        metavar="N",
        type=whole(1, MAX_OPEN),
        default=1000,
        help="wait while this many batches are unsettled (bounds Redis memory)",
    )
    worker = subs.add_parser("worker", help="send the job's batches (run any number)")
    _add_worker_arguments(worker)
    add_metrics_arguments(worker)
    status = subs.add_parser("status", help="live counts of a job, per worker too")
    report = subs.add_parser("report", help="write a job's report files")
    report.add_argument(
        "--report-dir", metavar="DIR", type=Path, required=True, help="where the report goes"
    )
    cancel = subs.add_parser("cancel", help="stop a job: no new batch is taken")
    listing, delete = _add_admin_parsers(subs, submit)
    for sub in (status, report, cancel, delete):
        sub.add_argument("--job", metavar="NAME", help="the job's name")
        sub.add_argument(
            "job_name", nargs="?", metavar="NAME", help="the same as --job (kept for scripts)"
        )
    for sub in (status, report, listing):
        sub.add_argument("--json", action="store_true", help="print JSON on stdout")
    status.add_argument(
        "--visibility-timeout",
        metavar="SECONDS",
        type=VISIBILITY,
        default=VISIBILITY_TIMEOUT,
        help="the workers' --visibility-timeout: a worker not seen for longer is shown gone",
    )
    for sub in (worker, status, report, cancel, listing, delete):
        add_debug_argument(sub)
    for sub in (submit, worker, status, report, cancel, listing, delete):
        add_redis_arguments(sub, "the Redis that holds the job (and the account's budget)")


def _add_admin_parsers(subs: Any, submit: argparse.ArgumentParser) -> tuple[Any, Any]:
    """``job list``, ``job delete`` and ``job submit``'s ``--job`` and ``--keep``."""
    listing = subs.add_parser("list", help="every job on the Redis: state, counts, age")
    delete = subs.add_parser("delete", help="remove a job's keys from Redis")
    delete.add_argument("--force", action="store_true", help="delete it even if it is not finished")
    submit.add_argument("--job", required=True, metavar="NAME", help="the job's name")
    submit.add_argument(
        "--keep",
        metavar="DURATION",
        type=keep_duration,
        help="once the job is finished, its keys in Redis expire after this long (7d, 12h, "
        "30min; default: kept until `bulkdel job delete`)",
    )
    return listing, delete


def _add_worker_arguments(worker: argparse.ArgumentParser) -> None:
    """``job worker``'s options."""
    add_connection_arguments(worker)
    add_concurrency_argument(worker)
    worker.add_argument(
        "--rate", type=rate, help="this worker's cap in requests per second (default: no cap)"
    )
    worker.add_argument(
        "--account-rate",
        metavar="RATE",
        type=rate,
        help="pace the whole account at exactly this many requests per second (shared by "
        "every worker; default: adapt to the server's 429s)",
    )
    add_attempt_arguments(worker)
    worker.add_argument(
        "--visibility-timeout",
        metavar="SECONDS",
        type=VISIBILITY,
        default=VISIBILITY_TIMEOUT,
        help="seconds a batch may go without its worker's heartbeat before another worker "
        "takes it over, 1..86400",
    )
    _add_worker_identity(worker)
    add_preflight_argument(worker)


def _add_worker_identity(worker: argparse.ArgumentParser) -> None:
    """Who the worker is, what it works on, and where its own record goes."""
    worker.add_argument(
        "--job",
        metavar="NAME",
        help="work this job only, waiting for it to be submitted, and end with it (default: "
        "serve every open job on the Redis, round-robin, until stopped)",
    )
    worker.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="with no --job: end (exit 0) when no job is open, rather than wait for one",
    )
    worker.add_argument("--name", help="this worker's consumer name (default: host-pid-random)")
    worker.add_argument(
        "--record-dir",
        metavar="DIR",
        type=Path,
        help="where this worker keeps its own record of what it deleted, on this host (the "
        "report files, written before each batch is settled in Redis; a new or empty "
        "directory; default ./bulkdel-worker-<job>-<name>-<UTC timestamp>; with no --job, "
        "one subdirectory a job, in ./bulkdel-worker-fleet-<name>-<UTC timestamp>)",
    )
