"""``bulkdel delete`` with selectors and ``bulkdel list``, end to end against the fake server."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bulkdel.testing import FakeFile, FakeImageKit, seed_files
from tests.helpers import (
    KEY,
    ThreadedServer,
    check_ground_truth,
    check_report_dir,
    read_lines,
    run_cli,
)

FOLDERS = {"/a/": 5000, "/a/b/": 1000, "/c/": 1000}


def ids_in(files: list[FakeFile], *folders: str) -> set[str]:
    return {f.file_id for f in files if f.folder in folders}


def test_delete_path_recursive_deletes_exactly_the_folder_tree(tmp_path: Path) -> None:
    """--path /a/ --recursive deletes the 6,000 files of /a/ and /a/b/; /c/ is untouched."""
    files = seed_files(FOLDERS, step=dt.timedelta(milliseconds=10))
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        result = run_cli(
            [
                "delete",
                "--path",
                "/a/",
                "--recursive",
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path / "r"),
                "--json",
            ]
        )
        assert result.returncode == 0, result.stderr
        summary = check_report_dir(tmp_path / "r")
        check_ground_truth(tmp_path / "r", server)
        assert summary["counts"]["deleted"] == 6000
        assert summary["counts"]["duplicate"] == 0
        assert server.deleted == ids_in(files, "/a/", "/a/b/")
        assert set(server.store.files) == ids_in(files, "/c/")
        assert set(read_lines(tmp_path / "r" / "deleted.txt")) == server.deleted
    assert "7 pages" in result.stderr


def test_delete_path_alone_is_that_folder_only(tmp_path: Path) -> None:
    """--path /a/ without --recursive leaves /a/b/ (and /c/) alone."""
    files = seed_files({"/a/": 300, "/a/b/": 200, "/c/": 100})
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        result = run_cli(
            ["delete", "--path", "/a/", "--base-url", threaded.url, "--report-dir", str(tmp_path)]
        )
        assert result.returncode == 0, result.stderr
        assert server.deleted == ids_in(files, "/a/")


def test_delete_older_than_with_spread_creation_dates(tmp_path: Path) -> None:
    """--older-than 90d deletes exactly the files created over 90 days ago, in every folder."""
    now = dt.datetime.now(dt.UTC)
    # One file an hour over 200 days, each half an hour off the hour, so that none is within
    # minutes of the cut-off however long the CLI takes to start.
    start = now - dt.timedelta(days=200) + dt.timedelta(minutes=30)
    files = seed_files(
        {"/a/": 2400, "/a/b/": 1200, "/c/": 1200}, start=start, step=dt.timedelta(hours=1)
    )
    cutoff = now - dt.timedelta(days=90)
    old = {f.file_id for f in files if f.created_at < cutoff}
    assert 2000 < len(old) < len(files) - 2000
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        result = run_cli(
            [
                "delete",
                "--older-than",
                "90d",
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path / "r"),
            ]
        )
        assert result.returncode == 0, result.stderr
        check_report_dir(tmp_path / "r")
        check_ground_truth(tmp_path / "r", server)
        assert server.deleted == old
        assert set(server.store.files) == {f.file_id for f in files} - old


def test_selectors_combine_with_and(tmp_path: Path) -> None:
    """--path /a/ --recursive --tag expired --search-query selects only files meeting all."""
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    tagged = seed_files({"/a/": 100, "/a/b/": 100, "/c/": 100}, start=t0, tags=("expired",))
    plain = seed_files({"/a/": 100}, start=t0, first_id=10_000)
    files = tagged + plain
    wanted = {f.file_id for f in tagged if f.folder.startswith("/a/") and f.size < 2000}
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        result = run_cli(
            [
                "delete",
                "--path",
                "/a/",
                "--recursive",
                "--tag",
                "expired",
                "--search-query",
                'size < 2000 AND name : "file-"',
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path),
            ]
        )
        assert result.returncode == 0, result.stderr
        assert server.deleted == wanted
        assert len(wanted) == 200


def test_dry_run_counts_files_and_bytes_and_deletes_nothing(tmp_path: Path) -> None:
    """delete --dry-run with selectors lists and prints how many files and bytes would go."""
    files = seed_files({"/a/": 1500, "/c/": 10}, size=2048)
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        result = run_cli(
            [
                "delete",
                "--path",
                "/a/",
                "--dry-run",
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path / "r"),
            ]
        )
        assert result.returncode == 0, result.stderr
        assert "1,500 files, 3,072,000 bytes" in result.stderr
        assert "would be deleted (dry run)" in result.stderr
        assert server.deleted == set()
        assert server.stats.ids_deleted == 0
        summary = check_report_dir(tmp_path / "r")
        assert summary["counts"]["unique"] == summary["counts"]["not_attempted"] == 1500


def test_list_writes_ids_or_jsonl(tmp_path: Path) -> None:
    """bulkdel list writes the selected ids to stdout, or JSONL records to --output."""
    files = seed_files({"/a/": 1200, "/a/b/": 300, "/c/": 50}, size=10)
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        plain = run_cli(["list", "--path", "/a/", "--base-url", threaded.url])
        out = tmp_path / "files.jsonl"
        rich = run_cli(
            [
                "list",
                "--path",
                "/a",
                "--recursive",
                "--jsonl",
                "-o",
                str(out),
                "--base-url",
                threaded.url,
            ]
        )
        assert server.deleted == set()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == [f.file_id for f in files if f.folder == "/a/"]
    assert rich.returncode == 0, rich.stderr
    assert rich.stdout == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["fileId"] for r in records] == [f.file_id for f in files if f.folder != "/c/"]
    first = files[0]
    assert records[0] == {
        "fileId": first.file_id,
        "name": first.name,
        "path": first.file_path,
        "size": 10,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "url": "https://ik.imagekit.io/fake" + first.file_path,
    }
    assert "1,500 files, 15,000 bytes" in rich.stderr


def test_selector_usage_errors_and_fatal_listing(tmp_path: Path) -> None:
    """Bad selectors exit 2 before any request; a listing answered 403 exits 3."""
    threaded = ThreadedServer(FakeImageKit("another_key_0123456789", files=seed_files({"/a/": 5})))
    with threaded as server:
        base = ["--base-url", threaded.url, "--report-dir", str(tmp_path / "r")]
        for bad in (
            ["--recursive"],
            ["--older-than", "ninety days"],
            ["--created-before", "last week"],
            ["--path", "a/"],
            ["ids.txt", "--path", "/a/"],
        ):
            result = run_cli(["delete", *bad, *base])
            assert result.returncode == 2, (bad, result.stderr)
            assert result.stderr.startswith("bulkdel: error:"), result.stderr
        assert server.stats.requests == 0
        fatal = run_cli(["delete", "--path", "/a/", *base])
        listed = run_cli(["list", "--path", "/a/", "--base-url", threaded.url])
    assert fatal.returncode == 3, fatal.stderr
    assert "listing" in fatal.stderr and "403" in fatal.stderr
    assert listed.returncode == 3, listed.stderr
    assert KEY not in fatal.stderr + fatal.stdout + listed.stderr + listed.stdout
