"""The de-duplication's heavy work (growth, spill, merge, filter rebuild) goes in steps, and
``add_new_async`` lets the loop's other tasks run between them: with numpy and without."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings

from bulkdel import BulkDeleter, Settings
from bulkdel.dedupe import numpy_runs, numpy_table, plain_runs, run_files
from bulkdel.dedupe.numpy_deduper import NumpyDeduper
from bulkdel.dedupe.plain_deduper import PlainDeduper
from bulkdel.engine import reader
from tests.dedupe.test_exact import SMALL, AnyDeduper, chunk_lists
from tests.helpers import KEY, MakeFake, hex_ids

SPREAD = [f"{i * 0x9E3779B97F4A7C15 % (1 << 96):024x}" for i in range(3000)]


class Impl(NamedTuple):
    """One de-duplication, its runs' module, the steps it takes, and how to make it grow."""

    deduper: type[AnyDeduper]
    runs: ModuleType
    steps: tuple[str, ...]
    growing: dict[str, int]


NUMPY = Impl(
    NumpyDeduper,
    numpy_runs,
    ("resized", "_write", "_rebuild_bloom"),
    {"first_table": 4},
)
PLAIN = Impl(PlainDeduper, plain_runs, ("_write", "_rebuild_bloom"), {})
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
        wrap(numpy_table.MemTable, "resized")


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
@settings(
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
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


async def cancel_once_started(add: Coroutine[Any, Any, list[bool]], started: list[Any]) -> None:
    """Run ``add`` until ``started`` has an item (its heavy work began), then cancel it."""
    task = asyncio.ensure_future(add)
    while not started:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@IMPLS
async def test_a_cancelled_spill_leaves_no_run_open(tmp_path: Path, impl: Impl) -> None:
    """Cancelled between two steps of a spill, ``add_new_async`` closes the run it was
    writing; ``close`` closes the rest; a further add, sync or async, is refused, not answered
    wrongly."""
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
        await cancel_once_started(deduper.add_new_async(SPREAD[64:70]), written)
    assert written[0].gi_frame is None  # closed, its file with it (else a ResourceWarning)
    with pytest.raises(RuntimeError, match="close it"):
        deduper.add_new(SPREAD[:1])
    with pytest.raises(RuntimeError, match="close it"):  # its steps would be a broken spill's
        await deduper.add_new_async(SPREAD[70:200])
    deduper.close()


@IMPLS
async def test_a_run_hands_the_loop_back_and_counts_every_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, impl: Impl, make_fake: MakeFake
) -> None:
    """A dry run whose table grows and spills: the reader's steps let the loop's other
    tasks run, and the report counts every id and every repeat."""
    log: list[str] = []
    _log_steps(monkeypatch, log, impl)
    small = partial(impl.deduper, memtable=256, block=4, step=16, **impl.growing)
    # the reader's ``Deduper`` takes its input's size too: ids from a list tell none
    monkeypatch.setattr(reader, "Deduper", lambda spill_dir, expected: small(spill_dir))
    ids = [*SPREAD, *SPREAD[::10], *hex_ids(5, start=1)]
    stop = asyncio.Event()
    ticker = asyncio.ensure_future(_ticking(log, stop))
    server = await make_fake()
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
    monkeypatch.setattr(run_files, "FREE_STEP", 120)
    growing = {k: 64 for k in impl.growing}
    deduper = impl.deduper(tmp_path, memtable=64, fanout=8, **growing)
    for start in range(0, 640, 32):
        await deduper.add_new_async(SPREAD[start : start + 32])
    runs = list(deduper._runs.runs)
    assert len(runs) > 1
    log: list[str] = []
    stop = asyncio.Event()
    ticker = asyncio.ensure_future(_ticking(log, stop))
    real = run_files.os.ftruncate

    def truncate(fd: int, size: int) -> None:
        log.append("free")
        real(fd, size)

    monkeypatch.setattr(run_files.os, "ftruncate", truncate)
    await deduper.aclose()
    stop.set()
    await ticker
    assert all(run.handle.closed for run in runs)
    assert deduper.spilled_runs == 0
    assert log.count("free") > 2
    assert _ticks_between(log, "free") > 0
