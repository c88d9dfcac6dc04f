"""A run's sending side: its ledger, its one stop, its lease on the account budget, its open
ids and the batch runner that sends through them.

Every host of the runner builds one: ``Pipeline`` (``bulkdel delete``: a reader and a work
pool on top), ``delete_batch`` (one call) and a job worker's processor (batches from Redis).
It is also what an observer sees of a run (``RunView``).
"""

from __future__ import annotations

import random

from ..core.clock import LOOP_CLOCK, Clock
from ..core.lease import AccountBudget, run_lease
from ..core.stop import StopSignal
from ..models import Abort, AbortReason, Settings
from ..record.journal.journal import Journal
from ..record.ledger import Ledger, RequestStats
from ..telemetry.observer import NO_OBSERVER, RunObserver
from .open_ids import OpenIds
from .retry import Backoff
from .runner import BatchRunner, BatchSender


class Run:
    """The state one run sends batches with.

    Args:
        sender: sends one batch (a ``DeleteClient``).
        settings: the run's knobs.
        ledger: where every outcome goes (and where requests are counted).
        budget: the account's budget, shared with the runs that hold it.
        clock: the run's time and sleep (tests pass a virtual one).
        journal: told which ids stay in flight when the run ends.
        rng: the backoff's jitter (seed it to replay a run).
        observer: follows the run (``bulkdel.telemetry``); nobody by default.
    """

    def __init__(
        self,
        sender: BatchSender,
        settings: Settings,
        ledger: Ledger,
        *,
        budget: AccountBudget,
        clock: Clock = LOOP_CLOCK,
        journal: Journal | None = None,
        rng: random.Random | None = None,
        observer: RunObserver = NO_OBSERVER,
    ) -> None:
        self.sender = sender
        self.settings = settings
        self.ledger = ledger
        self.journal = journal
        self.clock = clock
        self.observer = observer
        #: the run's one stop: the budget, the retries and the listing wait through it
        self.signal = StopSignal(clock)
        #: every request of the run (listing pages too) takes a turn; rate caps its share
        self.budget = budget
        self.lease = run_lease(budget, self.signal, settings.rate)
        self.backoff = Backoff(settings.backoff_base, settings.backoff_max, rng)
        #: the run's open ids and what is known of each
        self.ids = OpenIds(ledger, journal)
        #: the first error of a caller's callback (``callback_failed``), raised at the end
        self.callback_error: BaseException | None = None
        #: sends each batch until every id has its outcome
        self.runner = BatchRunner(
            sender,
            settings,
            self.ids,
            lease=self.lease,
            signal=self.signal,
            stop=self.stop,
            clock=clock,
            backoff=self.backoff,
            observer=observer,
            host=self,
        )

    @property
    def requests(self) -> RequestStats:
        """Where the run's requests are counted (deletes and listing pages)."""
        return self.ledger.requests

    @property
    def aborted(self) -> Abort | None:
        """Why the run ended early, or None."""
        return self.signal.reason

    @property
    def stopping(self) -> bool:
        """A stop was asked for; no new request is sent."""
        return self.signal.is_set

    @property
    def input_done(self) -> bool:
        """The whole input was read (a run fed batch by batch has no input of its own)."""
        return True

    def stop(self, reason: Abort) -> None:
        """Stop sending; in-flight requests settle. The first reason given wins."""
        self.signal.set(reason)

    def callback_failed(self, error: BaseException, where: str) -> None:
        """A caller's callback raised: stop as ``stop`` does, keep the first error for the
        caller (``bulkdel.delete.callbacks``)."""
        if self.callback_error is None:
            self.callback_error = error
        detail = f"{where} raised {type(error).__name__}: {error}"
        self.stop(Abort(AbortReason.ERROR, detail[:293]))

    async def finish(self) -> None:
        """Give the lease back and account for the ids still open (not attempted, or failed
        as outcome unknown when a request for them may have been applied). The runner sends
        nothing more after this."""
        try:
            await self.lease.release()
        finally:
            self.ids.settle_leftovers()
            # The runner points back at its run (the observer's view, the stop): cut that
            # loop, so a finished run is freed at once rather than by the garbage collector
            # (``delete_batch`` makes one a call, thousands of times in a task queue).
            self.runner.detach()
