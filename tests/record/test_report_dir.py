"""A report directory holds one run: nothing a user does with ``--report-dir`` destroys or
mixes an earlier record (issue 24, items 1 and 2)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings
from bulkdel.cli.settings import make_default_report_dir
from bulkdel.errors import UsageError
from bulkdel.record.report import ReportWriter
from bulkdel.testing import FakeImageKit
from tests.helpers import (
    KEY,
    MakeServed,
    ThreadedServer,
    check_report_dir,
    delete_args,
    hex_ids,
    read_lines,
    run_cli,
    write_ids,
)


def deletes(server: FakeImageKit) -> int:
    return server.stats.requests - server.stats.list_requests


def test_retrying_from_a_report_into_the_same_directory_keeps_the_list(
    tmp_path: Path, make_served: MakeServed
) -> None:
    """`delete rr/not_attempted.txt --report-dir rr`: refused (exit 2, one line naming the
    option), the list intact, nothing sent."""
    ids = hex_ids(40)
    report = tmp_path / "rr"
    report.mkdir()
    retry = write_ids(report / "not_attempted.txt", ids)
    threaded = make_served(existing=ids)
    server = threaded.server
    result = run_cli(delete_args(retry, threaded.url, report))
    assert deletes(server) == 0
    assert result.returncode == 2, result.stderr
    assert read_lines(retry) == ids
    (line,) = result.stderr.strip().splitlines()
    assert "not_attempted.txt" in line and "--report-dir" in line and "copy it" in line


def test_an_earlier_report_is_never_overwritten(tmp_path: Path, make_served: MakeServed) -> None:
    """A second run into a directory that holds a report: exit 2, the first report as it
    was, nothing sent; a new (or empty) directory works."""
    first, second = hex_ids(30), hex_ids(30, start=100)
    threaded = make_served(existing=[*first, *second])
    server = threaded.server
    report = tmp_path / "r"
    ok = run_cli(delete_args(write_ids(tmp_path / "a.txt", first), threaded.url, report))
    assert ok.returncode == 0, ok.stderr
    before = {p.name: p.read_bytes() for p in report.iterdir()}
    sent = deletes(server)
    again = run_cli(delete_args(write_ids(tmp_path / "b.txt", second), threaded.url, report))
    assert deletes(server) == sent
    empty = tmp_path / "empty"
    empty.mkdir()
    fresh = run_cli(delete_args(tmp_path / "b.txt", threaded.url, empty))
    assert again.returncode == 2
    (line,) = again.stderr.strip().splitlines()
    assert "--report-dir" in line and "is not empty" in line and "one run" in line
    assert {p.name: p.read_bytes() for p in report.iterdir()} == before
    assert fresh.returncode == 0, fresh.stderr
    assert sorted(read_lines(empty / "deleted.txt")) == second


@pytest.mark.parametrize("value", ["--report-dir=", "--report-dir=."])
def test_an_empty_report_dir_is_refused(tmp_path: Path, value: str) -> None:
    """`--report-dir=` (an unset variable) never writes into the working directory."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(5))
    result = run_cli(["delete", str(source), value, "--dry-run"], cwd=tmp_path)
    assert result.returncode == 2
    # '' is refused by the parser as every empty option value is, '.' by the report's rule
    assert result.stderr.count("\n") == 1 and "--report-dir" in result.stderr, result.stderr
    assert ("empty or '.'" in result.stderr) or ("needs a value, got ''" in result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt"]


def test_default_report_dirs_of_the_same_second_are_distinct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs started in the same second each get a directory of their own."""
    monkeypatch.chdir(tmp_path)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    made = [make_default_report_dir(now) for _ in range(3)]
    assert [p.name for p in made] == [
        "bulkdel-report-20260101T000000Z",
        "bulkdel-report-20260101T000000Z-2",
        "bulkdel-report-20260101T000000Z-3",
    ]
    assert all(p.is_dir() and not any(p.iterdir()) for p in made)


def test_a_refused_run_leaves_no_empty_default_directory(tmp_path: Path) -> None:
    """A run refused before its report began (here: no key) leaves nothing behind."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(5))
    result = run_cli(["delete", str(source)], key=None, cwd=tmp_path)
    assert result.returncode == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt"]


def test_two_writers_cannot_share_a_fresh_directory(tmp_path: Path) -> None:
    """The lists of a fresh report are created exclusively: a second writer that passed the
    emptiness check a moment too early is still refused."""
    directory = tmp_path / "r"
    first = ReportWriter(directory, fresh=True)
    try:
        (directory / "deleted.txt").unlink()  # make the check pass; the files still clash
        with pytest.raises(UsageError) as raised:
            ReportWriter(directory, fresh=True)
    finally:
        first.close()
    assert raised.value.parameter == "report_dir"


async def test_the_library_refuses_a_directory_holding_a_report(tmp_path: Path) -> None:
    """``BulkDeleter(report_dir=...)``: the same rule, before anything is sent."""
    server = FakeImageKit(KEY)
    url = await server.start()
    try:
        settings = Settings(base_url=url)
        await BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "r").run(hex_ids(5))
        with pytest.raises(UsageError, match="is not empty"):
            await BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "r").run(hex_ids(5))
        assert deletes(server) == 1
    finally:
        await server.stop()


def test_a_resumed_journal_reuses_its_own_directory_only(tmp_path: Path) -> None:
    """A run resumed with its journal may write into the directory that journal's job wrote
    (the report covers the whole job); another job's journal may not; an input that is one
    of the report's files is refused even then."""
    ids = hex_ids(50)
    source = write_ids(tmp_path / "ids.txt", ids)
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids))
    with threaded:
        journal = ["--journal", str(tmp_path / "j")]
        report = tmp_path / "r"
        first = run_cli(delete_args(source, threaded.url, report, *journal))
        assert first.returncode == 0, first.stderr
        resumed = run_cli(delete_args(source, threaded.url, report, *journal))
        assert resumed.returncode == 0, resumed.stderr
        other = ["--journal", str(tmp_path / "other")]
        refused = run_cli(delete_args(source, threaded.url, report, *other))
        inside = report / "deleted.txt"
        own_input = run_cli(delete_args(inside, threaded.url, report, *journal))
        rebuilt = run_cli(["report", *journal, "--report-dir", str(report)])
    summary = check_report_dir(report)
    assert summary["journal"]["resumed"] is None  # the rebuild's
    assert summary["counts"]["deleted"] == 50
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    assert own_input.returncode == 2 and "copy it" in own_input.stderr
    assert sorted(read_lines(report / "deleted.txt")) == ids
    assert os.stat(report).st_mode & 0o777 == 0o700
