"""An account's request budget, shared by every job that sends requests with its key.

``budget_for(base_url, key)`` gives the jobs of one process the same ``LocalBudget``; a job
holds it through a ``Lease`` (``interface`` states the contract every budget keeps, so that
its state can also live outside the process). ``CappedLease`` caps one job's share.
"""

from __future__ import annotations

from .capped import CappedLease, job_lease
from .interface import AccountBudget, Lease, Turn
from .memory import LocalBudget, LocalLease, budget_for

__all__ = [
    "AccountBudget",
    "CappedLease",
    "Lease",
    "LocalBudget",
    "LocalLease",
    "Turn",
    "budget_for",
    "job_lease",
]
