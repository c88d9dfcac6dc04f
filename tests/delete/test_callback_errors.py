"""A caller's callback that raises (a sink, an observer, ``RunEvents``' on_progress) stops the
run; its accounting is kept, and the call raises the caller's own exception, not a group."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings, UsageError
from bulkdel.models import AbortReason, Kind, Outcome
from bulkdel.telemetry import Attempt, RunEvents, RunObserver, RunView
from tests.helpers import check_report_dir, hex_ids, read_lines


class Deletes:
    """Deletes every batch; the second and later wait for ``go`` (set by the test)."""

    def __init__(self) -> None:
        self.deleted: set[str] = set()
        self.go = asyncio.Event()
        self.calls = 0

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.calls += 1
        if self.calls > 1:
            await self.go.wait()
        self.deleted.update(file_ids)
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


class FailsOnDelete:
    """A sink whose ``deleted`` raises (a caller's database went away)."""

    def invalid(self, source: str, line: int, value: str, reason: str) -> None: ...
    def duplicate(self, file_id: str, source: str, line: int) -> None: ...
    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None: ...
    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None: ...
    def not_attempted(self, file_ids: Iterable[str]) -> None: ...

    def deleted(self, file_ids: Sequence[str]) -> None:
        raise ConnectionError("the caller's database went away")


def settings() -> Settings:
    return Settings(concurrency=1, batch_size=10)


def check_stopped(deleter: BulkDeleter, sender: Deletes, report_dir: Path, where: str) -> None:
    report = deleter.last_report
    assert report is not None and report.abort is not None
    assert report.abort.reason is AbortReason.ERROR and where in report.abort.detail
    summary = check_report_dir(report_dir)
    assert set(read_lines(report_dir / "deleted.txt")) == sender.deleted
    assert summary["counts"]["not_attempted"] > 0  # stopped, not run through


async def test_a_sink_that_raises_stops_the_run_and_its_error_is_the_callers(
    tmp_path: Path,
) -> None:
    """A sink's ConnectionError is raised as itself once the run has stopped and written its
    report (fails before: an ExceptionGroup from inside the run, and no report)."""
    sender = Deletes()
    deleter = BulkDeleter(
        settings=settings(), sender=sender, report_dir=tmp_path / "r", sinks=[FailsOnDelete()]
    )
    with pytest.raises(ConnectionError, match="went away") as raised:
        await deleter.run(hex_ids(200))
    assert "BulkDeleter.last_report" in "".join(getattr(raised.value, "__notes__", []))
    check_stopped(deleter, sender, tmp_path / "r", "sink FailsOnDelete.deleted")


async def test_a_sink_without_a_method_is_refused_before_anything_is_read() -> None:
    """A sink lacking a ledger method is a UsageError naming ``sinks`` at once (fails
    before: an AttributeError in the middle of the run)."""

    class NoFailed:
        def invalid(self, *args: object) -> None: ...
        def duplicate(self, *args: object) -> None: ...
        def deleted(self, *args: object) -> None: ...
        def missing(self, *args: object) -> None: ...
        def not_attempted(self, *args: object) -> None: ...

    with pytest.raises(UsageError, match="NoFailed has no failed") as raised:
        BulkDeleter(settings=settings(), sender=Deletes(), sinks=[NoFailed()])  # type: ignore[list-item]
    assert raised.value.parameters == ("sinks",)


async def test_an_on_progress_that_raises_stops_the_run_with_its_accounting(
    tmp_path: Path,
) -> None:
    """RunEvents' on_progress raising in its ticker stops the run and is raised at the end
    (fails before: the ticker died silently and the run went on)."""
    sender = Deletes()

    def on_progress(progress: object) -> None:
        sender.go.set()  # the run goes on only once the callback has run
        raise ValueError("the caller's dashboard is down")

    events = RunEvents(every=0.001, on_progress=on_progress)
    deleter = BulkDeleter(
        settings=settings(), sender=sender, report_dir=tmp_path / "r", observers=[events]
    )
    with pytest.raises(ValueError, match="dashboard is down"):
        await asyncio.wait_for(deleter.run(hex_ids(2_000)), 60)
    check_stopped(deleter, sender, tmp_path / "r", "RunEvents on_progress")


async def test_an_observer_that_raises_stops_the_run_with_its_accounting(
    tmp_path: Path,
) -> None:
    """A RunObserver whose ``attempt`` raises stops the run; its error is the caller's."""

    class Breaks(RunObserver):
        def attempt(self, run: RunView, attempt: Attempt) -> None:
            raise KeyError("a bug in the caller's observer")

    sender = Deletes()
    sender.go.set()
    deleter = BulkDeleter(
        settings=settings(), sender=sender, report_dir=tmp_path / "r", observers=[Breaks()]
    )
    with pytest.raises(KeyError, match="caller's observer"):
        await deleter.run(hex_ids(2_000))
    check_stopped(deleter, sender, tmp_path / "r", "observer Breaks.attempt")


async def test_a_cancelled_run_leaves_its_accounted_report_on_the_deleter(
    tmp_path: Path,
) -> None:
    """Cancelling ``run`` raises CancelledError; ``deleter.last_report`` is the accounted
    report of the cancelled run (the documented way to it), and the report files agree."""
    sender = Deletes()
    deleter = BulkDeleter(settings=settings(), sender=sender, report_dir=tmp_path / "r")
    task = asyncio.create_task(deleter.run(hex_ids(500)))
    while sender.calls < 2:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    report = deleter.last_report
    assert report is not None and report.abort is not None
    assert report.abort.reason is AbortReason.CANCELLED and report.counts.balanced()
    assert report.counts.deleted == len(sender.deleted) == 10
    check_stopped_files = check_report_dir(tmp_path / "r")
    assert check_stopped_files["counts"] == report.counts.as_dict()


def test_run_events_every_must_be_positive() -> None:
    """``RunEvents(every=0)`` is a UsageError naming ``every`` (it was a plain ValueError)."""
    with pytest.raises(UsageError) as raised:
        RunEvents(every=0)
    assert raised.value.parameters == ("every",)
