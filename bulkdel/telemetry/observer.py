"""The one interface the engine calls while a run goes: ``RunObserver``.

Everything that follows a run (OpenTelemetry, the Prometheus endpoint, progress events,
logging) is a ``RunObserver``; the engine knows nothing else. The calls are few and coarse,
so that a run nobody watches pays next to nothing (measured in ``benchmarks/telemetry.py``):

* ``run_started`` / ``run_finished``: once each; the observer gets a ``RunView`` to read the
  live counts, request figures and budget from whenever it likes (a snapshot, a scrape);
* ``batch_started`` / ``batch_finished``: once a batch (up to 100 ids), with a ``BatchTally``
  that the engine fills in: what became of the batch's ids;
* ``attempt``: once a request sent (a delete batch or a listing page), after its answer;
* ``purged``: CDN purge requests sent (each counts against ImageKit's monthly quota).

No call is made per id. Observers must not raise and must not block: they run inline on the
run's event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.clock import Clock
from ..core.lease import AccountBudget
from ..models import Outcome, Settings
from ..record.ledger import Ledger


class RunView(Protocol):
    """What an observer may read of a run as it goes (the engine's ``Pipeline``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def budget(self) -> AccountBudget: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def input_done(self) -> bool: ...

    def callback_failed(self, error: BaseException, where: str) -> None:
        """A caller's callback (an observer's, a sink's) raised ``error``: the run stops,
        keeps its accounting, and its caller gets ``error`` at the end."""
        ...


@dataclass(slots=True)
class BatchTally:
    """One batch and what became of its ids; the engine fills it in as the batch goes.

    Counts, not ids: the observers' view of a batch. The engine's ``BatchOutcome`` holds
    every id's bucket for the ledger and a task queue; telemetry stands below the engine
    (ARCHITECTURE.md) and names none of its types, and an observer never needs the ids.

    Attributes:
        number: the batch's number in the run, from 1.
        size: ids in the batch.
        started: the run clock's time when a worker took the batch.
        deleted, missing, failed: ids of the batch that got that outcome.
        later: ids handed back to go out in a later batch (207 errors).
        requests: requests sent for it (retries, 404 re-sends and 400 halves included).
        elapsed: seconds from ``started`` to the end of the batch.
        handle: the observer's own (an OpenTelemetry span, say); the engine never reads it.
    """

    number: int
    size: int
    started: float
    deleted: int = 0
    missing: int = 0
    failed: int = 0
    later: int = 0
    requests: int = 0
    elapsed: float = 0.0
    handle: Any = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request sent and its answer.

    Attributes:
        kind: ``"delete"`` or ``"list"``.
        method: the HTTP method, ``"POST"`` or ``"GET"``.
        outcome: the classified answer (``outcome.status`` None: no answer).
        duration: seconds from sending to the answer (the run clock's).
        waited: seconds this request waited for its turn from the account's budget.
        resend_count: how many times this same request was sent before (0: the first).
        ids: ids in the request (0 for a listing page).
        batch: the batch it was sent for, or None (a listing page).
    """

    kind: str
    method: str
    outcome: Outcome
    duration: float
    waited: float
    resend_count: int
    ids: int
    batch: BatchTally | None = None


class RunObserver:
    """Follows runs; every method does nothing here, so subclasses override what they need.

    One observer may follow several runs, one after the other or at once.
    """

    def run_started(self, run: RunView) -> None:
        """A run begins: ``run`` stays readable until ``run_finished``."""

    def batch_started(self, run: RunView, batch: BatchTally) -> None:
        """A worker took a batch."""

    def attempt(self, run: RunView, attempt: Attempt) -> None:
        """A request got its answer (or none)."""

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        """Every id of the batch is settled or handed back for a later batch."""

    def run_finished(self, run: RunView) -> None:
        """The run ended; its counts are final (every id in a bucket)."""

    def purged(self, requests: int) -> None:
        """``requests`` CDN purge requests were sent (quota used)."""


#: the observer of a run that nobody follows
NO_OBSERVER = RunObserver()


class Observers(RunObserver):
    """Several observers as one: each call goes to each, in order."""

    __slots__ = ("observers",)

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        self.observers = tuple(observers)

    def run_started(self, run: RunView) -> None:
        for observer in self.observers:
            observer.run_started(run)

    def batch_started(self, run: RunView, batch: BatchTally) -> None:
        for observer in self.observers:
            observer.batch_started(run, batch)

    def attempt(self, run: RunView, attempt: Attempt) -> None:
        for observer in self.observers:
            observer.attempt(run, attempt)

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        for observer in self.observers:
            observer.batch_finished(run, batch)

    def run_finished(self, run: RunView) -> None:
        for observer in self.observers:
            observer.run_finished(run)

    def purged(self, requests: int) -> None:
        for observer in self.observers:
            observer.purged(requests)


def combine(observers: Sequence[RunObserver | None]) -> RunObserver:
    """One observer for ``observers`` (Nones dropped): the no-op one when there are none."""
    present = [o for o in observers if o is not None and o is not NO_OBSERVER]
    if not present:
        return NO_OBSERVER
    return present[0] if len(present) == 1 else Observers(present)
