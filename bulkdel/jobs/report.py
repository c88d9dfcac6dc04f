"""The report of a distributed job: the same files and the same two equalities as ``delete``.

Outcomes are merged by id with the precedence deleted > missing_after_retry > missing >
failed, so an id settled twice (a batch taken over from a slow worker) lands once, in the
bucket that is true: a "deleted" from either settle wins. Ids of batches not settled yet are
"not attempted", or failed with "outcome unknown" when a worker had taken them (its request
may have been applied).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..ledger import Counts, RequestStats
from ..models import UNKNOWN_PREFIX, Abort, AbortReason
from ..report import Report, ReportWriter
from ..report_writer import check_report_dir
from ..verdict import is_complete, outcome_abort
from .redis_keys import GROUP, JobKeys
from .redisio import check_gone
from .scripts import SNAPSHOT
from .status import JobStatus, counts_from, per_worker, requests_from

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: rank of each bucket: a lower rank wins
_RANK: Final = {"d": 0, "r": 1, "m": 2, "f": 3}
_PAGE: Final = 1000
UNSETTLED_UNKNOWN: Final = UNKNOWN_PREFIX + "the job stopped before a worker settled this batch"


@dataclass
class _Merged:
    """The best bucket of every settled id, and the failure record of failed ones."""

    best: dict[str, str]
    failures: dict[str, tuple[str, int | None, int]]


async def _stream(redis: Redis, key: str, end: str = "+") -> Any:
    """Every entry of a stream up to ``end``, a page at a time."""
    start = "-"
    while True:
        page: Any = await redis.xrange(key, start, end, count=_PAGE)
        for entry in page:
            yield entry
        if len(page) < _PAGE:
            return
        start = "(" + page[-1][0]


async def _merge(redis: Redis, keys: JobKeys, marker: str) -> _Merged:
    best: dict[str, str] = {}
    failures: dict[str, tuple[str, int | None, int]] = {}
    async for _, fields in _stream(redis, keys.results, marker):
        for code in ("d", "r", "m"):
            for file_id in fields.get(code, "").split():
                if _RANK[code] < _RANK[best.get(file_id, "f")]:
                    best[file_id] = code
        for file_id, error, status, attempts in json.loads(fields.get("f") or "[]"):
            if file_id not in best:
                best[file_id] = "f"
                failures[file_id] = (error, status, attempts)
    return _Merged(best, failures)


@dataclass
class _Snapshot:
    """The job at one moment (``scripts.SNAPSHOT``): outcomes are read up to ``marker``."""

    status: JobStatus
    marker: str
    waiting: list[str]
    taken: list[str]


async def _snapshot(redis: Redis, keys: JobKeys) -> _Snapshot:
    answer: Any = await redis.register_script(SNAPSHOT)(
        keys=[keys.meta, keys.batches, keys.counts, keys.results, keys.workers], args=[GROUP]
    )
    check_gone(keys, answer)
    marker, state, created, settled_at, counts, workers, open_batches, held = answer[:8]
    raw_counts = dict(zip(counts[::2], counts[1::2], strict=True))
    status = JobStatus(
        name=keys.name,
        state=str(state),
        counts=counts_from(raw_counts),
        requests=requests_from(raw_counts),
        open_batches=int(open_batches),
        in_flight=int(held),
        workers=per_worker(dict(zip(workers[::2], workers[1::2], strict=True))),
        elapsed_s=float(settled_at) - float(created) if settled_at and created else 0.0,
    )
    return _Snapshot(status, str(marker), str(answer[8]).split(), str(answer[9]).split())


async def job_report(redis: Redis, job: str, report_dir: str | os.PathLike[str]) -> Report:
    """Write the job's report files into ``report_dir`` and return its report.

    Raises:
        JobGoneError: the job is not in Redis.
    """
    keys = JobKeys.of(job)
    # a directory holds one report: this job's earlier one may be replaced by a newer one
    check_report_dir(report_dir, reuse=_holds_report_of(report_dir, job))
    snapshot = await _snapshot(redis, keys)
    status, waiting, taken = snapshot.status, snapshot.waiting, snapshot.taken
    merged = await _merge(redis, keys, snapshot.marker)
    # the marker has served; a failure to remove it only leaves an entry readers skip
    await redis.xdel(keys.results, snapshot.marker)
    writer = ReportWriter(report_dir)
    await _write_input_records(redis, keys, writer)
    counts = Counts(
        read=status.counts.read,
        invalid=status.counts.invalid,
        duplicate=status.counts.duplicate,
        unique=status.counts.unique,
    )
    _write_outcomes(writer, counts, merged)
    for file_id in taken:
        writer.failed(file_id, UNSETTLED_UNKNOWN, None, 0)
    counts.failed += len(taken)
    writer.not_attempted(waiting)
    counts.not_attempted = len(waiting)
    requests = RequestStats(sent=status.requests["sent"], retried=status.requests["retried"])
    requests.by_status.update(status.requests["by_status"])
    abort = (
        Abort(AbortReason.STOPPED, "job cancelled")
        if status.state == "cancelled"
        else outcome_abort(counts, requests, status.finished)
    )
    report = Report(
        counts=counts,
        requests=requests,
        complete=is_complete(counts, status.finished, abort),
        abort=abort,
        elapsed_s=status.elapsed_s,
        report_dir=writer.directory,
    )
    summary = report.summary()
    summary["job"] = {
        **{k: v for k, v in status.as_dict().items() if k not in ("counts", "requests")},
        "live_counts_agree": _agree(status.counts, counts, len(taken)),
    }
    writer.close(summary)
    return report


def _holds_report_of(report_dir: str | os.PathLike[str], job: str) -> bool:
    """``report_dir`` holds an earlier report of ``job`` (which a newer one may replace)."""
    try:
        summary = json.loads((Path(report_dir) / "summary.json").read_text(encoding="utf-8"))
        return bool(summary["job"]["job"] == job)
    except (OSError, ValueError, KeyError, TypeError):
        return False


async def _write_input_records(redis: Redis, keys: JobKeys, writer: ReportWriter) -> None:
    """invalid.jsonl and duplicates.txt, as the submitter recorded them."""
    for lines in await redis.lrange(keys.invalid, 0, -1):
        for line in lines.splitlines():
            record = json.loads(line)
            writer.invalid(record["source"], record["line"], record["value"], record["reason"])
    blobs: Any = await redis.lrange(keys.duplicates, 0, -1)
    for blob in blobs:
        for file_id in blob.split():
            writer.duplicate(file_id, "", 0)


def _write_outcomes(writer: ReportWriter, counts: Counts, merged: _Merged) -> None:
    buckets: dict[str, list[str]] = {"d": [], "r": [], "m": [], "f": []}
    for file_id, code in merged.best.items():
        buckets[code].append(file_id)
    writer.deleted(buckets["d"])
    writer.missing([*buckets["m"], *buckets["r"]], buckets["r"])
    for file_id in buckets["f"]:
        error, status, attempts = merged.failures[file_id]
        writer.failed(file_id, error, status, attempts)
    counts.deleted = len(buckets["d"])
    counts.missing = len(buckets["m"]) + len(buckets["r"])
    counts.missing_after_retry = len(buckets["r"])
    counts.failed = len(buckets["f"])


def _agree(live: Counts, merged: Counts, taken: int) -> bool:
    """The live counters tell the same as the merged outcomes (a check on the settle)."""
    return (
        live.deleted == merged.deleted
        and live.missing == merged.missing
        and live.missing_after_retry == merged.missing_after_retry
        and live.failed + taken == merged.failed
    )
