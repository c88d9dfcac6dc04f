"""The state of one account's budget: the gate, the pacer and the controller, time passed in.

Kept synchronous and free of asyncio so that the in-process budget, the simulation that chose
the controller and a budget kept elsewhere (Redis) all run the same arithmetic.
"""

from __future__ import annotations

from ..models import Kind, Outcome
from .controller import LONG_WINDOW, PaceController

#: seconds of requests the pacer lets through at once: a late wake-up is made up at once,
#: while any second still holds at most the pace (+10%)
BURST_SECONDS = 0.1
#: share of a long window's limit spent: turns granted just before a reset may be counted
#: by the server in the next window
QUOTA_SHARE = 0.99


class Quota:
    """A long fixed window (``X-RateLimit-Interval`` over a second) spent as a quota.

    Pacing 1000 per 15 s evenly loses the time a burst would have saved at the end of a run
    (the ideal spends each window at once); counting turns per window, from the reset a 429
    stated, spends each window at once and draws no 429 at its end.
    """

    __slots__ = ("end", "interval", "quota", "used")

    def __init__(self, limit: int, interval: float, end: float) -> None:
        self.interval = interval
        self.quota = max(1, int(limit * QUOTA_SHARE))
        #: when the current window ends, and the turns granted in it
        self.end = end
        self.used = self.quota  # the 429 said this window is spent

    def wait(self, now: float) -> float:
        """Seconds until this window allows a turn."""
        if now >= self.end:
            self.end += self.interval * (1 + int((now - self.end) // self.interval))
            self.used = 0
        return self.end - now if self.used >= self.quota else 0.0


class Pace:
    """The gate a stated 429 closes, a GCRA pacer at the controller's rate, and the controller.

    The pacer is GCRA (the virtual-scheduling form): a turn may go at ``now`` when ``now >=
    tat - tolerance``; it moves the theoretical arrival time ``tat`` on by ``1 / rate``.
    aiolimiter does the same as a leaky bucket, but it reads the event loop's clock and cannot
    change its rate in place (a new bucket starts empty, so every change of pace let a burst
    through); the controller changes the pace often, and a Redis budget runs this same
    arithmetic in a script.

    Args:
        controller: decides the rate (``PaceController.fixed_at(r)`` for a fixed one).
    """

    __slots__ = ("_tat", "controller", "gate_until", "quotas")

    def __init__(self, controller: PaceController | None = None) -> None:
        self.controller = controller or PaceController()
        self.gate_until = float("-inf")
        self._tat = float("-inf")
        #: long windows by interval
        self.quotas: dict[float, Quota] = {}

    @property
    def rate(self) -> float | None:
        """Requests per second now; None while unpaced."""
        return self.controller.rate

    def gate_wait(self, now: float) -> float:
        """Seconds until the gate opens (0 when open)."""
        return max(0.0, self.gate_until - now)

    def wait(self, now: float) -> float:
        """Seconds until a turn may be granted (0: now)."""
        wait = max(0.0, self.gate_until - now)
        for quota in self.quotas.values():
            wait = max(wait, quota.wait(now))
        controller = self.controller
        rate = controller.rate
        if rate is None:
            return wait
        wait = max(wait, controller.flight_wait(now))
        return max(wait, self._tat - _tolerance(rate) - now)

    def grant(self, now: float) -> float:
        """Take a turn at ``now`` (call when ``wait(now)`` is 0); returns its grant time."""
        rate = self.controller.rate
        if rate is not None:
            self._tat = max(self._tat, now) + 1.0 / rate
        for quota in self.quotas.values():
            quota.used += 1
        self.controller.on_grant(now)
        return now

    def observe(self, now: float, granted_at: float, outcome: Outcome) -> None:
        """Learn from an answer: a 429 stating its window closes the gate for everybody."""
        self.controller.answered(granted_at)
        if (
            outcome.kind is not Kind.THROTTLED
            or outcome.limit is None
            or outcome.retry_after is None
        ):
            self.controller.on_answer(now, granted_at, outcome)
            return
        interval = outcome.interval or 0.0
        if interval > LONG_WINDOW:
            # A spent long window says nothing about the pace: count turns per window.
            self.quotas[interval] = Quota(outcome.limit, interval, now + outcome.retry_after)
        else:
            self.controller.on_answer(now, granted_at, outcome)
        self._shut(now + outcome.retry_after)

    def _shut(self, until: float) -> None:
        """Close the gate until ``until`` (never earlier than it is closed already)."""
        if until > self.gate_until:
            self.gate_until = until
            rate = self.controller.rate
            if rate is not None:
                # No banked turns when the gate opens: the server's bucket is empty then.
                self._tat = max(self._tat, until + _tolerance(rate))


def _tolerance(rate: float) -> float:
    """GCRA's burst tolerance: a tenth of a second of turns (at least one) beyond the first."""
    return (max(1.0, rate * BURST_SECONDS) - 1.0) / rate
