"""An account's request budget, shared by every job that sends requests with its key.

``budget_for(base_url, key)`` gives the jobs of one process the same ``LocalBudget``; a job
holds it through a ``Lease`` (``bulkdel.core.lease`` states the contract every budget keeps,
so that its state can also live outside the process). ``CappedLease`` caps one job's share.
"""

from __future__ import annotations

from ..core.lease import AccountBudget, CappedLease, Lease, Turn, job_lease
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
