"""The state of one account's budget: the gate, the pacer and the controller, time passed in.

Kept synchronous and free of asyncio so that the in-process budget, the simulation that chose
the controller and a budget kept elsewhere (Redis) all run the same arithmetic.
"""

from __future__ import annotations

from ..models import Kind, Outcome
from .controller import PaceController

#: seconds of requests the pacer lets through at once: a late wake-up is made up at once,
#: while any second still holds at most the pace (+10%)
BURST_SECONDS = 0.1


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

    __slots__ = ("_tat", "controller", "gate_until")

    def __init__(self, controller: PaceController | None = None) -> None:
        self.controller = controller or PaceController()
        self.gate_until = float("-inf")
        self._tat = float("-inf")

    @property
    def rate(self) -> float | None:
        """Requests per second now; None while unpaced."""
        return self.controller.rate

    def gate_wait(self, now: float) -> float:
        """Seconds until the gate opens (0 when open)."""
        return max(0.0, self.gate_until - now)

    def wait(self, now: float) -> float:
        """Seconds until a turn may be granted (0: now)."""
        gate = self.gate_until - now
        rate = self.controller.rate
        if rate is None:
            return max(0.0, gate)
        return max(0.0, gate, self._tat - _tolerance(rate) - now)

    def grant(self, now: float) -> float:
        """Take a turn at ``now`` (call when ``wait(now)`` is 0); returns its grant time."""
        rate = self.controller.rate
        if rate is not None:
            self._tat = max(self._tat, now) + 1.0 / rate
        self.controller.on_grant(now)
        return now

    def report(self, now: float, granted_at: float, outcome: Outcome) -> None:
        """Learn from an answer: a 429 stating its window closes the gate for everybody."""
        self.controller.on_answer(now, granted_at, outcome)
        if (
            outcome.kind is Kind.THROTTLED
            and outcome.limit is not None
            and outcome.retry_after is not None
        ):
            until = now + outcome.retry_after
            if until > self.gate_until:
                self.gate_until = until
                rate = self.controller.rate
                if rate is not None:
                    # No banked turns when the gate opens: the server's bucket is empty then.
                    self._tat = max(self._tat, until + _tolerance(rate))


def _tolerance(rate: float) -> float:
    """GCRA's burst tolerance: a tenth of a second of turns (at least one) beyond the first."""
    return (max(1.0, rate * BURST_SECONDS) - 1.0) / rate
