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
    """The sum of ``name``'s samples whose labels hold every one of ``parts``."""
    return sum(
        v for k, v in sample.items() if k.startswith(name + "{") and all(p in k for p in parts)
    )


Series = list[tuple[float, dict[str, float]]]
Points = list[tuple[float, float]]
PACE, CEILING = (
    "bulkdel_budget_pace_requests_per_second",
    "bulkdel_budget_ceiling_requests_per_second",
)


def start_worker(n: int, ids_each: int, url: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    source = tmp / f"ids{n}.txt"
    ids = range(n * ids_each, (n + 1) * ids_each)
    source.write_text("".join(make_id(i) + "\n" for i in ids))
    return subprocess.Popen(
        [sys.executable, "-m", "bulkdel", "delete", str(source), "--base-url", url,
         "--metrics-port", str(port), "--metrics-host", "127.0.0.1", "--yes", "--quiet",
         "--batch-size", "20", "--report-dir", str(tmp / f"r{n}")],
        env={**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY},
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def run(ids_each: int, workers: int, rate: float) -> list[Series]:
    """Scrapes of each worker's /metrics, (seconds since start, samples), until all exit."""
    series: list[Series] = [[] for _ in range(workers)]
    faults = ("--error-5xx", "0.01")
    with FakeServer(rate=rate, extra_args=faults) as server, tempfile.TemporaryDirectory() as tmp:
        ports = [free_port() for _ in range(workers)]
        procs = [start_worker(n, ids_each, server.url, p, Path(tmp)) for n, p in enumerate(ports)]
        began = time.monotonic()
        while any(p.poll() is None for p in procs):
            for n, port in enumerate(ports):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as a:
                        series[n].append((time.monotonic() - began, parse(a.read().decode())))
                except OSError:
                    pass  # not listening yet, or gone
            time.sleep(0.25)
    return series


def rate_of(points: Points) -> Points:
    """Per-second rate of a counter over the last ``WINDOW`` seconds."""
    found = []
    for i, (t, v) in enumerate(points):
        j = i
        while j > 0 and t - points[j - 1][0] <= WINDOW:
            j -= 1
        if i > j:
            found.append((t, (v - points[j][1]) / (t - points[j][0])))
    return found


def summed(series: list[Series], name: str, *parts: str) -> Points:
    """``name`` summed over the workers at each scrape time (a worker gone keeps its last)."""
    times = sorted({t for s in series for t, _ in s})
    points = []
    for t in times:
        total = 0.0
        for s in series:
            before = [sample for at, sample in s if at <= t]
            if before:
                total += pick(before[-1], name, *parts)
        points.append((t, total))
    return points


def settled(sample: dict[str, float]) -> float:
    return sum(pick(sample, "bulkdel_ids_total", f"outcome={o}") for o in SETTLED)


def draw(series: list[Series], out: Path) -> None:
    """The dashboard's six panels from ``series``, into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    fig.suptitle(
        f"bulkdel dashboard from a real run's /metrics ({len(series)} workers, one fake server)"
    )

    def line(ax: Any, points: Points, label: str) -> None:
        ax.plot([p[0] for p in points], [p[1] for p in points], label=label)

    columns = [summed(series, "bulkdel_ids_total", f"outcome={o}") for o in SETTLED]
    totals = [(t, a + b + c) for (t, a), (_, b), (_, c) in zip(*columns, strict=True)]
    line(axes[0][0], totals, "settled (deleted, missing, failed)")
    line(axes[0][0], summed(series, "bulkdel_ids_unique_total"), "unique ids read")
    axes[0][0].set_title("Job progress (ids)")

    ax = axes[0][1]
    for n, s in enumerate(series):
        line(ax, [(t, pick(x, PACE)) for t, x in s if pick(x, PACE)], f"pace, worker {n + 1}")
    ceiling = [(t, pick(x, CEILING)) for t, x in series[0] if pick(x, CEILING)]
    ax.plot([p[0] for p in ceiling], [p[1] for p in ceiling], "k--", lw=2, label="ceiling")
    sent = rate_of(summed(series, "bulkdel_requests_total"))
    line(ax, sent, "sent, all workers")
    if ceiling:
        ax.set_ylim(0, 2 * max(v for _, v in ceiling))  # the unpaced first second goes off top
    ax.set_title("Pace vs ceiling (requests/s)")

    refused = dict(rate_of(summed(series, "bulkdel_requests_total", "status=429")))
    share = [(t, 100 * refused.get(t, 0.0) / v) for t, v in sent if v > 0]
    line(axes[0][2], share, "429s / requests")
    axes[0][2].set_title("429 share (%)")

    for outcome in SETTLED:
        line(axes[1][0], summed(series, "bulkdel_ids_total", f"outcome={outcome}"), outcome)
    axes[1][0].set_title("Outcomes (ids)")

    for n, s in enumerate(series):
        line(axes[1][1], rate_of([(t, settled(x)) for t, x in s]), f"worker {n + 1}")
    axes[1][1].set_title("Per-worker rates (ids settled/s)")

    waits = dict(rate_of(summed(series, "bulkdel_budget_wait_seconds_total")))
    line(axes[1][2], [(t, waits.get(t, 0.0) / v) for t, v in sent if v > 0], "wait a request")
    axes[1][2].set_title("Waiting for the budget (s)")
    for ax in axes.flat:
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
