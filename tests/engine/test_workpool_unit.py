"""The work pool on its own: what is queued, what is handed out, and when."""

from __future__ import annotations

import asyncio

from bulkdel.core.stop import StopSignal
from bulkdel.engine.workpool import WorkPool
from bulkdel.models import Abort, AbortReason


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


async def test_the_pool_reads_the_runs_stop_signal() -> None:
    """A stop of the run (a Redis lease's fatal answer sets the signal, not the pool) hands
    nothing more out; ``stop()`` gives the signal its reason if none came first."""
    signal = StopSignal()
    pool = WorkPool(capacity=4, signal=signal)
    assert await pool.put(["a"])
    signal.set(Abort(AbortReason.FATAL, "redis"))
    assert pool.stopping
    assert await pool.get() is None
    assert await pool.put(["b"]) is False
    pool.stop()
    assert signal.reason == Abort(AbortReason.FATAL, "redis")
    assert WorkPool(capacity=1).stopping is False


async def test_a_full_pool_wakes_its_reader_once_drained_to_half() -> None:
    """A reader waiting for room is woken when half the pool is free, not at each batch
    taken: it then fills the pool in one go."""
    pool = WorkPool(capacity=4)
    for name in "abcd":
        assert await pool.put([name])
    blocked_put = asyncio.ensure_future(pool.put(["e"]))
    await asyncio.sleep(0)
    assert await pool.get() == ["a"]
    await asyncio.sleep(0)
    assert not blocked_put.done()  # three queued: more than half
    assert await pool.get() == ["b"]
    assert await asyncio.wait_for(blocked_put, 5) is True
    assert pool.queued_ids() == ["c", "d", "e"]
