"""Batches of a distributed job sent by the same pipeline as ``delete``.

One long-lived ``Pipeline`` per worker does the sending: the pace, retries, 404 re-send, 400
halving, 207 retry and classification are the pipeline's own, not a copy. Each batch taken
from Redis is fed in as a chunk; a ledger sink collects every id's final bucket and resolves
the batch when its last id has one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._engine.pipeline import BatchSender, Pipeline
from .._engine.sources import Chunk
from ..budget import AccountBudget, LocalBudget
from ..ledger import Ledger, RequestStats
from ..models import INTERRUPTED_UNKNOWN, Abort, AbortReason, Settings
from ..telemetry.observer import RunObserver
from ..telemetry.setup import run_observer
from .outcome import BatchOutcome

_SOURCE = "<job>"


class _Forgetful:
    """Remembers nothing: batches of a job are unique already (the submitter de-duplicated
    them), and a worker that remembered every id would grow without end."""

    __slots__ = ()

    def add_new(self, values: Sequence[str]) -> list[bool]:
        """Every id is new."""
        return [True] * len(values)

    def close(self) -> None:
        """Nothing is held."""


@dataclass
class _Batch:
    """One batch in the pipeline: its ids without a bucket yet, and what the others got."""

    open: set[str]
    done: asyncio.Future[BatchOutcome | None]
    outcome: BatchOutcome = field(default_factory=BatchOutcome)


class PipelineProcessor:
    """A ``BatchProcessor`` over one long-lived pipeline.

    Args:
        sender: sends one batch (an ``ImageKitClient``).
        settings: the pipeline's knobs (``rate`` caps this worker's share).
        budget: the account's budget: a ``RedisBudget`` shares one pace among every
            worker of the account, on any host; a budget of this process's own if None.
        observers, meter_provider, tracer_provider: follow the worker's pipeline, as in
            ``BulkDeleter`` (one run from enter to exit, a batch span per batch).
        attributes: OpenTelemetry attributes of every point (``bulkdel.worker``...).

    Use ``async with``: the pipeline runs from enter to exit.
    """

    def __init__(
        self,
        sender: BatchSender,
        settings: Settings,
        *,
        budget: AccountBudget | None = None,
        observers: Sequence[RunObserver] = (),
        meter_provider: Any = None,
        tracer_provider: Any = None,
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        self.sender = sender
        #: what follows the worker's pipeline (as ``BulkDeleter``'s)
        self.observer = run_observer(
            observers,
            meter_provider=meter_provider,
            tracer_provider=tracer_provider,
            attributes=attributes,
        )
        self.settings = settings
        self.budget = budget
        self.ledger = Ledger([self])
        self.requests: RequestStats = self.ledger.requests
        self._owner: dict[str, _Batch] = {}
        self._queue: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self._pipeline: Pipeline | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def aborted(self) -> str | None:
        """Why the pipeline stopped for good (a fatal answer), or None (also after ``stop``)."""
        if self._pipeline is None or self._stopped or self._pipeline.aborted is None:
            return None
        return str(self._pipeline.aborted)

    async def __aenter__(self) -> PipelineProcessor:
        pipeline = self._pipeline = Pipeline(
            self.sender,
            self.settings,
            self.ledger,
            budget=self.budget if self.budget is not None else LocalBudget(),
            observer=self.observer,
        )
        pipeline.reader.dedupe = _Forgetful()
        self._task = asyncio.create_task(pipeline.run(self._chunks()))
        # Batches still queued when the pipeline ends (a fatal answer) must not wait forever.
        self._task.add_done_callback(lambda _: self._drop(list(self._owner)))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task
        self._drop(list(self._owner))

    async def _chunks(self) -> AsyncIterator[Chunk]:
        """The batches fed in, until ``close`` or until the pipeline stops (a fatal answer:
        the batches still queued then resolve to None)."""
        assert self._pipeline is not None
        stopped = asyncio.ensure_future(self._pipeline.signal.wait())
        try:
            while True:
                getting = asyncio.ensure_future(self._queue.get())
                await asyncio.wait({getting, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not getting.done():
                    getting.cancel()
                    return
                chunk = getting.result()
                if chunk is None:
                    return
                yield chunk
        finally:
            stopped.cancel()

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        """Send one batch through the pipeline; see ``BatchProcessor.process``."""
        pipeline = self._pipeline
        if pipeline is None or pipeline.stopping or self._task is None or self._task.done():
            return None
        batch = _Batch(set(file_ids), asyncio.get_running_loop().create_future())
        for file_id in file_ids:
            self._owner[file_id] = batch
        if in_flight_earlier:
            # The same mark a resumed journal gives ids it found in flight.
            pipeline.ids.ambiguous.update(file_ids)
        self._queue.put_nowait(Chunk(_SOURCE, [(n, i, None) for n, i in enumerate(file_ids)]))
        return await batch.done

    def stop(self, reason: str = "stopped") -> None:
        """Stop the pipeline: no new request; unfinished batches resolve to None."""
        self._stopped = True
        if self._pipeline is not None:
            self._pipeline.stop(Abort(AbortReason.STOPPED, reason))

    # -- the ledger sink -------------------------------------------------------------------

    def _settled(self, file_id: str) -> _Batch | None:
        batch = self._owner.pop(file_id, None)
        if batch is not None:
            batch.open.discard(file_id)
        return batch

    @staticmethod
    def _resolve_if_done(batch: _Batch | None) -> None:
        if batch is not None and not batch.open and not batch.done.done():
            batch.done.set_result(batch.outcome)

    def deleted(self, file_ids: Sequence[str]) -> None:
        for file_id in file_ids:
            batch = self._settled(file_id)
            if batch is not None:
                batch.outcome.deleted.append(file_id)
                self._resolve_if_done(batch)

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        later = set(after_retry)
        for file_id in file_ids:
            batch = self._settled(file_id)
            if batch is not None:
                bucket = batch.outcome.missing_after_retry if file_id in later else None
                (bucket if bucket is not None else batch.outcome.missing).append(file_id)
                self._resolve_if_done(batch)

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        if error == INTERRUPTED_UNKNOWN:
            # The worker stopped with this request unanswered: the batch stays pending and
            # whoever takes it over treats its ids as in flight earlier.
            self._drop([file_id])
            return
        batch = self._settled(file_id)
        if batch is not None:
            batch.outcome.failed.append((file_id, error, status, attempts))
            self._resolve_if_done(batch)

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        self._drop(list(file_ids))

    def _drop(self, file_ids: list[str]) -> None:
        """Ids the pipeline stopped without: their batches resolve to None (unsettled)."""
        for file_id in file_ids:
            batch = self._owner.pop(file_id, None)
            if batch is not None and not batch.done.done():
                batch.done.set_result(None)

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        """Never happens: batches hold ids the submitter validated."""

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        """Never happens: the pipeline of a worker remembers no ids."""
