"""The report of a distributed job: the same files, the same two equalities and the same
rule for ``complete`` as ``delete``.

Redis's record of the job, taken as one snapshot (``jobs.snapshot``), is replayed into the
``Ledger`` and ``ReportWriter`` that ``delete`` uses (``jobs.replay``), as
``bulkdel report --journal`` replays a journal; the verdict is ``bulkdel.record.verdict``'s.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import Abort, AbortReason
from ..record.ledger import Counts, Ledger
from ..record.report import Report, ReportWriter
from ..record.verdict import is_complete, outcome_abort
from ..record.writer import check_report_dir
from .job_manifest import write_job_manifest
from .redis_keys import JobKeys
from .replay import replay_job
from .snapshot import JobSnapshot, take_snapshot

if TYPE_CHECKING:
    from redis.asyncio import Redis


async def job_report(redis: Redis, job: str, report_dir: str | os.PathLike[str]) -> Report:
    """Write the job's report files into ``report_dir`` and return its report.

    Raises:
        JobGoneError: the job is not in Redis.
    """
    keys = JobKeys.of(job)
    # a directory holds one report: this job's earlier one may be replaced by a newer one
    check_report_dir(report_dir, reuse=_holds_report_of(report_dir, job))
    snapshot = await take_snapshot(redis, keys)
    status = snapshot.status
    writer = ReportWriter(report_dir)
    ledger = Ledger([writer])
    try:
        unknown = await replay_job(redis, keys, snapshot, ledger)
        manifest = await write_job_manifest(redis, keys, writer.directory)
    except BaseException:
        writer.close()
        raise
    finally:
        await _clean_up(redis, snapshot)
    ledger.requests.sent = status.requests["sent"]
    ledger.requests.retried = status.requests["retried"]
    ledger.requests.by_status.update(status.requests["by_status"])
    counts = ledger.counts
    abort = (
        Abort(AbortReason.STOPPED, "job cancelled")
        if status.state == "cancelled"
        else outcome_abort(counts, ledger.requests, status.finished)
    )
    report = Report(
        counts=counts,
        requests=ledger.requests,
        complete=is_complete(counts, status.finished, abort),
        abort=abort,
        elapsed_s=status.elapsed_s,
        report_dir=writer.directory,
        manifest=manifest,
    )
    summary = report.summary()
    summary["job"] = {
        **{k: v for k, v in status.as_dict().items() if k not in ("counts", "requests")},
        "live_counts_agree": _agree(status.counts, counts, unknown),
    }
    writer.close(summary)
    return report


async def _clean_up(redis: Redis, snapshot: JobSnapshot) -> None:
    """Remove the copy of the open batches: it has served (if this fails, it expires)."""
    if snapshot.open_copy is not None:
        await redis.delete(snapshot.open_copy)


def _holds_report_of(report_dir: str | os.PathLike[str], job: str) -> bool:
    """``report_dir`` holds an earlier report of ``job`` (which a newer one may replace)."""
    try:
        summary = json.loads((Path(report_dir) / "summary.json").read_text(encoding="utf-8"))
        return bool(summary["job"]["job"] == job)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _agree(live: Counts, replayed: Counts, taken: int) -> bool:
    """The live counters tell the same as the replayed outcomes (a check on the settle)."""
    return (
        live.deleted == replayed.deleted
        and live.missing == replayed.missing
        and live.missing_after_retry == replayed.missing_after_retry
        and live.failed + taken == replayed.failed
    )
