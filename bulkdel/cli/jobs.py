"""``bulkdel job ...``: a delete job spread over worker processes on any hosts, via Redis.

Each sub-command has its module (``job_submit``, ``job_worker``, ``job_query``, ``job_admin``
for ``list`` and ``delete``); the parser is
``job_parser``'s.
"""

from __future__ import annotations

import asyncio

from .job_admin import run_delete, run_list
from .job_query import run_cancel, run_report, run_status
from .job_submit import run_submit
from .job_worker import run_worker
from .options import JobOptions, SubmitOptions, WorkerOptions


def run_job(options: SubmitOptions | WorkerOptions | JobOptions) -> int:
    """Run ``bulkdel job ...``; returns the exit code (errors are raised, as ``main``
    turns them into one line: a job gone from Redis exits 3)."""
    if isinstance(options, SubmitOptions):
        return asyncio.run(run_submit(options))
    if isinstance(options, WorkerOptions):
        return asyncio.run(run_worker(options))
    runners = {
        "status": run_status,
        "report": run_report,
        "cancel": run_cancel,
        "list": run_list,
        "delete": run_delete,
    }
    return asyncio.run(runners[options.command](options))
