"""The reconciliation report: the ``Report`` a run returns, ``summary.json``'s content and the
text summary. The files themselves are written by ``bulkdel.record.writer`` (re-exported here).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..models import Abort, AbortReason
from .disk import open_private, write_all, write_json_atomic
from .ledger import Counts, RequestStats
from .writer import LIST_FILES, REPORT_FILES, ReportWriter, check_report_dir

__all__ = [
    "LIST_FILES",
    "REPORT_FILES",
    "Report",
    "ReportWriter",
    "Resumed",
    "check_report_dir",
    "format_text",
    "open_private",
    "write_all",
    "write_json_atomic",
]


@dataclass(frozen=True, slots=True)
class Resumed:
    """A run with a journal: which journal, and what earlier runs had done.

    A run fills ``resumed`` and the ``*_earlier`` counts; a report rebuilt from a journal
    fills ``runs`` and ``in_flight_unknown``; what a side does not know is None.
    """

    journal: str
    #: the journal already held a job when this run started
    resumed: bool | None = None
    #: ids an earlier run had settled, and ids it had left in flight
    settled_earlier: int | None = None
    in_flight_earlier: int | None = None
    #: runs recorded in the journal, and ids left in flight (outcome unknown)
    runs: int | None = None
    in_flight_unknown: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``summary.json``'s ``journal``)."""
        return {
            "journal": self.journal,
            "resumed": self.resumed,
            "settled_earlier": self.settled_earlier,
            "in_flight_earlier": self.in_flight_earlier,
            "runs": self.runs,
            "in_flight_unknown": self.in_flight_unknown,
        }


@dataclass(frozen=True)
class Report:
    """The result of a run, as returned by the library and written as ``summary.json``."""

    counts: Counts
    requests: RequestStats
    complete: bool
    #: why the run ended early (typed), or None
    abort: Abort | None
    elapsed_s: float
    report_dir: Path | None = None
    #: nothing was sent on purpose: every unique id is "not attempted"
    dry_run: bool = False
    #: with a journal: which journal, and what earlier runs had settled or left in flight
    resumed: Resumed | None = None
    #: a listing run: the selectors, the query sent and the absolute cutoff they meant
    selection: dict[str, Any] | None = None
    #: CDN purges after the delete: requests sent (they count against a monthly quota)
    purge: dict[str, Any] | None = None
    #: ``manifest.jsonl``: the records written, or a note that the input held ids only
    manifest: dict[str, Any] | None = None
    #: bytes of the deleted files whose records gave a size (None: no record had one)
    bytes_deleted: int | None = None
    #: who ran it, when, where, how, on which account (``bulkdel.record.audit``)
    audit: dict[str, Any] | None = None

    @property
    def aborted(self) -> str | None:
        """The abort's text, as ``summary.json`` shows it (for people: act on ``abort``)."""
        return None if self.abort is None else str(self.abort)

    @property
    def ids_per_s(self) -> float:
        """Ids settled (deleted, missing or failed) per second of the run."""
        c = self.counts
        return (c.deleted + c.missing + c.failed) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """``summary.json``'s content (docs/contract.md, "The report")."""
        return {
            "version": 1,
            "complete": self.complete,
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "counts": self.counts.as_dict(),
            "requests": self.requests.as_dict(),
            "elapsed_s": round(self.elapsed_s, 3),
            "ids_per_s": round(self.ids_per_s, 1),
            **({"journal": self.resumed.as_dict()} if self.resumed is not None else {}),
            **({"selection": self.selection} if self.selection is not None else {}),
            **({"purge": self.purge} if self.purge is not None else {}),
            **({"manifest": self.manifest} if self.manifest is not None else {}),
            **({"bytes_deleted": self.bytes_deleted} if self.manifest is not None else {}),
            **({"audit": self.audit} if self.audit is not None else {}),
        }

    @property
    def exit_code(self) -> int:
        """The exit code for this outcome (docs/contract.md, "Exit codes"): the abort's
        (``EXIT_CODES``) when it sets one, else 1 when any id failed or was not attempted (a
        dry run that ran through: 0)."""
        if self.abort is not None and self.abort.exit_code is not None:
            return self.abort.exit_code
        c = self.counts
        if self.dry_run and self.abort is None:
            return 0
        return 1 if c.failed or c.not_attempted else 0


#: the human summary's prose lines fit an 80-column terminal
_TEXT_WIDTH: Final = 79


def format_text(report: Report) -> str:
    """The short human summary printed on stderr."""
    c = report.counts
    rows = [
        ("read", c.read),
        ("invalid", c.invalid),
        ("duplicate", c.duplicate),
        ("unique", c.unique),
        ("deleted", c.deleted),
        ("missing", c.missing),
        ("  after retry", c.missing_after_retry),
        ("failed", c.failed),
        ("not attempted", c.not_attempted),
    ]
    width = max(len(f"{n:,}") for _, n in rows)
    lines = [f"  {name:<14}{n:>{width},}" for name, n in rows]
    r = report.requests
    lines.insert(0, _head(report))
    lines.append(
        f"  {r.sent:,} requests ({r.retried:,} retried) in {report.elapsed_s:.1f}s, "
        f"{report.ids_per_s:,.0f} ids/s"
    )
    if report.purge is not None:
        p = report.purge
        lines.append(
            f"  CDN purge ({p['mode']}): {p['requests']:,} requests, {p['completed']:,} "
            f"completed, {p['pending']:,} pending, {p['failed']:,} failed"
            + (f"; refused: {p['refused']}" if p.get("refused") else "")
        )
    lines.extend(_manifest_lines(report))
    if report.report_dir is not None:
        where = report.report_dir
        lines.append(f"  report: {where}")
        if c.failed:
            lines.append(f"  failures: {where / 'failed.jsonl'}")
        if c.invalid:
            lines.append(f"  invalid input: {where / 'invalid.jsonl'}")
        if c.not_attempted:
            lines.append(f"  not attempted: {where / 'not_attempted.txt'}")
    return "\n".join(lines)


def _head(report: Report) -> str:
    """The summary's first line: what the run amounted to, in a word a user can act on."""
    r = report.requests
    reason = report.abort.reason if report.abort is not None else None
    if r.never_connected:
        head = f"bulkdel: NO CONNECTION — none of {r.sent:,} requests connected"
        head += f" ({r.connect_error})" if r.connect_error else ""
        return head if reason in (None, AbortReason.UNREACHABLE) else f"{head} — {report.aborted}"
    if reason is AbortReason.NO_VALID_ID:
        return f"bulkdel: NO VALID ID — {report.abort.detail if report.abort else ''}; nothing sent"
    if report.dry_run:
        head = "bulkdel: dry run — nothing sent"
    else:
        head = "bulkdel: " + ("complete" if report.complete else "INCOMPLETE")
    return head + (f" — aborted: {report.aborted}" if report.aborted else "")


def _manifest_lines(report: Report) -> list[str]:
    """What the report knows of the files, beyond their ids."""
    manifest = report.manifest
    if manifest is None or report.report_dir is None:
        return []
    if manifest.get("note"):
        # the note is prose: wrapped, it reads whole on an 80-column terminal
        return textwrap.wrap(
            manifest["note"], _TEXT_WIDTH, initial_indent="  ", subsequent_indent="    "
        )
    sized = "" if report.bytes_deleted is None else f", {report.bytes_deleted:,} bytes deleted"
    return [
        f"  manifest: {report.report_dir / manifest['file']} ({manifest['records']:,} file "
        f"records{sized})"
    ]
