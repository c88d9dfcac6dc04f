"""The report writer's buffering and the text summary's wording."""

from __future__ import annotations

from pathlib import Path

from bulkdel.models import Abort, AbortReason
from bulkdel.record.ledger import Counts, RequestStats
from bulkdel.record.manifest import IDS_ONLY
from bulkdel.record.report import Report, ReportWriter, format_text
from tests.helpers import hex_ids, read_lines


def test_flush_puts_buffered_lines_on_disk_before_close(tmp_path: Path) -> None:
    """Lines are buffered; flush() writes them out whole, and close() adds the rest."""
    writer = ReportWriter(tmp_path / "r")
    writer.deleted(hex_ids(3))
    assert read_lines(tmp_path / "r" / "deleted.txt") == []  # still buffered
    writer.flush()
    assert read_lines(tmp_path / "r" / "deleted.txt") == hex_ids(3)
    writer.deleted(hex_ids(1, 3))
    writer.close()
    assert read_lines(tmp_path / "r" / "deleted.txt") == hex_ids(4)
    assert not (tmp_path / "r" / "summary.json").exists()  # no summary given


def test_text_summary_of_an_aborted_run_says_why_and_where(tmp_path: Path) -> None:
    """An aborted run's text summary says INCOMPLETE with the reason and points at the files
    of ids failed, invalid and not attempted."""
    counts = Counts(read=6, invalid=1, unique=5, deleted=2, failed=1, not_attempted=2)
    report = Report(
        counts=counts,
        requests=RequestStats(sent=3, retried=1),
        complete=False,
        abort=Abort(AbortReason.INTERRUPTED, "SIGINT"),
        elapsed_s=2.0,
        report_dir=tmp_path,
    )
    text = format_text(report)
    assert text.splitlines()[0] == "bulkdel: INCOMPLETE — aborted: interrupted by SIGINT"
    assert "  3 requests (1 retried) in 2.0s, 2 ids/s" in text
    assert f"  failures: {tmp_path / 'failed.jsonl'}" in text
    assert f"  invalid input: {tmp_path / 'invalid.jsonl'}" in text
    assert f"  not attempted: {tmp_path / 'not_attempted.txt'}" in text


def test_a_run_that_never_connected_says_so_instead_of_complete() -> None:
    """Every request failed to connect: the head says NO CONNECTION with the cause, not
    'complete'; summary.json counts the failures."""
    requests = RequestStats(sent=4, connect_failures=4, connect_error="ClientConnectorError: x")
    report = Report(
        counts=Counts(read=3, unique=3, failed=3),
        requests=requests,
        complete=True,
        abort=None,
        elapsed_s=1.0,
    )
    head = format_text(report).splitlines()[0]
    assert head == "bulkdel: NO CONNECTION — none of 4 requests connected (ClientConnectorError: x)"
    assert report.summary()["requests"]["connect_failures"] == 4
    requests.connect_failures = 3
    assert format_text(report).splitlines()[0] == "bulkdel: complete"
    assert not RequestStats().never_connected


def test_selection_and_purge_sections() -> None:
    """A listing run's summary has its selection; a purge is counted in both summaries."""
    purge = {"mode": "folders", "requests": 1, "completed": 1, "pending": 0, "failed": 0}
    report = Report(
        counts=Counts(),
        requests=RequestStats(),
        complete=True,
        abort=None,
        elapsed_s=1.0,
        selection={"cutoff": "2026-01-01T00:00:00Z"},
        purge={**purge, "refused": None},
    )
    summary = report.summary()
    assert summary["selection"] == {"cutoff": "2026-01-01T00:00:00Z"}
    assert summary["purge"]["requests"] == 1
    text = format_text(report)
    assert "  CDN purge (folders): 1 requests, 1 completed, 0 pending, 0 failed" in text
    refused = Report(
        counts=Counts(),
        requests=RequestStats(),
        complete=True,
        abort=None,
        elapsed_s=1.0,
        purge={**purge, "requests": 0, "completed": 0, "refused": "too many"},
    )
    assert "; refused: too many" in format_text(refused)
    assert "selection" not in refused.summary()


def test_the_ids_only_note_is_wrapped_to_fit_80_columns(tmp_path: Path) -> None:
    """The note is prose: on an 80-column terminal it must not run past the edge."""
    report = Report(
        counts=Counts(read=3, unique=3, deleted=3),
        requests=RequestStats(sent=1),
        complete=True,
        abort=None,
        elapsed_s=1.0,
        report_dir=tmp_path,
        manifest={"file": None, "records": 0, "note": IDS_ONLY},
    )
    lines = format_text(report).splitlines()
    assert all(len(line) <= 80 for line in lines if not line.startswith("  report:"))
    after_requests = next(i for i, line in enumerate(lines) if " requests (" in line) + 1
    before_report = next(i for i, line in enumerate(lines) if line.startswith("  report:"))
    assert " ".join(line.strip() for line in lines[after_requests:before_report]) == IDS_ONLY
