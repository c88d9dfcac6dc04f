"""The progress line: what it says for a known job state, and how it is drawn and cleared."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings
from bulkdel.budget import LocalBudget, Turn
from bulkdel.cli import progress as progress_module
from bulkdel.cli.progress import ProgressDisplay
from bulkdel.engine.pipeline import Pipeline
from bulkdel.engine.sources import FileReader
from bulkdel.models import Kind, Outcome
from bulkdel.record.ledger import Ledger
from tests.helpers import hex_ids


def job(unique: int, deleted: int, missing: int, failed: int = 0) -> BulkDeleter:
    """A dry-run deleter whose ledger holds these counts (nothing is sent)."""
    deleter = BulkDeleter(settings=Settings(dry_run=True))
    ledger = deleter.ledger
    ids = hex_ids(deleted + missing + failed)
    ledger.unique(unique)
    ledger.deleted(ids[:deleted])
    ledger.missing(ids[deleted : deleted + missing])
    for file_id in ids[deleted + missing :]:
        ledger.failed(file_id, "locked", 207, 6)
    return deleter


def started_ago(display: ProgressDisplay, seconds: float) -> ProgressDisplay:
    display._started = time.monotonic() - seconds
    return display


def half_read_file(tmp_path: Path) -> FileReader:
    """A reader of a 1,000-byte file that has read half of it."""
    path = tmp_path / "ids.txt"
    path.write_bytes(b"x" * 1000)
    reader = FileReader(str(path))
    reader.open()
    reader.bytes_read = 500
    return reader


def test_line_without_a_known_total() -> None:
    """With no sized input the line gives done, the failures, the buckets and the rate."""
    display = started_ago(ProgressDisplay(job(100, 30, 10, 2), stream=io.StringIO()), 10)
    assert display.line() == "42 done | 2 failed | 30 deleted | 10 missing | 4 ids/s"


def test_line_estimates_the_total_from_bytes_read(tmp_path: Path) -> None:
    """Half of the file read with 50 unique ids: about 100 in all, and an ETA at this rate."""
    reader = half_read_file(tmp_path)
    try:
        display = started_ago(ProgressDisplay(job(50, 20, 0), [reader], io.StringIO()), 10)
        assert display.line() == "20/~100 done | 20 deleted | 0 missing | 2 ids/s | ETA 40s"
    finally:
        reader.close()


def test_no_estimate_from_an_unsized_or_empty_input(tmp_path: Path) -> None:
    """stdin (no size) or an empty file give no total, so no ETA."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    reader = FileReader(str(empty))
    reader.open()
    stdin_like = FileReader(str(empty))  # never opened: size unknown, like a pipe
    try:
        for readers in ([reader], [reader, stdin_like]):
            display = ProgressDisplay(job(5, 5, 0), readers, io.StringIO())
            assert display.line().startswith("5 done | ")
            assert "ETA" not in display.line()
    finally:
        reader.close()


async def test_line_once_the_input_is_read_is_exact_and_shows_the_pace(tmp_path: Path) -> None:
    """Once the whole input is read the total is exact; a paced run shows its pace, and a
    shut throttle gate shows the wait instead."""
    deleter = job(50, 20, 5)
    pipeline = Pipeline(_NeverSends(), Settings(rate=12.5), Ledger(), budget=LocalBudget())
    deleter.pipeline = pipeline
    reader = half_read_file(tmp_path)
    display = started_ago(ProgressDisplay(deleter, [reader], io.StringIO()), 5)
    try:
        assert display.line().startswith("25/~100 done | ")  # estimated while reading
        pipeline.reader.input_done = True
        assert display.line() == (
            "25/50 done | 20 deleted | 5 missing | 5 ids/s | ETA 5s | pace 12.5 req/s"
        )
        shut = Outcome(Kind.THROTTLED, 429, retry_after=30.0, limit=12, interval=1.0)
        await pipeline.lease.observe(Turn(0.0), shut)
        line = display.line()
        assert "throttled: waiting 30.0s" in line or "throttled: waiting 29.9s" in line
        assert "pace" not in line
        # an adaptive run that has not been throttled yet is unpaced: no pace to show
        deleter.pipeline = unpaced = Pipeline(
            _NeverSends(), Settings(), Ledger(), budget=LocalBudget(slow_start=False)
        )
        unpaced.reader.input_done = True
        assert display.line().endswith("| 5 ids/s | ETA 5s")
    finally:
        reader.close()


async def test_start_redraws_and_stop_clears(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started, the display redraws its line in place; stopped, it clears the line."""
    monkeypatch.setattr(progress_module, "_REFRESH", 0.001)
    stream = io.StringIO()
    display = ProgressDisplay(job(3, 3, 0), stream=stream)
    display.start()
    while "\r\033[K3 done" not in stream.getvalue():
        await asyncio.sleep(0.001)
    await display.stop()
    assert stream.getvalue().endswith("\r\033[K")
    assert display._task is not None and display._task.done()


async def test_stop_without_start_only_clears() -> None:
    """Stopping a display that never started just clears the line."""
    stream = io.StringIO()
    await ProgressDisplay(job(0, 0, 0), stream=stream).stop()
    assert stream.getvalue() == "\r\033[K"


class _NeverSends:
    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        raise AssertionError("nothing is sent in these tests")


def big_job() -> ProgressDisplay:
    """A display of a large run with failures, a known total and a pace: a line of ~100."""
    deleter = job(1_250_000, 612_345, 12_345, 1_234)
    deleter.pipeline = Pipeline(_NeverSends(), Settings(rate=12.5), Ledger(), budget=LocalBudget())
    deleter.pipeline.reader.input_done = True
    return started_ago(ProgressDisplay(deleter, stream=io.StringIO()), 100)


@pytest.mark.parametrize("width", [200, 120, 100, 80, 60, 40, 30, 20, 10, 1])
async def test_the_line_fits_the_terminal_most_important_first(width: int) -> None:
    """Never more than width - 1 columns (a full-width line wraps); what is left out is
    the least important: done/total first, then failed, deleted, missing, rate, ETA, pace."""
    display = big_job()
    full = display.parts()
    assert full[:4] == [
        "625,924/1,250,000 done",
        "1,234 failed",
        "612,345 deleted",
        "12,345 missing",
    ]
    line = display.line(width)
    assert len(line) <= width - 1
    shown = line.split(" | ")
    if len(shown) > 1 or shown[0] == full[0]:
        assert shown == full[: len(shown)]  # a prefix: nothing important left out for less
    else:
        assert full[0].startswith(shown[0])  # even done/total is cut, never overflows
    if width >= 40:
        assert "1,234 failed" in line


async def test_at_80_and_40_columns() -> None:
    """The README's widths: everything fits at 120; at 80 the pace goes; at 40 the counts
    that matter stay."""
    display = big_job()
    assert display.line(120) == (
        "625,924/1,250,000 done | 1,234 failed | 612,345 deleted | 12,345 missing | "
        "6,259 ids/s | ETA 100s | pace 12.5 req/s"
    )
    assert display.line(80) == (
        "625,924/1,250,000 done | 1,234 failed | 612,345 deleted | 12,345 missing"
    )
    assert display.line(40) == "625,924/1,250,000 done | 1,234 failed"


async def test_each_redraw_reads_the_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal resized during the run: the next redraw fits the new width."""
    monkeypatch.setattr(progress_module, "_REFRESH", 0.001)
    widths = iter([120, 120, 40] + [40] * 10_000)
    stream = io.StringIO()
    display = big_job()
    display._stream = stream
    display._columns = lambda: next(widths)
    display.start()
    while stream.getvalue().count("\r\033[K") < 4:
        await asyncio.sleep(0.001)
    await display.stop()
    drawn = [d for d in stream.getvalue().split("\r\033[K") if d]
    assert len(drawn[0]) > 80 and all(len(d) <= 39 for d in drawn[2:])


async def test_no_line_over_ids_typed_on_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdin is a terminal and an input: nothing is drawn (nor cleared) while it is read;
    once it is read, the line comes."""
    monkeypatch.setattr(progress_module, "_REFRESH", 0.001)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    deleter = job(3, 3, 0)
    deleter.pipeline = Pipeline(_NeverSends(), Settings(), Ledger(), budget=LocalBudget())
    stream = io.StringIO()
    display = ProgressDisplay(deleter, [FileReader("-")], stream=stream)
    display.start()
    await asyncio.sleep(0.05)
    assert stream.getvalue() == ""
    deleter.pipeline.reader.input_done = True
    while "3/3 done" not in stream.getvalue():
        await asyncio.sleep(0.001)
    await display.stop()
    typed = ProgressDisplay(job(1, 1, 0), [FileReader("-")], stream=io.StringIO())
    typed.start()
    await asyncio.sleep(0.02)
    await typed.stop()
    assert typed._stream.getvalue() == ""  # type: ignore[attr-defined]
