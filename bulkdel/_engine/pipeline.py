"""The only wiring of bulkdel: reader -> work pool -> workers -> ledger.

One reader task validates, de-duplicates and batches the input; ``concurrency`` workers take
batches, send them under the throttle with retries, and turn each outcome into ledger events.
Every id read is "open" from the moment it is accepted until the ledger has its final bucket;
whatever is still open when the run ends (stopped, aborted, cancelled) is not attempted, or
failed as "outcome unknown" when a request for it may have been applied, so the counts always
add up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterable, Sequence
from typing import Protocol

from .._journal.journal import Journal
from ..errors import Stopped
from ..ledger import DELETE, Ledger, RequestStats
from ..models import INTERRUPTED_UNKNOWN, Abort, AbortReason, Kind, Outcome, Settings
from .clock import LOOP_CLOCK, Clock
from .reader import Reader
from .retry import RETRYABLE, Backoff, Chain, send_with_retries
from .sources import Chunk
from .stop import StopSignal
from .throttle import Throttle
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
    """

    def __init__(
        self,
        sender: BatchSender,
        settings: Settings,
        ledger: Ledger,
        *,
        clock: Clock = LOOP_CLOCK,
        journal: Journal | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.sender = sender
        self.settings = settings
        self.ledger = ledger
        self.journal = journal
        self.clock = clock
        self._clock = clock.time
        #: the run's one stop: the throttle, the retries and the listing wait through it
        self.signal = StopSignal(clock)
        self.throttle = Throttle(settings.rate, clock=clock, signal=self.signal)
        self.backoff = Backoff(settings.backoff_base, settings.backoff_max, rng)
        self.pool = WorkPool(2 * settings.concurrency + 2, settings.batch_size, clock)
        #: ids read and not yet in a final bucket
        self._open: set[str] = set()
        #: attempts used so far by open ids that have been tried (absent: none)
        self._attempts: dict[str, int] = {}
        #: open ids that an attempt may have deleted without an answer saying so
        self._ambiguous: set[str] = set()
        #: ids of requests on the wire right now (an answer cut off may have been applied)
        self._sending: set[str] = set()
        self.reader = Reader(
            settings,
            ledger,
            self.pool,
            self._put,
            open_ids=self._open,
            ambiguous=self._ambiguous,
            stop=self.stop,
            journal=journal,
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
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.reader.run(chunks))
                if not self.settings.dry_run:
                    for _ in range(self.settings.concurrency):
                        group.create_task(self._work())
        finally:
            self._settle_leftovers()

    def _settle_leftovers(self) -> None:
        """Ids still open when the run ends: never sent, so not attempted, unless a request
        for them may have been applied (cut off, or unanswered before a stop): those fail as
        outcome unknown, because the server may have deleted them (the journal keeps them
        in flight, so that a resumed run sends them again)."""
        unknown = self._open & (self._ambiguous | self._sending)
        self._charge(sorted(unknown & self._sending), 1)  # the attempt that was cut off
        if unknown and self.journal is not None:
            self.journal.keep_in_flight(unknown)
        for file_id in sorted(unknown):
            self._fail_one(file_id, INTERRUPTED_UNKNOWN, None)
        rest = list(self._open)
        self._open.clear()
        self.ledger.not_attempted(rest)
        self._attempts.clear()
        self._ambiguous.clear()
        self._sending.clear()

    async def _put(self, batch: list[str]) -> bool:
        if self.settings.dry_run:
            self._close(batch)
            self.ledger.not_attempted(batch)
            return True
        return await self.pool.put(batch)

    # -- sending ---------------------------------------------------------------------------

    async def _work(self) -> None:
        pool = self.pool
        while (batch := await pool.get()) is not None:
            try:
                await self._process(batch)
            except Stopped:
                pass  # its ids stay open and end up not attempted
            finally:
                await pool.done()

    async def _send(self, file_ids: list[str]) -> Outcome:
        await self.throttle.wait_turn()
        self.signal.check()
        requests = self.ledger.requests
        requests.sending(DELETE)
        self._sending.update(file_ids)
        sent_at = self._clock()
        outcome = await self.sender.delete_batch(file_ids)
        self._sending.difference_update(file_ids)
        requests.answered(DELETE, outcome.status)
        self.throttle.on_outcome(outcome, sent_at)
        if outcome.maybe_applied:
            self._ambiguous.update(file_ids)
        return outcome

    def _count_retry(self) -> None:
        self.ledger.requests.retrying(DELETE)

    async def _send_with_retries(self, file_ids: list[str]) -> tuple[Outcome, Chain]:
        attempts = self._attempts
        used = max((attempts.get(i, 0) for i in file_ids), default=0) if attempts else 0
        chain = Chain(budget=max(1, self.settings.max_attempts - used), started=self._clock())
        outcome = await send_with_retries(
            lambda: self._send(file_ids),
            self.settings,
            chain=chain,
            clock=self.clock,
            signal=self.signal,
            backoff=self.backoff,
            on_retry=self._count_retry,
        )
        return outcome, chain

    async def _process(self, batch: list[str]) -> None:
        """Send one batch until every id in it is settled or handed back for later."""
        token = None if self.journal is None else await self.journal.mark_in_flight(batch)
        work = [batch]
        while work:
            file_ids = work.pop()
            outcome, chain = await self._send_with_retries(file_ids)
            kind = outcome.kind
            if kind is Kind.SUCCESS:
                await self._success(outcome, chain.failures)
            elif kind is Kind.MISSING:
                # Nothing in the batch was deleted: the rest goes out again at once, and
                # this request does not count against them.
                self._missing(outcome.missing)
                gone = set(outcome.missing)
                rest = [i for i in file_ids if i not in gone]
                if rest:
                    self._charge(rest, chain.failures - 1)
                    work.append(rest)
            elif kind is Kind.BAD_REQUEST:
                self._charge(file_ids, chain.failures)
                if len(file_ids) == 1:
                    self._fail(file_ids, outcome)
                else:
                    middle = len(file_ids) // 2
                    work.extend((file_ids[middle:], file_ids[:middle]))
            elif kind is Kind.FATAL:
                self.stop(Abort(AbortReason.FATAL, f"HTTP {outcome.status}: {outcome.message}"))
                return
            elif kind in RETRYABLE:
                if self.stopping:
                    return  # interrupted mid-retry: the ids stay open, so not attempted
                self._charge(file_ids, chain.failures)
                self._fail(file_ids, outcome)
        if token is not None and self.journal is not None:
            self.journal.landed(token)

    def _charge(self, file_ids: list[str], count: int) -> None:
        """Count ``count`` attempts against ids that stay open."""
        if count > 0:
            attempts = self._attempts
            for file_id in file_ids:
                attempts[file_id] = attempts.get(file_id, 0) + count

    def _close(self, file_ids: Sequence[str]) -> None:
        """Ids that have their final bucket leave the open set."""
        self._open.difference_update(file_ids)
        if self._ambiguous:
            self._ambiguous.difference_update(file_ids)
        if self._attempts:
            for file_id in file_ids:
                self._attempts.pop(file_id, None)

    async def _success(self, outcome: Outcome, failures: int) -> None:
        self._close(outcome.deleted)
        self.ledger.deleted(outcome.deleted)
        if not outcome.errors:
            return
        attempts = self._attempts
        later: list[str] = []
        for error in outcome.errors:
            used = attempts.get(error.file_id, 0) + failures
            if used >= self.settings.max_attempts:
                attempts[error.file_id] = used
                self._fail_one(error.file_id, error.error, outcome.status)
            else:
                attempts[error.file_id] = used
                later.append(error.file_id)
        if later:
            # The same backoff as a failed request.
            delay = self.backoff.delay(max(attempts[i] for i in later))
            await self.pool.retry_later(later, self._clock() + delay)

    def _missing(self, file_ids: tuple[str, ...]) -> None:
        ambiguous = self._ambiguous
        after_retry = [i for i in file_ids if i in ambiguous] if ambiguous else []
        self._close(file_ids)
        self.ledger.missing(file_ids, after_retry)

    def _fail(self, file_ids: list[str], outcome: Outcome) -> None:
        message = outcome.message or outcome.kind.value
        if any(i in self._ambiguous for i in file_ids):
            message = f"outcome unknown, the server may have deleted it: {message}"
        for file_id in file_ids:
            self._fail_one(file_id, message, outcome.status)

    def _fail_one(self, file_id: str, message: str, status: int | None) -> None:
        attempts = self._attempts.get(file_id, 0)
        self._close((file_id,))
        self.ledger.failed(file_id, message, status, attempts)
