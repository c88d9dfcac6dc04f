"""The benchmark runner still runs end to end at tiny sizes (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runner_writes_results(tmp_path: Path) -> None:
    """`python -m benchmarks --quick` writes results.json with every scenario and RESULTS.md."""
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert {"machine", "config", "throughput", "throttled", "scale", "targets"} <= results.keys()
    for name in ("bare", "sdk-async", "sdk-sync", "bulkdel-cli", "bulkdel-lib"):
        block = results["throughput"][name]
        assert "skipped" in block or block["median"]["ids_deleted"] > 0, (name, block)
    assert results["throughput"]["bare"]["median"]["ids_deleted"] == results["config"]["ids"]
    for scenario in ("rate", "window"):
        contenders = results["throttled"][scenario]["contenders"]
        assert {"bulkdel-cli --rate", "bulkdel-cli adaptive", "sdk-async"} <= contenders.keys()
        assert "efficiency" in contenders["sdk-async"]["median"]
    assert all({"target", "value", "met"} <= t.keys() for t in results["targets"])
    assert (tmp_path / "RESULTS.md").read_text().startswith("# bulkdel benchmarks")
