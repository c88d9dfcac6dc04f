"""Hands the reader's batches to the workers.

Batches sit in a bounded deque (the reader waits when it is full: backpressure, so memory
stays flat however long the input). A batch's ids that need sending again (a 207's errors)
no longer come back here: the batch runner re-sends them within the batch's own call.

Waiting is done on one future per waiter and a new batch wakes exactly one worker: a
condition variable's notify-all woke every idle worker per batch, which measured at several
microseconds per id, a third of the pipeline's own cost. A full pool wakes its reader once
it has drained to half (``low``), not as each batch leaves: the reader then fills it in one
go, instead of taking a turn of the loop a batch.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..core.stop import STOPPED, StopSignal
from ..models import Abort


class WorkPool:
    """The meeting point of one reader and many workers.

    Args:
        capacity: batches held before the reader has to wait.
        signal: the run's stop: once it is set, nothing more is handed out or taken in (a
            signal of its own if None).
    """

    __slots__ = (
        "_busy",
        "_fresh",
        "_reader_waiter",
        "_waiters",
        "capacity",
        "low",
        "reader_done",
        "signal",
    )

    def __init__(self, capacity: int, signal: StopSignal | None = None) -> None:
        self.capacity = capacity
        #: batches queued at most when a reader waiting for room is woken
        self.low = capacity // 2
        self.signal = signal if signal is not None else StopSignal()
        self._fresh: deque[list[str]] = deque()
        self._busy = 0
        #: idle workers, oldest first
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._reader_waiter: asyncio.Future[None] | None = None
        #: the reader has put its last batch
        self.reader_done = False

    @property
    def stopping(self) -> bool:
        """No more batches are handed out: the run's signal is set."""
        return self.signal.is_set

    @property
    def busy(self) -> int:
        """Batches handed out and not yet returned with ``done``."""
        return self._busy

    def queued_ids(self) -> list[str]:
        """Every id waiting in the pool."""
        return [i for batch in self._fresh for i in batch]

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._waiters:
            _resolve(self._waiters.popleft())
        if self._reader_waiter is not None:
            _resolve(self._reader_waiter)

    async def put(self, batch: list[str]) -> bool:
        """Queue a batch, waiting while the pool is full; False once stopping."""
        while len(self._fresh) >= self.capacity and not self.stopping:
            self._reader_waiter = asyncio.get_running_loop().create_future()
            await self._reader_waiter
        if self.stopping:
            return False
        self._fresh.append(batch)
        self._wake_one()
        return True

    async def close_reader(self) -> None:
        """The reader has no more batches."""
        self.reader_done = True
        self._wake_all()

    def stop(self, reason: Abort = STOPPED) -> None:
        """Hand out nothing more (the signal is set, if it was not); wakes every waiter."""
        self.signal.set(reason)
        self._wake_all()

    async def get(self) -> list[str] | None:
        """The next batch to send, or None when the input is done or the pool stops."""
        while True:
            if self.stopping:
                return None
            if self._fresh:
                batch = self._fresh.popleft()
                if self._reader_waiter is not None and len(self._fresh) <= self.low:
                    _resolve(self._reader_waiter)
                self._busy += 1
                if self._fresh:
                    self._wake_one()  # more work waits: pass the baton
                return batch
            if self.reader_done:
                self._wake_all()
                return None
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    async def done(self) -> None:
        """A batch handed out by ``get`` is finished."""
        self._busy -= 1


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
