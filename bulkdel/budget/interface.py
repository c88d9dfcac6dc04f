"""The budget interface: an account's request budget, shared by every job (and, with Redis,
every process) that sends requests with the account's key.

The interface is narrow and async so that the state behind it (pace, gate, recent outcomes)
can live in this process or in Redis:

* ``AccountBudget.lease(stop)`` gives one job its hold on the budget (a ``Lease``);
* ``await lease.turn()`` waits for the gate and the pace, and returns a ``Turn``;
* ``await lease.report(turn, outcome)`` tells the budget what the request's answer was;
* ``await lease.release()`` gives the job's share back at once (stop, cancel, end);
* ``budget.rate`` and ``budget.gate_wait()`` are what the progress line shows (last known).

What a report means (every implementation keeps these rules):

* a 429 that states its window (``X-RateLimit-Limit``/``-Interval``, with ``-Reset``) closes
  the account's gate for its ``retry_after`` seconds, for every lease; a 429 with only
  ``Retry-After`` (or nothing) closes no gate: the refused request's own retry waits;
* a 5xx, an HTML error page or a dropped connection is no rate signal: the pace ignores it;
* a 429 for a turn granted before the pace's last slow-down is no new signal.

A turn that was granted and then not used (the job stopped) needs no report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .._engine.stop import StopSignal
from ..models import Outcome


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
    """One job's hold on an account budget."""

    async def turn(self) -> Turn:
        """Wait for the gate and this job's share of the pace.

        Raises:
            Stopped: the job's stop signal was set while waiting.
        """
        ...

    async def report(self, turn: Turn, outcome: Outcome) -> None:
        """What the request sent on ``turn`` got back (429s close the gate, and so on)."""
        ...

    async def release(self) -> None:
        """Leave the budget: this job's share goes back to the others at once."""
        ...


class AccountBudget(Protocol):
    """The request budget of one account (base URL and key)."""

    def lease(self, stop: StopSignal) -> Lease:
        """A hold for one job, whose waits end when ``stop`` is set."""
        ...

    @property
    def rate(self) -> float | None:
        """Requests per second the account is paced at now; None while unpaced."""
        ...

    def gate_wait(self) -> float:
        """Seconds until the gate opens, as last known (0 when open)."""
        ...
