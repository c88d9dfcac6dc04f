"""Throughput over time for the throttled runs, from the fake server's sampled counters.

matplotlib is optional: without it no chart is drawn and the runner carries on.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any


def _rates(samples: list[dict[str, Any]]) -> tuple[list[float], list[float], list[int]]:
    """Times, ids deleted per second between readings, cumulative 429s."""
    times, rates, throttled = [], [], []
    for before, after in itertools.pairwise(samples):
        dt = after["t"] - before["t"]
        if dt <= 0:
            continue
        times.append(after["t"])
        rates.append((after["ids_deleted"] - before["ids_deleted"]) / dt)
        throttled.append(after["throttled"])
    return times, rates, throttled


def draw(throttled: dict[str, Any] | None, path: Path) -> Path | None:
    """Draw one column per throttled scenario; returns the PNG's path, or None if not drawn."""
    if not throttled:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    scenarios = list(throttled.items())
    fig, axes = plt.subplots(
        2, len(scenarios), figsize=(6.5 * len(scenarios), 7), sharex="col", squeeze=False
    )
    for col, (scenario, block) in enumerate(scenarios):
        top, bottom = axes[0][col], axes[1][col]
        for name, result in block["contenders"].items():
            runs = result.get("runs") or []
            samples = runs[0].get("samples") if runs else None
            if not samples:
                continue
            times, rates, thr = _rates(samples)
            top.plot(times, rates, label=name, linewidth=1.2)
            bottom.plot(times, thr, label=name, linewidth=1.2)
        top.axhline(block["limit_ids_per_s"], color="grey", linestyle="--", label="limit")
        top.set_title(f"{scenario}: fake server {block.get('server_label', block['server'])}")
        top.set_ylabel("ids deleted / s")
        bottom.set_ylabel("429 answers (cumulative)")
        bottom.set_xlabel("seconds since the server started")
        top.legend(fontsize="small")
        bottom.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
