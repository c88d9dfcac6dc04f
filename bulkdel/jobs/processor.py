"""Batches of a distributed job sent by the same batch runner as ``delete``.

Each batch taken from Redis goes to ``BatchRunner.process`` whole: the pace, retries, 404
re-send, 400 halving, 207 re-sends and classification are the runner's own, not a copy. At
most ``settings.concurrency`` batches are sent at once; the others a worker holds wait their
turn here. A stop lets the batches being sent finish (207 re-sends included) and hands the
waiting ones back unsent, so a stopped worker never gives back a batch it half deleted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..budget import AccountBudget, LocalBudget
from ..core.stop import STOPPED, StopSignal
from ..engine.run import Run
from ..engine.runner import BatchSender
from ..models import Abort, Settings
from ..record.ledger import Ledger, RequestStats
from ..record.report import ReportWriter
from ..telemetry.observer import RunObserver
from ..telemetry.setup import run_observer
from .outcome import BatchOutcome

if TYPE_CHECKING:
    # opentelemetry is an extra (``bulkdel[otel]``): its types for type checkers only
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider


class PipelineProcessor:
    """A ``BatchProcessor`` over the batch runner of one long-lived run.

    Args:
        sender: sends one batch (a ``DeleteClient``).
        settings: the runner's knobs (``rate`` caps this worker's share, ``concurrency``
            the batches sent at once).
        budget: the account's budget: a ``RedisBudget`` shares one pace among every
            worker of the account, on any host; a budget of this process's own if None.
        observers, meter_provider, tracer_provider: follow the worker's pipeline, as in
            ``BulkDeleter`` (one run from enter to exit, a batch span per batch).
        attributes: OpenTelemetry attributes of every point (``bulkdel.worker``...).
        record_dir: where this worker keeps its own record of every outcome on its host
            (the report files of ``delete``, and a ``summary.json`` when it ends), flushed
            before each batch is settled in Redis: if Redis loses the job, what this worker
            deleted is still on record here. None: no record (library use, tests).

    Use ``async with``: the run lasts from enter to exit.
    """

    def __init__(
        self,
        sender: BatchSender,
        settings: Settings,
        *,
        budget: AccountBudget | None = None,
        observers: Sequence[RunObserver] = (),
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        attributes: Mapping[str, str] | None = None,
        record_dir: str | os.PathLike[str] | None = None,
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
        self.record_dir = None if record_dir is None else Path(record_dir)
        self._record: ReportWriter | None = None
        self.ledger = Ledger()
        self.requests: RequestStats = self.ledger.requests
        self._run: Run | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        #: set by ``stop``: no new batch starts (the run's own signal stops requests at once)
        self.no_new_batch = StopSignal()

    @property
    def abort(self) -> Abort | None:
        """Why the runner stopped for good (a fatal answer), or None (also after ``stop``)."""
        run = self._run
        return None if run is None or self.no_new_batch.is_set else run.aborted

    async def __aenter__(self) -> PipelineProcessor:
        if self.record_dir is not None:
            self._record = ReportWriter(self.record_dir)
            self.ledger.sinks.append(self._record)
        run = self._run = Run(
            self.sender,
            self.settings,
            self.ledger,
            budget=self.budget if self.budget is not None else LocalBudget(),
            observer=self.observer,
        )
        self.observer.run_started(run)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        run = self._run
        if run is not None:
            try:
                await run.finish()
            finally:
                self.observer.run_finished(run)
        if self._record is not None:
            self._record.close(self._summary())

    def _summary(self) -> dict[str, Any]:
        """The record's ``summary.json``: this worker's own counts (``unique`` is the ids of
        the batches it sent; ids it gave back unsent are "not attempted" here)."""
        return {
            "version": 1,
            "kind": "job worker record",
            "counts": self.ledger.counts.as_dict(),
            "requests": self.ledger.requests.as_dict(),
        }

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        """Send one batch through the runner; see ``BatchProcessor.process``."""
        run = self._run
        if run is None:
            return None
        async with self._slots:
            if self.no_new_batch.is_set or run.stopping:
                return None  # never sent: given back whole
            self.ledger.unique(len(file_ids))
            outcome = await run.runner.process(
                file_ids,
                file_ids if in_flight_earlier else (),
                unless=lambda: self.no_new_batch.is_set,
            )
        if not outcome.complete:
            # Stopped part way (a fatal answer, a halt) or before its first request: the batch
            # goes back whole to whoever takes it over, who treats its ids as in flight
            # earlier. This worker's record keeps what it did settle, and names the rest
            # (outcome unknown where a request may have been applied).
            run.ids.settle_leftovers(outcome.unsettled)
            self._flush()
            return None
        self._flush()  # on record here before Redis is told
        return outcome

    def _flush(self) -> None:
        if self._record is not None:
            self._record.flush()

    def stop(self, reason: Abort = STOPPED) -> None:
        """Start no new batch; the batches being sent finish (207 re-sends included), and
        the ones whose first request has not left resolve to None (given back unsent)."""
        self.no_new_batch.set(reason)

    def halt(self, reason: Abort = STOPPED) -> None:
        """Stop at once: no request leaves any more; unfinished batches resolve to None."""
        self.stop(reason)
        if self._run is not None:
            self._run.stop(reason)
