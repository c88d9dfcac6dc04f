"""A cap on one job's share of an account budget: ``--rate`` in the CLI."""

from __future__ import annotations

from .._engine.stop import StopSignal
from ..models import Outcome
from .interface import AccountBudget, Lease, Turn


class CappedLease:
    """A lease whose job sends at most ``rate`` requests per second, whatever its share.

    The cap is paced here, before the budget is asked, so any budget (in this process or
    elsewhere) can be capped per job; the budget still holds the account's pace and gate.
    Workers that call ``turn`` together get evenly spaced slots (GCRA: each reserves the
    next slot, then sleeps until it), and a stop ends the sleep.

    Args:
        lease: the job's hold on the budget.
        rate: the most requests per second for this job.
        stop: the job's stop signal (its clock paces the cap).
    """

    __slots__ = ("_interval", "_lease", "_next", "_stop", "rate")

    def __init__(self, lease: Lease, rate: float, stop: StopSignal) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self._lease = lease
        self._stop = stop
        #: requests per second this job keeps under
        self.rate = rate
        self._interval = 1.0 / rate
        self._next = float("-inf")

    async def turn(self) -> Turn:
        """Wait for this job's next slot under the cap, then for the budget.

        Raises:
            Stopped: the job's stop signal was set while waiting.
        """
        now = self._stop.clock.time()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot > now:
            await self._stop.sleep(slot - now)
        return await self._lease.turn()

    async def report(self, turn: Turn, outcome: Outcome) -> None:
        """Pass the answer on to the budget."""
        await self._lease.report(turn, outcome)

    async def release(self) -> None:
        """Leave the budget."""
        await self._lease.release()


def job_lease(budget: AccountBudget, stop: StopSignal, rate: float | None) -> Lease:
    """One job's lease on ``budget``, capped at ``rate`` requests per second when given."""
    lease = budget.lease(stop)
    return lease if rate is None else CappedLease(lease, rate, stop)
