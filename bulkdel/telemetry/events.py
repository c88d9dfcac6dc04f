"""Following a run from the embedding code: progress snapshots and each batch's outcome.

``RunEvents`` is an observer that pushes, so nobody polls ``deleter.counts``:

.. code-block:: python

    events = RunEvents(every=1.0)
    task = asyncio.create_task(bulkdel.delete_files(ids, private_key=key, observers=[events]))
    async for event in events:            # ends after the run's last snapshot
        if isinstance(event, Progress):
            print(event.done, event.total, event.eta_s)
    report = await task

or with callbacks: ``RunEvents(on_progress=..., on_batch=...)`` (called on the run's loop; keep
them quick). The iterator holds at most ``buffer`` events: a consumer that falls behind loses
the oldest batch events (``dropped`` counts them), and a snapshot replaces the one before it
if that was not read yet, so it always reads the latest figures, never a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from ..errors import UsageError
from ..record.ledger import Counts
from .observer import BatchTally, RunObserver, RunView
from .stats import pace_of


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a run.

    Attributes:
        counts: the run's counts at that moment (a copy).
        elapsed_s: seconds since the run began.
        ids_per_s: ids settled (deleted, missing or failed) per second so far.
        pace: requests per second the run is paced at (None: unpaced).
        gate_wait_s: seconds until the gate a 429 closed opens (0: open).
        total: ids the run has to settle, once the whole input is read (else None).
        eta_s: seconds left at the rate so far, when ``total`` is known.
        final: the run's last snapshot (its counts are final).
    """

    counts: Counts
    elapsed_s: float
    ids_per_s: float
    pace: float | None
    gate_wait_s: float
    total: int | None
    eta_s: float | None
    final: bool = False

    @property
    def done(self) -> int:
        """Ids settled so far."""
        c = self.counts
        return c.deleted + c.missing + c.failed


@dataclass(frozen=True, slots=True)
class BatchDone:
    """What became of one batch (see ``BatchTally``)."""

    number: int
    size: int
    deleted: int
    missing: int
    failed: int
    later: int
    requests: int
    elapsed_s: float


def snapshot(run: RunView, started: float, final: bool = False) -> Progress:
    """A ``Progress`` of ``run``, begun at ``started`` on its clock."""
    counts = replace(run.ledger.counts)
    elapsed = max(run.clock.time() - started, 0.0)
    done = counts.deleted + counts.missing + counts.failed
    rate = done / elapsed if elapsed > 0 else 0.0
    total = counts.unique if run.input_done else None
    eta = (total - done) / rate if total is not None and rate > 0 else None
    return Progress(counts, elapsed, rate, pace_of(run), run.budget.gate_wait(), total, eta, final)


Event = Progress | BatchDone


class RunEvents(RunObserver):
    """Progress snapshots every ``every`` seconds (on the run's clock) and batch outcomes.

    Args:
        every: seconds between snapshots (a last one always comes when the run ends).
        on_progress: called with each ``Progress``.
        on_batch: called with each ``BatchDone``.
        buffer: most events the async iterator holds for a slow reader.

    Follow one run with one ``RunEvents`` (iterate it once).
    """

    def __init__(
        self,
        every: float = 1.0,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_batch: Callable[[BatchDone], None] | None = None,
        buffer: int = 10_000,
    ) -> None:
        if not every > 0:
            raise UsageError(f"every must be > 0, got {every}", "every")
        self.every = every
        self.on_progress = on_progress
        self.on_batch = on_batch
        #: batch events a slow reader of the iterator lost
        self.dropped = 0
        self._queue: deque[Event] = deque()
        self._buffer = max(1, buffer)
        self._wake: asyncio.Event | None = None
        self._ended = False
        self._ticker: asyncio.Task[None] | None = None
        self._started = 0.0

    def run_started(self, run: RunView) -> None:
        self._started = run.clock.time()
        self._ticker = asyncio.get_running_loop().create_task(self._tick(run))

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        done = BatchDone(
            batch.number,
            batch.size,
            batch.deleted,
            batch.missing,
            batch.failed,
            batch.later,
            batch.requests,
            batch.elapsed,
        )
        if self.on_batch is not None:
            self.on_batch(done)
        self._put(done)

    def run_finished(self, run: RunView) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        self._progress(snapshot(run, self._started, final=True))
        self._ended = True
        self._notify()

    async def _tick(self, run: RunView) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await run.clock.sleep(self.every)
                try:
                    self._progress(snapshot(run, self._started))
                except Exception as error:  # the caller's on_progress: the run stops
                    run.callback_failed(error, "RunEvents on_progress")
                    return

    def _progress(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)
        queue = self._queue
        if queue and isinstance(queue[-1], Progress):
            queue[-1] = progress  # not read yet: the newer figures replace it
            return
        self._put(progress)

    def _put(self, event: Event) -> None:
        queue = self._queue
        if len(queue) >= self._buffer:
            queue.popleft()
            self.dropped += 1
        queue.append(event)
        self._notify()

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def __aiter__(self) -> AsyncIterator[Event]:
        """Every event as it comes, until the run's last snapshot."""
        self._wake = asyncio.Event()
        while True:
            while self._queue:
                yield self._queue.popleft()
            if self._ended:
                return
            self._wake.clear()
            await self._wake.wait()
