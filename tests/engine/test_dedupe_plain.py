"""The plain install's de-duplication (no numpy): what differs from the numpy one inside
answers the same; past 5M ids it names the ``large`` extra once."""

from __future__ import annotations

import logging
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bulkdel._engine import dedupe_plain
from bulkdel._engine.dedupe_plain import Deduper
from tests.engine.test_dedupe import SMALL, _check, chunk_lists


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=chunk_lists())
def test_exact_when_the_bloom_filter_always_says_maybe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[list[str]]
) -> None:
    """A filter that never rules a key out: every new key is looked for in every run on disk,
    and only the runs answer."""
    monkeypatch.setattr(dedupe_plain, "_MASKS", (0,) * len(dedupe_plain._MASKS))
    deduper = Deduper(tmp_path, **SMALL)
    try:
        _check(deduper, chunks)
    finally:
        deduper.close()


def test_a_key_inside_two_neighbours_on_disk_is_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key whose bytes straddle two keys of a run (found by ``bytes.find`` off a key's
    boundary) is new; so is a key below the run's first."""
    monkeypatch.setattr(dedupe_plain, "_MASKS", (0,) * len(dedupe_plain._MASKS))
    first, second = bytes(range(12)).hex(), bytes(range(12, 24)).hex()
    inside = bytes(range(6, 18)).hex()
    deduper = Deduper(tmp_path, memtable=2, block=4)
    assert deduper.add_new([first]) == [True]
    assert deduper.add_new([second]) == [True]
    assert deduper.add_new([inside, first, second, inside]) == [True, False, False, False]
    assert deduper.spilled_runs == 1  # the two neighbours, spilled as ``inside`` came
    assert deduper.add_new(["0" * 24, "0" * 24]) == [True, False]  # before the first fence
    deduper.close()


def test_a_short_input_allocates_little() -> None:
    """Ten ids allocate well under a MiB: the filter is made at the first spill."""
    tracemalloc.start()
    try:
        deduper = Deduper()
        assert deduper.add_new([f"{i:024x}" for i in range(10)]) == [True] * 10
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert deduper.spilled_runs == 0
    deduper.close()


def test_past_the_hint_threshold_the_extra_is_named_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """One warning naming ``bulkdel[large]`` when the ids seen pass the threshold; no more."""
    monkeypatch.setattr(dedupe_plain, "HINT_AT", 100)
    deduper = Deduper()
    with caplog.at_level(logging.WARNING, logger="bulkdel.dedupe"):
        deduper.add_new([f"{i:024x}" for i in range(100)])
        assert caplog.records == []
        for start in range(100, 400, 50):
            deduper.add_new([f"{i:024x}" for i in range(start, start + 50)])
    assert [r.getMessage() for r in caplog.records] == [dedupe_plain.HINT]
    assert "bulkdel[large]" in dedupe_plain.HINT
    deduper.close()
