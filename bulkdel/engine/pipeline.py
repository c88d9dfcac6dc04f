"""The only wiring of bulkdel: reader -> work pool -> workers -> batch runner -> ledger.

One reader task validates, de-duplicates and batches the input; ``concurrency`` workers take
batches and hand each to the batch runner (``runner.py``: turns from the account's budget,
retries, and every outcome into ledger events).
Every id read is "open" from the moment it is accepted until the ledger has its final bucket;
whatever is still open when the run ends (stopped, aborted, cancelled) is not attempted, or
failed as "outcome unknown" when a request for it may have been applied, so the counts always
add up.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterable

from ..core.clock import LOOP_CLOCK, Clock
from ..core.lease import AccountBudget
from ..errors import Stopped
from ..models import Abort, Chunk, Settings
from ..record.journal.journal import Journal
from ..record.ledger import Ledger
from ..telemetry.observer import NO_OBSERVER, RunObserver
from .reader import Reader
from .run import Run
from .runner import BatchSender
from .workpool import WorkPool


class Pipeline(Run):
    """Drives one delete run over a stream of chunks: a reader and a work pool on a ``Run``.

    Args:
        sender: sends one batch (a ``DeleteClient``).
        settings: the run's knobs.
        ledger: where every outcome goes (and where requests are counted).
        clock: the run's time and sleep (tests pass a virtual one).
        journal: the job's journal: ids it has settled are not sent again, and ids go on
            record as in flight before they are sent.
        rng: the backoff's jitter (seed it to replay a run).
        budget: the account's budget, shared with the runs that hold it (the caller picks
            it: ``bulkdel.budget.budget_for`` for this process's, a ``RedisBudget``...).
        spill_dir: where de-duplication spills ids when memory fills (a temporary
            directory if None).
        observer: follows the run (``bulkdel.telemetry``); nobody by default.
        expected_ids: about how many ids the input holds, when its size tells (the
            de-duplication is then chosen for that size from the start).
    """

    def __init__(
        self,
        sender: BatchSender,
        settings: Settings,
        ledger: Ledger,
        *,
        budget: AccountBudget,
        clock: Clock = LOOP_CLOCK,
        journal: Journal | None = None,
        rng: random.Random | None = None,
        spill_dir: str | os.PathLike[str] | None = None,
        observer: RunObserver = NO_OBSERVER,
        expected_ids: int | None = None,
    ) -> None:
        super().__init__(
            sender,
            settings,
            ledger,
            budget=budget,
            clock=clock,
            journal=journal,
            rng=rng,
            observer=observer,
        )
        self.pool = WorkPool(2 * settings.concurrency + 2, self.signal)
        self.reader = Reader(
            settings,
            ledger,
            self.pool,
            self._put,
            open_ids=self.ids.open,
            ambiguous=self.ids.ambiguous,
            stop=self.stop,
            signal=self.signal,
            journal=journal,
            spill_dir=spill_dir,
            expected_ids=expected_ids,
        )

    @property
    def input_done(self) -> bool:
        """The whole input was read."""
        return self.reader.input_done

    def stop(self, reason: Abort) -> None:
        """Stop taking batches; in-flight requests settle. The first reason given wins."""
        self.signal.set(reason)
        self.pool.stop()

    async def run(self, chunks: AsyncIterable[Chunk]) -> None:
        """Read everything, send everything, settle everything; then account what is left."""
        self.observer.run_started(self)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.reader.run(chunks))
                if not self.settings.dry_run:
                    for _ in range(self.settings.concurrency):
                        group.create_task(self._work())
        finally:
            await self.finish()
            self.observer.run_finished(self)

    async def _put(self, batch: list[str]) -> bool:
        if self.settings.dry_run:
            self.ids.not_attempted(batch)
            return True
        return await self.pool.put(batch)

    # -- sending ---------------------------------------------------------------------------

    async def _work(self) -> None:
        pool = self.pool
        while (batch := await pool.get()) is not None:
            try:
                token = None if self.journal is None else await self._mark(batch)
                outcome = await self.runner.process(batch, opened=True)
                if outcome.complete and token is not None and self.journal is not None:
                    self.journal.landed(token)
            except Stopped:
                pass  # its ids stay open and end up not attempted
            finally:
                await pool.done()

    async def _mark(self, batch: list[str]) -> int | None:
        """The batch's in-flight token, once its mark is committed (None: no journal)."""
        if self.journal is None:
            return None
        # Marked when a worker takes it, not as it is queued: "in flight" in the journal
        # then means "may have been sent" (a queued batch marked at once was reported
        # "outcome unknown" after a crash without ever being sent).
        return await self.journal.mark_in_flight(batch)
