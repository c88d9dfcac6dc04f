"""Batches of a distributed job sent by the same batch runner as ``delete``.

Each batch taken from Redis goes to ``BatchRunner.process`` whole: the pace, retries, 404
re-send, 400 halving, 207 re-sends and classification are the runner's own, not a copy. At
most ``settings.concurrency`` batches are sent at once; the others a worker holds wait their
turn here. A stop lets the batches being sent finish (207 re-sends included) and hands the
waiting ones back unsent, so a stopped worker never gives back a batch it half deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from .._engine.run import Run
from .._engine.runner import BatchSender
from ..budget import AccountBudget, LocalBudget
from ..ledger import Ledger, LedgerSink, RequestStats
from ..models import Abort, AbortReason, Settings
from ..telemetry.observer import RunObserver
from ..telemetry.setup import run_observer
from .outcome import BatchOutcome


class PipelineProcessor:
    """A ``BatchProcessor`` over the batch runner of one long-lived run.

    Args:
        sender: sends one batch (an ``ImageKitClient``).
        settings: the runner's knobs (``rate`` caps this worker's share, ``concurrency``
            the batches sent at once).
        budget: the account's budget: a ``RedisBudget`` shares one pace among every
            worker of the account, on any host; a budget of this process's own if None.
        observers, meter_provider, tracer_provider: follow the worker's pipeline, as in
            ``BulkDeleter`` (one run from enter to exit, a batch span per batch).
        attributes: OpenTelemetry attributes of every point (``bulkdel.worker``...).
        records: ledger sinks that keep this worker's own record of every outcome on its
            host (a ``ReportWriter``), written before the batch is settled in Redis.

    Use ``async with``: the run lasts from enter to exit.
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
        records: Sequence[LedgerSink] = (),
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
        self.ledger = Ledger(records)
        self.requests: RequestStats = self.ledger.requests
        self._run: Run | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._stopped = False

    @property
    def aborted(self) -> str | None:
        """Why the runner stopped for good (a fatal answer), or None (also after ``stop``)."""
        run = self._run
        if run is None or self._stopped or run.aborted is None:
            return None
        return str(run.aborted)

    async def __aenter__(self) -> PipelineProcessor:
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

    async def process(self, file_ids: list[str], in_flight_earlier: bool) -> BatchOutcome | None:
        """Send one batch through the runner; see ``BatchProcessor.process``."""
        run = self._run
        if run is None:
            return None
        async with self._slots:
            if self._stopped or run.stopping:
                return None  # never sent: given back whole
            outcome = await run.runner.process(
                file_ids, file_ids if in_flight_earlier else (), unless=lambda: self._stopped
            )
        if not outcome.complete:
            # A fatal answer (or a halt) stopped it part way: the batch goes back whole to
            # whoever takes it over, who treats its ids as in flight earlier. What this
            # worker did settle is in its own ledger's record already.
            run.ids.forget(outcome.unsettled)
            return None
        return outcome

    def stop(self, reason: str = "stopped") -> None:
        """Start no new batch; the batches being sent finish (207 re-sends included), and
        the ones whose first request has not left resolve to None (given back unsent)."""
        self._stopped = True

    def halt(self, reason: str = "stopped") -> None:
        """Stop at once: no request leaves any more; unfinished batches resolve to None."""
        self.stop(reason)
        if self._run is not None:
            self._run.stop(Abort(AbortReason.STOPPED, reason))
