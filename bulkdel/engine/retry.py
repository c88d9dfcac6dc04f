"""The retry policy, on tenacity: what is retried, how long we wait, when we give up.

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

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState

from ..core.clock import Clock
from ..core.stop import StopSignal
from ..models import Kind, Outcome, Settings

RETRYABLE = frozenset({Kind.TRANSIENT, Kind.THROTTLED})
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


class Backoff:
    """Capped exponential backoff with full jitter (the AWS "full jitter" scheme).

    Tenacity's ``wait_random_exponential`` draws from the global ``random``; ours takes a
    ``random.Random`` so that a run can be seeded and replayed.

    Args:
        base: the first step's cap, seconds.
        cap: the largest wait, seconds.
        rng: where the jitter comes from (a fresh, unseeded ``random.Random`` by default).
    """

    __slots__ = ("base", "cap", "rng")

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng if rng is not None else random.Random()

    def delay(self, tries: int) -> float:
        """A wait after ``tries`` failed tries: uniform in [0, min(cap, base * 2**(tries-1))]."""
        try:
            high = min(self.cap, self.base * 2 ** (tries - 1))
        except OverflowError:  # pragma: no cover - thousands of tries
            high = self.cap
        return self.rng.uniform(0, max(0.0, high))


def _last(state: RetryCallState) -> Outcome:
    assert state.outcome is not None
    result = state.outcome.result()
    assert isinstance(result, Outcome)
    return result


def build_retrying(
    settings: Settings,
    chain: Chain,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    stopping: Callable[[], bool],
    on_retry: Callable[[], None],
    backoff: Backoff | None = None,
) -> AsyncRetrying:
    """A tenacity controller for one batch's chain of attempts."""
    # imported here: only a request that failed needs it, and it is 10% of start-up
    from tenacity import AsyncRetrying, retry_if_result

    if backoff is None:
        backoff = Backoff(settings.backoff_base, settings.backoff_max)

    def stop(state: RetryCallState) -> bool:
        if stopping():
            return True
        outcome = _last(state)
        if outcome.kind is Kind.THROTTLED:
            return chain.throttled >= MAX_THROTTLED
        return chain.failures >= chain.budget or clock() - chain.started >= settings.max_retry_time

    def wait(state: RetryCallState) -> float:
        outcome = _last(state)
        if outcome.kind is Kind.THROTTLED and outcome.retry_after is not None:
            # a stated window shut the budget's gate for that long; a bare one is ours
            return 0.0 if outcome.limit is not None else outcome.retry_after
        return backoff.delay(state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        on_retry()

    def give_back_last(state: RetryCallState) -> Outcome:
        return _last(state)

    return AsyncRetrying(
        retry=retry_if_result(lambda outcome: outcome.kind in RETRYABLE),
        stop=stop,
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=give_back_last,
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
) -> Outcome:
    """Send, classify and retry one request (a delete batch, a listing page) until it
    succeeds or the policy gives up; returns the last outcome, each recorded in ``chain``.

    Args:
        send: one attempt: wait for a turn, send, classify.
        settings, chain, backoff: the policy's knobs, history and waits.
        clock, signal: retry time is measured on ``clock``; waits go through
            ``signal.sleep``, and a stop ends the retries.
        on_retry: called before each retry (the caller counts it).

    Raises:
        Stopped: the run stopped during a wait (or ``send`` raised it).
    """

    handed: list[Outcome] = []

    async def attempt() -> Outcome:
        if handed:
            return handed.pop()
        outcome = await send()
        chain.record(outcome)
        return outcome

    first = await attempt()
    if first.kind not in RETRYABLE or signal.is_set:
        return first
    # Only a request that failed pays for tenacity (it measured ~1 us an id on every batch);
    # tenacity is handed the first answer as its attempt 1, so its policy sees every try.
    handed.append(first)
    retrying = build_retrying(
        settings,
        chain,
        clock=clock.time,
        sleep=signal.sleep,
        stopping=lambda: signal.is_set,
        on_retry=on_retry,
        backoff=backoff,
    )
    outcome: Outcome = await retrying(attempt)
    return outcome
