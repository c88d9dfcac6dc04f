"""The single source of truth for where every id read has gone.

Every id read ends in exactly one bucket. The ledger keeps the counts and hands each event to
its sinks (the report writer, the journal, a progress callback), so the report and the journal
can never disagree with the counts. Between events, always:

    read == invalid + duplicate + unique
    unique == deleted + missing + failed + not_attempted + pending
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass
class Counts:
    """How many ids are in each bucket."""

    read: int = 0
    invalid: int = 0
    duplicate: int = 0
    unique: int = 0
    deleted: int = 0
    missing: int = 0
    failed: int = 0
    not_attempted: int = 0
    missing_after_retry: int = 0

    @property
    def pending(self) -> int:
        """Unique ids without a final outcome yet."""
        return self.unique - self.deleted - self.missing - self.failed - self.not_attempted

    def balanced(self) -> bool:
        """Both equalities of the report hold (no id pending)."""
        return (
            self.read == self.invalid + self.duplicate + self.unique
            and self.pending == 0
            and self.missing_after_retry <= self.missing
        )

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counts, in the order of docs/contract.md, "The report"."""
        return asdict(self)


#: the kinds of request a run sends
DELETE, LIST = "delete", "list"


@dataclass
class RequestStats:
    """What was sent, the one place requests are counted.

    ``sent``, ``retried`` and ``by_status`` count delete requests (their meaning in
    ``summary.json`` is unchanged); ``by_kind`` and ``retried_by_kind`` count every request
    by kind (``delete``, ``list``). ``by_status``'s ``error`` means no answer.
    """

    sent: int = 0
    retried: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    retried_by_kind: Counter[str] = field(default_factory=Counter)
    #: requests that never connected (DNS, refused, TLS), and the last such cause
    connect_failures: int = 0
    connect_error: str = ""

    @property
    def never_connected(self) -> bool:
        """Requests were sent and not one of them connected: the URL is wrong or down."""
        return self.sent > 0 and self.connect_failures >= self.sent

    def sending(self, kind: str) -> None:
        """One request of ``kind`` is about to leave."""
        self.by_kind[kind] += 1
        if kind == DELETE:
            self.sent += 1

    def answered(self, kind: str, status: int | None) -> None:
        """A request of ``kind`` got ``status`` (None: no answer)."""
        if kind == DELETE:
            self.by_status[str(status) if status else "error"] += 1

    def retrying(self, kind: str) -> None:
        """A request of ``kind`` is about to be tried again."""
        self.retried_by_kind[kind] += 1
        if kind == DELETE:
            self.retried += 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready request figures."""
        return {
            "sent": self.sent,
            "retried": self.retried,
            "by_status": dict(sorted(self.by_status.items())),
            "by_kind": {kind: self.by_kind[kind] for kind in (DELETE, LIST)},
            "connect_failures": self.connect_failures,
        }


class RequestsSince:
    """What a ``RequestStats`` gained since the last ``delta``: a job worker adds each settle's
    share of the request figures to the job's once, not the run's totals again."""

    def __init__(self, stats: RequestStats) -> None:
        self.stats = stats
        self.sent = self.retried = 0
        self.by_status: Counter[str] = Counter()

    def delta(self) -> tuple[int, int, dict[str, int]]:
        """Delete requests sent and retried, and answers by status, since the last call."""
        stats = self.stats
        sent, retried = stats.sent - self.sent, stats.retried - self.retried
        by_status = {k: v - self.by_status[k] for k, v in stats.by_status.items()}
        self.sent, self.retried = stats.sent, stats.retried
        self.by_status = Counter(stats.by_status)
        return sent, retried, {k: v for k, v in by_status.items() if v}


class LedgerSink(Protocol):
    """Receives every ledger event, in order."""

    def invalid(self, source: str, line: int, value: str, reason: str) -> None: ...
    def duplicate(self, file_id: str, source: str, line: int) -> None: ...
    def deleted(self, file_ids: Sequence[str]) -> None: ...
    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None: ...
    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None: ...
    def not_attempted(self, file_ids: Iterable[str]) -> None: ...


class Ledger:
    """Counts plus fan-out of every event to the sinks."""

    __slots__ = ("counts", "requests", "sinks")

    def __init__(self, sinks: Sequence[LedgerSink] = ()) -> None:
        self.counts = Counts()
        self.requests = RequestStats()
        self.sinks = list(sinks)

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        """An id that breaks the id rule or a line that cannot be parsed."""
        self.counts.read += 1
        self.counts.invalid += 1
        for sink in self.sinks:
            sink.invalid(source, line, value, reason)

    def duplicate(self, file_id: str, source: str = "", line: int = 0) -> None:
        """A repeat of an id already read, found at ``source``:``line``."""
        self.counts.read += 1
        self.counts.duplicate += 1
        for sink in self.sinks:
            sink.duplicate(file_id, source, line)

    def unique(self, count: int = 1) -> None:
        """New ids, pending until they get an outcome."""
        self.counts.read += count
        self.counts.unique += count

    def deleted(self, file_ids: Sequence[str]) -> None:
        """Ids a 200/207 body listed as deleted."""
        if file_ids:
            self.counts.deleted += len(file_ids)
            for sink in self.sinks:
                sink.deleted(file_ids)

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str] = ()) -> None:
        """Ids the server does not know; ``after_retry`` is the subset that an earlier
        ambiguous attempt of this run may have deleted."""
        if file_ids:
            self.counts.missing += len(file_ids)
            self.counts.missing_after_retry += len(after_retry)
            for sink in self.sinks:
                sink.missing(file_ids, after_retry)

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        """An id given up on, with the last reason."""
        self.counts.failed += 1
        for sink in self.sinks:
            sink.failed(file_id, error, status, attempts)

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        """Ids read but never settled (stopped or aborted before they were)."""
        ids = list(file_ids)
        if ids:
            self.counts.not_attempted += len(ids)
            for sink in self.sinks:
                sink.not_attempted(ids)
