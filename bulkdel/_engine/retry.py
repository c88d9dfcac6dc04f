"""The retry policy, on tenacity: what is retried, how long we wait, when we give up.

* Retried: transient answers (5xx, timeouts, resets, unreadable bodies) and 429s.
* Waits: exponential backoff with full jitter, capped (``wait_random_exponential``), except
  after a 429 that said how long to wait: then the shared gate in ``throttle`` holds every
  worker for exactly that long, and the worker itself adds nothing.
* Gives up: after the batch's remaining attempt budget of real failures (429s do not burn
  attempts: being throttled says nothing about the ids), after ``max_retry_time`` seconds of
  failing, or after too many 429s in a row for one batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, wait_random_exponential

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
) -> AsyncRetrying:
    """A tenacity controller for one batch's chain of attempts."""
    backoff = wait_random_exponential(multiplier=settings.backoff_base, max=settings.backoff_max)

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
            return 0.0  # the shared gate waits exactly as long as the server said
        return float(backoff(state))

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
