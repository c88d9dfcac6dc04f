"""The parser of ``bulkdel job ...`` and its sub-commands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .args import (
    DEFAULTS,
    add_preflight_argument,
    add_redis_arguments,
    batch_size,
    positive_int,
    shared_parent,
)
from .metrics import add_metrics_arguments


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
    add_metrics_arguments(worker)
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
        add_redis_arguments(sub, "the Redis that holds the job (and the account's budget)")
