"""What following a run costs: ids/s of a 100,000-id run against the fake server, unthrottled,
with nothing listening and with each kind of telemetry (``python -m benchmarks.telemetry``).

Each run is its own child process (a fresh interpreter, so no import or cache is shared) on a
fake server process on loopback, with ids of its own (every id exists once on the fake); the
variants alternate, round after round, and the median of the rounds is reported as a ratio
to nothing listening, measured in the same run.

* ``before``: the code before the observer's hooks (``main`` at ``git merge-base``), from a
  snapshot: what the hooks themselves cost when nobody listens;
* ``none``: no observer (the engine's calls go to the no-op observer);
* ``prometheus``: ``RunStats``, what ``--metrics-port`` feeds (no scrape during the run);
* ``events``: ``RunEvents`` with a callback, snapshots every second;
* ``otel``: the OpenTelemetry SDK's meter and tracer providers, in-memory reader and exporter
  (a span per batch and per request);
* ``all``: the three together, and the ``bulkdel.run`` logger at DEBUG into a null handler.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import KEY, FakeServer, make_id, snapshot

VARIANTS = ("before", "none", "prometheus", "events", "otel", "all")
IDS = 100_000


def observers(variant: str) -> dict[str, Any]:
    """The keyword arguments of ``delete_files`` for ``variant``."""
    if variant == "before":
        return {}
    found: dict[str, Any] = {"observers": []}
    if variant in ("prometheus", "all"):
        from bulkdel.telemetry import RunStats

        found["observers"].append(RunStats())
    if variant in ("events", "all"):
        from bulkdel.telemetry import RunEvents

        found["observers"].append(RunEvents(every=1.0, on_batch=lambda _: None))
    if variant in ("otel", "all"):
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        found["meter_provider"] = MeterProvider(metric_readers=[InMemoryMetricReader()])
        found["tracer_provider"] = tracer_provider
    if variant == "all":
        import logging

        logger = logging.getLogger("bulkdel.run")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    return found


def child(variant: str, url: str, start: int) -> None:
    """One run; prints its ids/s as JSON."""
    import bulkdel

    ids = [make_id(i) for i in range(start, start + IDS)]
    options = observers(variant)
    began = time.perf_counter()
    report = asyncio.run(bulkdel.delete_files(ids, private_key=KEY, base_url=url, **options))
    elapsed = time.perf_counter() - began
    assert report.counts.deleted == IDS, report.counts
    print(json.dumps({"ids_per_s": IDS / elapsed}))


def measure(rounds: int) -> dict[str, list[float]]:
    """ids/s of every variant, ``rounds`` times, alternating."""
    found: dict[str, list[float]] = {v: [] for v in VARIANTS}
    base = subprocess.run(
        ["git", "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with FakeServer() as server, tempfile.TemporaryDirectory() as tmp:
        before = snapshot(base, Path(tmp))
        start = 0
        for _ in range(rounds):
            for variant in VARIANTS:
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.telemetry", "--child", variant,
                     server.url, str(start)],
                    capture_output=True, text=True, check=True, timeout=600,
                    cwd=before if variant == "before" else None,
                )  # fmt: skip
                found[variant].append(json.loads(done.stdout)["ids_per_s"])
                start += IDS
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "URL", "START"))
    args = parser.parse_args()
    if args.child:
        variant, url, start = args.child
        child(variant, url, int(start))
        return
    found = measure(args.rounds)
    base = statistics.median(found["before"])
    print(f"{IDS:,} ids, unthrottled, {args.rounds} rounds (median ids/s, ratio to before):")
    for variant in VARIANTS:
        median = statistics.median(found[variant])
        print(f"  {variant:<11} {median:>9,.0f} ids/s  {median / base:5.2f}")


if __name__ == "__main__":
    main()
