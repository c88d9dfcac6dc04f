"""Following a run from the embedding code: progress snapshots, batch outcomes, logging."""

from __future__ import annotations

import asyncio
import logging

import pytest

import bulkdel
from bulkdel.budget import LocalBudget
from bulkdel.models import Kind, Outcome
from bulkdel.telemetry import BatchDone, Progress, RunEvents
from bulkdel.testing import Faults
from tests.helpers import KEY, MakeFake, VirtualClock, hex_ids


class SlowSender:
    """Deletes every batch after a second of the run's (virtual) clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        await self.clock.sleep(1.0)
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


async def test_the_iterator_gives_batches_and_snapshots_until_the_last() -> None:
    """Every batch's outcome, snapshots on the run's clock with counts, rate
    and ETA, and a final snapshot whose counts are the report's; then the iterator ends."""
    clock = VirtualClock()
    events = RunEvents(every=1.0)
    deleter = bulkdel.BulkDeleter(
        settings=bulkdel.Settings(concurrency=2, batch_size=10),
        sender=SlowSender(clock),
        clock=clock,
        observers=[events],
    )
    task = asyncio.create_task(deleter.run(hex_ids(100)))
    seen = [event async for event in events]
    report = await task
    batches = [e for e in seen if isinstance(e, BatchDone)]
    snapshots = [e for e in seen if isinstance(e, Progress)]
    assert sorted(b.number for b in batches) == list(range(1, 11))
    assert sum(b.deleted for b in batches) == 100
    assert all(b.size == 10 and b.requests == 1 and b.elapsed_s >= 1.0 for b in batches)
    final = snapshots[-1]
    assert final.final and final.counts == report.counts and final.done == 100
    assert [s.final for s in snapshots].count(True) == 1
    middle = [s for s in snapshots if not s.final and s.total is not None and s.done]
    assert middle, snapshots
    first = middle[0]
    assert first.ids_per_s == pytest.approx(first.done / first.elapsed_s)
    assert first.eta_s == pytest.approx((100 - first.done) / first.ids_per_s)
    assert events.dropped == 0


async def test_callbacks_and_a_small_buffer() -> None:
    """Callbacks see every event; a reader that is not there loses the oldest batch events
    to a small buffer, and a snapshot replaces an unread one."""
    clock = VirtualClock()
    batches: list[BatchDone] = []
    progress: list[Progress] = []
    events = RunEvents(every=0.5, on_batch=batches.append, on_progress=progress.append, buffer=3)
    deleter = bulkdel.BulkDeleter(
        settings=bulkdel.Settings(concurrency=2, batch_size=10),
        sender=SlowSender(clock),
        clock=clock,
        observers=[events],
    )
    await deleter.run(hex_ids(100))
    assert len(batches) == 10 and progress[-1].final and len(progress) > 2
    held = [event async for event in events]
    assert len(held) == 3 and isinstance(held[-1], Progress) and held[-1].final
    # every event was put once at most, a snapshot replacing an unread one: the batches
    # alone overflow a buffer of 3
    assert 10 + 1 - 3 <= events.dropped <= 10 + len(progress) - 3


def test_every_must_be_positive() -> None:
    """``every=0`` is refused with the value named."""
    with pytest.raises(ValueError, match="every must be > 0, got 0"):
        RunEvents(every=0)


async def test_logging_gets_structured_records(
    caplog: pytest.LogCaptureFixture, make_fake: MakeFake
) -> None:
    """With ``bulkdel.run`` at DEBUG, a run logs its start, each batch and its end, with the
    figures as ``extra`` fields; nothing is printed."""
    caplog.set_level(logging.DEBUG, logger="bulkdel.run")
    server = await make_fake(existing=hex_ids(250), faults=Faults())
    report = await bulkdel.delete_files(
        hex_ids(300), private_key=KEY, base_url=server.url, budget=LocalBudget()
    )
    records = [r for r in caplog.records if r.name == "bulkdel.run"]
    kinds = [getattr(r, "bulkdel_event", None) for r in records]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    batches = [r for r in records if getattr(r, "bulkdel_event", None) == "batch"]
    assert sum(r.bulkdel_batch["deleted"] for r in batches) == 250
    assert sum(r.bulkdel_batch["missing"] for r in batches) == 50
    assert records[-1].bulkdel_counts == report.counts.as_dict()
    assert records[-1].levelno == logging.INFO
