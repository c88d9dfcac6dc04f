"""A host for a listing that feeds no pipeline: its own stop signal, lease and request counts."""

from __future__ import annotations

import random

from ..budget import AccountBudget, LocalBudget, run_lease
from ..core.clock import LOOP_CLOCK, Clock
from ..core.stop import StopSignal
from ..engine.retry import Backoff
from ..models import Abort, Settings
from ..record.ledger import RequestStats


class StandaloneHost:
    """A host for a listing that feeds no pipeline (``bulkdel list``, a count before a purge).

    Args:
        settings: the rate, attempts and backoff knobs.
        clock: the run's time and sleep.
        rng: the backoff's jitter.
        budget: the account's budget (shared with the runs that hold it); its own if None.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = LOOP_CLOCK,
        rng: random.Random | None = None,
        budget: AccountBudget | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.signal = StopSignal(clock)
        budget = budget if budget is not None else LocalBudget(clock=clock)
        self.lease = run_lease(budget, self.signal, settings.rate)
        self.backoff = Backoff(settings.backoff_base, settings.backoff_max, rng)
        self.requests = RequestStats()

    @property
    def aborted(self) -> Abort | None:
        """Why the listing stopped early, or None."""
        return self.signal.reason

    def stop(self, reason: Abort) -> None:
        """Stop listing; the first reason wins."""
        self.signal.set(reason)
