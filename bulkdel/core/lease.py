"""The budget's interface: an account's request budget, shared by every run (and, with Redis,
every process) that sends requests with the account's key.

The interface is narrow and async so that the state behind it (pace, gate, recent outcomes)
can live in this process or in Redis:

* ``AccountBudget.lease(stop)`` gives one run its hold on the budget (a ``Lease``);
* ``await lease.turn()`` waits for the gate and the pace, and returns a ``Turn``;
* ``await lease.observe(turn, outcome)`` tells the budget what the request's answer was;
* ``await lease.release()`` gives the run's share back at once (stop, cancel, end);
* ``budget.rate`` and ``budget.gate_wait()`` are what the progress line shows (last known).

What an observation means (every implementation keeps these rules):

* a 429 that states its window (``X-RateLimit-Limit``/``-Interval``, with ``-Reset``) closes
  the account's gate for its ``retry_after`` seconds, for every lease; a 429 with only
  ``Retry-After`` (or nothing) closes no gate: the refused request's own retry waits;
* a 5xx, an HTML error page or a dropped connection is no rate signal: the pace ignores it;
* a 429 for a turn granted before the pace's last slow-down is no new signal.

A turn that was granted and then not used (the run stopped) needs no observation.

The interface lives here, in the neutral base, so that the engine (which takes turns) and the
``budget`` package (which implements them) depend on it and not on each other. ``CappedLease``
caps one run's share of any budget (``--rate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..models import Outcome
from .stop import StopSignal


@dataclass(frozen=True, slots=True)
class Turn:
    """Permission to send one request now.

    Attributes:
        granted_at: the budget's own clock time of the grant (Redis server time for a
            Redis budget): a 429 for a request granted before the last slow-down is no new
            signal.
    """

    granted_at: float


class Lease(Protocol):
    """One run's hold on an account budget."""

    async def turn(self) -> Turn:
        """Wait for the gate and this run's share of the pace.

        Raises:
            Stopped: the run's stop signal was set while waiting.
        """
        ...

    async def observe(self, turn: Turn, outcome: Outcome) -> None:
        """What the request sent on ``turn`` got back (429s close the gate, and so on)."""
        ...

    async def release(self) -> None:
        """Leave the budget: this run's share goes back to the others at once."""
        ...


class AccountBudget(Protocol):
    """The request budget of one account (base URL and key)."""

    def lease(self, stop: StopSignal) -> Lease:
        """A hold for one run, whose waits end when ``stop`` is set."""
        ...

    @property
    def rate(self) -> float | None:
        """Requests per second the account is paced at now; None while unpaced."""
        ...

    def gate_wait(self) -> float:
        """Seconds until the gate opens, as last known (0 when open)."""
        ...


class CappedLease:
    """A lease whose run sends at most ``rate`` requests per second, whatever its share.

    The cap is paced here, before the budget is asked, so any budget (in this process or
    elsewhere) can be capped per run; the budget still holds the account's pace and gate.
    Workers that call ``turn`` together get evenly spaced slots (GCRA: each reserves the
    next slot, then sleeps until it), and a stop ends the sleep.

    Not aiolimiter's ``AsyncLimiter``, though a fixed cap is what it is for: it reads
    ``loop.time()`` and wakes its waiters with ``loop.call_at``, both the event loop's, while
    this cap runs on the run's injectable ``Clock`` (the pipeline's, virtual in tests), which
    a subclass could take only by replacing its private ``_loop`` with a stand-in loop; and its
    waits end only by cancelling the task, where this one ends on the run's ``StopSignal``.
    The GCRA here is the few lines below.

    Args:
        lease: the run's hold on the budget.
        rate: the most requests per second for this run.
        stop: the run's stop signal (its clock paces the cap).
    """

    __slots__ = ("_interval", "_lease", "_next", "_stop", "rate")

    def __init__(self, lease: Lease, rate: float, stop: StopSignal) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self._lease = lease
        self._stop = stop
        #: requests per second this run keeps under
        self.rate = rate
        self._interval = 1.0 / rate
        self._next = float("-inf")

    async def turn(self) -> Turn:
        """Wait for this run's next slot under the cap, then for the budget.

        Raises:
            Stopped: the run's stop signal was set while waiting.
        """
        now = self._stop.clock.time()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await self._stop.sleep(slot - now)
        return await self._lease.turn()

    async def observe(self, turn: Turn, outcome: Outcome) -> None:
        """Pass the answer on to the budget."""
        await self._lease.observe(turn, outcome)

    async def release(self) -> None:
        """Leave the budget."""
        await self._lease.release()


def run_lease(budget: AccountBudget, stop: StopSignal, rate: float | None) -> Lease:
    """One run's lease on ``budget``, capped at ``rate`` requests per second when given."""
    lease = budget.lease(stop)
    return lease if rate is None else CappedLease(lease, rate, stop)
