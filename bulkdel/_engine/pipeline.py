"""The only wiring of bulkdel: reader -> work pool -> workers -> ledger.

One reader task validates, de-duplicates and batches the input; ``concurrency`` workers take
batches, send them with turns from the account's budget and with retries, and turn each
outcome into ledger events.
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
from typing import Any, Protocol

from .._journal.journal import Journal
from ..core.clock import LOOP_CLOCK, Clock
from ..core.lease import AccountBudget, job_lease
from ..core.stop import StopSignal
from ..errors import Stopped
from ..ledger import DELETE, Ledger, RequestStats
from ..models import Abort, AbortReason, Kind, Outcome, Settings
from ..telemetry.observer import NO_OBSERVER, Attempt, BatchTally, RunObserver
from .accounts import OpenIds
from .reader import Reader
from .retry import RETRYABLE, Backoff, Chain, send_with_retries
from .sources import Chunk
from .workpool import WorkPool


class BatchSender(Protocol):
    """Anything that sends one batch and classifies the answer (the client, or a test fake)."""

    async def delete_batch(self, file_ids: list[str]) -> Outcome: ...


class Pipeline:
    """Runs one delete job over a stream of chunks.

    Args:
        sender: sends one batch (an ``ImageKitClient``).
        settings: the job's knobs.
        ledger: where every outcome goes (and where requests are counted).
        clock: the run's time and sleep (tests pass a virtual one).
        journal: the job's journal: ids it has settled are not sent again, and ids go on
            record as in flight before they are sent.
        rng: the backoff's jitter (seed it to replay a run).
        budget: the account's budget, shared with the jobs that hold it (the caller picks
            it: ``bulkdel.budget.budget_for`` for this process's, a ``RedisBudget``...).
        spill_dir: where de-duplication spills ids when memory fills (a temporary
            directory if None).
        observer: follows the run (``bulkdel.telemetry``); nobody by default.
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
    ) -> None:
        self.sender = sender
        self.observer = observer
        self._batches = 0
        self.settings = settings
        self.ledger = ledger
        self.journal = journal
        self.clock = clock
        self._clock = clock.time
        #: the run's one stop: the budget, the retries and the listing wait through it
        self.signal = StopSignal(clock)
        #: every request of the job (listing pages too) takes a turn; rate caps its share
        self.budget = budget
        self.lease = job_lease(self.budget, self.signal, settings.rate)
        self.backoff = Backoff(settings.backoff_base, settings.backoff_max, rng)
        self.pool = WorkPool(2 * settings.concurrency + 2, settings.batch_size, clock)
        #: the run's open ids and what is known of each
        self.ids = OpenIds(ledger, journal)
        #: batches queued and marked in flight (by ``id``): their token and committed mark
        self._marks: dict[int, tuple[int, asyncio.Future[Any]]] = {}
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
        )

    @property
    def requests(self) -> RequestStats:
        """Where the run's requests are counted (deletes and listing pages)."""
        return self.ledger.requests

    @property
    def aborted(self) -> Abort | None:
        """Why the run ended early, or None."""
        return self.signal.reason

    @property
    def input_done(self) -> bool:
        """The whole input was read."""
        return self.reader.input_done

    @property
    def stopping(self) -> bool:
        """A stop was asked for; no new batch is sent."""
        return self.signal.is_set

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
            self._land_unsent()
            await self.lease.release()
            self.ids.settle_leftovers()
            self.observer.run_finished(self)

    async def _put(self, batch: list[str]) -> bool:
        if self.settings.dry_run:
            self.ids.not_attempted(batch)
            return True
        return await self.pool.put(batch)

    def _land_unsent(self) -> None:
        """Nothing to land: a batch is marked in flight only once a worker takes it."""
        self._marks.clear()

    # -- sending ---------------------------------------------------------------------------

    async def _work(self) -> None:
        pool = self.pool
        while (batch := await pool.get()) is not None:
            self._batches += 1
            tally = BatchTally(self._batches, len(batch), self._clock())
            self.observer.batch_started(self, tally)
            try:
                await self._process(batch, tally)
            except Stopped:
                pass  # its ids stay open and end up not attempted
            finally:
                tally.elapsed = self._clock() - tally.started
                self.observer.batch_finished(self, tally)
                await pool.done()

    async def _send(self, file_ids: list[str], chain: Chain, tally: BatchTally) -> Outcome:
        asked = self._clock()
        turn = await self.lease.turn()
        self.signal.check()
        requests = self.ledger.requests
        requests.sending(DELETE)
        self.ids.sending.update(file_ids)
        sent = self._clock()
        outcome = await self.sender.delete_batch(file_ids)
        self.ids.sending.difference_update(file_ids)
        requests.answered(DELETE, outcome.status)
        tally.requests += 1
        took, resent = self._clock() - sent, chain.failures + chain.throttled
        attempt = Attempt(DELETE, "POST", outcome, took, sent - asked, resent, len(file_ids), tally)
        self.observer.attempt(self, attempt)
        await self.lease.observe(turn, outcome)
        if outcome.maybe_applied:
            self.ids.ambiguous.update(file_ids)
        return outcome

    async def _send_with_retries(
        self, file_ids: list[str], tally: BatchTally
    ) -> tuple[Outcome, Chain]:
        used = self.ids.used(file_ids)
        chain = Chain(budget=max(1, self.settings.max_attempts - used), started=self._clock())
        outcome = await send_with_retries(
            lambda: self._send(file_ids, chain, tally),
            self.settings,
            chain=chain,
            clock=self.clock,
            signal=self.signal,
            backoff=self.backoff,
            on_retry=lambda: self.ledger.requests.retrying(DELETE),
        )
        return outcome, chain

    async def _process(self, batch: list[str], tally: BatchTally) -> None:
        """Send one batch until every id in it is settled or handed back for later."""
        token = await self._mark(batch)
        work = [batch]
        while work:
            file_ids = work.pop()
            outcome, chain = await self._send_with_retries(file_ids, tally)
            kind = outcome.kind
            if kind is Kind.SUCCESS:
                await self._success(outcome, chain.failures, tally)
            elif kind is Kind.MISSING:
                # Nothing in the batch was deleted: the rest goes out again at once, and
                # this request does not count against them.
                self.ids.missing(outcome.missing)
                tally.missing += len(outcome.missing)
                gone = set(outcome.missing)
                rest = [i for i in file_ids if i not in gone]
                if rest:
                    self.ids.charge(rest, chain.failures - 1)
                    work.append(rest)
            elif kind is Kind.BAD_REQUEST:
                self.ids.charge(file_ids, chain.failures)
                if len(file_ids) == 1:
                    self.ids.fail(file_ids, outcome)
                    tally.failed += 1
                else:
                    middle = len(file_ids) // 2
                    work.extend((file_ids[middle:], file_ids[:middle]))
            elif kind is Kind.FATAL:
                self.stop(Abort(AbortReason.FATAL, f"HTTP {outcome.status}: {outcome.message}"))
                return
            elif kind in RETRYABLE:
                if self.stopping:
                    return  # interrupted mid-retry: the ids stay open, so not attempted
                self.ids.charge(file_ids, chain.failures)
                self.ids.fail(file_ids, outcome)
                tally.failed += len(file_ids)
        if token is not None and self.journal is not None:
            self.journal.landed(token)

    async def _mark(self, batch: list[str]) -> int | None:
        """The batch's in-flight token, once its mark is committed (None: no journal)."""
        if self.journal is None:
            return None
        # Marked when a worker takes it, not as it is queued: "in flight" in the journal
        # then means "may have been sent" (a queued batch marked at once was reported
        # "outcome unknown" after a crash without ever being sent).
        return await self.journal.mark_in_flight(batch)

    async def _success(self, outcome: Outcome, failures: int, tally: BatchTally) -> None:
        self.ids.close(outcome.deleted)
        self.ledger.deleted(outcome.deleted)
        tally.deleted += len(outcome.deleted)
        if not outcome.errors:
            return
        attempts = self.ids.attempts
        later: list[str] = []
        for error in outcome.errors:
            used = attempts.get(error.file_id, 0) + failures
            if used >= self.settings.max_attempts:
                attempts[error.file_id] = used
                self.ids.fail_one(error.file_id, error.error, outcome.status)
                tally.failed += 1
            else:
                attempts[error.file_id] = used
                later.append(error.file_id)
        if later:
            tally.later += len(later)
            # The same backoff as a failed request.
            delay = self.backoff.delay(max(attempts[i] for i in later))
            await self.pool.retry_later(later, self._clock() + delay)
