"""The shared gate and the adaptive rate, on an injected clock (no waiting)."""

from __future__ import annotations

from bulkdel._engine.throttle import Throttle
from bulkdel.models import Kind, Outcome


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def throttled(
    retry_after: float | None = None, limit: int | None = None, interval: float | None = None
) -> Outcome:
    return Outcome(Kind.THROTTLED, 429, retry_after=retry_after, limit=limit, interval=interval)


OK = Outcome(Kind.SUCCESS, 200)


async def test_a_429_shuts_the_gate_for_everybody_as_long_as_it_says() -> None:
    """X-RateLimit-Reset closes the gate until the reset, measured from the answer."""
    clock = Clock()
    throttle = Throttle(10.0, clock=clock)
    assert throttle.gate_wait() == 0
    clock.now = 5.0
    throttle.on_outcome(throttled(retry_after=2.0))
    assert throttle.gate_wait() == 2.0
    clock.now = 6.5
    assert throttle.gate_wait() == 0.5
    throttle.on_outcome(throttled(retry_after=0.1))  # a shorter wait never reopens early
    assert throttle.gate_wait() == 0.5
    clock.now = 7.0
    assert throttle.gate_wait() == 0


async def test_a_fixed_rate_is_never_changed_by_429s() -> None:
    """With --rate, throttling waits but does not touch the configured pace."""
    throttle = Throttle(25.0, clock=Clock())
    throttle.on_outcome(throttled(retry_after=1.0, limit=5, interval=1.0))
    assert throttle.rate == 25.0
    assert throttle.throttled == 1


async def test_adaptive_goes_straight_to_a_stated_limit() -> None:
    """Unpaced at first; a 429 stating 50 per second sets the pace to exactly 50/s."""
    clock = Clock()
    throttle = Throttle(None, clock=clock)
    assert throttle.rate is None
    for _ in range(400):  # 400 requests in the last second
        await throttle.wait_turn()
    throttle.on_outcome(throttled(retry_after=0.02, limit=50, interval=1.0))
    assert throttle.rate == 50.0 * 0.95  # a margin, so that arrival jitter draws no 429


async def test_adaptive_honours_the_tightest_of_several_windows() -> None:
    """A long window (1000 per 15 s) learned after a short one lowers the pace to its share."""
    clock = Clock()
    throttle = Throttle(None, clock=clock)
    for _ in range(400):
        await throttle.wait_turn()
    throttle.on_outcome(throttled(retry_after=0.02, limit=100, interval=1.0))
    clock.now = 10.0
    throttle.on_outcome(throttled(retry_after=5.0, limit=1000, interval=15.0))
    assert throttle.rate is not None
    assert abs(throttle.rate - 1000 / 15 * 0.97) < 1e-9
    assert throttle.gate_wait() == 5.0


async def test_adaptive_without_headers_backs_off_then_climbs_back() -> None:
    """No stated limit: multiplicative decrease to 0.7x, then a CUBIC climb past the old rate."""
    clock = Clock()
    throttle = Throttle(None, clock=clock)
    for _ in range(100):
        await throttle.wait_turn()
    throttle.on_outcome(throttled())
    assert throttle.rate == 70.0
    seen = []
    for step in range(1, 80):
        clock.now = step * 0.1
        throttle.on_outcome(OK)
        assert throttle.rate is not None
        seen.append(throttle.rate)
    assert seen == sorted(seen), "the climb never goes down without a 429"
    assert 95 <= seen[30] <= 105  # t = 3.1 s, near the plateau at K = cbrt(100 * 0.3 / 0.4) s
    assert seen[-1] > 100


async def test_a_burst_of_429s_is_one_signal() -> None:
    """Several 429s within 0.2 s lower the rate once, not once each."""
    clock = Clock()
    throttle = Throttle(None, clock=clock)
    for _ in range(100):
        await throttle.wait_turn()
    for _ in range(8):
        throttle.on_outcome(throttled())
    assert throttle.rate == 70.0


async def test_a_stated_limit_is_forgotten_after_a_quiet_minute() -> None:
    """The climb may probe past a stated limit after 60 s without a 429."""
    clock = Clock()
    throttle = Throttle(None, clock=clock)
    for _ in range(400):
        await throttle.wait_turn()
    throttle.on_outcome(throttled(retry_after=0.02, limit=50, interval=1.0))
    clock.now = 30.0
    throttle.on_outcome(OK)
    assert throttle.rate == 47.5
    clock.now = 61.0
    throttle.on_outcome(OK)
    assert throttle.rate is not None and throttle.rate > 47.5


async def test_429s_for_requests_sent_before_a_slow_down_do_not_slow_down_again() -> None:
    """Answers to requests already on the wire when the pace dropped are one signal."""
    clock = Clock()
    throttle = Throttle(None, clock=clock)
    for _ in range(100):
        await throttle.wait_turn()
    clock.now = 1.0
    throttle.on_outcome(throttled(), sent_at=0.9)
    assert throttle.rate == 70.0
    clock.now = 2.0
    throttle.on_outcome(throttled(), sent_at=0.95)  # sent before the slow-down at 1.0
    assert throttle.rate == 70.0
    assert throttle.throttled == 2
    throttle.on_outcome(throttled(), sent_at=1.5)  # sent at the new pace: a new signal
    assert throttle.rate == 49.0
