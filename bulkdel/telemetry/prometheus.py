"""``/metrics`` for Prometheus: a run's figures (``RunStats``) on a registry of their own.

Why ``prometheus_client`` with a custom ``CollectorRegistry`` and not the OpenTelemetry
Prometheus exporter: the exporter needs the OpenTelemetry SDK (not only the API) and is still
a beta (0.x) package whose output names follow OpenTelemetry's translation rules, which have
changed between its releases, while a dashboard's queries need names that stay put. One small,
stable, pure-Python package serves the same text, and a collector that reads the run when
scraped costs the run nothing between scrapes. The registry is our own (never the process's
global one), so a service that embeds bulkdel keeps its own metrics apart.

Series (``worker`` and ``bulkdel_job`` labels on every one when given, so that a fleet of
workers is told apart; Prometheus adds ``instance``):

==========================================  =======================================================
``bulkdel_ids_total{outcome}``              ids by bucket: deleted, missing, failed, not_attempted,
                                            invalid, duplicate
``bulkdel_ids_read_total``                  ids read (``read = invalid + duplicate + unique``)
``bulkdel_ids_unique_total``                unique valid ids (what the run has to settle)
``bulkdel_requests_total{kind,status}``     requests by kind (delete, list) and status (error: none)
``http_client_request_duration_seconds``    the semantic conventions' histogram, with
                                            ``http_request_method``, ``server_address``,
                                            ``server_port``, ``http_response_status_code``,
                                            ``error_type``
``bulkdel_budget_wait_seconds_total``       time requests waited for a turn from the budget
``bulkdel_budget_pace_requests_per_second`` the pace (absent while unpaced)
``bulkdel_budget_ceiling_requests_per_second``  the limit a 429 stated, or the run's cap
``bulkdel_batches_total``                   batches finished
``bulkdel_purge_requests_total``            CDN purges sent (against a quota of 1000 a month)
``bulkdel_runs_active``                     runs going on
==========================================  =======================================================
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from ..errors import UsageError
from .stats import DURATION_BUCKETS, OUTCOMES, RunStats

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

#: ImageKit's monthly CDN purge quota (shown beside the purges sent)
PURGE_QUOTA = 1000


class RunCollector:
    """A ``prometheus_client`` collector over a ``RunStats``.

    Args:
        stats: the figures.
        labels: constant labels of every series (``worker``, ``bulkdel_job``).
    """

    def __init__(
        self,
        stats: RunStats,
        labels: Mapping[str, str] | None = None,
        on_scrape: Callable[[], None] | None = None,
    ) -> None:
        self.stats = stats
        self.names = list(labels or {})
        self.values = list((labels or {}).values())
        self.on_scrape = on_scrape

    def describe(self) -> list[Metric]:
        """Nothing up front: the series depend on what the run sent."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every series, read now."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self.on_scrape is not None:
            self.on_scrape()

        names, values, stats = self.names, self.values, self.stats
        counts = stats.counts()
        ids = CounterMetricFamily("bulkdel_ids", "Ids by outcome", labels=[*names, "outcome"])
        for outcome in OUTCOMES:
            ids.add_metric([*values, outcome], getattr(counts, outcome))
        yield ids
        yield self._counter("bulkdel_ids_read", "Ids read", counts.read)
        yield self._counter("bulkdel_ids_unique", "Unique valid ids read", counts.unique)
        requests = CounterMetricFamily(
            "bulkdel_requests", "Requests by kind and status", labels=[*names, "kind", "status"]
        )
        for (kind, status), count in sorted(stats.requests.items()):
            requests.add_metric([*values, kind, status], count)
        yield requests
        yield self._durations()
        yield self._counter(
            "bulkdel_budget_wait_seconds", "Time spent waiting for the budget", stats.budget_wait
        )
        for name, help_, value in (
            ("bulkdel_budget_pace_requests_per_second", "The pace", stats.pace()),
            ("bulkdel_budget_ceiling_requests_per_second", "The ceiling", stats.ceiling()),
            ("bulkdel_runs_active", "Runs going on", stats.running),
            ("bulkdel_purge_monthly_quota", "ImageKit's monthly purge quota", PURGE_QUOTA),
        ):
            if value is not None:
                gauge = GaugeMetricFamily(name, help_, labels=names)
                gauge.add_metric(values, value)
                yield gauge
        yield self._counter("bulkdel_batches", "Batches finished", stats.batches)
        yield self._counter("bulkdel_purge_requests", "CDN purges sent", stats.purge_requests)

    def _counter(self, name: str, help_: str, value: float) -> Metric:
        from prometheus_client.core import CounterMetricFamily

        counter = CounterMetricFamily(name, help_, labels=self.names)
        counter.add_metric(self.values, value)
        return counter

    def _durations(self) -> Metric:
        from prometheus_client.core import HistogramMetricFamily

        family = HistogramMetricFamily(
            "http_client_request_duration_seconds",
            "Duration of HTTP client requests",
            labels=[
                *self.names,
                "http_request_method",
                "server_address",
                "server_port",
                "http_response_status_code",
                "error_type",
            ],
        )
        for (method, address, port, status, error), histogram in list(self.stats.durations.items()):
            cumulative: list[tuple[str, float]] = []
            running = 0
            for bound, count in zip(DURATION_BUCKETS, histogram.buckets, strict=False):
                running += count
                cumulative.append((repr(bound), running))
            cumulative.append(("+Inf", histogram.count))
            labels = [*self.values, method, address, str(port), str(status or ""), error or ""]
            family.add_metric(labels, cumulative, histogram.total)
        return family


def registry_for(
    stats: RunStats,
    labels: Mapping[str, str] | None = None,
    on_scrape: Callable[[], None] | None = None,
) -> CollectorRegistry:
    """A registry of its own holding ``stats``' series (``on_scrape`` is called as each
    scrape reads them).

    Raises:
        UsageError: ``prometheus_client`` is not installed.
    """
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        raise UsageError(
            "metrics need prometheus_client: pip install 'bulkdel[prometheus]'"
        ) from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(stats, labels, on_scrape))
    return registry


class MetricsServer:
    """``/metrics`` over HTTP, served from a thread (a scrape never waits for the run's loop).

    Args:
        stats: the figures to serve.
        port: the TCP port (0: any free one; ``port`` then says which).
        host: the address to listen on (loopback by default: job names and rates stay on
            this host unless an operator asks for another address).
        labels: constant labels of every series.

    Raises:
        UsageError: the port cannot be listened on (in use, privileged), or no
            ``prometheus_client`` (naming ``metrics_port``).
    """

    def __init__(
        self,
        stats: RunStats,
        port: int,
        *,
        host: str = "127.0.0.1",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        #: set by the first scrape after ``final_scrape`` began waiting
        self._final_read = threading.Event()
        self._final = False
        registry = registry_for(stats, labels, self._scraped)
        from prometheus_client import start_http_server

        try:
            server, thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise UsageError(
                f"metrics_port {port}: cannot listen on {host}:{port}: {exc.strerror or exc}",
                "metrics_port",
            ) from None
        self._server: WSGIServer = server
        self._thread: threading.Thread = thread
        self.host = host
        #: the port listened on
        self.port: int = server.server_address[1]

    @property
    def url(self) -> str:
        """Where the metrics are."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/metrics"

    def _scraped(self) -> None:
        if self._final:
            self._final_read.set()

    def final_scrape(self, timeout: float) -> bool:
        """Serve on until the final figures have been scraped once, at most ``timeout``
        seconds (the endpoint would otherwise die with the run, and the last scrape miss
        what it did since the one before); True when they were."""
        self._final = True
        return self._final_read.wait(timeout)

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def scrape_text(stats: RunStats, labels: Mapping[str, str] | None = None) -> str:
    """The Prometheus text a scrape would get now (tests, and the dashboard script)."""
    from prometheus_client import generate_latest

    return generate_latest(registry_for(stats, labels)).decode()
