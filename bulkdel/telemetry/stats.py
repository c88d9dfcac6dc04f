"""A run's figures kept in plain Python, for a scrape to read at any time (``RunStats``).

What the Prometheus endpoint shows comes from here; it costs a few dictionary updates a
request, and what can be read off the run itself (the counts, the pace) is read at scrape
time instead of being copied as it changes.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Final
from urllib.parse import urlsplit

from ..models import Kind, Outcome
from ..record.ledger import Counts
from .observer import Attempt, BatchTally, RunObserver, RunView

#: ``http.client.request.duration``'s bucket boundaries, seconds (the semantic conventions'
#: advice for HTTP durations)
DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: the buckets an id can end in, as ``Counts`` names them
OUTCOMES: Final = ("deleted", "missing", "failed", "not_attempted", "invalid", "duplicate")


def error_type(outcome: Outcome) -> str | None:
    """The ``error.type`` of a request (None: it succeeded), low in cardinality.

    An answer of 400 or more is its status code (``"429"``); no answer is ``"timeout"`` or
    the network library's exception (``"ClientConnectorError"``); an answer bulkdel could
    not read (a 200 whose body is not ImageKit's) is ``"unreadable_answer"``.
    """
    status = outcome.status
    if status is not None:
        if status >= 400:
            return str(status)
        return "unreadable_answer" if outcome.kind is Kind.TRANSIENT else None
    message = outcome.message
    if message.startswith("timed out"):
        return "timeout"
    # "cannot connect: ClientConnectorError: ..." / "connection lost: ServerDisconnectedError: ..."
    _, _, rest = message.partition(": ")
    name, colon, _ = rest.partition(":")
    return name if colon and name.isidentifier() else "_OTHER"


def server_of(base_url: str) -> tuple[str, int]:
    """``server.address`` and ``server.port`` of the API root."""
    parts = urlsplit(base_url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def pace_of(run: RunView) -> float | None:
    """Requests per second the run is paced at: the account's pace under the run's cap."""
    paces = [r for r in (run.budget.rate, run.settings.rate) if r is not None]
    return min(paces) if paces else None


def stated_limit(outcome: Outcome) -> float | None:
    """The limit per second a 429 states (``X-RateLimit-Limit`` per ``-Interval``), or None."""
    if outcome.limit is None or not outcome.interval:
        return None
    return outcome.limit / outcome.interval


@dataclass(slots=True)
class Histogram:
    """Bucket counts (not cumulative; the last is above every boundary), sum and count."""

    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        """Count one value."""
        self.buckets[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value
        self.count += 1


#: a duration series: method, server address and port, status (None: no answer), error type
DurationKey = tuple[str, str, int, int | None, str | None]


class RunStats(RunObserver):
    """The figures of every run it follows, summed, readable at any time from any thread
    (a scrape reads no clock: a budget's clock may be its loop's).

    Attributes:
        requests: requests by (kind, status), status ``"error"`` for no answer.
        durations: ``http.client.request.duration`` by series.
        budget_wait: seconds requests waited for their turns, all together.
        batches: batches finished.
        purge_requests: CDN purge requests sent (ImageKit allows 1000 a month).
        limit: the last limit per second a 429 stated, or None.
    """

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        self.durations: dict[DurationKey, Histogram] = {}
        self.budget_wait = 0.0
        self.batches = 0
        self.purge_requests = 0
        self.limit: float | None = None
        self._live: dict[int, RunView] = {}
        self._servers: dict[int, tuple[str, int]] = {}
        self._finished = Counts()

    def run_started(self, run: RunView) -> None:
        self._servers[id(run)] = server_of(run.settings.base_url)
        self._live[id(run)] = run

    def attempt(self, run: RunView, attempt: Attempt) -> None:
        outcome = attempt.outcome
        status = outcome.status
        self.requests[attempt.kind, str(status) if status else "error"] += 1
        address, port = self._servers.get(id(run)) or server_of(run.settings.base_url)
        key = (attempt.method, address, port, status, error_type(outcome))
        histogram = self.durations.get(key)
        if histogram is None:
            histogram = self.durations[key] = Histogram()
        histogram.observe(attempt.duration)
        self.budget_wait += attempt.waited
        if status == 429 and (limit := stated_limit(outcome)) is not None:
            self.limit = limit

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        self.batches += 1

    def run_finished(self, run: RunView) -> None:
        if self._live.pop(id(run), None) is not None:
            _add(self._finished, run.ledger.counts)
        self._servers.pop(id(run), None)

    def purged(self, requests: int) -> None:
        self.purge_requests += requests

    @property
    def running(self) -> int:
        """Runs started and not finished."""
        return len(self._live)

    def counts(self) -> Counts:
        """The counts of every run followed, finished and live, summed."""
        total = Counts()
        _add(total, self._finished)
        for run in list(self._live.values()):
            _add(total, run.ledger.counts)
        return total

    def pace(self) -> float | None:
        """The live runs' pace, summed (None: no live run is paced)."""
        paces = [p for run in list(self._live.values()) if (p := pace_of(run)) is not None]
        return sum(paces) if paces else None

    def ceiling(self) -> float | None:
        """What the pace may reach: the stated limit, under the live runs' caps (None: not
        known)."""
        caps = [r for run in list(self._live.values()) if (r := run.settings.rate) is not None]
        cap = sum(caps) if caps and len(caps) == len(self._live) else None
        known = [c for c in (self.limit, cap) if c is not None]
        return min(known) if known else None


def _add(total: Counts, more: Counts) -> None:
    for name in _COUNT_FIELDS:
        setattr(total, name, getattr(total, name) + getattr(more, name))


_COUNT_FIELDS: Final = tuple(f.name for f in fields(Counts))
