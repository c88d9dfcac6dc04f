"""The neutral base that the engine, the budget and the jobs all take: a clock, a stop signal,
and the budget's interface (``lazy`` is the lazy-export helper every package uses). It imports
nothing of any of them, so they depend on it and not on each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_getattr

if TYPE_CHECKING:
    from .clock import LOOP_CLOCK, Clock, LoopClock
    from .lease import AccountBudget, CappedLease, Lease, Turn, run_lease
    from .stop import StopSignal

#: imported on first use: ``import bulkdel`` (``--version``) must not pay for asyncio
_LAZY: dict[str, str] = {
    "LOOP_CLOCK": ".clock",
    "AccountBudget": ".lease",
    "CappedLease": ".lease",
    "Clock": ".clock",
    "Lease": ".lease",
    "LoopClock": ".clock",
    "StopSignal": ".stop",
    "Turn": ".lease",
    "run_lease": ".lease",
}

__getattr__ = lazy_getattr(__name__, _LAZY, globals())

__all__ = [
    "LOOP_CLOCK",
    "AccountBudget",
    "CappedLease",
    "Clock",
    "Lease",
    "LoopClock",
    "StopSignal",
    "Turn",
    "run_lease",
]
