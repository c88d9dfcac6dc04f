"""Hands batches to workers: fresh batches from the reader, and ids to try again.

Fresh batches sit in a bounded deque (the reader waits when it is full: backpressure, so
memory stays flat however long the input). Ids to try again (207 errors) wait in a min-heap
ordered by the time they may be sent, and go out in later batches: a full batch of them as
soon as one is ripe, a partial one when no fresh batch is waiting.

Waiting is done on one future per waiter and a new batch wakes exactly one worker: a
condition variable's notify-all woke every idle worker per batch, which measured at several
microseconds per id, a third of the pipeline's own cost.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque

from ..core.clock import Clock


class WorkPool:
    """The meeting point of one reader and many workers.

    Args:
        capacity: fresh batches held before the reader has to wait.
        batch_size: most ids per batch handed out.
        clock: the run's clock: retry times refer to it, and waits for them sleep on it.
    """

    __slots__ = (
        "_busy",
        "_clock",
        "_fresh",
        "_reader_waiter",
        "_retry",
        "_seq",
        "_sleep",
        "_waiters",
        "batch_size",
        "capacity",
        "reader_done",
        "stopping",
    )

    def __init__(self, capacity: int, batch_size: int, clock: Clock) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self._clock = clock.time
        self._sleep = clock.sleep
        self._fresh: deque[list[str]] = deque()
        #: min-heap of (ready time, sequence, id): ids to try again
        self._retry: list[tuple[float, int, str]] = []
        self._seq = 0
        self._busy = 0
        #: idle workers, oldest first
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._reader_waiter: asyncio.Future[None] | None = None
        #: the reader has put its last batch
        self.reader_done = False
        #: no more batches are handed out
        self.stopping = False

    @property
    def busy(self) -> int:
        """Batches handed out and not yet returned with ``done``."""
        return self._busy

    def queued_ids(self) -> list[str]:
        """Every id waiting in the pool (for accounting at the end of a stopped run)."""
        ids = [i for batch in self._fresh for i in batch]
        ids.extend(item[2] for item in self._retry)
        return ids

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        self._wake_reader()

    def _wake_reader(self) -> None:
        waiter = self._reader_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def put(self, batch: list[str]) -> bool:
        """Queue a fresh batch, waiting while the pool is full; False once stopping."""
        while len(self._fresh) >= self.capacity and not self.stopping:
            self._reader_waiter = asyncio.get_running_loop().create_future()
            await self._reader_waiter
        if self.stopping:
            return False
        self._fresh.append(batch)
        self._wake_one()
        return True

    async def retry_later(self, file_ids: list[str], ready_at: float) -> None:
        """Send ``file_ids`` again in a later batch, not before ``ready_at``."""
        for file_id in file_ids:
            self._seq += 1
            heapq.heappush(self._retry, (ready_at, self._seq, file_id))
        self._wake_one()

    async def close_reader(self) -> None:
        """The reader has no more batches."""
        self.reader_done = True
        self._wake_all()

    def stop(self) -> None:
        """Hand out nothing more; wakes every waiter."""
        self.stopping = True
        self._wake_all()

    async def get(self) -> list[str] | None:
        """The next batch to send, or None when all work is done or the pool stops."""
        loop = asyncio.get_running_loop()
        while True:
            if self.stopping:
                return None
            batch = self._take()
            if batch is not None:
                self._busy += 1
                if self._fresh or self._retry:
                    self._wake_one()  # more work waits: pass the baton
                return batch
            if self.reader_done and not self._retry and self._busy == 0:
                self._wake_all()
                return None
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            timer = None
            if self._retry:
                # Woken when the first retry ripens, on the run's clock (a task, not
                # ``call_later``, so that a virtual clock drives it too).
                delay = max(0.0, self._retry[0][0] - self._clock())
                timer = asyncio.ensure_future(self._wake_after(delay, waiter))
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()

    async def done(self) -> None:
        """A batch handed out by ``get`` is finished (its retries are already queued)."""
        self._busy -= 1
        if self._busy == 0 and self.reader_done:
            self._wake_all()  # the last busy worker: the others may be done too

    async def _wake_after(self, delay: float, waiter: asyncio.Future[None]) -> None:
        await self._sleep(delay)
        _resolve(waiter)

    def _take(self) -> list[str] | None:
        retry = self._retry
        if retry:
            now = self._clock()
            ripe = 0
            for ready_at, _, _ in retry:
                if ready_at <= now:
                    ripe += 1
                    if ripe >= self.batch_size:
                        break
            if ripe and (ripe >= self.batch_size or not self._fresh):
                return self._pop_ripe(min(ripe, self.batch_size), now)
        if self._fresh:
            batch = self._fresh.popleft()
            self._wake_reader()
            return batch
        return None

    def _pop_ripe(self, count: int, now: float) -> list[str]:
        taken: list[str] = []
        while self._retry and len(taken) < count and self._retry[0][0] <= now:
            taken.append(heapq.heappop(self._retry)[2])
        return taken


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
