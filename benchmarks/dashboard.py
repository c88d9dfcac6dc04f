"""Draw docs/dashboard.png: the Grafana dashboard's panels (docs/grafana-dashboard.json) from a
real run's scraped metrics (``python -m benchmarks.dashboard``; needs the bench extra).

Two ``bulkdel delete`` processes ("workers", each with ids of its own and its own budget)
delete against one fake server limited to 150 requests/s that also answers 1% 5xx; each serves
``--metrics-port``, scraped every quarter second as Prometheus would. The panels are computed
the way the dashboard's queries compute them (sums over workers, rates over a one-second
window instead of Grafana's minute, the run being short).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from .harness import KEY, FakeServer, make_id

SETTLED = ("deleted", "missing", "failed")
WINDOW = 1.0  # seconds a rate is taken over
OUT = Path(__file__).parents[1] / "docs" / "dashboard.png"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def parse(text: str) -> dict[str, float]:
    """A scrape's samples, keyed ``name{label="v",...}`` as the text has them."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}"] = s.value
    return found


def pick(sample: dict[str, float], name: str, *parts: str) -> float:
    return sum(v for k, v in sample.items() if k.startswith(name + "{") and all(p in k for p in parts))


def run(ids_each: int, workers: int, rate: float) -> list[list[tuple[float, dict[str, float]]]]:
    """Scrapes of each worker's /metrics, (seconds since start, samples), until all exit."""
    series: list[list[tuple[float, dict[str, float]]]] = [[] for _ in range(workers)]
    with FakeServer(rate=rate, extra_args=("--error-5xx", "0.01")) as server, tempfile.TemporaryDirectory() as tmp:
        ports, procs = [], []
        for n in range(workers):
            source = Path(tmp) / f"ids{n}.txt"
            source.write_text("".join(make_id(i) + "\n" for i in range(n * ids_each, (n + 1) * ids_each)))
            ports.append(free_port())
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "bulkdel", "delete", str(source), "--base-url", server.url,
                 "--metrics-port", str(ports[-1]), "--metrics-host", "127.0.0.1", "--yes",
                 "--quiet", "--batch-size", "20", "--report-dir", str(Path(tmp) / f"r{n}")],
                env={**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY},
                stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        began = time.monotonic()
        while any(p.poll() is None for p in procs):
            for n, port in enumerate(ports):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as a:
                        series[n].append((time.monotonic() - began, parse(a.read().decode())))
                except OSError:
                    pass
            time.sleep(0.25)
    return series


def rate_of(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per-second rate of a counter over the last ``WINDOW`` seconds."""
    found = []
    for i, (t, v) in enumerate(points):
        j = i
        while j > 0 and t - points[j - 1][0] <= WINDOW:
            j -= 1
        if i > j:
            found.append((t, (v - points[j][1]) / (t - points[j][0])))
    return found


def draw(series: list[list[tuple[float, dict[str, float]]]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    fig.suptitle("bulkdel dashboard, from a real run's /metrics (2 workers, fake server at 150 req/s)")
    times = sorted({round(t, 2) for s in series for t, _ in s})

    def summed(name: str, *parts: str) -> list[tuple[float, float]]:
        points = []
        for t in times:
            total = 0.0
            for s in series:
                before = [sample for at, sample in s if at <= t + 1e-9]
                if before:
                    total += pick(before[-1], name, *parts)
            points.append((t, total))
        return points

    def line(ax: Any, points: list[tuple[float, float]], label: str) -> None:
        ax.plot([p[0] for p in points], [p[1] for p in points], label=label)

    ax = axes[0][0]
    settled = [(t, sum(v for tt, v in summed("bulkdel_ids_total", f"outcome={o}") if tt == t)) for t in times for o in [SETTLED[0]]]
    settled = [(t, a + b + c) for (t, a), (_, b), (_, c) in zip(*(summed("bulkdel_ids_total", f"outcome={o}") for o in SETTLED), strict=True)]
    line(ax, settled, "settled")
    line(ax, summed("bulkdel_ids_unique_total"), "unique ids read")
    ax.set_title("Job progress: ids settled of ids read")

    ax = axes[0][1]
    for n, s in enumerate(series):
        line(ax, [(t, pick(x, "bulkdel_budget_pace_requests_per_second")) for t, x in s if pick(x, "bulkdel_budget_pace_requests_per_second")], f"pace, worker {n + 1}")
    line(ax, [(t, v) for t, v in summed("bulkdel_budget_pace_requests_per_second") if v], "pace, summed")
    ceilings = [(t, min(pick(x, "bulkdel_budget_ceiling_requests_per_second") for x in [x])) for s in series[:1] for t, x in s if pick(x, "bulkdel_budget_ceiling_requests_per_second")]
    line(ax, ceilings, "ceiling (stated limit)")
    line(ax, rate_of(summed("bulkdel_requests_total")), "sent")
    ax.set_title("Pace vs ceiling (requests/s)")

    ax = axes[0][2]
    sent = rate_of(summed("bulkdel_requests_total"))
    refused = dict(rate_of(summed("bulkdel_requests_total", "status=429")))
    line(ax, [(t, 100 * refused.get(t, 0.0) / v) for t, v in sent if v > 0], "429s / requests")
    ax.set_title("429 share (%)")

    ax = axes[1][0]
    for outcome in ("deleted", "missing", "failed"):
        line(ax, summed("bulkdel_ids_total", f"outcome={outcome}"), outcome)
    ax.set_title("Outcomes (ids)")

    ax = axes[1][1]
    for n, s in enumerate(series):
        points = [(t, sum(pick(x, "bulkdel_ids_total", f"outcome={o}") for o in SETTLED)) for t, x in s]
        line(ax, rate_of(points), f"worker {n + 1}")
    ax.set_title("Per-worker rates (ids settled/s)")

    ax = axes[1][2]
    waits = rate_of(summed("bulkdel_budget_wait_seconds_total"))
    line(ax, [(t, w / v) for (t, w), (_, v) in zip(waits, sent, strict=False) if v > 0], "wait per request")
    ax.set_title("Waiting for the budget (s a request)")
    for row in axes:
        for ax in row:
            ax.set_xlabel("seconds")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
    fig.savefig(out, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=12_000, help="ids a worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    draw(run(args.ids, args.workers, args.rate), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
