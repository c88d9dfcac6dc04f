"""The work pool on its own: what is queued, what is handed out, and when."""

from __future__ import annotations

import asyncio

from bulkdel._engine.workpool import WorkPool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.now += seconds


async def test_queued_ids_and_busy_count() -> None:
    """queued_ids lists fresh and retry ids alike; busy counts batches handed out."""
    clock = Clock()
    pool = WorkPool(capacity=4, batch_size=2, clock=clock)
    assert await pool.put(["a", "b"])
    assert await pool.put(["c"])
    await pool.retry_later(["r1", "r2"], ready_at=clock.now + 5)
    assert sorted(pool.queued_ids()) == ["a", "b", "c", "r1", "r2"]
    assert pool.busy == 0
    assert await pool.get() == ["a", "b"]
    assert pool.busy == 1
    assert sorted(pool.queued_ids()) == ["c", "r1", "r2"]
    await pool.done()
    assert pool.busy == 0


async def test_retry_ids_wait_for_their_time_then_go_out() -> None:
    """Ids to try again are not handed out before they are ripe; a worker waiting for them
    wakes when they are."""
    clock = Clock()
    pool = WorkPool(capacity=4, batch_size=10, clock=clock)
    await pool.retry_later(["r"], ready_at=clock.now + 0.02)
    await pool.close_reader()
    getter = asyncio.ensure_future(pool.get())
    await asyncio.sleep(0)
    assert not getter.done()  # not ripe yet: the worker waits
    clock.now += 1
    assert await asyncio.wait_for(getter, 5) == ["r"]
    await pool.done()
    assert await pool.get() is None  # reader done, nothing queued, nobody busy


async def test_stop_wakes_a_full_reader_and_idle_workers() -> None:
    """stop() releases a reader waiting for room and workers waiting for work."""
    pool = WorkPool(capacity=1, batch_size=1, clock=Clock())
    assert await pool.put(["a"])
    blocked_put = asyncio.ensure_future(pool.put(["b"]))
    await asyncio.sleep(0)
    assert not blocked_put.done()
    pool.stop()
    assert await blocked_put is False
    assert await pool.get() is None
