"""Fault soak through the CLI: report equalities and the fake server's ground truth hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.soak import FAULT_MIX, SoakFailure, check_run, run_once


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_soak_short(seed: int, tmp_path: Path) -> None:
    """5,000 ids through every fault kind: nothing lost, nothing misreported."""
    result = run_once(seed, 5000, tmp_path, timeout=0.5, max_attempts=3)
    assert result.counts["unique"] == 5000
    assert result.counts["not_attempted"] == 0
    assert sum(result.faults.values()) > 0


@pytest.mark.slow
def test_soak_long(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """100,000 ids over two seeds with the default attempt budget: nothing lost."""
    # Opt-in: `python -m pytest -m slow` (or BULKDEL_SLOW=1); the plain suite stays short.
    if "slow" not in (request.config.getoption("markexpr") or "") and not os.environ.get(
        "BULKDEL_SLOW"
    ):
        pytest.skip("long soak: run with -m slow, or `python -m tests.soak --minutes 30`")
    for seed in (101, 102):
        result = run_once(seed, 100_000, tmp_path)
        assert set(result.faults) >= set(FAULT_MIX), result.faults


def test_check_run_catches_a_lie(tmp_path: Path) -> None:
    """The ground-truth check fails when the report claims a delete the server never made."""
    report = tmp_path / "r"
    report.mkdir()
    (report / "summary.json").write_text(
        '{"complete": true, "aborted": null, "counts": {"read": 2, "invalid": 0, '
        '"duplicate": 0, "unique": 2, "deleted": 2, "missing": 0, "failed": 0, '
        '"not_attempted": 0, "missing_after_retry": 0}}'
    )
    (report / "deleted.txt").write_text("a\nb\n")
    stdout = (report / "summary.json").read_text()
    with pytest.raises(SoakFailure, match="reported deleted but not deleted"):
        check_run(report, 0, stdout, ["a", "b"], {"a", "b"}, set(), {"a"})
    # and the same report passes when the server did delete both
    check_run(report, 0, stdout, ["a", "b"], {"a", "b"}, set(), {"a", "b"})
