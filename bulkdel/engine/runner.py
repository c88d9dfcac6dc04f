"""The batch runner: one batch in, the outcome of every id out.

``BatchRunner.process(ids, earlier)`` is everything one batch can meet: the account budget's
turn, retries with backoff, the 404 re-send without the missing ids, the 400 halving, and the
207's errored ids sent again *within the same call* until their attempts run out. When it
returns, every id of the batch has its final bucket (deleted, missing, missing after retry,
failed), unless the run was stopped first: those ids are ``unsettled`` in the outcome and stay
open in ``OpenIds`` (sent and unanswered: outcome unknown; never sent: not attempted).

A batch is so a self-contained unit of work: ``bulkdel delete``'s workers, ``delete_batch``
and a job worker all call ``process``, and a job worker can settle a batch once, or give it
back whole when stopped. Each final bucket also goes to the ledger the moment an answer says
it (through ``OpenIds``), so a crash after a 200 never loses the record of that deletion.

Why the 207 re-send stays inside the call (it used to join a shared retry queue and go out in
a later, fuller batch): a batch whose ids were spread over later batches could not be settled
or given back as one, and a job worker stopped with such ids queued gave back whole batches
whose other ids it had deleted (they came out "missing after retry" at the next worker). The
cost is one extra small request per batch that met a 207, which only partial failures pay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..core.clock import Clock
from ..core.lease import Lease
from ..core.stop import StopSignal
from ..errors import Stopped
from ..models import Abort, AbortReason, Kind, Outcome, Settings
from ..record.ledger import DELETE, RequestStats
from ..telemetry.observer import NO_OBSERVER, Attempt, BatchTally, RunObserver, RunView
from .batch_outcome import BatchOutcome
from .open_ids import OpenIds
from .retry import RETRYABLE, Backoff, Chain, send_with_retries


class BatchSender(Protocol):
    """Anything that sends one batch and classifies the answer (the client, or a test fake)."""

    async def delete_batch(self, file_ids: list[str]) -> Outcome: ...


class BatchRunner:
    """Sends batches until every id has its outcome.

    Args:
        sender: sends one request and classifies the answer (``BatchSender``).
        settings: attempts, backoff and retry time.
        ids: where each open id stands; its ledger gets every final bucket.
        lease: the job's lease on the account budget (one turn per request).
        signal: the run's stop: waits end and no new request leaves once it is set.
        stop: stops the run (a fatal answer).
        clock: the run's time and sleep.
        backoff: the waits between tries (seed its ``rng`` to replay a run).
        observer: follows each batch and attempt.
        host: the run the observer is told about (the ``Run`` that holds this runner).
    """

    __slots__ = (
        "_batches",
        "_time",
        "backoff",
        "clock",
        "host",
        "ids",
        "lease",
        "observer",
        "sender",
        "settings",
        "signal",
        "stop",
    )

    def __init__(
        self,
        sender: BatchSender,
        settings: Settings,
        ids: OpenIds,
        *,
        lease: Lease,
        signal: StopSignal,
        stop: Callable[[Abort], None],
        clock: Clock,
        backoff: Backoff,
        host: RunView,
        observer: RunObserver = NO_OBSERVER,
    ) -> None:
        self.sender = sender
        self.settings = settings
        self.ids = ids
        self.lease = lease
        self.signal = signal
        self.stop = stop
        self.clock = clock
        self._time = clock.time
        self.backoff = backoff
        self.observer = observer
        self.host = host
        self._batches = 0

    def detach(self) -> None:
        """Forget the run that holds this runner (its stop and observer view): the run has
        finished, and nothing is sent any more."""
        self.host = _DETACHED
        self.stop = _detached_stop
        self.observer = NO_OBSERVER

    @property
    def requests(self) -> RequestStats:
        """Where requests are counted (the ledger's)."""
        return self.ids.ledger.requests

    async def process(
        self,
        file_ids: list[str],
        earlier: Iterable[str] = (),
        *,
        unless: Callable[[], bool] | None = None,
        opened: bool = False,
    ) -> BatchOutcome:
        """Send one batch until every id in it has its final bucket.

        Args:
            file_ids: the batch (unique ids, at most ``settings.batch_size``).
            earlier: ids of it that may have been sent before (a resumed journal, a batch
                taken over from another worker): a 404 for them counts as missing after
                retry.
            unless: asked once the batch's first turn comes: True leaves the batch unsent
                (every id ``unsettled``), so a stopping worker gives back whole what it had
                not begun, and finishes what it had.
            opened: the ids are in ``ids.open`` already (the reader put them there).

        Returns:
            Every id's bucket; ids the run stopped without are in ``unsettled`` (they stay
            open in ``ids``: the host accounts for them, or ``forget``s them).
        """
        ids = self.ids
        if not opened:
            ids.open.update(file_ids)
        if earlier:
            ids.ambiguous.update(earlier)
        self._batches += 1
        now = self._time()
        tally = BatchTally(self._batches, len(file_ids), now)
        if self.observer is not NO_OBSERVER:
            self.observer.batch_started(self.host, tally)
            now = self._time()  # the wait for a turn starts after the observer's call
        outcome = BatchOutcome()
        try:
            await self._run(file_ids, tally, outcome, unless, now)
        except Stopped:
            pass  # what is left stays open: unsettled
        finally:
            # The tally is the observers' alone: nobody watching, no clock read for it.
            if self.observer is not NO_OBSERVER:
                tally.elapsed = self._time() - tally.started
                self.observer.batch_finished(self.host, tally)
        if len(outcome) < len(file_ids):
            still = ids.open
            outcome.unsettled = [i for i in file_ids if i in still]
        return outcome

    async def _run(
        self,
        batch: list[str],
        tally: BatchTally,
        outcome: BatchOutcome,
        unless: Callable[[], bool] | None,
        now: float | None,
    ) -> None:
        ids, limit = self.ids, self.settings.max_attempts
        work = [batch]
        while work:
            file_ids = work.pop()
            answer, chain = await self._send_with_retries(file_ids, tally, unless, now)
            unless = now = None  # asked before the first request only; time has moved on
            kind = answer.kind
            if kind is Kind.SUCCESS:
                again = _book_success(ids, limit, answer, chain.failures, tally, outcome)
                if again:
                    # The same backoff as a failed request, then the errored ids alone.
                    attempts = ids.attempts
                    await self.signal.sleep(self.backoff.delay(max(attempts[i] for i in again)))
                    work.append(again)
            elif kind is Kind.MISSING:
                # Nothing in the batch was deleted: the rest goes out again at once, and
                # this request does not count against them.
                after = ids.missing(answer.missing)
                _add_missing(outcome, answer.missing, after)
                tally.missing += len(answer.missing)
                gone = set(answer.missing)
                rest = [i for i in file_ids if i not in gone]
                if rest:
                    ids.charge(rest, chain.failures - 1)
                    work.append(rest)
            elif kind is Kind.BAD_REQUEST:
                ids.charge(file_ids, chain.failures)
                if len(file_ids) == 1:
                    outcome.failed.extend(ids.fail(file_ids, answer))
                    tally.failed += 1
                else:
                    middle = len(file_ids) // 2
                    work.extend((file_ids[middle:], file_ids[:middle]))
            elif kind is Kind.FATAL:
                self.stop(Abort(AbortReason.FATAL, f"HTTP {answer.status}: {answer.message}"))
                return
            elif kind in RETRYABLE:
                if self.signal.is_set:
                    return  # interrupted mid-retry: the ids stay open (unsettled)
                ids.charge(file_ids, chain.failures)
                outcome.failed.extend(ids.fail(file_ids, answer))
                tally.failed += len(file_ids)

    async def _send(
        self,
        file_ids: list[str],
        chain: Chain,
        tally: BatchTally,
        unless: Callable[[], bool] | None = None,
        asked: float | None = None,
    ) -> Outcome:
        """One attempt: a turn, the request, its answer told to the observer and the budget.
        ``asked``: the clock's time now, when the caller has just read it."""
        # What the attempt's times are for is the observers' (``Attempt``): nobody watching,
        # the clock is not read for them.
        watched = self.observer is not NO_OBSERVER
        if watched and asked is None:
            asked = self._time()
        turn = await self.lease.turn()
        self.signal.check()
        if unless is not None and not chain.statuses and unless():
            raise Stopped(Abort(AbortReason.STOPPED, "left unsent"))  # the turn goes unused
        requests = self.requests
        requests.sending(DELETE)
        ids = self.ids
        token = ids.on_wire(file_ids)
        sent = self._time() if watched else 0.0
        answer: Outcome = await self.sender.delete_batch(file_ids)
        ids.off_wire(token)
        requests.answered(DELETE, answer.status)
        tally.requests += 1
        if watched and asked is not None:
            took, resent = self._time() - sent, chain.failures + chain.throttled
            attempt = Attempt(
                DELETE, "POST", answer, took, sent - asked, resent, len(file_ids), tally
            )
            self.observer.attempt(self.host, attempt)
        await self.lease.observe(turn, answer)
        if answer.maybe_applied:
            ids.ambiguous.update(file_ids)
        return answer

    async def _send_with_retries(
        self,
        file_ids: list[str],
        tally: BatchTally,
        unless: Callable[[], bool] | None = None,
        now: float | None = None,
    ) -> tuple[Outcome, Chain]:
        """Send until the answer is final (``engine.retry``'s policy). The first attempt is
        made here, bare: the policy (closures, tenacity) is built only for an answer that
        is to be retried, and takes that attempt as its first."""
        asked = self._time() if now is None else now
        used = self.ids.used(file_ids)
        chain = Chain(budget=max(1, self.settings.max_attempts - used), started=asked)
        answer = await self._send(file_ids, chain, tally, unless, asked)
        chain.record(answer)
        if answer.kind not in RETRYABLE or self.signal.is_set:
            return answer, chain  # as the policy would: final, or stopped
        answer = await send_with_retries(
            lambda: self._send(file_ids, chain, tally, unless),
            self.settings,
            chain=chain,
            clock=self.clock,
            signal=self.signal,
            backoff=self.backoff,
            on_retry=lambda: self.requests.retrying(DELETE),
            first=answer,
        )
        return answer, chain


class _Detached:
    """The host of a runner whose run has finished: observers are no longer told anything."""


_DETACHED: Any = _Detached()


def _detached_stop(reason: Abort) -> None:
    """A finished run has nothing left to stop."""


def _book_success(
    ids: OpenIds,
    max_attempts: int,
    answer: Outcome,
    failures: int,
    tally: BatchTally,
    outcome: BatchOutcome,
) -> list[str]:
    """Book a 200/207; returns the errored ids to send again (attempts left)."""
    ids.deleted(answer.deleted)
    outcome.deleted.extend(answer.deleted)
    tally.deleted += len(answer.deleted)
    if not answer.errors:
        return []
    attempts = ids.attempts
    again: list[str] = []
    for error in answer.errors:
        used = attempts.get(error.file_id, 0) + failures
        attempts[error.file_id] = used
        if used >= max_attempts:
            outcome.failed.append(ids.fail_one(error.file_id, error.error, answer.status))
            tally.failed += 1
        else:
            again.append(error.file_id)
    tally.later += len(again)
    return again


def _add_missing(outcome: BatchOutcome, missing: Iterable[str], after: list[str]) -> None:
    later = set(after)
    for file_id in missing:
        (outcome.missing_after_retry if file_id in later else outcome.missing).append(file_id)
