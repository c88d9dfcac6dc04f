"""The delete policy, on the one retry core (``core.retry``): what is retried, how long we
wait, when we give up, for a delete batch, a listing page or a details request.

* Retried: transient answers (5xx, timeouts, resets, unreadable bodies) and 429s.
* Waits: exponential backoff with full jitter, capped (``Backoff``, one for deletes, listing
  pages and 207 re-queues, drawing from an injectable ``random.Random``), except after a 429
  that said how long to wait: one that states its window (``X-RateLimit-*``) shuts the
  account budget's gate for every worker for exactly that long, and the worker adds nothing;
  one with only ``Retry-After`` makes this request alone wait that long.
* Gives up: after the batch's remaining attempt budget of real failures (429s do not burn
  attempts: being throttled says nothing about the ids), after ``max_retry_time`` seconds of
  failing, or after too many 429s in a row for one batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..core.clock import Clock
from ..core.retry import RETRYABLE, Backoff, Retry
from ..core.stop import StopSignal
from ..models import Kind, Outcome, Settings

#: 429s tolerated for one batch before its ids fail (a server that never lets us in)
MAX_THROTTLED = 200


@dataclass
class Chain:
    """What happened while sending one batch, across its retries."""

    budget: int  #: real attempts allowed
    started: float  #: clock time of the first attempt
    failures: int = 0  #: attempts that were not 429s
    throttled: int = 0  #: 429 answers
    ambiguous: bool = False  #: some attempt may have been applied without us knowing
    statuses: list[int | None] = field(default_factory=list)

    def record(self, outcome: Outcome) -> None:
        """Count one answer."""
        self.statuses.append(outcome.status)
        if outcome.kind is Kind.THROTTLED:
            self.throttled += 1
        else:
            self.failures += 1
        if outcome.maybe_applied:
            self.ambiguous = True


def batch_retry(
    settings: Settings,
    chain: Chain,
    *,
    clock: Clock,
    signal: StopSignal,
    backoff: Backoff,
    on_retry: Callable[[], None],
) -> Retry:
    """The retries of one batch's chain of attempts (a listing page's, a details request's)."""

    def give_up(outcome: Outcome) -> bool:
        if outcome.kind is Kind.THROTTLED:
            return chain.throttled >= MAX_THROTTLED
        return (
            chain.failures >= chain.budget
            or clock.time() - chain.started >= settings.max_retry_time
        )

    def stated(outcome: Outcome) -> float | None:
        if outcome.kind is Kind.THROTTLED and outcome.retry_after is not None:
            # a stated window shut the budget's gate for that long; a bare one is ours
            return 0.0 if outcome.limit is not None else outcome.retry_after
        return None

    return Retry(
        backoff,
        clock=clock,
        stop=signal,
        retry_if=lambda outcome: outcome.kind in RETRYABLE,
        give_up=give_up,
        stated=stated,
        before_wait=lambda waiting: on_retry(),
    )


async def send_with_retries(
    send: Callable[[], Awaitable[Outcome]],
    settings: Settings,
    *,
    chain: Chain,
    clock: Clock,
    signal: StopSignal,
    backoff: Backoff,
    on_retry: Callable[[], None],
    first: Outcome | None = None,
) -> Outcome:
    """Send, classify and retry one request (a delete batch, a listing page) until it
    succeeds or the policy gives up; returns the last outcome, each recorded in ``chain``.

    Args:
        send: one attempt: wait for a turn, send, classify.
        settings, chain, backoff: the policy's knobs, history and waits.
        clock, signal: retry time is measured on ``clock``; waits go through
            ``signal.sleep``, and a stop ends the retries.
        on_retry: called before each retry (the caller counts it).
        first: the answer of a first attempt the caller made itself (recorded in ``chain``
            already): the policy goes on from it.

    Raises:
        Stopped: the run stopped during a wait (or ``send`` raised it).
    """

    async def attempt() -> Outcome:
        outcome = await send()
        chain.record(outcome)
        return outcome

    retry = batch_retry(
        settings, chain, clock=clock, signal=signal, backoff=backoff, on_retry=on_retry
    )
    if first is not None:
        return await retry.resume(first, attempt)
    return await retry(attempt)


__all__ = ["MAX_THROTTLED", "RETRYABLE", "Backoff", "Chain", "batch_retry", "send_with_retries"]
