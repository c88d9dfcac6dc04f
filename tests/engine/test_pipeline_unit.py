"""Pipeline paths the end-to-end tests rarely reach: --max-delete under the limit, a stop
during a retry's backoff, and ids a resumed job finds failed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bulkdel import BulkDeleter, Settings
from bulkdel.budget import LocalBudget
from bulkdel.models import Abort, AbortReason, FileError, Kind, Outcome
from tests.helpers import check_report_dir, hex_ids


class DeletesAll:
    """Deletes every batch; records what was sent."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.sent.append(list(file_ids))
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


class CannotConnect:
    """Every request fails before it is sent (so it cannot have been applied)."""

    def __init__(self) -> None:
        self.calls = 0
        self.first = asyncio.Event()

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.calls += 1
        self.first.set()
        return Outcome(Kind.TRANSIENT, None, message="cannot connect: refused")


async def test_max_delete_above_the_input_sends_everything_after_reading_it(
    tmp_path: Path,
) -> None:
    """Under --max-delete, the whole input is read first, then every batch (the last one
    partial) is sent and deleted."""
    sender = DeletesAll()
    settings = Settings(batch_size=100, max_delete=1000)
    deleter = BulkDeleter(settings=settings, sender=sender, report_dir=tmp_path / "r")
    report = await deleter.run(hex_ids(250))
    assert [len(batch) for batch in sender.sent] == [100, 100, 50]
    assert report.counts.deleted == 250
    assert report.exit_code == 0
    check_report_dir(tmp_path / "r")


async def test_a_stop_during_backoff_ends_the_wait_at_once(tmp_path: Path) -> None:
    """A batch waiting out a long backoff is not sent again once the run is stopped: the
    run returns at once and its ids are not attempted (nothing can have been applied)."""
    sender = CannotConnect()
    settings = Settings(batch_size=10, concurrency=1, backoff_base=60.0, backoff_max=60.0)
    deleter = BulkDeleter(settings=settings, sender=sender, report_dir=tmp_path / "r")
    task = asyncio.ensure_future(deleter.run(hex_ids(10)))
    await sender.first.wait()
    await asyncio.sleep(0.05)  # the worker is now in its backoff
    started = time.monotonic()
    deleter.stop(Abort(AbortReason.INTERRUPTED, "SIGINT"))
    report = await asyncio.wait_for(task, 10)
    assert time.monotonic() - started < 5
    assert sender.calls == 1
    assert report.counts.not_attempted == 10
    assert report.counts.failed == 0
    assert report.aborted == "interrupted by SIGINT"
    check_report_dir(tmp_path / "r")


class LocksSome:
    """Deletes every id but the locked ones, which come back as 207 errors."""

    def __init__(self, locked: set[str]) -> None:
        self.locked = locked
        self.sent: list[str] = []

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.sent.extend(file_ids)
        errors = tuple(FileError(i, "File is locked.") for i in file_ids if i in self.locked)
        deleted = tuple(i for i in file_ids if i not in self.locked)
        return Outcome(Kind.SUCCESS, 207 if errors else 200, deleted=deleted, errors=errors)


async def test_a_resumed_job_reports_earlier_failures_without_sending_them(
    tmp_path: Path,
) -> None:
    """Ids an earlier run of the job failed are reported failed again, with the server's
    reason, and not sent again."""
    ids = hex_ids(40)
    locked = set(ids[:4])
    journal = tmp_path / "job.journal"
    settings = Settings(max_attempts=1)
    first = LocksSome(locked)
    report = await BulkDeleter(settings=settings, sender=first, journal=journal).run(ids)
    assert report.counts.failed == 4
    again = LocksSome(locked)
    deleter = BulkDeleter(
        settings=settings, sender=again, journal=journal, report_dir=tmp_path / "r"
    )
    report = await deleter.run(ids)
    assert again.sent == []
    assert report.counts.failed == 4 and report.counts.deleted == 36
    summary = check_report_dir(tmp_path / "r")
    assert summary["journal"]["settled_earlier"] == 40
    failed = (tmp_path / "r" / "failed.jsonl").read_text()
    assert failed.count("File is locked.") == 4


async def test_backoff_waits_through_the_injected_sleep() -> None:
    """The pipeline's clock is injectable: a 5xx's backoff sleeps through it."""
    from bulkdel.engine.pipeline import Pipeline
    from bulkdel.engine.sources import iterable_chunks
    from bulkdel.record.ledger import Ledger

    slept: list[float] = []

    class FakeClock:
        def time(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            slept.append(seconds)

    answers = [Outcome(Kind.TRANSIENT, 503, message="busy", maybe_applied=False)]

    class Sender:
        async def delete_batch(self, file_ids: list[str]) -> Outcome:
            if answers:
                return answers.pop()
            return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))

    settings = Settings(backoff_base=60.0, backoff_max=600.0)
    ledger = Ledger()
    clock = FakeClock()
    pipeline = Pipeline(Sender(), settings, ledger, clock=clock, budget=LocalBudget(clock=clock))
    await pipeline.run(iterable_chunks(["a" * 24]))
    assert ledger.counts.deleted == 1
    assert len(slept) == 1 and 0 <= slept[0] <= 60.0
