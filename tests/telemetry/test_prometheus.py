"""The Prometheus text of a run, its labels, and the Grafana dashboard's queries."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

import bulkdel
from bulkdel.budget import LocalBudget
from bulkdel.telemetry import BatchTally, RunObserver, RunStats, RunView
from bulkdel.telemetry.prometheus import scrape_text
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, hex_ids

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"
LABELS = {"worker": "host-1-ab12", "bulkdel_job": "purge-1"}
#: PromQL words and the labels the dashboard groups or filters by
NOT_METRICS = {
    "sum", "min", "max", "rate", "by", "histogram_quantile", "le", "outcome", "status",
    "instance", "worker", "bulkdel_job",
}  # fmt: skip


class MidRun(RunObserver):
    """Scrapes once, after the first 429, while the run is live (the gauges show then)."""

    def __init__(self, stats: RunStats) -> None:
        self.stats = stats
        self.text = ""

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        if not self.text and self.stats.requests["delete", "429"]:
            self.text = scrape_text(self.stats, LABELS)


async def run_scraped() -> tuple[str, str, bulkdel.Report, Counter[int]]:
    stats = RunStats()
    probe = MidRun(stats)
    ids = hex_ids(2000)
    faults = Faults(seed=3, throttle_burst=0.1, error_5xx=0.05)
    async with FakeImageKit(KEY, existing=ids[:1900], faults=faults) as server:
        report = await bulkdel.delete_files(
            ids,
            private_key=KEY,
            base_url=server.url,
            budget=LocalBudget(),
            observers=[stats, probe],
        )
        by_status = Counter(server.stats.by_status)
    return probe.text, scrape_text(stats, LABELS), report, by_status


def values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def pick(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(v for (n, have), v in found.items() if n == name and wanted <= have)


async def test_the_text_holds_the_runs_figures_with_the_workers_labels() -> None:
    """Ids by outcome are the report's; requests and timed requests by status are the
    server's; every series carries the worker's labels; the gauges show mid-run."""
    mid, end, report, by_status = await run_scraped()
    found = values(end)
    assert all(dict(labels).items() >= LABELS.items() for _, labels in found)
    for outcome in ("deleted", "missing", "failed", "invalid", "duplicate", "not_attempted"):
        assert pick(found, "bulkdel_ids_total", outcome=outcome) == getattr(report.counts, outcome)
    assert pick(found, "bulkdel_ids_unique_total") == 2000
    for status, count in by_status.items():
        assert pick(found, "bulkdel_requests_total", kind="delete", status=str(status)) == count
        timed = pick(
            found,
            "http_client_request_duration_seconds_count",
            http_response_status_code=str(status),
        )
        assert timed == count
    assert (
        pick(found, "http_client_request_duration_seconds_count", error_type="429")
        == by_status[429]
    )
    assert pick(found, "bulkdel_runs_active") == 0
    live = values(mid)
    assert pick(live, "bulkdel_runs_active") == 1
    assert pick(live, "bulkdel_budget_ceiling_requests_per_second") == 1000.0  # stated by the 429
    assert 0 < pick(live, "bulkdel_budget_pace_requests_per_second") <= 1000.0


async def test_every_dashboard_query_names_a_metric_that_exists() -> None:
    """The Grafana JSON loads, has the five panels asked for, and each query's metric names
    are among those a run's scrape holds."""
    mid, end, _, _ = await run_scraped()
    exists = {
        s.name
        for text in (mid, end)
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for wanted in ("progress", "Pace vs ceiling", "429 share", "Outcomes", "Per-worker"):
        assert wanted in titles
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(queries) >= 8
    for query in queries:
        bare = re.sub(r'"[^"]*"|\[[^\]]*\]', "", query)  # label values and ranges
        names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - NOT_METRICS
        assert names, query
        assert names <= exists, (query, names - exists)


def test_the_check_finds_a_metric_that_does_not_exist() -> None:
    """The name check itself: a misspelt metric is caught."""
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]', "", 'sum(rate(bulkdel_request_total{status="429"}[1m]))')
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)) - NOT_METRICS
    assert names == {"bulkdel_request_total"}


def test_the_server_serves_its_registry_and_refuses_a_busy_port() -> None:
    """``MetricsServer`` on port 0 says where it listens and serves the text; a second one
    on that port is a usage error naming it."""
    import urllib.request

    import pytest

    from bulkdel.errors import UsageError
    from bulkdel.telemetry import MetricsServer

    stats = RunStats()
    stats.purged(4)
    server = MetricsServer(stats, 0, host="127.0.0.1", labels=LABELS)
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(server.url, timeout=5) as answer:
            text = answer.read().decode()
        assert pick(values(text), "bulkdel_purge_requests_total", worker=LABELS["worker"]) == 4
        # the library names its parameter; the command line shows it as --metrics-port
        with pytest.raises(UsageError, match=f"metrics_port {server.port}: cannot listen") as e:
            MetricsServer(stats, server.port, host="127.0.0.1")
        assert "metrics_port" in e.value.parameters
    finally:
        server.close()


def test_observers_together_each_get_every_call() -> None:
    """``Observers`` hands each call to each observer (here: purges to two stats)."""
    from bulkdel.telemetry.observer import NO_OBSERVER, combine

    first, second = RunStats(), RunStats()
    both = combine([first, None, NO_OBSERVER, second])
    both.purged(2)
    assert (first.purge_requests, second.purge_requests) == (2, 2)
    assert combine([None]) is NO_OBSERVER and combine([first]) is first
