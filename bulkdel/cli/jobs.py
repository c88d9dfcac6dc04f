"""``bulkdel job ...``: a delete job spread over worker processes on any hosts, via Redis.

Each sub-command has its module (``job_submit``, ``job_worker``, ``job_query``, ``job_admin``
for ``list`` and ``delete``); the parser is
``job_parser``'s.
"""

from __future__ import annotations

import argparse
import asyncio

from .job_admin import run_delete, run_list
from .job_query import run_cancel, run_report, run_status
from .job_submit import run_submit
from .job_worker import run_worker


def run_job(args: argparse.Namespace) -> int:
    """Run ``bulkdel job ...``; returns the exit code (errors are raised, as ``main``
    turns them into one line: a job gone from Redis exits 3)."""
    runners = {
        "submit": run_submit,
        "worker": run_worker,
        "status": run_status,
        "report": run_report,
        "cancel": run_cancel,
        "list": run_list,
        "delete": run_delete,
    }
    return asyncio.run(runners[args.job_command](args))
