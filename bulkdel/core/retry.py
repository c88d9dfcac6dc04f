"""The one retry core: one backoff, one set of retryable kinds, one way to build a controller.

Every retry site of bulkdel (a delete batch and a listing page, a purge request, the
preflight, a Redis call) builds its tenacity controller here, from the same parts:

* how many tries (``attempts``), until when (``deadline``: no wait runs past it), or a stop
  of the site's own on the last answer (``give_up``: a batch's budget of failures);
* the waits: one ``Backoff`` (capped doubling, with full jitter, or without it for a poll),
  unless the answer stated its own wait (``stated``: a ``Retry-After``);
* what is retried: answers (``retry_if``) and errors (``retry_on``);
* a sleep that a stop ends (``stop``: waits go through ``StopSignal.sleep`` and a stop seen
  after a try ends the retries), or the clock's plain sleep without one;
* a hook called before each wait (``before_wait``), for counting and logging.

Out of tries, the last answer is given back (never a ``RetryError``), or the last error
raised. Where sites wait differently on purpose, the difference is one of these parameters,
not a second formula.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..models import Kind

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState

    from .clock import Clock
    from .stop import StopSignal

#: the answers worth sending again: a server error, a timeout, a reset, a 429
RETRYABLE: Final = frozenset({Kind.TRANSIENT, Kind.THROTTLED})


class Backoff:
    """Capped exponential backoff, with full jitter (the AWS "full jitter" scheme) or none.

    Tenacity's ``wait_random_exponential`` draws from the global ``random``; this one takes
    a ``random.Random`` so that a run can be seeded and replayed.

    Args:
        base: the first step's cap, seconds.
        cap: the largest wait, seconds.
        rng: where the jitter comes from (a fresh, unseeded ``random.Random`` by default).
        jitter: False waits the step itself (a poll's doubling: 1, 2, 4... seconds).
    """

    __slots__ = ("base", "cap", "jitter", "rng")

    def __init__(
        self, base: float, cap: float, rng: random.Random | None = None, *, jitter: bool = True
    ) -> None:
        self.base = base
        self.cap = cap
        self.rng = rng if rng is not None else random.Random()
        self.jitter = jitter

    def delay(self, tries: int) -> float:
        """A wait after ``tries`` failed tries: ``min(cap, base * 2**(tries-1))``, or a
        uniform draw in [0, that] with jitter."""
        try:
            high = min(self.cap, self.base * 2 ** (tries - 1))
        except OverflowError:  # pragma: no cover - thousands of tries
            high = self.cap
        high = max(0.0, high)
        return self.rng.uniform(0, high) if self.jitter else high


@dataclass(frozen=True, slots=True)
class Waiting:
    """What ``before_wait`` is told: a try failed and the controller waits before the next."""

    attempt: int  #: tries made so far
    seconds: float  #: the wait about to start
    answer: Any  #: the last try's answer (None if it raised)
    error: BaseException | None  #: what the last try raised, or None


def retrying(
    backoff: Backoff,
    *,
    clock: Clock,
    stop: StopSignal | None = None,
    attempts: int | None = None,
    deadline: Callable[[], float] | None = None,
    retry_if: Callable[[Any], bool] | None = None,
    retry_on: Callable[[BaseException], bool] | None = None,
    give_up: Callable[[Any], bool] | None = None,
    stated: Callable[[Any], float | None] | None = None,
    before_wait: Callable[[Waiting], None] | None = None,
) -> AsyncRetrying:
    """A tenacity controller: ``await retrying(...)(fn, *args)`` tries ``fn`` as told.

    Args:
        backoff: the wait after each failed try (by the number of tries so far).
        clock: its ``time`` measures ``deadline``; its ``sleep`` waits when there is no stop.
        stop: waits go through its ``sleep`` (a stop raises ``Stopped`` out of them), and a
            stop seen after a try gives back that try's answer.
        attempts: tries in all, at most (None: no such bound).
        deadline: clock time after which nothing is tried again; waits are cut to end by it.
        retry_if: an answer to try again (none by default).
        retry_on: an error to try again (none by default: it is raised at once).
        give_up: True on the last answer ends the retries (a site's own bound).
        stated: the wait an answer asked for (a ``Retry-After``), used instead of the
            backoff's; None where it asked for none.
        before_wait: called before each wait (instrumentation).
    """
    from tenacity import AsyncRetrying  # first failure only: it is 10% of start-up

    def retry(state: RetryCallState) -> bool:
        outcome = state.outcome
        assert outcome is not None
        if outcome.failed:
            return retry_on is not None and retry_on(_error(state))
        return retry_if is not None and retry_if(outcome.result())

    def stopped(state: RetryCallState) -> bool:
        if stop is not None and stop.is_set:
            return True
        if attempts is not None and state.attempt_number >= attempts:
            return True
        if deadline is not None and clock.time() >= deadline():
            return True
        return give_up is not None and not _failed(state) and give_up(_answer(state))

    def wait(state: RetryCallState) -> float:
        seconds = stated(_answer(state)) if stated is not None and not _failed(state) else None
        if seconds is None:
            seconds = backoff.delay(state.attempt_number)
        if deadline is not None:
            seconds = max(0.0, min(seconds, deadline() - clock.time()))
        return seconds

    def before_sleep(state: RetryCallState) -> None:
        if before_wait is not None:
            answer = None if _failed(state) else _answer(state)
            failed = _error(state) if _failed(state) else None
            before_wait(Waiting(state.attempt_number, state.upcoming_sleep, answer, failed))

    return AsyncRetrying(
        retry=retry,
        stop=stopped,
        wait=wait,
        sleep=stop.sleep if stop is not None else clock.sleep,
        before_sleep=before_sleep,
        retry_error_callback=_give_back_last,
    )


def _failed(state: RetryCallState) -> bool:
    assert state.outcome is not None
    return state.outcome.failed


def _answer(state: RetryCallState) -> Any:
    assert state.outcome is not None
    return state.outcome.result()


def _error(state: RetryCallState) -> BaseException:
    assert state.outcome is not None
    error = state.outcome.exception()
    assert error is not None
    return error


def _give_back_last(state: RetryCallState) -> Any:
    """Out of tries: the last answer, or the last error raised (never a ``RetryError``)."""
    return _answer(state)


__all__ = ["RETRYABLE", "Backoff", "Waiting", "retrying"]
