"""The journal's in-flight mark means "may have been sent" (issue 24, item 7): a batch is
marked when a worker takes it, not while it waits in the queue."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings
from bulkdel.models import Kind, Outcome
from tests.helpers import hex_ids


class HangingSender:
    """Takes batches and never answers; remembers what was sent."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.first = asyncio.Event()

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.sent.append(list(file_ids))
        self.first.set()
        await asyncio.Event().wait()
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))  # pragma: no cover


def marked_in_flight(journal: Path) -> set[str]:
    with sqlite3.connect(journal) as conn:
        rows = conn.execute("SELECT ids FROM in_flight").fetchall()
    return {i for (ids,) in rows for i in ids.split(",")}


async def test_only_batches_a_worker_took_are_marked_in_flight(tmp_path: Path) -> None:
    """One worker hangs on its first request while the reader fills the queue: the journal
    (as a `kill -9` would leave it) holds exactly the batch that was sent in flight."""
    sender = HangingSender()
    deleter = BulkDeleter(
        settings=Settings(concurrency=1, batch_size=10, linger=0.0),
        sender=sender,
        journal=tmp_path / "j",
    )
    task = asyncio.ensure_future(deleter.run(hex_ids(500)))
    await sender.first.wait()
    pipeline = deleter.pipeline
    assert pipeline is not None and pipeline.journal is not None
    # the reader queues batches behind the hanging one (bounded by the pool's queue)
    for _ in range(200):
        await asyncio.sleep(0)
    await pipeline.journal.sync()
    try:
        assert marked_in_flight(tmp_path / "j") == set(sender.sent[0])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
