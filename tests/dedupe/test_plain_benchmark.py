"""``python -m benchmarks.dedupe_plain`` still runs end to end at tiny sizes (no timing is
asserted): both installs dry-run the same ids and count them alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_plain_install_benchmark_writes_its_results(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "benchmarks.dedupe_plain", "--sizes", "3000"]
    argv += ["--repeat", "1", "--alone-ids", "20000", "--out", str(tmp_path)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((tmp_path / "dedupe_plain.json").read_text())
    assert results["dry_run"].keys() == {"numpy", "plain"}
    for runs in results["dry_run"].values():
        assert [(r["ids"], r["unique"], r["returncode"]) for r in runs] == [
            (1000, 1000, 0),
            (3000, 3000, 0),
        ]
    assert results["numpy_install_mib"] > 0
    assert (tmp_path / "DEDUPE_PLAIN_RESULTS.md").read_text().startswith("# A plain install")
