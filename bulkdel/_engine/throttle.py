"""How fast to send: one aiolimiter bucket, a shared gate, and an adaptive rate.

* The **gate** is shut for everybody when the server says "wait" (a 429 with
  ``X-RateLimit-Reset``): the next sender would only be refused too.
* With a fixed ``rate``, the bucket paces requests evenly (bursts of at most a tenth of a
  second's worth), so a server enforcing that same rate never has to refuse one.
* Without a rate, the controller adapts like AWS's adaptive retry mode: unpaced until the first
  429, then a multiplicative decrease and a CUBIC climb back. A 429 that states its window
  (``X-RateLimit-Limit`` per ``X-RateLimit-Interval``) gives a hard ceiling, which the climb
  never passes: probing above a limit the server told us is a retry storm in slow motion.
"""

from __future__ import annotations

from collections import deque

from aiolimiter import AsyncLimiter

from ..models import Kind, Outcome
from .clock import LOOP_CLOCK, Clock
from .stop import StopSignal

#: CUBIC constants from AWS's adaptive retry mode
_BETA = 0.7
_SCALE = 0.4
#: share of a stated limit we pace at: at exactly the limit, the server's bucket stays empty
#: and any jitter in arrival draws a 429; a long fixed window is crossed with one request too
#: many now and then
_SHORT_WINDOW_SHARE = 0.95
_LONG_WINDOW_SHARE = 0.97
_MIN_RATE = 0.5
_MEASURE_SPAN = 1.0
#: a limit the server stated is trusted this long without a 429; then the climb may probe
#: past it, so a wrong or lifted limit cannot hold the run down for good
_CEILING_TRUST = 60.0


class Throttle:
    """Paces requests for one run; shared by every worker.

    Args:
        rate: fixed requests per second, or None to adapt to the server.
        clock: the run's clock (its time, and its sleep while the gate is shut).
        signal: the run's stop: a gate wait ends with ``errors.Stopped`` when it is set.

    Raises:
        Stopped: from ``wait_turn``, when the run stops while it waits for the gate.
    """

    __slots__ = (
        "_adaptive",
        "_ceilings",
        "_clock",
        "_last_throttle",
        "_limiter",
        "_open_at",
        "_rate",
        "_sends",
        "_signal",
        "_w_max",
        "throttled",
    )

    def __init__(
        self,
        rate: float | None = None,
        *,
        clock: Clock = LOOP_CLOCK,
        signal: StopSignal | None = None,
    ) -> None:
        self._clock = clock.time
        self._signal = signal if signal is not None else StopSignal(clock)
        self._adaptive = rate is None
        self._rate: float | None = rate
        self._limiter: AsyncLimiter | None = None if rate is None else _pacer(rate)
        self._open_at = 0.0
        self._ceilings: dict[float, float] = {}
        self._w_max = 0.0
        self._last_throttle = float("-inf")
        self._sends: deque[float] = deque()
        #: number of 429 answers seen
        self.throttled = 0

    @property
    def rate(self) -> float | None:
        """Requests per second now allowed; None while unpaced."""
        return self._rate

    def gate_wait(self) -> float:
        """Seconds until the shared gate opens (0 when open)."""
        return max(0.0, self._open_at - self._clock())

    async def wait_turn(self) -> None:
        """Wait for the gate and for the bucket; call right before each request."""
        while True:
            delay = self.gate_wait()
            if delay > 0:
                await self._signal.sleep(delay)
                continue
            limiter = self._limiter
            if limiter is not None:
                await limiter.acquire()
            if self.gate_wait() <= 0:
                break
        if self._adaptive:
            now = self._clock()
            self._sends.append(now)
            while self._sends and self._sends[0] < now - _MEASURE_SPAN:
                self._sends.popleft()

    def on_outcome(self, outcome: Outcome, sent_at: float | None = None) -> None:
        """Learn from an answer: shut the gate and slow down on 429, speed up on success.

        ``sent_at`` is when the request left (the clock's time): a 429 for a request sent
        before the last slow-down says nothing new about the pace, so it only shuts the gate.
        """
        now = self._clock()
        if outcome.kind is Kind.THROTTLED:
            self.throttled += 1
            if outcome.retry_after:
                self._open_at = max(self._open_at, now + outcome.retry_after)
            if self._adaptive and (sent_at is None or sent_at > self._last_throttle):
                self._throttled(outcome, now)
        elif self._adaptive and self._rate is not None and outcome.status is not None:
            self._climb(now)

    def _ceiling(self, now: float) -> float | None:
        if self._ceilings and now - self._last_throttle > _CEILING_TRUST:
            self._ceilings.clear()
        return min(self._ceilings.values()) if self._ceilings else None

    def _measured(self) -> float:
        return len(self._sends) / _MEASURE_SPAN

    def _throttled(self, outcome: Outcome, now: float) -> None:
        self._ceiling(now)  # forget limits not confirmed for a long time
        learned = False
        if outcome.limit and outcome.interval and outcome.interval > 0:
            share = _SHORT_WINDOW_SHARE if outcome.interval <= 1.0 else _LONG_WINDOW_SHARE
            stated = outcome.limit / outcome.interval * share
            known = self._ceilings.get(outcome.interval)
            learned = known is None or stated < known
            if learned:
                self._ceilings[outcome.interval] = stated
        ceiling = min(self._ceilings.values()) if self._ceilings else None
        current = self._rate if self._rate is not None else self._measured()
        if learned and ceiling is not None and ceiling < current:
            # The server told us its limit: go straight to it, no guessing.
            self._w_max = ceiling
            new_rate = ceiling
        else:
            if now - self._last_throttle < 0.2:
                return  # one burst of 429s is one signal, not several (without send times)
            self._w_max = current
            new_rate = current * _BETA
        self._last_throttle = now
        self._set_rate(new_rate)

    def _climb(self, now: float) -> None:
        # CUBIC: W(t) = W_max + C (t - K)^3, K = cbrt(W_max (1 - beta) / C)
        elapsed = now - self._last_throttle
        k = (self._w_max * (1 - _BETA) / _SCALE) ** (1 / 3)
        target = self._w_max + _SCALE * (elapsed - k) ** 3
        ceiling = self._ceiling(now)
        if ceiling is not None:
            target = min(target, ceiling)
        assert self._rate is not None
        # Only ever up: after jumping to a stated limit the curve starts below it, and a climb
        # that lowered the pace would be a slow-down nobody asked for.
        if target - self._rate >= max(0.05 * self._rate, 0.5):
            self._set_rate(target)

    def _set_rate(self, rate: float) -> None:
        rate = max(rate, _MIN_RATE)
        self._rate = rate
        # aiolimiter cannot change its rate in place; a new bucket takes over, and the few
        # waiters on the old one leave at the old pace.
        self._limiter = _pacer(rate)


#: seconds of requests the bucket may let through at once
_BURST_SECONDS = 0.1


def _pacer(rate: float) -> AsyncLimiter:
    """A bucket of a tenth of a second of requests (at least one).

    A bucket of exactly one request measured 8% under the rate: every wake-up is a little
    late and a full bucket cannot bank the lost time. A tenth of a second lets a late
    request be made up at once, while any second still holds at most ``rate`` (+10%)."""
    capacity = max(1.0, rate * _BURST_SECONDS)
    return AsyncLimiter(capacity, capacity / rate)
