"""The one retry core: one backoff, one set of retryable kinds, one way to build a controller.

Every retry site of bulkdel (a delete batch and a listing page, a purge request, the
preflight, a Redis call) is a ``Retry`` built from the same parts:

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
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from ..models import Kind

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState

    from .clock import Clock
    from .stop import StopSignal

T = TypeVar("T")

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


@dataclass(frozen=True, slots=True)
class Retry:
    """One site's retries: ``await Retry(...)(fn, *args)`` tries ``fn`` as told.

    The first try is made bare: only a try that failed builds the tenacity controller
    (``controller()``), which is handed that try as its attempt 1 so that its policy sees
    every try (tenacity costs start-up time, and time on every batch that succeeds at once).

    Args:
        backoff: the wait after each failed try (by the number of tries so far).
        clock: its ``time`` measures ``deadline``; its ``sleep`` waits when there is no stop.
        stop: waits go through its ``sleep`` (a stop raises ``Stopped`` out of them); a
            stop seen after a try gives back that try's answer, or raises ``Stopped`` for a
            try that raised (the error is not the reason it ended).
        attempts: tries in all, at most (None: no such bound).
        deadline: clock time after which nothing is tried again; waits are cut to end by it.
        retry_if: an answer to try again (none by default).
        retry_on: an error to try again (none by default: it is raised at once).
        give_up: True on the last answer ends the retries (a site's own bound).
        stated: the wait an answer asked for (a ``Retry-After``), used instead of the
            backoff's; None where it asked for none.
        before_wait: called before each wait (instrumentation).
    """

    backoff: Backoff
    _: KW_ONLY
    clock: Clock
    stop: StopSignal | None = None
    attempts: int | None = None
    deadline: Callable[[], float] | None = None
    retry_if: Callable[[Any], bool] | None = None
    retry_on: Callable[[BaseException], bool] | None = None
    give_up: Callable[[Any], bool] | None = None
    stated: Callable[[Any], float | None] | None = None
    before_wait: Callable[[Waiting], None] | None = None

    async def __call__(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await fn(*args)``, again while the policy says so; the last answer, or the
        last error raised, once it gives up (never a ``RetryError``)."""
        try:
            answer = await fn(*args)
        except Exception as error:
            if self.retry_on is None or not self.retry_on(error):
                raise
            if self.stop is not None:
                self.stop.check()
            first: tuple[Any, BaseException | None] = (None, error)
        else:
            if self.retry_if is None or not self.retry_if(answer) or self._stopped():
                return answer
            first = (answer, None)
        return await self._go_on(first, fn, *args)

    async def resume(self, answer: T, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """What ``__call__`` gives when its first try answered ``answer``: the caller made
        that try itself (and so built nothing for a try that needs no retry)."""
        if self.retry_if is None or not self.retry_if(answer) or self._stopped():
            return answer
        return await self._go_on((answer, None), fn, *args)

    async def _go_on(
        self, first: tuple[Any, BaseException | None], fn: Callable[..., Awaitable[T]], *args: Any
    ) -> T:
        """The tenacity controller, handed the first try (judged: to be retried) as its
        attempt 1."""
        handed = [first]

        async def attempt() -> T:
            if handed:
                answer, error = handed.pop()
                if error is not None:
                    raise error
                return cast("T", answer)
            return await fn(*args)

        result: T = await self.controller(first_retried=True)(attempt)
        return result

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set

    def controller(self, *, first_retried: bool = False) -> AsyncRetrying:
        """The tenacity controller of this policy; ``first_retried``: its attempt 1 was
        judged already (``retry_on`` may note an outage: it is asked once a try)."""
        from tenacity import AsyncRetrying  # first failure only

        def retry(state: RetryCallState) -> bool:
            return (first_retried and state.attempt_number == 1) or self._retry(state)

        return AsyncRetrying(
            retry=retry,
            stop=self._give_up,
            wait=self._wait,
            sleep=self.stop.sleep if self.stop is not None else self.clock.sleep,
            before_sleep=self._before_sleep,
            retry_error_callback=self._last,
        )

    def _last(self, state: RetryCallState) -> Any:
        """Given up: the last answer, or the last error raised (never a ``RetryError``);
        stopped after an error, ``Stopped`` (as the wait would have raised)."""
        if self.stop is not None and _failed(state):
            self.stop.check()
        return _answer(state)

    def _retry(self, state: RetryCallState) -> bool:
        if _failed(state):
            return self.retry_on is not None and self.retry_on(_error(state))
        return self.retry_if is not None and self.retry_if(_answer(state))

    def _give_up(self, state: RetryCallState) -> bool:
        if self._stopped():
            return True
        if self.attempts is not None and state.attempt_number >= self.attempts:
            return True
        if self.deadline is not None and self.clock.time() >= self.deadline():
            return True
        return self.give_up is not None and not _failed(state) and self.give_up(_answer(state))

    def _wait(self, state: RetryCallState) -> float:
        stated = self.stated
        seconds = stated(_answer(state)) if stated is not None and not _failed(state) else None
        if seconds is None:
            seconds = self.backoff.delay(state.attempt_number)
        if self.deadline is not None:
            seconds = max(0.0, min(seconds, self.deadline() - self.clock.time()))
        return seconds

    def _before_sleep(self, state: RetryCallState) -> None:
        if self.before_wait is not None:
            failed = _failed(state)
            answer = None if failed else _answer(state)
            error = _error(state) if failed else None
            self.before_wait(Waiting(state.attempt_number, state.upcoming_sleep, answer, error))


def _failed(state: RetryCallState) -> bool:
    assert state.outcome is not None
    return state.outcome.failed


def _answer(state: RetryCallState) -> Any:
    """The last try's answer; raises what it raised (so out of tries: never a RetryError)."""
    assert state.outcome is not None
    return state.outcome.result()


def _error(state: RetryCallState) -> BaseException:
    assert state.outcome is not None
    error = state.outcome.exception()
    assert error is not None
    return error


__all__ = ["RETRYABLE", "Backoff", "Retry", "Waiting"]
