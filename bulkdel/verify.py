"""``verify``: check, against the server, that a report directory tells the truth.

Three checks, each under the account's budget (every request takes a turn from the host's
lease, as deletes and listing pages do):

* **deleted**: the ids in ``deleted.txt`` answer 404 on ``GET /v1/files/{id}/details`` (all
  of them, or a uniform random sample with a stated confidence: ``sampling``);
* **failed**: the ids in ``failed.jsonl`` still exist (200);
* **selection** (a selector run that completed): the selection's query, as the run sent it
  (its cutoff absolute), listed again finds nothing the run should have deleted. A file found
  that was created after the run started is reported apart (a new upload, not a miss); one
  the report lists as failed is expected.

A discrepancy is a fact the report got wrong; an id no answer could settle (a 5xx that kept
coming, a 400) is *unchecked*. ``ok`` holds only with neither.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from .core.sampling import read_ids, sample_ids, upper_bound
from .engine.retry import Chain, send_with_retries
from .errors import ListingError, Stopped, UsageError
from .imagekit.listing import ListingClient
from .listing.pager import Listing, ListingHost
from .listing.selection import Selection
from .models import Abort, AbortReason, Kind, Outcome
from .record.report import write_json_atomic

VERIFY_FILE: Final = "verify.json"
DETAILS: Final = "details"
#: discrepancies listed one by one in verify.json (the counts are always whole)
MAX_LISTED: Final = 10_000
CONFIDENCE: Final = 0.95


class DetailsSender(Protocol):
    """Asks whether one file exists (a ``DetailsClient``, or a test fake)."""

    async def details(self, file_id: str) -> Outcome: ...


@dataclass
class Verification:
    """What ``verify`` found; ``verify.json``'s content."""

    report_dir: str
    deleted: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] | None = None
    #: ``{"kind", "fileId", "detail"}``: the report says otherwise than the server
    discrepancies: list[dict[str, str]] = field(default_factory=list)
    #: ``{"fileId", "check", "error"}``: no answer settled it
    unchecked: list[dict[str, str]] = field(default_factory=list)
    #: files that match the selection but were created after the run started
    created_after_run: list[str] = field(default_factory=list)
    aborted: str | None = None

    @property
    def ok(self) -> bool:
        """Every check held: no discrepancy, nothing left unchecked, not aborted."""
        return not self.discrepancies and not self.unchecked and self.aborted is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``verify.json``)."""
        return {
            "version": 1,
            "report_dir": self.report_dir,
            "verified_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ok": self.ok,
            "aborted": self.aborted,
            "deleted": self.deleted,
            "failed": self.failed,
            "selection": self.selection,
            "discrepancy_count": len(self.discrepancies),
            "discrepancies": self.discrepancies[:MAX_LISTED],
            "unchecked_count": len(self.unchecked),
            "unchecked": self.unchecked[:MAX_LISTED],
            "created_after_run": self.created_after_run[:MAX_LISTED],
        }

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``verify.json`` into ``directory``; returns its path."""
        path = Path(directory) / VERIFY_FILE
        write_json_atomic(path, self.as_dict())
        return path


def read_summary(report_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The report's ``summary.json``.

    Raises:
        UsageError: not a bulkdel report directory.
    """
    path = Path(report_dir) / "summary.json"
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{report_dir} is not a bulkdel report: it has no summary.json") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or "counts" not in data:
        raise UsageError(f"{path} is not a bulkdel summary")
    return data


def failed_ids(report_dir: Path) -> list[str]:
    """The ids of ``failed.jsonl``."""
    path = report_dir / "failed.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record: Any = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("fileId"), str):
            found.append(record["fileId"])
    return found


class Verifier:
    """Checks one report directory (see the module docstring).

    Args:
        report_dir: the report to check.
        details: asks whether a file exists.
        host: the settings (concurrency, attempts), clock, budget lease and stop signal.
        listing_client: lists the selection again (None: the selection is not re-listed).
        sample: check this many ids reported deleted, drawn at random (None: all).
        rng: where the sample comes from.
    """

    def __init__(
        self,
        report_dir: str | os.PathLike[str],
        details: DetailsSender,
        host: ListingHost,
        *,
        listing_client: ListingClient | None = None,
        sample: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if sample is not None and sample < 1:
            raise UsageError(f"sample must be >= 1, got {sample}", "sample")
        self.report_dir = Path(report_dir)
        self.summary = read_summary(self.report_dir)
        self.details = details
        self.host = host
        self.listing_client = listing_client
        self.sample = sample
        self.rng = rng or random.Random()
        self.result = Verification(str(self.report_dir))
        #: why each id no answer settled stayed unsettled
        self._errors: dict[str, str] = {}

    async def run(self) -> Verification:
        """Run the three checks; the result is also kept as ``self.result``."""
        try:
            for check in (self._check_deleted, self._check_failed, self._check_selection):
                if self.host.signal.is_set:
                    break
                await check()
        except ListingError as exc:
            self.result.aborted = f"listing: {exc}"
        finally:
            if self.listing_client is not None:
                await self.listing_client.close()
        if self.host.signal.reason is not None:
            self.result.aborted = str(self.host.signal.reason)
        return self.result

    async def _check_deleted(self) -> None:
        path = self.report_dir / "deleted.txt"
        if self.sample is None:
            ids = read_ids(path)
            total = len(ids)
        else:
            ids, total = sample_ids(path, self.sample, self.rng)
        answers = await self.probe(ids)
        still = [i for i in ids if answers.get(i) is Kind.SUCCESS]
        for file_id in still:
            self._discrepancy("deleted_but_exists", file_id, "reported deleted; the server has it")
        self._unchecked("deleted", ids, answers)
        bound = upper_bound(total, len(ids), CONFIDENCE) if not still else None
        self.result.deleted = {
            "reported": total,
            "checked": len(ids),
            "sampled": len(ids) < total,
            "still_exist": len(still),
            "confidence": _confidence(total, len(ids), len(still), bound),
            "at_most_still_exist": bound,
            "confidence_level": CONFIDENCE,
        }

    async def _check_failed(self) -> None:
        ids = failed_ids(self.report_dir)
        answers = await self.probe(ids)
        gone = [i for i in ids if answers.get(i) is Kind.MISSING]
        for file_id in gone:
            self._discrepancy("failed_but_gone", file_id, "reported failed; the server has none")
        self._unchecked("failed", ids, answers)
        self.result.failed = {"reported": len(ids), "checked": len(ids), "gone": len(gone)}

    async def _check_selection(self) -> None:
        selection = self.summary.get("selection")
        if not isinstance(selection, dict) or self.listing_client is None:
            return
        query, started = selection.get("search_query"), selection.get("resolved_at")
        section: dict[str, Any] = {"search_query": query, "checked": False, "skipped": None}
        self.result.selection = section
        if self.summary.get("dry_run"):
            section["skipped"] = "a dry run deletes nothing"
            return
        if not self.summary.get("complete"):
            section["skipped"] = f"the run did not complete ({self.summary.get('aborted')})"
            return
        if not isinstance(query, str) or not isinstance(started, str):
            section["skipped"] = "the summary does not hold the query the run sent"
            return
        found = await self._relist(query)
        section.update(self._classify_found(found, started), checked=True)

    async def _relist(self, query: str) -> list[dict[str, Any]]:
        assert self.listing_client is not None
        # The query as sent, cutoff absolute: it selects today what it selected then.
        listing = Listing(self.listing_client, Selection(search_query=query))
        found: list[dict[str, Any]] = []
        async for files in listing.entries(self.host):
            found.extend(files)
        return found

    def _classify_found(self, found: list[dict[str, Any]], started: str) -> dict[str, Any]:
        failed = set(failed_ids(self.report_dir))
        deleted = _members(self.report_dir / "deleted.txt", {str(f.get("fileId")) for f in found})
        reported = {d["fileId"] for d in self.result.discrepancies}
        boundary = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))
        missed = 0
        for entry in found:
            file_id = str(entry.get("fileId"))
            if file_id in failed:
                continue
            if _created(entry) >= boundary:
                self.result.created_after_run.append(file_id)
            elif file_id in deleted:
                if file_id not in reported:
                    self._discrepancy("deleted_but_exists", file_id, "reported deleted; listed")
            else:
                missed += 1
                self._discrepancy(
                    "selector_missed", file_id, f"matches the selection: {entry.get('filePath')}"
                )
        return {
            "found": len(found),
            "should_have_been_deleted": missed,
            "reported_failed": len(failed & {str(f.get("fileId")) for f in found}),
            "created_after_run": len(self.result.created_after_run),
        }

    async def probe(self, ids: Iterable[str]) -> dict[str, Kind]:
        """Ask the details endpoint about each id, ``concurrency`` at a time; the kind of
        each final answer (``SUCCESS`` exists, ``MISSING`` does not; else unsettled)."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        for file_id in ids:
            queue.put_nowait(file_id)
        answers: dict[str, Kind] = {}

        async def worker() -> None:
            while not queue.empty() and not self.host.signal.is_set:
                file_id = queue.get_nowait()
                try:
                    outcome = await self._ask(file_id)
                except Stopped:
                    return  # stopped (a signal, a fatal answer): the rest stays unchecked
                answers[file_id] = outcome.kind
                if outcome.kind is Kind.FATAL:
                    detail = f"details: HTTP {outcome.status}: {outcome.message}"
                    self.host.stop(Abort(AbortReason.FATAL, detail))
                elif outcome.kind not in (Kind.SUCCESS, Kind.MISSING):
                    self._errors[file_id] = outcome.message or f"HTTP {outcome.status}"

        workers = min(self.host.settings.concurrency, queue.qsize())
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())
        return answers

    async def _ask(self, file_id: str) -> Outcome:
        host = self.host
        chain = Chain(budget=host.settings.max_attempts, started=host.clock.time())

        async def attempt() -> Outcome:
            turn = await host.lease.turn()
            host.signal.check()
            host.requests.sending(DETAILS)
            outcome = await self.details.details(file_id)
            host.requests.answered(DETAILS, outcome.status)
            await host.lease.observe(turn, outcome)
            return outcome

        return await send_with_retries(
            attempt,
            host.settings,
            chain=chain,
            clock=host.clock,
            signal=host.signal,
            backoff=host.backoff,
            on_retry=lambda: host.requests.retrying(DETAILS),
        )

    def _discrepancy(self, kind: str, file_id: str, detail: str) -> None:
        self.result.discrepancies.append({"kind": kind, "fileId": file_id, "detail": detail})

    def _unchecked(self, check: str, ids: list[str], answers: dict[str, Kind]) -> None:
        for file_id in ids:
            kind = answers.get(file_id)
            if kind not in (Kind.SUCCESS, Kind.MISSING):
                error = self._errors.get(file_id, "not asked: the check was stopped")
                self.result.unchecked.append({"fileId": file_id, "check": check, "error": error})


def _created(entry: dict[str, Any]) -> dt.datetime:
    text = entry.get("createdAt")
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def _members(path: Path, wanted: set[str]) -> set[str]:
    """The ids of ``wanted`` that the list at ``path`` holds (read as a stream)."""
    if not wanted or not path.exists():
        return set()
    with path.open(encoding="utf-8", errors="replace") as handle:
        return {line.strip() for line in handle if line.strip() in wanted}


def _confidence(total: int, checked: int, still: int, bound: int | None) -> str:
    """The deleted check's finding, in a sentence."""
    if total == 0:
        return "no ids reported deleted"
    if still:
        return f"{still:,} of {checked:,} ids checked still exist"
    if checked >= total:
        return f"all {total:,} ids reported deleted are gone"
    assert bound is not None
    share = bound / total
    return (
        f"none of a random sample of {checked:,} of {total:,} still exists: with "
        f"{CONFIDENCE:.0%} confidence at most {bound:,} ({share:.2%}) of the {total:,} do"
    )
