"""De-duplication in bounded memory is exact: it answers as a plain ``set`` would, with numpy
(the ``large`` extra) and without it (the plain install)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkdel.dedupe import Deduper as SwitchingDeduper
from bulkdel.dedupe import numpy_runs
from bulkdel.dedupe.numpy_deduper import NumpyDeduper as Deduper
from bulkdel.dedupe.plain_deduper import PlainDeduper

HEX = "0123456789abcdef"
hex_ids = st.text(st.sampled_from(HEX), min_size=24, max_size=24)
other_ids = st.one_of(
    st.text(st.sampled_from(HEX + "ABCDEF_-xz"), min_size=1, max_size=30),
    st.text(st.sampled_from(HEX + "A"), min_size=24, max_size=24),  # upper case is not hex
    st.text(st.sampled_from(HEX), min_size=23, max_size=25),
)
#: a small pool, so that chunks repeat ids within themselves and across chunks
pools = st.lists(st.one_of(hex_ids, hex_ids, hex_ids, other_ids), min_size=1, max_size=60)
SMALL = {"memtable": 8, "block": 2, "fanout": 2, "bloom_capacity": 4, "step": 3}
#: both de-duplications: the numpy one and the plain install's
IMPLS = pytest.mark.parametrize("impl", [Deduper, PlainDeduper], ids=["numpy", "plain"])
AnyDeduper = Deduper | PlainDeduper | SwitchingDeduper


def _chunks(draw: st.DrawFn) -> list[list[str]]:
    pool = draw(pools)
    return draw(st.lists(st.lists(st.sampled_from(pool), max_size=30), max_size=25))


@st.composite
def chunk_lists(draw: st.DrawFn) -> list[list[str]]:
    return _chunks(draw)


def _check(deduper: AnyDeduper, chunks: list[list[str]]) -> None:
    seen: set[str] = set()
    for chunk in chunks:
        expected = []
        for value in chunk:
            expected.append(value not in seen)
            seen.add(value)
        assert deduper.add_new(chunk) == expected, chunk
    assert len(deduper) == len(seen)


@IMPLS
@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunks=chunk_lists())
def test_exact_like_a_set_across_spills_and_merges(
    tmp_path: Path, impl: type[AnyDeduper], chunks: list[list[str]]
) -> None:
    """Mixes of hex and other ids with repeats, in a table of 8 that spills and merges."""
    deduper = impl(tmp_path, **SMALL)
    try:
        _check(deduper, chunks)
    finally:
        deduper.close()


@pytest.fixture
def weak_hash(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A hash with 8 values: most different keys share one, as a 64-bit hash never shows."""
    real = numpy_runs.mix

    def weak(hi: numpy_runs.U64, lo: numpy_runs.U64) -> numpy_runs.U64:
        return real(hi, lo) & np.uint64(0xE000_0000_0000_0007)

    monkeypatch.setattr(numpy_runs, "mix", weak)
    yield


@settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunks=chunk_lists())
def test_exact_when_different_keys_share_a_hash(
    tmp_path: Path, weak_hash: None, chunks: list[list[str]]
) -> None:
    """Equal hashes (in one chunk, in the table, straddling fences on disk) are told apart by
    the whole key."""
    deduper = Deduper(tmp_path, **SMALL)
    try:
        _check(deduper, chunks)
    finally:
        deduper.close()


@IMPLS
def test_spills_merge_into_few_runs(tmp_path: Path, impl: type[AnyDeduper]) -> None:
    """Thousands of ids through a table of 16: runs merge by level; repeats are found on
    disk and a chunk larger than the table is split."""
    deduper = impl(tmp_path, memtable=16, block=4, fanout=4, bloom_capacity=8, step=5)
    ids = [f"{i * 0x9E3779B97F4A7C15 % (1 << 96):024x}" for i in range(5000)]
    assert deduper.add_new(ids[:2500]) == [True] * 2500
    assert deduper.add_new(ids[2500:]) == [True] * 2500
    assert 0 < deduper.spilled_runs <= 3 * 4
    assert deduper.add_new(ids[::7]) == [False] * len(ids[::7])
    assert deduper.is_new("X")
    assert not deduper.is_new("X")
    assert deduper.add_new([]) == []
    assert len(deduper) == 5001
    deduper.close()
    deduper.close()
    assert list(tmp_path.iterdir()) == []  # the runs were never named in the directory


@IMPLS
def test_ids_equal_as_numbers_are_different_ids(impl: type[AnyDeduper]) -> None:
    """Leading zeros and case make different ids."""
    deduper = impl()
    values = ["0", "00", "000a", "a", "0a", "A", "0A", "f" * 64, "0" + "f" * 63]
    values += ["0" * 24, "0" * 23 + "A", "0" * 23 + "a", " 0" + "0" * 22]
    assert deduper.add_new(values) == [True] * len(values)
    assert deduper.add_new(["00", "0" * 24, "0" * 23 + "a"]) == [False] * 3
    assert deduper.add_new(["g" * 24, "0" * 24, "g" * 24]) == [True, False, False]


def test_warming_the_table_takes_its_steps_and_changes_no_answer() -> None:
    """``warm`` faults the table in over ``parts`` steps; the ids are then found as before."""
    dedupe = Deduper(None, memtable=1 << 10)
    assert sum(1 for _ in dedupe.warm(8)) == 8
    ids = [f"{i:024x}" for i in range(300)]
    assert dedupe.add_new(ids + ids[:5]) == [True] * 300 + [False] * 5
    dedupe.close()


@settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunks=chunk_lists())
def test_exact_while_the_table_grows(tmp_path: Path, chunks: list[list[str]]) -> None:
    """A table that starts at 2 keys and doubles to 16 before it spills answers as a set."""
    deduper = Deduper(tmp_path, **{**SMALL, "memtable": 16}, first_table=2)
    try:
        _check(deduper, chunks)
    finally:
        deduper.close()


def peak_of_ten_ids(deduper: AnyDeduper) -> int:
    """Bytes allocated at the peak while ``deduper`` takes ten new ids."""
    tracemalloc.start()
    try:
        assert deduper.add_new([f"{i:024x}" for i in range(10)]) == [True] * 10
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_a_short_input_allocates_a_small_table() -> None:
    """Ten ids allocate well under a MiB (a table for 262,144 keys is 14 MiB); the table
    grows with the input, up to its full size, and then spills."""
    deduper = Deduper()
    assert peak_of_ten_ids(deduper) < 1 << 20
    assert deduper.table_size < 1 << 18
    ids = [f"{i * 0x9E3779B97F4A7C15 % (1 << 96):024x}" for i in range(1, 300_001)]
    assert deduper.add_new(ids) == [True] * len(ids)
    assert deduper.table_size == 1 << 18
    assert deduper.spilled_runs == 1
    assert deduper.add_new(ids[::1000]) == [False] * 300
    deduper.close()
