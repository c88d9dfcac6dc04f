"""The one retry core: one backoff, one controller every retry site builds (on virtual time:
no test here sleeps)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from bulkdel.core.retry import RETRYABLE, Backoff, Retry, Waiting
from bulkdel.core.stop import StopSignal
from bulkdel.errors import Stopped
from bulkdel.models import Abort, AbortReason, Kind
from tests.helpers import VirtualClock


def test_backoff_draws_full_jitter_under_a_doubling_cap() -> None:
    """Uniform in [0, min(cap, base * 2**(tries-1))], from the rng it was given."""
    backoff = Backoff(0.5, 3.0, random.Random(7))
    again = random.Random(7)
    for tries, high in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)):
        drawn = backoff.delay(tries)
        assert drawn == again.uniform(0, high)
        assert 0 <= drawn <= high


def test_backoff_without_jitter_is_the_doubling_itself() -> None:
    """A poll's doubling: 1, 2, 4... up to the cap; no rng is drawn from."""
    backoff = Backoff(1.0, 10.0, jitter=False)
    assert [backoff.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert Backoff(1.0, float("inf"), jitter=False).delay(4000) == float("inf")


def test_one_set_of_retryable_kinds() -> None:
    assert frozenset({Kind.TRANSIENT, Kind.THROTTLED}) == RETRYABLE


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_answers_are_retried_until_the_attempts_run_out_and_the_last_is_given_back() -> None:
    """No ``RetryError``: out of attempts, the controller returns the last answer; each wait
    is told to the hook first."""
    clock = VirtualClock()
    seen: list[Waiting] = []
    answers = iter(["busy", "busy", "busy", "done"])
    calls: list[str] = []

    async def attempt() -> str:
        calls.append(answer := next(answers))
        return answer

    async def main() -> str:
        controller = Retry(
            Backoff(1.0, 8.0, jitter=False),
            clock=clock,
            attempts=3,
            retry_if=lambda answer: answer == "busy",
            before_wait=seen.append,
        )
        result: str = await controller(attempt)
        return result

    assert run(main()) == "busy"
    assert calls == ["busy"] * 3
    assert clock.slept == [1.0, 2.0]
    assert [(w.attempt, w.seconds, w.answer, w.error) for w in seen] == [
        (1, 1.0, "busy", None),
        (2, 2.0, "busy", None),
    ]


def test_a_stated_wait_replaces_the_backoff() -> None:
    """What the answer said (a Retry-After) is waited instead of the backoff's step."""
    clock = VirtualClock()
    answers = iter([("busy", 5.0), ("busy", None), ("ok", None)])

    async def attempt() -> tuple[str, float | None]:
        return next(answers)

    async def main() -> Any:
        controller = Retry(
            Backoff(1.0, 8.0, jitter=False),
            clock=clock,
            retry_if=lambda answer: answer[0] == "busy",
            stated=lambda answer: answer[1],
        )
        return await controller(attempt)

    assert run(main()) == ("ok", None)
    assert clock.slept == [5.0, 2.0]


def test_errors_are_retried_as_told_and_the_last_is_raised() -> None:
    """An error that may be retried is, until the attempts run out, then raised itself;
    any other error is raised at once."""
    clock = VirtualClock()
    raised: list[type[BaseException]] = []

    async def attempt() -> None:
        raised.append(OSError)
        raise OSError("refused")

    async def other() -> None:
        raised.append(ValueError)
        raise ValueError("not ours")

    async def main(fn: Any) -> None:
        controller = Retry(
            Backoff(0.0, 0.0),
            clock=clock,
            attempts=4,
            retry_on=lambda error: isinstance(error, OSError),
        )
        await controller(fn)

    with pytest.raises(OSError, match="refused"):
        run(main(attempt))
    assert raised == [OSError] * 4
    raised.clear()
    with pytest.raises(ValueError, match="not ours"):
        run(main(other))
    assert raised == [ValueError]


def test_a_deadline_bounds_each_wait_and_ends_the_retries() -> None:
    """No wait runs past the deadline, and none starts at it (Redis's ``--redis-wait``)."""
    clock = VirtualClock()
    tries: list[float] = []

    async def attempt() -> None:
        tries.append(clock.now)
        raise OSError("down")

    async def main() -> None:
        controller = Retry(
            Backoff(4.0, 4.0, jitter=False),
            clock=clock,
            deadline=lambda: 10.0,
            retry_on=lambda error: True,
        )
        await controller(attempt)

    with pytest.raises(OSError):
        run(main())
    assert clock.slept == [4.0, 4.0, 2.0]
    assert tries == [0.0, 4.0, 8.0, 10.0]


def test_give_up_looks_at_the_last_answer() -> None:
    """A site's own stop (a batch's budget of failures) ends the retries with that answer."""
    clock = VirtualClock()
    answers = iter(range(10))

    async def attempt() -> int:
        return next(answers)

    async def main() -> int:
        controller = Retry(
            Backoff(0.0, 0.0),
            clock=clock,
            retry_if=lambda answer: True,
            give_up=lambda answer: answer >= 3,
        )
        result: int = await controller(attempt)
        return result

    assert run(main()) == 3


@pytest.mark.parametrize("raises", [False, True])
@pytest.mark.parametrize("when", ["after the first try", "during the wait", "after a retry"])
def test_a_stop_ends_the_waits_and_the_retries(raises: bool, when: str) -> None:
    """The waits go through the stop signal's sleep: a stop raises ``Stopped`` out of one. A
    stop seen after a try gives back its answer without waiting, or raises ``Stopped`` for a
    try that raised: the error is not why the retries ended (a Redis outage while stopping)."""
    clock = VirtualClock()
    stop = StopSignal(clock)
    calls = 0

    async def attempt() -> str:
        nonlocal calls
        calls += 1
        if calls == (1 if when == "after the first try" else 2):
            stop.set(Abort(AbortReason.STOPPED, when))
        if raises:
            raise OSError("down")
        return "busy"

    def hook(waiting: Waiting) -> None:
        if when == "during the wait":
            stop.set(Abort(AbortReason.STOPPED, when))

    retry = Retry(
        Backoff(1.0, 1.0, jitter=False),
        clock=clock,
        stop=stop,
        retry_if=lambda answer: True,
        retry_on=lambda error: True,
        before_wait=hook,
    )
    if raises or when == "during the wait":
        with pytest.raises(Stopped, match=when):
            run(retry(attempt))
    else:
        assert run(retry(attempt)) == "busy"
    assert calls == (1 if when != "after a retry" else 2)


def test_each_failed_try_is_judged_once() -> None:
    """``retry_on`` may note an outage (log it, start its clock): it is asked once a try,
    the first one included."""
    clock = VirtualClock()
    judged: list[str] = []

    def worth(error: BaseException) -> bool:
        judged.append(str(error))
        return True

    async def attempt() -> None:
        raise OSError(f"try {len(judged) + 1}")

    with pytest.raises(OSError, match="try 3"):
        run(Retry(Backoff(0.0, 0.0), clock=clock, attempts=3, retry_on=worth)(attempt))
    assert judged == ["try 1", "try 2", "try 3"]


@pytest.mark.parametrize("first", ["busy", "done"])
def test_resume_goes_on_from_a_first_try_made_by_the_caller(first: str) -> None:
    """``resume(answer, fn)`` is ``__call__`` whose first try answered ``answer``: the same
    tries, waits and hook calls, the caller's try counted as attempt 1."""

    def play(resumed: bool) -> tuple[str, list[str], list[float], list[int]]:
        clock = VirtualClock()
        seen: list[Waiting] = []
        answers = iter([first, "busy", "busy", "done"])
        calls: list[str] = []

        async def attempt() -> str:
            calls.append(answer := next(answers))
            return answer

        async def main() -> str:
            controller = Retry(
                Backoff(1.0, 8.0, jitter=False),
                clock=clock,
                attempts=3,
                retry_if=lambda answer: answer == "busy",
                before_wait=seen.append,
            )
            if resumed:
                return await controller.resume(await attempt(), attempt)
            result: str = await controller(attempt)
            return result

        result = run(main())
        return result, calls, clock.slept, [w.attempt for w in seen]

    assert play(resumed=True) == play(resumed=False)
