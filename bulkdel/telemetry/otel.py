"""OpenTelemetry metrics and spans of a run (``bulkdel[otel]``: ``opentelemetry-api`` only).

Imported only when a run is given a provider, or when the application has imported
opentelemetry itself (that is where its SDK is set up): bulkdel never imports it otherwise.
No global is set or read but the API's own default providers.

Metrics (meter ``bulkdel``):

=================================  =========  ==================================================
``bulkdel.ids``                    counter    ids by ``bulkdel.outcome``: deleted, missing, failed,
                                              not_attempted, invalid, duplicate
``bulkdel.ids.unique``             counter    unique valid ids read (the ids to settle)
``bulkdel.requests``               counter    by ``bulkdel.request.kind`` (delete, list) and
                                              ``http.response.status_code`` or ``error.type``
``http.client.request.duration``   histogram  seconds, the semantic conventions' attributes:
                                              ``http.request.method``, ``server.address``,
                                              ``server.port``, ``http.response.status_code`` (when
                                              an answer came), ``error.type`` (when it failed)
``bulkdel.budget.wait.time``       counter    seconds requests waited for a turn from the budget
``bulkdel.budget.pace``            gauge      requests/s the run is paced at (while paced)
``bulkdel.budget.ceiling``         gauge      the limit a 429 stated or the run's cap (when known)
``bulkdel.purge.requests``         counter    CDN purges sent (ImageKit allows 1000 a month)
=================================  =========  ==================================================

The id counters follow the run's own counts (the ledger's), added after each batch and at the
end, so that they always end equal to the report's.

Spans: ``bulkdel.run`` > ``bulkdel.delete.batch`` > one HTTP client span per request sent (named
after its method, ``POST``), carrying ``http.request.resend_count`` when it is a retry; a
listing page's request is a child of the run. ``error.type`` values: the status code of an
answer of 400 or more, ``timeout``, the network library's exception name
(``ClientConnectorError``, ``ServerDisconnectedError``...), ``unreadable_answer``.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..record.ledger import Counts
from .observer import Attempt, BatchTally, RunObserver, RunView
from .stats import DURATION_BUCKETS, OUTCOMES, error_type, pace_of, server_of, stated_limit

_SCOPE = "bulkdel"


def _version() -> str:
    from .. import __version__

    return __version__


@dataclass
class _Live:
    """A run being followed: its span, its attributes, and the counts already added."""

    span: Any
    attributes: dict[str, Any]
    server: tuple[str, int]
    url: str
    added: Counts = field(default_factory=Counts)
    limit: float | None = None


class _Instruments:
    """The instruments of one meter provider, made once (re-making them would register the
    gauges' callbacks again)."""

    def __init__(self, provider: metrics.MeterProvider) -> None:
        meter = provider.get_meter(_SCOPE, _version())
        self.ids = meter.create_counter("bulkdel.ids", "{id}", "Ids by outcome")
        self.unique = meter.create_counter("bulkdel.ids.unique", "{id}", "Unique valid ids read")
        self.requests = meter.create_counter(
            "bulkdel.requests", "{request}", "Requests by kind and status"
        )
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            "s",
            "Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.wait = meter.create_counter(
            "bulkdel.budget.wait.time", "s", "Time requests spent waiting for the budget"
        )
        self.purges = meter.create_counter(
            "bulkdel.purge.requests", "{request}", "CDN purge requests sent (monthly quota)"
        )
        #: the runs the gauges report, by id
        self.live: dict[int, tuple[RunView, _Live]] = {}
        meter.create_observable_gauge(
            "bulkdel.budget.pace", [self._paces], "{request}/s", "The pace of the run"
        )
        meter.create_observable_gauge(
            "bulkdel.budget.ceiling", [self._ceilings], "{request}/s", "The pace's ceiling"
        )

    def _paces(self, options: CallbackOptions) -> Iterable[Observation]:
        for run, live in list(self.live.values()):
            pace = pace_of(run)
            if pace is not None:
                yield Observation(pace, live.attributes)

    def _ceilings(self, options: CallbackOptions) -> Iterable[Observation]:
        for run, live in list(self.live.values()):
            known = [c for c in (live.limit, run.settings.rate) if c is not None]
            if known:
                yield Observation(min(known), live.attributes)


_BY_PROVIDER: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()


def _instruments(provider: metrics.MeterProvider) -> _Instruments:
    try:
        found = _BY_PROVIDER.get(provider)
    except TypeError:  # a provider that cannot be weakly referenced: made for each run
        return _Instruments(provider)
    if found is None:
        found = _BY_PROVIDER[provider] = _Instruments(provider)
    return found


class OtelObserver(RunObserver):
    """Metrics and spans of the runs it follows.

    Args:
        meter_provider: where metrics go; the API's global provider if None.
        tracer_provider: where spans go; the API's global provider if None.
        attributes: added to every metric point and to the run's span (``bulkdel.worker``,
            ``bulkdel.job``...).
    """

    def __init__(
        self,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        self._instruments = _instruments(meter_provider or metrics.get_meter_provider())
        provider = tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer(_SCOPE, _version())
        self._attributes = dict(attributes or {})
        self._runs: dict[int, _Live] = {}

    def run_started(self, run: RunView) -> None:
        settings = run.settings
        span = self._tracer.start_span(
            "bulkdel.run",
            attributes={
                **self._attributes,
                "bulkdel.dry_run": settings.dry_run,
                "bulkdel.concurrency": settings.concurrency,
                "bulkdel.batch_size": settings.batch_size,
            },
        )
        address, port = server_of(settings.base_url)
        live = _Live(span, dict(self._attributes), (address, port), settings.base_url)
        self._runs[id(run)] = live
        self._instruments.live[id(run)] = (run, live)

    def batch_started(self, run: RunView, batch: BatchTally) -> None:
        live = self._runs.get(id(run))
        if live is not None:
            batch.handle = self._tracer.start_span(
                "bulkdel.delete.batch",
                context=trace.set_span_in_context(live.span),
                attributes={
                    "bulkdel.delete.batch.number": batch.number,
                    "bulkdel.delete.batch.size": batch.size,
                },
            )

    def attempt(self, run: RunView, attempt: Attempt) -> None:
        live = self._runs.get(id(run))
        if live is None:
            return
        outcome = attempt.outcome
        error = error_type(outcome)
        address, port = live.server
        point: dict[str, Any] = {
            "http.request.method": attempt.method,
            "server.address": address,
            "server.port": port,
        }
        if outcome.status is not None:
            point["http.response.status_code"] = outcome.status
        if error is not None:
            point["error.type"] = error
        instruments = self._instruments
        instruments.duration.record(attempt.duration, {**live.attributes, **point})
        by_kind = {**live.attributes, "bulkdel.request.kind": attempt.kind}
        for name in ("http.response.status_code", "error.type"):
            if name in point:
                by_kind[name] = point[name]
        instruments.requests.add(1, by_kind)
        if attempt.waited > 0:
            instruments.wait.add(attempt.waited, live.attributes)
        if outcome.status == 429 and (limit := stated_limit(outcome)) is not None:
            live.limit = limit
        self._span(live, attempt, point)

    def _span(self, live: _Live, attempt: Attempt, point: dict[str, Any]) -> None:
        """The request's client span, ended now, begun ``attempt.duration`` ago."""
        parent = attempt.batch.handle if attempt.batch is not None else None
        end = time.time_ns()
        attributes = {**point, "url.full": live.url + _PATHS.get(attempt.kind, "")}
        if attempt.resend_count:
            attributes["http.request.resend_count"] = attempt.resend_count
        if attempt.ids:
            attributes["bulkdel.request.ids"] = attempt.ids
        attributes["bulkdel.budget.wait"] = attempt.waited
        span = self._tracer.start_span(
            attempt.method,
            context=trace.set_span_in_context(parent or live.span),
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=end - int(attempt.duration * 1e9),
        )
        if "error.type" in point:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end)

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        span = batch.handle
        if span is not None:
            span.set_attributes(
                {
                    "bulkdel.delete.batch.deleted": batch.deleted,
                    "bulkdel.delete.batch.missing": batch.missing,
                    "bulkdel.delete.batch.failed": batch.failed,
                    "bulkdel.delete.batch.later": batch.later,
                    "bulkdel.delete.batch.requests": batch.requests,
                }
            )
            span.end()
        live = self._runs.get(id(run))
        if live is not None:
            self._add_counts(run, live)

    def run_finished(self, run: RunView) -> None:
        live = self._runs.pop(id(run), None)
        self._instruments.live.pop(id(run), None)
        if live is None:
            return
        self._add_counts(run, live)
        counts = run.ledger.counts
        live.span.set_attributes(
            {f"bulkdel.ids.{name}": getattr(counts, name) for name in OUTCOMES}
        )
        aborted = getattr(run, "aborted", None)
        if aborted is not None:
            live.span.set_attribute("bulkdel.aborted", str(aborted))
            if aborted.reason.value in ("fatal", "error", "listing failed"):
                live.span.set_status(Status(StatusCode.ERROR, str(aborted)))
        live.span.end()

    def purged(self, requests: int) -> None:
        if requests:
            self._instruments.purges.add(requests, self._attributes)

    def _add_counts(self, run: RunView, live: _Live) -> None:
        """Add what the run's counts grew by since the last time."""
        counts, added = run.ledger.counts, live.added
        ids = self._instruments.ids
        for name in OUTCOMES:
            grown = getattr(counts, name) - getattr(added, name)
            if grown:
                ids.add(grown, {**live.attributes, "bulkdel.outcome": name})
                setattr(added, name, getattr(counts, name))
        if counts.unique > added.unique:
            self._instruments.unique.add(counts.unique - added.unique, live.attributes)
            added.unique = counts.unique


_PATHS = {"delete": "/v1/files/batch/deleteByFileIds", "list": "/v1/files"}
