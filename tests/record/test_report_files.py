"""Report files: summary.json is written atomically, lists hold whole lines, and nothing is
readable by other users, whatever the umask or what was in the directory before."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkdel import BulkDeleter
from bulkdel.models import Kind, Outcome, Settings
from bulkdel.record.report import LIST_FILES, ReportWriter, write_json_atomic
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, ThreadedServer, hex_ids


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 000, the worst case for files created without an explicit mode."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_under_an_open_umask(tmp_path: Path, open_umask: None) -> None:
    """Report directory 0700, every file 0600, even with umask 000."""
    directory = tmp_path / "report"
    writer = ReportWriter(directory)
    writer.deleted(["a"])
    writer.close({"version": 1})
    assert mode(directory) == 0o700
    for path in directory.iterdir():
        assert mode(path) == 0o600, path.name


def test_files_left_readable_by_an_earlier_run_are_made_private(tmp_path: Path) -> None:
    """Reusing a report directory whose files (and a stale temp file) are world-readable:
    the files become 0600; the user's own directory keeps its mode."""
    directory = tmp_path / "report"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    for name in (*LIST_FILES, "summary.json", ".summary.json.tmp"):
        (directory / name).write_text("old\n")
        (directory / name).chmod(0o644)
    writer = ReportWriter(directory)
    writer.close({"version": 1})
    assert mode(directory) == 0o755
    for path in directory.iterdir():
        assert mode(path) == 0o600, path.name
    assert not (directory / ".summary.json.tmp").exists()


def test_summary_is_old_or_whole_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash while writing summary.json (here: the disk fills) leaves the old one intact."""
    path = tmp_path / "summary.json"
    write_json_atomic(path, {"version": 1, "n": 1})
    real_write = os.write

    def half_then_fail(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        write_json_atomic(path, {"version": 1, "n": 2, "pad": "x" * 100_000})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"version": 1, "n": 1}


def test_summary_write_handles_short_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.write may write less than asked (a signal, a pipe, a full quota): all of it lands."""
    real_write = os.write

    def short(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data)[:1000])

    monkeypatch.setattr(os, "write", short)
    big = {"version": 1, "pad": "y" * 50_000}
    write_json_atomic(tmp_path / "summary.json", big)
    monkeypatch.undo()
    assert json.loads((tmp_path / "summary.json").read_text()) == big


def test_killed_run_leaves_whole_lines_and_no_half_summary(tmp_path: Path) -> None:
    """SIGKILL in the middle of a run: summary.json is absent (never half-written) and every
    list file holds whole lines only."""
    ids = hex_ids(20_000)
    source = tmp_path / "ids.txt"
    source.write_text("".join(i + "\n" for i in ids))
    report = tmp_path / "r"
    faults = Faults(latency=0.02, transient_207=0.01)
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids, faults=faults))
    env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY}
    with threaded:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bulkdel", "delete", str(source)),
                *("--base-url", threaded.url, "--report-dir", str(report)),
                *("--quiet", "--batch-size", "10"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (report / "deleted.txt").exists():
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (report / "summary.json").exists()
    for name in LIST_FILES:
        data = (report / name).read_bytes()
        assert data == b"" or data.endswith(b"\n"), name
        for line in data.decode().splitlines():
            if name.endswith(".jsonl"):
                json.loads(line)
            else:
                assert line in set(ids), line


def test_summary_and_lists_agree_after_a_run(tmp_path: Path) -> None:
    """After a library run the summary counts equal the lines of each list file."""

    class Mixed:
        async def delete_batch(self, file_ids: list[str]) -> Outcome:
            await asyncio.sleep(0)
            if file_ids[0].endswith("7"):
                return Outcome(Kind.MISSING, 404, missing=(file_ids[0],))
            return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))

    report = asyncio.run(
        BulkDeleter(
            settings=Settings(batch_size=3, linger=0.001), sender=Mixed(), report_dir=tmp_path
        ).run([*hex_ids(50), "bad id", hex_ids(1)[0]])
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"] == report.counts.as_dict()
    for name, key in (("deleted.txt", "deleted"), ("missing.txt", "missing")):
        assert len((tmp_path / name).read_text().splitlines()) == summary["counts"][key]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_lists_reach_the_disk_at_least_once_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outcomes are not held in a buffer for long: a killed run keeps what it had done."""
    import bulkdel.record.writer as report_module

    now = [100.0]
    monkeypatch.setattr(report_module.time, "monotonic", lambda: now[0])
    writer = report_module.ReportWriter(tmp_path / "r")
    writer.deleted(["a" * 24])
    assert (tmp_path / "r" / "deleted.txt").read_text() == ""
    now[0] += 1.5
    writer.deleted(["b" * 24])
    assert (tmp_path / "r" / "deleted.txt").read_text() == "a" * 24 + "\n" + "b" * 24 + "\n"
    writer.close()
