"""Hands batches to workers: fresh batches from the reader, and ids to try again.

Fresh batches sit in a bounded deque (the reader waits when it is full: backpressure, so
memory stays flat however long the input). Ids to try again (207 errors) wait in a min-heap
ordered by the time they may be sent, and go out in later batches: a full batch of them as
soon as one is ripe, a partial one when no fresh batch is waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections import deque
from collections.abc import Callable


class WorkPool:
    """The meeting point of one reader and many workers.

    Args:
        capacity: fresh batches held before the reader has to wait.
        batch_size: most ids per batch handed out.
        clock: the monotonic clock that retry times refer to.
    """

    __slots__ = (
        "_busy",
        "_changed",
        "_clock",
        "_fresh",
        "_retry",
        "_seq",
        "batch_size",
        "capacity",
        "reader_done",
        "stopping",
    )

    def __init__(self, capacity: int, batch_size: int, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self._clock = clock
        self._fresh: deque[list[str]] = deque()
        #: min-heap of (ready time, sequence, id): ids to try again
        self._retry: list[tuple[float, int, str]] = []
        self._seq = 0
        self._busy = 0
        self._changed = asyncio.Condition()
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

    async def put(self, batch: list[str]) -> bool:
        """Queue a fresh batch, waiting while the pool is full; False once stopping."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._fresh) < self.capacity or self.stopping)
            if self.stopping:
                return False
            self._fresh.append(batch)
            self._changed.notify_all()
            return True

    async def retry_later(self, file_ids: list[str], ready_at: float) -> None:
        """Send ``file_ids`` again in a later batch, not before ``ready_at``."""
        async with self._changed:
            for file_id in file_ids:
                self._seq += 1
                heapq.heappush(self._retry, (ready_at, self._seq, file_id))
            self._changed.notify_all()

    async def close_reader(self) -> None:
        """The reader has no more batches."""
        async with self._changed:
            self.reader_done = True
            self._changed.notify_all()

    async def stop(self) -> None:
        """Hand out nothing more; wakes every waiter."""
        async with self._changed:
            self.stopping = True
            self._changed.notify_all()

    async def get(self) -> list[str] | None:
        """The next batch to send, or None when all work is done or the pool stops."""
        async with self._changed:
            while True:
                if self.stopping:
                    return None
                batch = self._take()
                if batch is not None:
                    self._busy += 1
                    self._changed.notify_all()
                    return batch
                if self.reader_done and not self._retry and self._busy == 0:
                    self._changed.notify_all()
                    return None
                timeout = None
                if self._retry:
                    timeout = max(0.0, self._retry[0][0] - self._clock())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)

    async def done(self) -> None:
        """A batch handed out by ``get`` is finished (its retries are already queued)."""
        async with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def _take(self) -> list[str] | None:
        now = self._clock()
        retry = self._retry
        ripe = 0
        for ready_at, _, _ in retry:
            if ready_at <= now:
                ripe += 1
                if ripe >= self.batch_size:
                    break
        if ripe and (ripe >= self.batch_size or not self._fresh):
            return self._pop_ripe(min(ripe, self.batch_size), now)
        if self._fresh:
            return self._fresh.popleft()
        return None

    def _pop_ripe(self, count: int, now: float) -> list[str]:
        taken: list[str] = []
        while self._retry and len(taken) < count and self._retry[0][0] <= now:
            taken.append(heapq.heappop(self._retry)[2])
        return taken
