"""The work pool on its own: what is queued, what is handed out, and when."""

from __future__ import annotations

import asyncio

from bulkdel.engine.workpool import WorkPool


async def test_queued_ids_and_busy_count() -> None:
    """queued_ids lists the batches waiting; busy counts batches handed out."""
    pool = WorkPool(capacity=4)
    assert await pool.put(["a", "b"])
    assert await pool.put(["c"])
    assert sorted(pool.queued_ids()) == ["a", "b", "c"]
    assert pool.busy == 0
    assert await pool.get() == ["a", "b"]
    assert pool.busy == 1
    assert pool.queued_ids() == ["c"]
    await pool.done()
    assert pool.busy == 0


async def test_a_worker_waits_for_a_batch_then_ends_with_the_input() -> None:
    """An idle worker wakes for the next batch, and gets None once the reader is done and
    nothing is queued."""
    pool = WorkPool(capacity=4)
    getter = asyncio.ensure_future(pool.get())
    await asyncio.sleep(0)
    assert not getter.done()
    assert await pool.put(["r"])
    assert await asyncio.wait_for(getter, 5) == ["r"]
    await pool.done()
    await pool.close_reader()
    assert await pool.get() is None


async def test_stop_wakes_a_full_reader_and_idle_workers() -> None:
    """stop() releases a reader waiting for room and workers waiting for work."""
    pool = WorkPool(capacity=1)
    assert await pool.put(["a"])
    blocked_put = asyncio.ensure_future(pool.put(["b"]))
    await asyncio.sleep(0)
    assert not blocked_put.done()
    pool.stop()
    assert await blocked_put is False
    assert await pool.get() is None
