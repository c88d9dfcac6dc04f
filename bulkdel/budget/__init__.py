"""An account's request budget, shared by every run that sends requests with its key.

``budget_for(base_url, key)`` gives the runs of one process the same ``LocalBudget``; a run
holds it through a ``Lease`` (``bulkdel.core.lease`` states the contract every budget keeps,
so that its state can also live outside the process). ``CappedLease`` caps one run's share.
"""

from __future__ import annotations

from ..core.lease import AccountBudget, CappedLease, Lease, Turn, run_lease
from .memory import LocalBudget, LocalLease, budget_for

__all__ = [
    "AccountBudget",
    "CappedLease",
    "Lease",
    "LocalBudget",
    "LocalLease",
    "Turn",
    "budget_for",
    "run_lease",
]
