"""``Deduper`` answers with the plain de-duplication while the input is short and moves to
numpy's where the plain one would first spill: numpy is not imported before that, and the
answers are a set's throughout."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from bulkdel.dedupe import Deduper, plain_deduper, switching
from bulkdel.dedupe.numpy_deduper import NumpyDeduper
from tests.dedupe.test_exact import SMALL, _check, chunk_lists
from tests.dedupe.test_off_loop import cancel_once_started
from tests.helpers import hex_ids, write_ids

ROOT = Path(__file__).resolve().parents[2]
#: imports the de-duplication, runs a short input through a ``Deduper`` (sync and async),
#: and says whether numpy was imported
SHORT_RUN = """
import asyncio, sys
from bulkdel.dedupe import Deduper
ids = [f"{i:024x}" for i in range(1000)] + ["file_1", "file_1"]
deduper = Deduper()
assert deduper.add_new(ids[:500]) == [True] * 500
assert asyncio.run(deduper.add_new_async(ids)) == [False] * 500 + [True] * 501 + [False]
asyncio.run(deduper.aclose())
print("numpy" in sys.modules)
"""
#: a short dry run from the command line, saying at exit whether numpy was imported
SHORT_DRY_RUN = """
import atexit, runpy, sys
atexit.register(lambda: print("numpy loaded:", "numpy" in sys.modules, file=sys.stderr))
sys.argv[0] = "bulkdel"
runpy.run_module("bulkdel", run_name="__main__", alter_sys=True)
"""


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, *args]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_a_short_input_never_imports_numpy() -> None:
    """Importing ``bulkdel.dedupe`` and de-duplicating a thousand ids leave numpy out of
    ``sys.modules`` (numpy is installed here: the test extras take it)."""
    assert _python("-c", "import numpy").returncode == 0
    assert _python("-c", "import bulkdel.dedupe, sys; print('numpy' in sys.modules)").stdout == (
        "False\n"
    )
    assert _python("-c", SHORT_RUN).stdout == "False\n"


def test_a_short_dry_run_never_imports_numpy(tmp_path: Path) -> None:
    """``bulkdel delete FILE --dry-run`` of a thousand ids: numpy is never imported."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(1000))
    args = ["delete", str(source), "--dry-run", "--report-dir", str(tmp_path / "r"), "--json"]
    assert "numpy loaded: False" in _python("-c", SHORT_DRY_RUN, *args).stderr


@settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chunks=chunk_lists())
def test_exact_like_a_set_across_the_move(tmp_path: Path, chunks: list[list[str]]) -> None:
    """Past 6 ids numpy's takes the plain one's memory; the answers are a set's before,
    across and after the move (and its spills)."""
    deduper = Deduper(tmp_path, switch_at=6, use_numpy=True, numpy_options=SMALL)
    try:
        _check(deduper, chunks)
        assert deduper.uses_numpy or len(deduper) <= 6
    finally:
        deduper.close()


def test_the_move_comes_when_the_plain_one_would_spill(tmp_path: Path) -> None:
    """Up to ``switch_at`` ids the plain one answers and never spills; the chunk that would
    pass it moves them to numpy's, which finds the earlier ones."""
    deduper = Deduper(tmp_path, switch_at=100, use_numpy=True)
    ids = hex_ids(150)
    assert deduper.add_new([*ids[:99], "file_a"]) == [True] * 100
    assert not deduper.uses_numpy
    assert deduper.spilled_runs == 0
    assert deduper.add_new([ids[100], ids[0], "file_a"]) == [True, False, False]
    assert deduper.uses_numpy
    assert deduper.add_new(ids) == [False] * 99 + [True] + [False] + [True] * 49
    assert len(deduper) == 151
    deduper.close()


def test_without_numpy_the_plain_one_spills_and_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``use_numpy=False`` (a plain install): no move, the plain one spills and names the
    extra once; with the move due, it never does."""
    monkeypatch.setattr(plain_deduper, "HINT_AT", 50)
    ids = hex_ids(300)
    with caplog.at_level(logging.WARNING, logger="bulkdel.dedupe"):
        moving = Deduper(tmp_path, switch_at=100, use_numpy=True)
        assert moving.add_new(ids[:100]) == [True] * 100
        assert _dedupe_lines(caplog) == []
        plain = Deduper(tmp_path, use_numpy=False, plain_options={"memtable": 16})
        assert plain.add_new(ids) == [True] * 300
        assert plain.add_new(ids[::3]) == [False] * 100
    assert not plain.uses_numpy
    assert plain.spilled_runs > 0
    assert _dedupe_lines(caplog) == [plain_deduper.HINT]
    moving.close()
    plain.close()


def test_numpy_found_but_broken_leaves_the_plain_one_answering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy's de-duplication fails to import at the move: the plain one goes on, spills,
    and answers as a set."""
    monkeypatch.setitem(sys.modules, "bulkdel.dedupe.numpy_deduper", None)  # ImportError
    deduper = Deduper(tmp_path, switch_at=16, use_numpy=True)
    ids = hex_ids(200)
    assert deduper.add_new(ids) == [True] * 200
    assert deduper.add_new(ids[::2]) == [False] * 100
    assert not deduper.uses_numpy
    assert deduper.spilled_runs > 0
    deduper.close()


async def test_the_move_hands_the_loop_back_and_survives_a_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The move takes steps, other tasks running between them; cancelled, it leaves the
    plain one answering, and the next call moves again."""
    steps: list[str] = []
    real = NumpyDeduper.take_keys

    def take_keys(self: NumpyDeduper, *args: Any) -> Any:
        for _ in real(self, *args):
            steps.append("step")
            yield

    monkeypatch.setattr(NumpyDeduper, "take_keys", take_keys)
    options = {"step": 4}
    deduper = Deduper(tmp_path, switch_at=64, use_numpy=True, numpy_options=options)
    ids = hex_ids(100)
    assert await deduper.add_new_async(ids[:64]) == [True] * 64
    await cancel_once_started(deduper.add_new_async(ids[64:70]), steps)
    assert not deduper.uses_numpy
    assert await deduper.add_new_async(ids[60:70]) == [False] * 4 + [True] * 6
    assert deduper.uses_numpy
    assert steps.count("step") > 16  # 64 keys, 4 a step, twice over
    await deduper.aclose()


def test_an_input_known_to_be_long_starts_with_numpys(tmp_path: Path) -> None:
    """A size told up front past the switch: numpy's answers from the first id, so the run
    never moves the plain one's memory midway; a short or unknown size starts plain."""
    ids = hex_ids(50)
    long = Deduper(tmp_path, switch_at=100, expected=101)
    assert long.add_new(ids + ids[:1]) == [True] * 50 + [False]
    assert long.uses_numpy  # from the first add, 51 ids under the switch
    long.close()
    for expected in (None, 100):
        assert not Deduper(tmp_path, switch_at=100, expected=expected).uses_numpy
    assert not Deduper(tmp_path, switch_at=100, use_numpy=False, expected=10**6).uses_numpy


def test_a_long_dry_run_from_a_file_starts_with_numpys(tmp_path: Path) -> None:
    """The command line tells the de-duplication its file's size: a file of lines past the
    switch imports numpy up front, even though its 1,000 distinct ids alone would never have
    moved there; the answers are the same."""
    repeats = switching.SWITCH_AT // 1000 + 10
    source = write_ids(tmp_path / "ids.txt", hex_ids(1000) * repeats)
    args = ["delete", str(source), "--dry-run", "--report-dir", str(tmp_path / "r"), "--json"]
    done = _python("-c", SHORT_DRY_RUN, *args)
    assert "numpy loaded: True" in done.stderr
    counts = json.loads(done.stdout)["counts"]
    assert (counts["unique"], counts["duplicate"]) == (1000, (repeats - 1) * 1000)


async def test_numpy_is_imported_off_the_callers_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenth of a second of import would hold a service's loop: the move awaits it in a
    thread, and constructing the de-duplication imports nothing."""
    threaded: list[str] = []
    to_thread = asyncio.to_thread

    async def spy(function: Any, *args: Any) -> Any:
        threaded.append(function.__name__)
        return await to_thread(function, *args)

    monkeypatch.setattr(switching.asyncio, "to_thread", spy)
    long = Deduper(tmp_path, switch_at=100, expected=101)
    assert not long.uses_numpy and threaded == []
    assert await long.add_new_async(hex_ids(3)) == [True] * 3
    assert long.uses_numpy and threaded == ["_import_numpy_deduper"]
    await long.aclose()


def _dedupe_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What ``bulkdel.dedupe`` logged (not another logger's: a task an earlier test left
    pending may be collected, and asyncio says so, at any moment)."""
    return [r.getMessage() for r in caplog.records if r.name == "bulkdel.dedupe"]
