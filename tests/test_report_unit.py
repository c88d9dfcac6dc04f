"""The report writer's buffering and the text summary's wording."""

from __future__ import annotations

from pathlib import Path

from bulkdel.ledger import Counts, RequestStats
from bulkdel.models import Abort, AbortReason
from bulkdel.report import Report, ReportWriter, format_text
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
