"""The neutral base that the engine, the budget and the jobs all take: a clock, a stop signal,
and the budget's interface. It imports nothing of any of them, so they depend on it and not on
each other.
"""

from __future__ import annotations

from .clock import LOOP_CLOCK, Clock, LoopClock
from .lease import AccountBudget, CappedLease, Lease, Turn, job_lease
from .stop import StopSignal

__all__ = [
    "LOOP_CLOCK",
    "AccountBudget",
    "CappedLease",
    "Clock",
    "Lease",
    "LoopClock",
    "StopSignal",
    "Turn",
    "job_lease",
]
