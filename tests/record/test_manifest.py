"""manifest.jsonl end to end against the fake: written before the delete, true to the server,
complete after a kill -9; ids-only runs say so; a manifest (or ``list --jsonl``) as input."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulkdel.record.manifest import IDS_ONLY, Manifest, read_manifest
from bulkdel.testing import FakeImageKit, seed_files
from bulkdel.testing.fake_server import Faults
from tests.helpers import (
    KEY,
    ThreadedServer,
    check_ground_truth,
    check_report_dir,
    hex_ids,
    read_lines,
    run_cli,
    write_ids,
)


def delete_path(url: str, report_dir: Path, *extra: str) -> list[str]:
    return ["delete", "--path", "/m/", "--base-url", url, "--report-dir", str(report_dir),
            "--yes", "--quiet", *extra]  # fmt: skip


def test_a_selector_run_writes_the_server_records_and_the_bytes(tmp_path: Path) -> None:
    """Every file deleted by --path has its record in manifest.jsonl exactly as the server
    listed it; summary.json counts the bytes deleted and points at the manifest."""
    files = seed_files({"/m/": 2300, "/other/": 50}, step=dt.timedelta(milliseconds=7))
    sizes = {f.file_id: 1000 + n for n, f in enumerate(files)}
    files = [type(f)(f.file_id, f.file_path, f.created_at, sizes[f.file_id]) for f in files]
    server = FakeImageKit(KEY, files=files)
    expected = {f.file_id: f.as_json(server.url_endpoint) for f in files if f.folder == "/m/"}
    threaded = ThreadedServer(server)
    with threaded:
        result = run_cli(delete_path(threaded.url, tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    summary = check_report_dir(tmp_path / "r")
    check_ground_truth(tmp_path / "r", server)
    records = list(read_manifest(tmp_path / "r" / "manifest.jsonl"))
    assert {r["fileId"]: r for r in records} == expected
    assert len(records) == len(expected)
    assert summary["manifest"] == {"file": "manifest.jsonl", "records": 2300, "note": None}
    assert summary["bytes_deleted"] == sum(sizes[i] for i in expected)
    assert os.stat(tmp_path / "r" / "manifest.jsonl").st_mode & 0o777 == 0o600
    assert "manifest: " in result.stderr and "2,300 file records" in result.stderr


def test_a_kill_9_leaves_no_deleted_file_out_of_the_manifest(tmp_path: Path) -> None:
    """SIGKILL to a real `bulkdel delete` mid-run: every file the server deleted has its
    record in the manifest (records are durable before their batch is sent)."""
    files = seed_files({"/m/": 20_000})
    server = FakeImageKit(KEY, files=files, rate=300, faults=Faults(latency=0.01))
    threaded = ThreadedServer(server)
    env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY}
    with threaded:
        process = subprocess.Popen(
            [sys.executable, "-m", "bulkdel", *delete_path(threaded.url, tmp_path / "r")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while server.stats.ids_deleted < 3000 and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        deleted = set(server.deleted)
    assert process.returncode == -signal.SIGKILL
    assert 3000 <= len(deleted) < 20_000, "the kill came after the run, or never"
    recorded = {r["fileId"] for r in read_manifest(tmp_path / "r" / "manifest.jsonl")}
    assert deleted <= recorded, f"{len(deleted - recorded)} deleted files are not recorded"
    assert not (tmp_path / "r" / "summary.json").exists()


def test_an_id_list_run_says_ids_are_all_there_is(tmp_path: Path) -> None:
    """A file of bare ids has no records: no manifest, and the summary and the text say so."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(30))
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded:
        result = run_cli(["delete", str(source), "--base-url", threaded.url,
                          "--report-dir", str(tmp_path / "r"), "--quiet"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["manifest"] == {"file": None, "records": 0, "note": IDS_ONLY}
    assert summary["bytes_deleted"] is None
    assert not (tmp_path / "r" / "manifest.jsonl").exists()
    assert "ids only: the input held no file records" in result.stderr
    assert "'bulkdel purge --folder FOLDER'" in result.stderr


def test_list_jsonl_as_input_keeps_paths_and_urls(tmp_path: Path) -> None:
    """`bulkdel list --jsonl > m.jsonl; bulkdel delete m.jsonl`: the new manifest holds each
    file's path and URL, the summary the bytes; a `bulkdel purge REPORT_DIR` that is accepted
    is advised."""
    files = seed_files({"/m/": 120})
    server = FakeImageKit(KEY, files=files)
    threaded = ThreadedServer(server)
    with threaded:
        listed = run_cli(["list", "--path", "/m/", "--jsonl", "--base-url", threaded.url,
                          "-o", str(tmp_path / "m.jsonl")])  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        result = run_cli(["delete", str(tmp_path / "m.jsonl"), "--base-url", threaded.url,
                          "--report-dir", str(tmp_path / "r"), "--quiet"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = {r["fileId"]: r for r in read_manifest(tmp_path / "r" / "manifest.jsonl")}
    assert set(records) == {f.file_id for f in files} == server.deleted
    for f in files:
        assert records[f.file_id]["path"] == f.file_path
        assert records[f.file_id]["url"] == server.url_endpoint + f.file_path
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["manifest"]["records"] == 120
    assert summary["bytes_deleted"] == 120 * 1024
    # 120 files: above the default --purge-limit, so the note names the limit that purge
    # accepts (plain 'bulkdel purge DIR' would be refused)
    assert f"'bulkdel purge {tmp_path / 'r'} --purge-limit 120'" in result.stderr


def test_a_resumed_journal_keeps_the_earlier_records(tmp_path: Path) -> None:
    """With a resumed journal, the manifest is appended to (a torn last line is ended), so
    the files earlier runs deleted stay named."""
    (tmp_path / "r").mkdir()
    path = tmp_path / "r" / "manifest.jsonl"
    path.write_text('{"fileId": "a1", "size": 5}\n{"fileId": "a2", "si')
    manifest = Manifest(tmp_path / "r", append=True)
    manifest.open()
    manifest.close()
    fresh = Manifest(tmp_path / "r", append=True)

    async def write() -> None:
        await fresh.write([{"fileId": "b1", "size": 7}])

    import asyncio

    asyncio.run(write())
    fresh.deleted(["b1", "zz"])
    fresh.close()
    assert [r["fileId"] for r in read_manifest(path)] == ["a1", "b1"]
    assert fresh.bytes_known == 7
    Manifest(tmp_path / "r").open()  # a fresh job starts it empty
    assert path.read_text() == ""


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_selector_run_with_nothing_listed_has_an_empty_manifest(
    tmp_path: Path, dry_run: bool
) -> None:
    """A selection that matches nothing still writes its (empty) manifest: 'no records' is
    then a fact about the selection, not about the input."""
    threaded = ThreadedServer(FakeImageKit(KEY, files=seed_files({"/x/": 3})))
    with threaded:
        extra = ["--dry-run"] if dry_run else []
        result = run_cli(delete_path(threaded.url, tmp_path / "r", *extra))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["manifest"] == {"file": "manifest.jsonl", "records": 0, "note": None}
    assert read_lines(tmp_path / "r" / "manifest.jsonl") == []
