"""``bulkdel job ...``: a delete job spread over worker processes on any hosts, via Redis.

Each sub-command has its module (``submit``, ``worker``, ``query``, ``admin``
for ``list`` and ``delete``); the parser is
``parser``'s.
"""

from __future__ import annotations

import asyncio

from ..options import JobOptions, SubmitOptions, WorkerOptions
from .admin import run_delete, run_list
from .query import run_cancel, run_report, run_status
from .submit import run_submit
from .worker import run_worker


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
