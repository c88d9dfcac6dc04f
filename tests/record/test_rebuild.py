"""``report_from_journal``: the report of a whole job, rebuilt from its journal alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings, UsageError
from bulkdel.engine.sources import open_files
from bulkdel.models import INTERRUPTED_UNKNOWN, Abort, AbortReason
from bulkdel.record.journal.rebuild import report_from_journal
from bulkdel.testing import Faults
from tests.helpers import KEY, MakeFake, check_report_dir, hex_ids, read_jsonl, read_lines

FAST = {"backoff_base": 0.001, "backoff_max": 0.01}


def write_input(path: Path, ids: list[str]) -> Path:
    """The ids, one a line, then a bad line and a repeat of the first id."""
    path.write_text("".join(i + "\n" for i in ids) + "not an id!\n" + ids[0] + "\n")
    return path


async def test_rebuilt_report_equals_the_report_of_the_run(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """Every bucket, the invalid line and the repeat come back from the journal as the run
    reported them; a finished job is complete."""
    ids = hex_ids(130)
    locked = frozenset(ids[:3])
    source = write_input(tmp_path / "ids.txt", ids)
    faults = Faults(permanent_errors=locked)
    server = await make_fake(existing=ids[:120], faults=faults)
    settings = Settings(base_url=server.url, max_attempts=1, **FAST)
    deleter = BulkDeleter(
        KEY, settings=settings, report_dir=tmp_path / "run", journal=tmp_path / "j"
    )
    ran = await deleter.run(files=open_files([str(source)]))
    rebuilt = report_from_journal(tmp_path / "j", tmp_path / "rebuilt")
    summary = check_report_dir(tmp_path / "rebuilt")
    assert rebuilt.counts == ran.counts
    assert summary["counts"] == check_report_dir(tmp_path / "run")["counts"]
    assert summary["counts"]["failed"] == 3
    assert summary["counts"]["missing"] == 10
    assert summary["complete"] is True and summary["aborted"] is None
    assert summary["journal"]["runs"] == 1
    assert summary["journal"]["in_flight_unknown"] == 0
    for name in ("deleted.txt", "missing.txt", "duplicates.txt"):
        run_lines = read_lines(tmp_path / "run" / name)
        assert sorted(read_lines(tmp_path / "rebuilt" / name)) == sorted(run_lines), name
    assert {r["fileId"] for r in read_jsonl(tmp_path / "rebuilt" / "failed.jsonl")} == locked
    invalid = read_jsonl(tmp_path / "rebuilt" / "invalid.jsonl")
    assert [(r["line"], r["value"]) for r in invalid] == [(131, "not an id!")]


async def test_a_stopped_job_rebuilds_as_incomplete_with_ids_not_attempted(
    tmp_path: Path,
) -> None:
    """A job stopped before sending anything: its ids are not attempted, the report is not
    complete and says why it stopped."""
    source = write_input(tmp_path / "ids.txt", hex_ids(50))
    deleter = BulkDeleter(
        KEY, settings=Settings(base_url="http://127.0.0.1:9"), journal=tmp_path / "j"
    )
    deleter.stop(Abort(AbortReason.INTERRUPTED, "SIGINT"))
    ran = await deleter.run(files=open_files([str(source)]))
    assert ran.counts.not_attempted == 50
    rebuilt = report_from_journal(tmp_path / "j", tmp_path / "rebuilt")
    summary = check_report_dir(tmp_path / "rebuilt")
    assert rebuilt.counts.not_attempted == 50
    assert summary["complete"] is False
    assert summary["aborted"] == "interrupted by SIGINT"
    assert sorted(read_lines(tmp_path / "rebuilt" / "not_attempted.txt")) == hex_ids(50)


async def test_ids_left_in_flight_rebuild_as_outcome_unknown_and_counted(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """A run cancelled with a request on the wire: the journal keeps that batch in flight,
    and the rebuilt report counts it as in flight and failed with the run's own label,
    "outcome unknown" (never "not attempted": the server may have deleted it)."""
    source = write_input(tmp_path / "ids.txt", hex_ids(300))
    server = await make_fake(faults=Faults(latency=5.0))
    settings = Settings(base_url=server.url, concurrency=1, batch_size=10, **FAST)
    deleter = BulkDeleter(KEY, settings=settings, journal=tmp_path / "j")
    task = asyncio.ensure_future(deleter.run(files=open_files([str(source)])))
    while server.stats.in_flight == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rebuilt = report_from_journal(tmp_path / "j", tmp_path / "rebuilt")
    summary = check_report_dir(tmp_path / "rebuilt")
    assert summary["journal"]["in_flight_unknown"] == 10
    assert rebuilt.counts.deleted == 0
    assert rebuilt.counts.failed == 10
    assert rebuilt.counts.unique == rebuilt.counts.not_attempted + 10
    failed = read_jsonl(tmp_path / "rebuilt" / "failed.jsonl")
    assert {r["error"] for r in failed} == {INTERRUPTED_UNKNOWN}
    assert summary["complete"] is False


def test_a_file_that_is_not_a_journal_is_a_usage_error(tmp_path: Path) -> None:
    """Rebuilding from a file that is not a journal, or from nothing, is a usage error."""
    not_journal = tmp_path / "ids.txt"
    not_journal.write_text("x" * 5000)
    with pytest.raises(UsageError, match="is not a bulkdel journal"):
        report_from_journal(not_journal, tmp_path / "r1")
    with pytest.raises(UsageError, match="no such journal"):
        report_from_journal(tmp_path / "absent", tmp_path / "r2")
    assert not (tmp_path / "r1" / "summary.json").exists()
