"""A full disk never loses the record of a deletion (issue 24, item 3): the run stops
sending, says which disk, exits 3, and every id the server deleted is in ``deleted.txt`` or
named in ``summary.json``'s ``unrecorded``."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bulkdel import BulkDeleter, Settings
from bulkdel.errors import UsageError
from bulkdel.models import AbortReason, ExitCode, Kind, Outcome
from bulkdel.record import disk as report_disk
from bulkdel.record.report import ReportWriter
from bulkdel.testing import FakeImageKit
from tests.helpers import (
    KEY,
    MakeServed,
    ThreadedServer,
    check_report_dir,
    hex_ids,
    read_lines,
    run_cli,
)


class DeletingSender:
    """Deletes every id it is sent, and remembers them (the server's ground truth)."""

    def __init__(self) -> None:
        self.deleted: set[str] = set()

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.deleted.update(file_ids)
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


class FakeDisk:
    """The lists' writes on a disk with ``room`` bytes while the reserve is held, and
    ``room_after`` once it is given back: a write that does not fit writes what fits, the
    next one fails with ENOSPC (as a real full disk does)."""

    def __init__(self, directory: Path, room: int, room_after: int) -> None:
        self.reserve = directory / report_disk.RESERVE_NAME
        self.room, self.room_after = room, room_after
        self.used = 0

    def write(self, fd: int, data: bytes | memoryview) -> int:
        room = self.room if self.reserve.exists() else self.room_after
        fits = min(len(data), room - self.used)
        if fits <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = os.write(fd, bytes(data)[:fits])
        self.used += written
        return written


def unrecorded(summary: dict[str, object], name: str) -> list[str]:
    section = summary["unrecorded"]
    assert isinstance(section, dict)
    return list(section[name])


def unrecorded_count(summary: dict[str, object]) -> int:
    section = summary["unrecorded"]
    assert isinstance(section, dict)
    count = section["not_attempted.txt"]
    assert isinstance(count, int)
    return count


async def run_on(disk: FakeDisk, directory: Path, ids: list[str]) -> tuple[object, set[str]]:
    sender = DeletingSender()
    settings = Settings(concurrency=2, batch_size=10)
    deleter = BulkDeleter(settings=settings, sender=sender, report_dir=directory)
    report = await deleter.run(ids)
    return report, sender.deleted


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDisk]:
    fake = FakeDisk(tmp_path / "r", room=20_000, room_after=10_000_000)
    monkeypatch.setattr(report_disk, "_write", fake.write)
    yield fake


async def test_a_full_disk_stops_the_run_and_loses_no_deletion(
    tmp_path: Path, disk: FakeDisk
) -> None:
    """The disk fills mid-run: sending stops (not every id is sent), the reserve takes what
    was in flight, every id deleted is listed, the summary says so and names the disk."""
    ids = hex_ids(5_000)
    report, deleted = await run_on(disk, tmp_path / "r", ids)
    summary = check_report_dir(tmp_path / "r")
    assert report.abort is not None and report.abort.reason is AbortReason.DISK_FULL
    assert report.exit_code == ExitCode.FATAL
    assert str(tmp_path / "r") in summary["aborted"]
    assert len(deleted) < len(ids)
    assert set(read_lines(tmp_path / "r" / "deleted.txt")) == deleted
    assert unrecorded(summary, "deleted.txt") == []
    assert not (tmp_path / "r" / report_disk.RESERVE_NAME).exists()


async def test_outcomes_the_disk_cannot_hold_are_named_in_the_summary(
    tmp_path: Path, disk: FakeDisk
) -> None:
    """Even the reserve does not help (the disk stays full): deleted.txt holds whole lines
    only, and summary.json's unrecorded names every deleted id missing from it."""
    disk.room_after = disk.room
    report, deleted = await run_on(disk, tmp_path / "r", hex_ids(5_000))
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    listed = (tmp_path / "r" / "deleted.txt").read_text()
    assert listed.endswith("\n")
    on_disk = set(listed.splitlines())
    missing_from_disk = unrecorded(summary, "deleted.txt")
    assert missing_from_disk
    assert on_disk | set(missing_from_disk) == deleted
    assert not on_disk & set(missing_from_disk)
    assert report.abort is not None and report.abort.reason is AbortReason.DISK_FULL


def test_no_room_for_the_reserve_is_refused_before_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk without room for the reserve: a usage error naming the directory's disk."""

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(UsageError, match="reserve") as raised:
        ReportWriter(tmp_path / "r", fresh=True, reserve=1 << 20)
    assert raised.value.parameter == "report_dir"
    assert not (tmp_path / "r" / report_disk.RESERVE_NAME).exists()


# -- a real tiny file system, end to end against the fake server -----------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A mount point for a tmpfs of the size a test asks (skipped where mounting is not
    permitted)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / f"tiny-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_a_disk_too_small_for_the_reserve_refuses_to_start(
    tmp_path: Path, tiny_fs: Callable[[str], Path], make_served: MakeServed
) -> None:
    """The issue's 64 KB file system with the default settings: exit 2 naming the disk,
    nothing sent."""
    where = tiny_fs("64k")
    ids = hex_ids(3_000)
    source = tmp_path / "ids.txt"
    source.write_text("".join(i + "\n" for i in ids))
    threaded = make_served(existing=ids)
    server = threaded.server
    result = run_cli(
        ["delete", str(source), "--base-url", threaded.url, "--report-dir", str(where / "r")]
    )
    assert server.deleted == set()
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert str(where) in line and "reserve" in line


def test_a_real_full_disk_loses_no_deletion(tmp_path: Path, tiny_fs: Callable[[str], Path]) -> None:
    """A 512 KB tmpfs and 40,000 ids (1 MB of deleted.txt): exit 3 with one line naming the
    disk; every id the fake server deleted is in deleted.txt or in summary.json's
    unrecorded, and nothing is listed deleted that the server did not delete."""
    where = tiny_fs("512k")
    ids = hex_ids(40_000)
    source = tmp_path / "ids.txt"
    source.write_text("".join(i + "\n" for i in ids))
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids))
    report = where / "r"
    with threaded as server:
        result = run_cli(
            [
                *("delete", str(source), "--base-url", threaded.url),
                *("--report-dir", str(report), "--concurrency", "2", "--batch-size", "100"),
            ]
        )
        truth = set(server.deleted)
    assert result.returncode == 3, result.stderr
    assert "disk full" in result.stderr and str(where) in result.stderr
    summary = json.loads((report / "summary.json").read_text())
    counts = summary["counts"]
    assert counts["unique"] == counts["deleted"] + counts["not_attempted"]
    listed = set(read_lines(report / "deleted.txt"))
    assert listed | set(unrecorded(summary, "deleted.txt")) == truth
    assert listed <= truth
    assert len(truth) == counts["deleted"] < len(ids)
    # ids never sent may be held back for the summary's room: then counted as unrecorded
    not_sent = read_lines(report / "not_attempted.txt")
    assert len(not_sent) + unrecorded_count(summary) == counts["not_attempted"]
    assert not (set(not_sent) & truth)
