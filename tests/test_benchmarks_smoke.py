"""The benchmark runner still runs end to end at tiny sizes (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.run import SCENARIOS

RERUN = [sys.executable, "-m", "benchmarks", "--quick", "--only", "throughput_large"]

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runner_writes_results(tmp_path: Path) -> None:
    """`python -m benchmarks --quick` writes results.json with every scenario and RESULTS.md."""
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,  # a guard against a hang; the quick run takes about a minute
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    scenarios = {"throughput", "throughput_large", "throttled", "scale"}
    assert {"machine", "config", "targets"} | scenarios <= results.keys()
    for name in ("bare", "sdk-async", "sdk-sync", "bulkdel-cli", "bulkdel-lib"):
        block = results["throughput"][name]
        assert "skipped" in block or block["median"]["ids_deleted"] > 0, (name, block)
    assert results["throughput"]["bare"]["median"]["ids_deleted"] == results["config"]["ids"]
    large = results["throughput_large"]
    assert large["bare"]["median"]["ids_deleted"] == results["config"]["large_ids"]
    assert "sdk-sync" not in large
    # every process's CPU is measured: the client's, and the fake server's (in clock ticks
    # of 10 ms: a tiny run's may read 0)
    measured = [b["median"] for b in (*results["throughput"].values(), *large.values())]
    measured = [m for m in measured if "cpu_s" in m]
    assert measured and all(m["cpu_s"] > 0 and m["server_cpu_s"] >= 0 for m in measured)
    assert sum(m["server_cpu_s"] for m in measured) > 0
    for scenario in ("rate", "window"):
        contenders = results["throttled"][scenario]["contenders"]
        assert {"bulkdel-cli --rate", "bulkdel-cli adaptive", "sdk-async"} <= contenders.keys()
        assert "efficiency" in contenders["sdk-async"]["median"]
    assert all({"target", "value", "met"} <= t.keys() for t in results["targets"])
    assert (tmp_path / "RESULTS.md").read_text().startswith("# bulkdel benchmarks")
    # a rerun of one scenario keeps the others, each with where it came from
    again = subprocess.run(
        [*RERUN, "--keep-others", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    merged = json.loads((tmp_path / "results.json").read_text())
    assert merged["throttled"] == results["throttled"] and merged["scale"] == results["scale"]
    assert merged["throughput_large"] != results["throughput_large"]
    assert set(merged["earlier"]) == {s for s in SCENARIOS if s in results} - {"throughput_large"}
    assert "from an earlier run" in (tmp_path / "RESULTS.md").read_text()
