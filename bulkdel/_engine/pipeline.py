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
import contextlib
import random
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from typing import Final, Protocol

from .._journal.journal import DELETED, MISSING, Journal, JournaledOutcome
from ..ledger import Ledger
from ..models import Kind, Outcome, Settings
from .retry import RETRYABLE, Chain, build_retrying
from .sources import Chunk
from .throttle import Throttle
from .validate import Deduper
from .workpool import WorkPool


class BatchSender(Protocol):
    """Anything that sends one batch and classifies the answer (the client, or a test fake)."""

    async def delete_batch(self, file_ids: list[str]) -> Outcome: ...


#: the reason of ids whose request may have been applied when the run stopped; the journal
#: keeps these in flight, so that a resumed run sends them again and learns their fate
INTERRUPTED_UNKNOWN: Final = (
    "outcome unknown, the server may have deleted it: the run stopped before an answer said"
)


class _Stopped(Exception):
    """Internal: the run is stopping; the batch in hand is not sent."""


async def _with_idle(chunks: AsyncIterable[Chunk], linger: float) -> AsyncIterator[Chunk | None]:
    """The chunks, with None whenever the source has been silent for ``linger`` seconds."""
    iterator = aiter(chunks)
    pending: asyncio.Future[Chunk] | None = None
    idle_told = False
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
                idle_told = False
            done, _ = await asyncio.wait({pending}, timeout=None if idle_told else linger)
            if not done:
                idle_told = True
                yield None
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None:
            if not pending.done():
                pending.cancel()
            with contextlib.suppress(BaseException):
                await pending  # also retrieves a StopAsyncIteration nobody else will
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()


class Pipeline:
    """Runs one delete job over a stream of chunks.

    Args:
        sender: sends one batch (an ``ImageKitClient``).
        settings: the job's knobs.
        ledger: where every outcome goes.
        sleep: how to wait (tests pass a fast one).
        journal: the job's journal: ids it has settled are not sent again, and ids go on
            record as in flight before they are sent.
    """

    def __init__(
        self,
        sender: BatchSender,
        settings: Settings,
        ledger: Ledger,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        journal: Journal | None = None,
    ) -> None:
        self.sender = sender
        self.settings = settings
        self.ledger = ledger
        self._sleep_impl = sleep
        self.journal = journal
        self._clock = asyncio.get_running_loop().time
        self.throttle = Throttle(settings.rate, clock=self._clock, sleep=self._sleep)
        self.pool = WorkPool(2 * settings.concurrency + 2, settings.batch_size, self._clock)
        self.dedupe = Deduper()
        #: ids read and not yet in a final bucket
        self._open: set[str] = set()
        #: attempts used so far by open ids that have been tried (absent: none)
        self._attempts: dict[str, int] = {}
        #: open ids that an attempt may have deleted without an answer saying so
        self._ambiguous: set[str] = set()
        #: ids of requests on the wire right now (an answer cut off may have been applied)
        self._sending: set[str] = set()
        self._stop_event = asyncio.Event()
        #: why the run ended early, or None
        self.aborted: str | None = None
        #: the whole input was read
        self.input_done = False
        #: ids a resumed run found settled in the journal, and found left in flight
        self.resumed_final = 0
        self.resumed_in_flight = 0

    @property
    def stopping(self) -> bool:
        """A stop was asked for; no new batch is sent."""
        return self._stop_event.is_set()

    def stop(self, reason: str) -> None:
        """Stop taking batches; in-flight requests settle. The first reason given wins."""
        if self.aborted is None:
            self.aborted = reason
        self._stop_event.set()
        self.pool.stop()

    async def _sleep(self, seconds: float) -> None:
        if self.stopping:
            raise _Stopped
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        # The injected sleep (tests pass a fast one) races a stop: a stop ends the wait.
        napping = asyncio.ensure_future(self._sleep_impl(seconds))
        stop_wait = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({napping, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            napping.cancel()
            stop_wait.cancel()
        if self.stopping:
            raise _Stopped

    async def run(self, chunks: AsyncIterable[Chunk]) -> None:
        """Read everything, send everything, settle everything; then account what is left."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read(chunks))
                if not self.settings.dry_run:
                    for _ in range(self.settings.concurrency):
                        group.create_task(self._work())
        finally:
            self._settle_leftovers()

    def _settle_leftovers(self) -> None:
        """Ids still open when the run ends: never sent, so not attempted, unless a request
        for them may have been applied (cut off, or unanswered before a stop): those fail as
        outcome unknown, because the server may have deleted them."""
        unknown = self._open & (self._ambiguous | self._sending)
        self._charge(sorted(unknown & self._sending), 1)  # the attempt that was cut off
        for file_id in sorted(unknown):
            self._fail_one(file_id, INTERRUPTED_UNKNOWN, None)
        rest = list(self._open)
        self._open.clear()
        self.ledger.not_attempted(rest)
        self._attempts.clear()
        self._ambiguous.clear()
        self._sending.clear()

    # -- reading ---------------------------------------------------------------------------

    async def _read(self, chunks: AsyncIterable[Chunk]) -> None:
        settings = self.settings
        size = settings.batch_size
        held: list[list[str]] | None = [] if settings.max_delete is not None else None
        batch: list[str] = []
        try:
            async for chunk in _with_idle(chunks, settings.linger):
                if chunk is None:
                    if batch and held is None:
                        if not await self._put(batch):
                            return
                        batch = []
                    continue
                for value in await self._accept(chunk):
                    batch.append(value)
                    if len(batch) >= size:
                        if held is not None:
                            held.append(batch)
                        elif not await self._put(batch):
                            return
                        batch = []
                if held is not None and self._over_limit():
                    return
                if self.stopping:
                    return
            if batch:
                if held is not None:
                    held.append(batch)
                elif not await self._put(batch):
                    return
            if held is not None:
                for full in held:
                    if not await self._put(full):
                        return
            self.input_done = True
        finally:
            await self.pool.close_reader()

    async def _accept(self, chunk: Chunk) -> list[str]:
        """Validate and de-duplicate a chunk; returns the new ids that need sending."""
        ledger = self.ledger
        key = self.dedupe.key
        seen = self.dedupe.seen
        source = chunk.source
        fresh: list[str] = []
        for line, value, problem in chunk.items:
            if problem is not None:
                ledger.invalid(source, line, value, problem)
                continue
            remembered = key(value)
            if remembered in seen:
                ledger.duplicate(value, source, line)
            else:
                seen.add(remembered)
                fresh.append(value)
        if self.journal is not None and self.journal.resumed and fresh:
            fresh = await self._resume_known(fresh)
        ledger.unique(len(fresh))
        self._open.update(fresh)
        return fresh

    async def _resume_known(self, fresh: list[str]) -> list[str]:
        """Settle from the journal the ids an earlier run finished; flag those it left in
        flight (a 404 for them means the earlier run deleted them)."""
        journal = self.journal
        assert journal is not None
        known = await journal.lookup(fresh)
        if not known:
            return fresh
        ledger = self.ledger
        send: list[str] = []
        deleted: list[str] = []
        for value in fresh:
            state = known.get(value)
            if state is None:
                send.append(value)
            elif isinstance(state, JournaledOutcome):
                ledger.unique()
                self.resumed_final += 1
                if state.state == DELETED:
                    deleted.append(value)
                elif state.state == MISSING:
                    ledger.missing((value,), (value,) if state.after_retry else ())
                else:
                    ledger.failed(value, state.error or "", state.status, state.attempts)
            else:
                self._ambiguous.add(value)
                self.resumed_in_flight += 1
                send.append(value)
        ledger.deleted(deleted)
        return send

    def _over_limit(self) -> bool:
        limit = self.settings.max_delete
        if limit is not None and len(self._open) > limit:
            self.stop(
                f"refused: the input holds more than {limit:,} unique ids (--max-delete); "
                "nothing was sent"
            )
            return True
        return False

    async def _put(self, batch: list[str]) -> bool:
        if self.settings.dry_run:
            self._settle_not_attempted(batch)
            return True
        return await self.pool.put(batch)

    def _settle_not_attempted(self, batch: list[str]) -> None:
        self._close(batch)
        self.ledger.not_attempted(batch)

    # -- sending ---------------------------------------------------------------------------

    async def _work(self) -> None:
        pool = self.pool
        while (batch := await pool.get()) is not None:
            try:
                await self._process(batch)
            except _Stopped:
                pass  # its ids stay open and end up not attempted
            finally:
                await pool.done()

    async def _send(self, file_ids: list[str], chain: Chain) -> Outcome:
        await self.throttle.wait_turn()
        if self.stopping:
            raise _Stopped
        requests = self.ledger.requests
        requests.sent += 1
        self._sending.update(file_ids)
        sent_at = self._clock()
        outcome = await self.sender.delete_batch(file_ids)
        self._sending.difference_update(file_ids)
        requests.by_status[str(outcome.status) if outcome.status else "error"] += 1
        self.throttle.on_outcome(outcome, sent_at)
        chain.record(outcome)
        if outcome.maybe_applied:
            self._ambiguous.update(file_ids)
        return outcome

    def _count_retry(self) -> None:
        self.ledger.requests.retried += 1

    async def _send_with_retries(self, file_ids: list[str]) -> tuple[Outcome, Chain]:
        attempts = self._attempts
        used = max((attempts.get(i, 0) for i in file_ids), default=0) if attempts else 0
        chain = Chain(budget=max(1, self.settings.max_attempts - used), started=self._clock())
        first = await self._send(file_ids, chain)
        if first.kind not in RETRYABLE or self.stopping:
            return first, chain
        # Only a batch that failed pays for tenacity (it measured ~1 us an id on every batch);
        # tenacity is handed the first answer as its attempt 1, so its policy sees every try.
        handed: list[Outcome] = [first]

        async def attempt() -> Outcome:
            if handed:
                return handed.pop()
            return await self._send(file_ids, chain)

        retrying = build_retrying(
            self.settings,
            chain,
            clock=self._clock,
            sleep=self._sleep,
            stopping=lambda: self.stopping,
            on_retry=self._count_retry,
        )
        outcome: Outcome = await retrying(attempt)
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
                self.stop(f"fatal: HTTP {outcome.status}: {outcome.message}")
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
            # The same capped exponential backoff with full jitter as a failed request.
            tries = max(attempts[i] for i in later)
            cap = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (tries - 1))
            await self.pool.retry_later(later, self._clock() + random.uniform(0, cap))

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
