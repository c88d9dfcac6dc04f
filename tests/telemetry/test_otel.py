"""OpenTelemetry: every metric and span of a run against the fake server, with the values the
report and the server's own counters say (200, 207, 404, 429 and 5xx answers)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import bulkdel
from bulkdel.budget import LocalBudget
from bulkdel.telemetry import Attempt, BatchTally, RunObserver, RunView
from bulkdel.telemetry.stats import pace_of
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, MakeFake, hex_ids

PERMANENT = frozenset(hex_ids(3, start=10))


def points(data: Any, name: str) -> list[Any]:
    """The data points of metric ``name`` in a collection."""
    found = []
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


class Probe(RunObserver):
    """Collects the metrics once mid-run, after the first 429 that stated a limit, and reads
    the run's pace at that same moment."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self.reader = reader
        self.seen_429 = False
        self.data: Any = None
        self.pace: float | None = None

    def attempt(self, run: RunView, attempt: Attempt) -> None:
        self.seen_429 = self.seen_429 or attempt.outcome.status == 429

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        if self.seen_429 and self.data is None:
            self.data = self.reader.get_metrics_data()
            self.pace = pace_of(run)


class Scripted(FakeImageKit):
    """The fake server whose delete answers include a stated 429 and a 503 in every run, at
    fixed places: the 1st of every 8 requests (by arrival) is a 429 stating 1000 a second,
    the 4th a 503; the rest are answered as the faults (per id, seeded) say."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.posts = 0

    async def _answer_delete(self, request: web.Request) -> web.StreamResponse:
        self.posts += 1
        turn = self.posts % 8
        if turn == 1:
            headers = self._throttle.refusal(1000, 0.05, 1.0)
            return web.json_response({"message": "Too many requests."}, status=429, headers=headers)
        if turn == 4:
            return web.json_response({"message": "Service temporarily unavailable."}, status=503)
        return await super()._answer_delete(request)


@pytest.fixture
def providers() -> tuple[MeterProvider, TracerProvider, InMemoryMetricReader, Any]:
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return MeterProvider(metric_readers=[reader]), tracer_provider, reader, exporter


async def test_metrics_and_spans_have_the_runs_values(providers: Any) -> None:
    """Ids by outcome equal the report's counts; requests and durations by status equal what
    the server answered; the gauges read the pace and the stated limit; spans nest."""
    meter_provider, tracer_provider, reader, exporter = providers
    ids = hex_ids(3000)
    source = [*ids, *ids[:30], *(f"bad id {n}" for n in range(20))]
    faults = Faults(seed=7, transient_207=0.01, permanent_errors=PERMANENT)
    probe = Probe(reader)
    async with Scripted(KEY, existing=ids[:2700], faults=faults) as server:
        report = await bulkdel.delete_files(
            source,
            private_key=KEY,
            base_url=server.url,
            rate=2000,
            max_attempts=4,
            budget=LocalBudget(),
            observers=[probe],
            meter_provider=meter_provider,
            tracer_provider=tracer_provider,
        )
        by_status = Counter(server.stats.by_status)
        deleted_on_server = set(server.deleted)
        port = int(server.url.rsplit(":", 1)[1])
    data = reader.get_metrics_data()
    counts = report.counts
    ids_by = {p.attributes["bulkdel.outcome"]: p.value for p in points(data, "bulkdel.ids")}
    assert ids_by == {
        name: getattr(counts, name)
        for name in ("deleted", "missing", "failed", "invalid", "duplicate")
        if getattr(counts, name)
    }
    # Against the server's truth, not a count of a random process: the 503s and 429s fall at
    # fixed places, but which batch meets them depends on the interleaving.
    assert counts.deleted == len(deleted_on_server)
    assert deleted_on_server <= set(ids[:2700]) - PERMANENT
    assert counts.deleted + counts.missing + counts.failed == 3000 == counts.unique
    assert counts.failed >= len(PERMANENT)
    assert [p.value for p in points(data, "bulkdel.ids.unique")] == [3000]
    assert {200, 207, 404, 429, 503} <= set(by_status)

    requests: Counter[int] = Counter()
    for p in points(data, "bulkdel.requests"):
        assert p.attributes["bulkdel.request.kind"] == "delete"
        requests[p.attributes["http.response.status_code"]] += p.value
    assert requests == by_status

    durations: Counter[int] = Counter()
    for p in points(data, "http.client.request.duration"):
        attributes = dict(p.attributes)
        status = attributes.pop("http.response.status_code")
        durations[status] += p.count
        error = {"error.type": str(status)} if status >= 400 else {}
        assert attributes == {
            "http.request.method": "POST",
            "server.address": "127.0.0.1",
            "server.port": port,
            **error,
        }
        assert p.explicit_bounds[:3] == (0.005, 0.01, 0.025)
    assert durations == by_status

    (wait,) = points(data, "bulkdel.budget.wait.time")
    assert wait.value > 0  # a stated 429 closes the gate: workers wait for it

    assert probe.data is not None and probe.pace is not None
    (pace,) = points(probe.data, "bulkdel.budget.pace")
    (ceiling,) = points(probe.data, "bulkdel.budget.ceiling")
    assert pace.value == pytest.approx(probe.pace)
    assert ceiling.value == 1000.0  # the 429s state 1000 per second, under the cap of 2000
    assert points(data, "bulkdel.budget.pace") == []  # a finished run has no pace

    spans = exporter.get_finished_spans()
    (run,) = [s for s in spans if s.name == "bulkdel.run"]
    batches = {s.context.span_id: s for s in spans if s.name == "bulkdel.delete.batch"}
    sends = [s for s in spans if s.name == "POST"]
    assert len(sends) == sum(by_status.values())
    assert all(b.parent.span_id == run.context.span_id for b in batches.values())
    assert all(s.parent.span_id in batches and s.kind is SpanKind.CLIENT for s in sends)
    assert sum(b.attributes["bulkdel.delete.batch.requests"] for b in batches.values()) == len(
        sends
    )
    assert (
        sum(b.attributes["bulkdel.delete.batch.deleted"] for b in batches.values())
        == counts.deleted
    )
    resent = [s for s in sends if "http.request.resend_count" in s.attributes]
    assert len(resent) == report.requests.retried > 0
    errors = [s for s in sends if s.status.status_code is StatusCode.ERROR]
    assert len(errors) == sum(n for status, n in by_status.items() if status >= 400)
    assert sends[0].attributes["url.full"].endswith("/v1/files/batch/deleteByFileIds")
    assert run.attributes["bulkdel.ids.deleted"] == counts.deleted


async def test_purges_are_counted() -> None:
    """CDN purges sent add to ``bulkdel.purge.requests`` (the monthly quota used)."""
    from bulkdel.telemetry import OtelObserver

    reader = InMemoryMetricReader()
    observer = OtelObserver(MeterProvider(metric_readers=[reader]), TracerProvider())
    observer.purged(3)
    observer.purged(0)
    observer.purged(2)
    (purges,) = points(reader.get_metrics_data(), "bulkdel.purge.requests")
    assert purges.value == 5


def test_error_types_are_few_and_named() -> None:
    """``error.type``: the status of an error answer, or what kept the answer away."""
    from bulkdel.models import Kind, Outcome
    from bulkdel.telemetry.stats import error_type

    assert error_type(Outcome(Kind.SUCCESS, 200)) is None
    assert error_type(Outcome(Kind.SUCCESS, 207)) is None
    assert error_type(Outcome(Kind.THROTTLED, 429)) == "429"
    assert error_type(Outcome(Kind.TRANSIENT, 200, message="unreadable 200")) == "unreadable_answer"
    assert error_type(Outcome(Kind.TRANSIENT, None, message="timed out")) == "timeout"
    lost = Outcome(Kind.TRANSIENT, None, message="connection lost: ServerDisconnectedError: x")
    assert error_type(lost) == "ServerDisconnectedError"
    refused = "cannot connect: ClientConnectorError: Cannot connect to host h:1 ssl:default"
    assert error_type(Outcome(Kind.TRANSIENT, None, message=refused)) == "ClientConnectorError"
    assert error_type(Outcome(Kind.TRANSIENT, None, message="odd")) == "_OTHER"


async def test_logging_and_spans_together(
    providers: Any, caplog: pytest.LogCaptureFixture, make_fake: MakeFake
) -> None:
    """A batch carrying a span is still logged (the span is not a log field)."""
    meter_provider, tracer_provider, _, exporter = providers
    caplog.set_level("DEBUG", logger="bulkdel.run")
    server = await make_fake()
    report = await bulkdel.delete_files(
        hex_ids(300),
        private_key=KEY,
        base_url=server.url,
        budget=LocalBudget(),
        meter_provider=meter_provider,
        tracer_provider=tracer_provider,
    )
    assert report.counts.deleted == 300
    logged = [r for r in caplog.records if getattr(r, "bulkdel_event", "") == "batch"]
    assert len(logged) == 3 and "handle" not in logged[0].bulkdel_batch
    assert len([s for s in exporter.get_finished_spans() if s.name == "bulkdel.delete.batch"]) == 3


async def test_a_fatal_answer_marks_the_run_span_an_error(providers: Any) -> None:
    """A 403 stops the run: its span says why, with an error status."""
    meter_provider, tracer_provider, _, exporter = providers
    async with FakeImageKit("another_private_key_0123") as server:
        report = await bulkdel.delete_files(
            hex_ids(10),
            private_key=KEY,
            base_url=server.url,
            budget=LocalBudget(),
            meter_provider=meter_provider,
            tracer_provider=tracer_provider,
        )
    assert report.abort is not None
    (run,) = [s for s in exporter.get_finished_spans() if s.name == "bulkdel.run"]
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes["bulkdel.aborted"].startswith("fatal: HTTP 40")
