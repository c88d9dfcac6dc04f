"""BulkDeleter's own bookkeeping: how a run that ends early is reported."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings
from bulkdel.models import Kind, Outcome
from tests.helpers import check_report_dir, hex_ids


class HangingSender:
    """Accepts a batch and never answers (until cancelled)."""

    def __init__(self) -> None:
        self.sent = asyncio.Event()

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.sent.set()
        await asyncio.Event().wait()
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))  # pragma: no cover


async def cancel_while_sending(ids: list[str], report_dir: Path) -> dict[str, object]:
    sender = HangingSender()
    deleter = BulkDeleter(
        settings=Settings(concurrency=1, batch_size=10), sender=sender, report_dir=report_dir
    )
    task = asyncio.ensure_future(deleter.run(ids))
    await sender.sent.wait()
    await asyncio.sleep(0.05)  # lets the reader go as far as it can
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert deleter.last_report is not None
    return check_report_dir(report_dir)


async def test_cancelled_while_reading_says_cancelled(tmp_path: Path) -> None:
    """A run cancelled before its input is read reports aborted 'cancelled', not complete."""
    summary = await cancel_while_sending(hex_ids(5000), tmp_path / "r")
    assert summary["aborted"] == "cancelled"
    assert summary["complete"] is False


async def test_cancelled_after_reading_everything_says_cancelled(tmp_path: Path) -> None:
    """A run cancelled after its whole input was read still reports aborted 'cancelled'."""
    summary = await cancel_while_sending(hex_ids(30), tmp_path / "r")
    assert summary["counts"]["not_attempted"] > 0
    assert summary["complete"] is False
    assert summary["aborted"] == "cancelled"


async def test_the_summary_is_written_off_the_callers_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the report (flushes, two fsyncs, the summary's rename) runs in a thread: a
    service's loop is not held while the disk confirms; the report is whole when run ends."""
    from bulkdel.record.writer import ReportWriter

    closed_in: list[bool] = []
    close = ReportWriter.close

    def spy(self: ReportWriter, summary: dict[str, object] | None = None) -> None:
        closed_in.append(threading.current_thread() is threading.main_thread())
        close(self, summary)

    monkeypatch.setattr(ReportWriter, "close", spy)
    deleter = BulkDeleter(settings=Settings(dry_run=True), report_dir=tmp_path / "r")
    report = await deleter.run(hex_ids(30))
    assert closed_in == [False]
    summary = check_report_dir(tmp_path / "r")
    assert summary["counts"]["not_attempted"] == 30 == report.counts.not_attempted
