"""The plain install's de-duplication (no numpy): what differs from the numpy one inside
answers the same; past 5M ids it names the ``large`` extra once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bulkdel.dedupe import plain_deduper
from bulkdel.dedupe.plain_deduper import PlainDeduper as Deduper
from tests.dedupe.test_exact import SMALL, _check, chunk_lists, peak_of_ten_ids


@settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunks=chunk_lists())
def test_exact_when_the_bloom_filter_always_says_maybe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[list[str]]
) -> None:
    """A filter that never rules a key out: every new key is looked for in every run on disk,
    and only the runs answer."""
    monkeypatch.setattr(plain_deduper, "_MASKS", (0,) * len(plain_deduper._MASKS))
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
    monkeypatch.setattr(plain_deduper, "_MASKS", (0,) * len(plain_deduper._MASKS))
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
    deduper = Deduper()
    assert peak_of_ten_ids(deduper) < 1 << 20
    assert deduper.spilled_runs == 0
    deduper.close()


def test_past_the_hint_threshold_the_extra_is_named_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """One warning naming ``bulkdel[large]`` when the ids seen pass the threshold; no more."""
    monkeypatch.setattr(plain_deduper, "HINT_AT", 100)
    deduper = Deduper()
    with caplog.at_level(logging.WARNING, logger="bulkdel.dedupe"):
        deduper.add_new([f"{i:024x}" for i in range(100)])
        assert _dedupe_lines(caplog) == []
        for start in range(100, 400, 50):
            deduper.add_new([f"{i:024x}" for i in range(start, start + 50)])
    assert _dedupe_lines(caplog) == [plain_deduper.HINT]
    assert "bulkdel[large]" in plain_deduper.HINT
    deduper.close()


def _dedupe_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What ``bulkdel.dedupe`` logged (not another logger's: a task an earlier test left
    pending may be collected, and asyncio says so, at any moment)."""
    return [r.getMessage() for r in caplog.records if r.name == "bulkdel.dedupe"]
