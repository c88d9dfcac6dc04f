"""The de-duplication's heavy work (growth, spill, merge, filter rebuild) goes in steps, and
``add_new_async`` lets the loop's other tasks run between them: with numpy and without."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings

from bulkdel import BulkDeleter, Settings
from bulkdel._engine import (
    dedupe_numpy,
    dedupe_plain,
    dedupe_plain_runs,
    dedupe_runs,
    dedupe_table,
)
from bulkdel.engine import reader
from bulkdel.testing import FakeImageKit
from tests.engine.test_dedupe import SMALL, AnyDeduper, chunk_lists
from tests.helpers import KEY, hex_ids

SPREAD = [f"{i * 0x9E3779B97F4A7C15 % (1 << 96):024x}" for i in range(3000)]


class Impl(NamedTuple):
    """One de-duplication, its runs' module, the steps it takes, and how to make it grow."""

    deduper: type[AnyDeduper]
    runs: ModuleType
    steps: tuple[str, ...]
    growing: dict[str, int]


NUMPY = Impl(
    dedupe_numpy.Deduper,
    dedupe_runs,
    ("resized", "_write", "_rebuild_bloom"),
    {"first_table": 4},
)
PLAIN = Impl(dedupe_plain.Deduper, dedupe_plain_runs, ("_write", "_rebuild_bloom"), {})
IMPLS = pytest.mark.parametrize("impl", [NUMPY, PLAIN], ids=["numpy", "plain"])


def _log_steps(monkeypatch: pytest.MonkeyPatch, log: list[str], impl: Impl = NUMPY) -> None:
    """Each step of a growth, a write (a spill's or a merge's) and a rebuild goes in ``log``
    under its name, as it is taken."""

    def wrap(owner: Any, name: str) -> None:
        real: Callable[..., Iterator[Any]] = getattr(owner, name)

        def logged(*args: Any, **kwargs: Any) -> Any:
            steps = real(*args, **kwargs)
            while True:
                log.append(name)
                try:
                    next(steps)
                except StopIteration as done:
                    return done.value
                yield

        monkeypatch.setattr(owner, name, logged)

    wrap(impl.runs.Runs, "_write")
    wrap(impl.deduper, "_rebuild_bloom")
    if impl is NUMPY:
        wrap(dedupe_table.MemTable, "resized")


async def _ticking(log: list[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        log.append("tick")
        await asyncio.sleep(0)


def _ticks_between(log: list[str], name: str) -> int:
    """Ticks logged after the first step named ``name`` and before its last one."""
    first = log.index(name)
    last = len(log) - 1 - log[::-1].index(name)
    return log[first:last].count("tick")


@IMPLS
@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=chunk_lists())
def test_async_answers_as_a_set(tmp_path: Path, impl: Impl, chunks: list[list[str]]) -> None:
    """``add_new_async`` gives the answers of a set across growth, spills and merges."""

    async def check() -> None:
        growing = {k: min(v, 2) for k, v in impl.growing.items()}
        deduper = impl.deduper(tmp_path, **{**SMALL, "memtable": 16}, **growing)
        seen: set[str] = set()
        try:
            for chunk in chunks:
                expected = []
                for value in chunk:
                    expected.append(value not in seen)
                    seen.add(value)
                assert await deduper.add_new_async(chunk) == expected
            assert len(deduper) == len(seen)
        finally:
            deduper.close()

    asyncio.run(check())


@IMPLS
async def test_other_tasks_run_between_the_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, impl: Impl
) -> None:
    """A task of the loop runs between the steps of the table's growth, of a run's write
    (a spill, a merge) and of the Bloom filter's rebuild."""
    log: list[str] = []
    _log_steps(monkeypatch, log, impl)
    deduper = impl.deduper(
        tmp_path, memtable=256, block=4, fanout=2, bloom_capacity=8, step=16, **impl.growing
    )
    stop = asyncio.Event()
    ticker = asyncio.ensure_future(_ticking(log, stop))
    try:
        for start in range(0, len(SPREAD), 100):
            assert await deduper.add_new_async(SPREAD[start : start + 100]) == [True] * 100
        assert await deduper.add_new_async(SPREAD[::7]) == [False] * len(SPREAD[::7])
    finally:
        stop.set()
        await ticker
        deduper.close()
    for name in impl.steps:
        assert log.count(name) > 2, name
        assert _ticks_between(log, name) > 0, name


@IMPLS
async def test_a_cancelled_spill_leaves_no_run_open(tmp_path: Path, impl: Impl) -> None:
    """Cancelled between two steps of a spill, ``add_new_async`` closes the run it was
    writing; ``close`` closes the rest; a further add is refused, not answered wrongly."""
    written: list[Any] = []
    real_write = impl.runs.Runs._write

    def write(self: Any, parts: Any, level: int) -> Any:
        steps = real_write(self, parts, level)
        written.append(steps)
        return (yield from steps)

    growing = {k: 64 for k in impl.growing}
    deduper = impl.deduper(tmp_path, memtable=64, step=4, **growing)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(impl.runs.Runs, "_write", write)
        assert await deduper.add_new_async(SPREAD[:64]) == [True] * 64
        task = asyncio.ensure_future(deduper.add_new_async(SPREAD[64:70]))
        while not written:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert written[0].gi_frame is None  # closed, its file with it (else a ResourceWarning)
    with pytest.raises(RuntimeError, match="close it"):
        deduper.add_new(SPREAD[:1])
    deduper.close()


@IMPLS
async def test_a_run_hands_the_loop_back_and_counts_every_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, impl: Impl
) -> None:
    """A dry run whose table grows and spills: the reader's steps let the loop's other
    tasks run, and the report counts every id and every repeat."""
    log: list[str] = []
    _log_steps(monkeypatch, log, impl)
    small = partial(impl.deduper, memtable=256, block=4, step=16, **impl.growing)
    monkeypatch.setattr(reader, "Deduper", small)
    ids = [*SPREAD, *SPREAD[::10], *hex_ids(5, start=1)]
    stop = asyncio.Event()
    ticker = asyncio.ensure_future(_ticking(log, stop))
    async with FakeImageKit(KEY) as server:
        settings = Settings(base_url=server.url, dry_run=True)
        report = await BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "r").run(ids)
    stop.set()
    await ticker
    assert report.counts.unique == 3005
    assert report.counts.duplicate == 300
    for name in impl.steps[:-1]:  # a 3,305-id run is too short for a filter's rebuild
        assert _ticks_between(log, name) > 0, name


@IMPLS
async def test_aclose_frees_the_runs_between_ticks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, impl: Impl
) -> None:
    """``aclose`` frees the runs' files a step at a time, other tasks running between the
    steps, and closes every one."""
    monkeypatch.setattr(impl.runs, "FREE_STEP", 120)
    growing = {k: 64 for k in impl.growing}
    deduper = impl.deduper(tmp_path, memtable=64, fanout=8, **growing)
    for start in range(0, 640, 32):
        await deduper.add_new_async(SPREAD[start : start + 32])
    runs = list(deduper._runs.runs)
    assert len(runs) > 1
    log: list[str] = []
    stop = asyncio.Event()
    ticker = asyncio.ensure_future(_ticking(log, stop))
    real = impl.runs.os.ftruncate

    def truncate(fd: int, size: int) -> None:
        log.append("free")
        real(fd, size)

    monkeypatch.setattr(impl.runs.os, "ftruncate", truncate)
    await deduper.aclose()
    stop.set()
    await ticker
    assert all(run.handle.closed for run in runs)
    assert deduper.spilled_runs == 0
    assert log.count("free") > 2
    assert _ticks_between(log, "free") > 0
