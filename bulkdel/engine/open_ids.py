"""Where each open id of a run stands: attempts used, whether an attempt may have deleted
it, whether a request for it is on the wire; and the moves to its final bucket.

An id is "open" from the moment the reader accepts it until the ledger has its final
bucket; whatever is still open when the run ends is not attempted, or failed as "outcome
unknown" when a request for it may have been applied, so the counts always add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..models import INTERRUPTED_UNKNOWN, UNKNOWN_PREFIX, Outcome
from ..record.journal.journal import Journal
from ..record.ledger import Ledger

#: an id given up on: (id, error, status, attempts)
Failure = tuple[str, str, int | None, int]


class OpenIds:
    """The run's open ids and what is known of each.

    Args:
        ledger: where final buckets go.
        journal: told which ids stay in flight when the run ends.
    """

    __slots__ = ("_requests", "ambiguous", "attempts", "journal", "ledger", "open", "wire")

    def __init__(self, ledger: Ledger, journal: Journal | None = None) -> None:
        self.ledger = ledger
        self.journal = journal
        #: ids read and not yet in a final bucket
        self.open: set[str] = set()
        #: attempts used so far by open ids that have been tried (absent: none)
        self.attempts: dict[str, int] = {}
        #: open ids that an attempt may have deleted without an answer saying so
        self.ambiguous: set[str] = set()
        #: the ids of each request on the wire right now, by its token (an answer cut off
        #: may have been applied): an entry a request, where a set of ids cost two set
        #: operations of a batch's size a request
        self.wire: dict[int, Sequence[str]] = {}
        self._requests = 0

    @property
    def sending(self) -> frozenset[str]:
        """The ids of the requests on the wire right now."""
        return frozenset().union(*self.wire.values())

    def on_wire(self, file_ids: Sequence[str]) -> int:
        """A request for ``file_ids`` leaves; returns its token for ``off_wire``."""
        self._requests = token = self._requests + 1
        self.wire[token] = file_ids
        return token

    def off_wire(self, token: int) -> None:
        """The request ``on_wire`` gave ``token`` has its answer (or none)."""
        self.wire.pop(token, None)  # gone already if the run settled meanwhile

    def used(self, file_ids: Sequence[str]) -> int:
        """The most attempts any of ``file_ids`` has used."""
        attempts = self.attempts
        return max((attempts.get(i, 0) for i in file_ids), default=0) if attempts else 0

    def not_attempted(self, file_ids: list[str]) -> None:
        """Ids that are settled without being sent (a dry run)."""
        self.close(file_ids)
        self.ledger.not_attempted(file_ids)

    def settle_leftovers(self, file_ids: Iterable[str] | None = None) -> None:
        """Ids still open when the run (or, given ``file_ids``, their batch) ends: never
        sent, so not attempted, unless a request for them may have been applied (cut off, or
        unanswered before a stop): those fail as outcome unknown, because the server may
        have deleted them (the journal keeps them in flight, so that a resumed run sends
        them again)."""
        left = set(self.open) if file_ids is None else self.open.intersection(file_ids)
        sending = self.sending
        unknown = left & (self.ambiguous | sending)
        self.charge(sorted(unknown & sending), 1)  # the attempt that was cut off
        if unknown and self.journal is not None:
            self.journal.keep_in_flight(unknown)
        for file_id in sorted(unknown):
            self.fail_one(file_id, INTERRUPTED_UNKNOWN, None)
        rest = list(left - unknown)
        self.close(rest)
        if file_ids is None:
            self.wire.clear()
        elif sending & left:
            wire = self.wire
            for token, wired in list(wire.items()):
                wire[token] = [i for i in wired if i not in left]
        self.ledger.not_attempted(rest)
        if file_ids is None:
            self.attempts.clear()
            self.ambiguous.clear()

    def charge(self, file_ids: list[str], count: int) -> None:
        """Count ``count`` attempts against ids that stay open."""
        if count > 0:
            attempts = self.attempts
            for file_id in file_ids:
                attempts[file_id] = attempts.get(file_id, 0) + count

    def close(self, file_ids: Sequence[str]) -> None:
        """Ids that have their final bucket leave the open set."""
        self.open.difference_update(file_ids)
        if self.ambiguous:
            self.ambiguous.difference_update(file_ids)
        if self.attempts:
            for file_id in file_ids:
                self.attempts.pop(file_id, None)

    def deleted(self, file_ids: Sequence[str]) -> None:
        """Ids a 200/207 body listed as deleted."""
        self.close(file_ids)
        self.ledger.deleted(file_ids)

    def missing(self, file_ids: Sequence[str]) -> list[str]:
        """Ids the server does not know; returns those missing after retry (an earlier
        attempt may have deleted them)."""
        ambiguous = self.ambiguous
        after_retry = [i for i in file_ids if i in ambiguous] if ambiguous else []
        self.close(file_ids)
        self.ledger.missing(file_ids, after_retry)
        return after_retry

    def fail(self, file_ids: list[str], outcome: Outcome) -> list[Failure]:
        """Give up on ``file_ids`` with ``outcome``'s reason (outcome unknown when an attempt
        may have deleted them); returns their failure records."""
        message = outcome.message or outcome.kind.value
        if any(i in self.ambiguous for i in file_ids):
            message = f"{UNKNOWN_PREFIX}{message}"
        return [self.fail_one(file_id, message, outcome.status) for file_id in file_ids]

    def fail_one(self, file_id: str, message: str, status: int | None) -> Failure:
        """Give up on one id, with the attempts it used; returns its failure record."""
        attempts = self.attempts.get(file_id, 0)
        self.close((file_id,))
        self.ledger.failed(file_id, message, status, attempts)
        return (file_id, message, status, attempts)
