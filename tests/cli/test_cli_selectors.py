"""``bulkdel`` run in-process through ``cli.main``: deleting what listing selectors name, and
``bulkdel list``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkdel import cli
from bulkdel.testing import FakeImageKit, Faults, seed_files
from tests.helpers import (
    KEY,
    MakeServed,
    ThreadedServer,
    check_ground_truth,
    on_a_terminal,
)

# -- listing selectors and `bulkdel list` ------------------------------------------------------


@pytest.mark.usefixtures("env_key")
def test_selected_delete_asks_on_a_terminal_then_deletes_the_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_served: MakeServed,
) -> None:
    """`delete --path /a/ --recursive` on a terminal names the selection in the prompt;
    'no' deletes nothing (exit 2), 'yes' deletes exactly the folder tree (exit 0)."""
    files = seed_files({"/a/": 150, "/a/b/": 50, "/c/": 30})
    threaded = make_served(files=files)
    server = threaded.server
    argv = ["delete", "--path", "/a/", "--recursive", "--base-url", threaded.url]
    on_a_terminal(monkeypatch, "no\n")
    code = cli.main([*argv, "--report-dir", str(tmp_path / "r1")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert "about to delete every file selected by --path /a/ --recursive" in err
    assert err.endswith("bulkdel: nothing deleted.\n")
    assert server.stats.requests == server.stats.list_requests == 1  # the preflight

    on_a_terminal(monkeypatch, "yes\n")
    code = cli.main([*argv, "--report-dir", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK, err
    assert "bulkdel: listing: 200 files, 204,800 bytes in 1 page " in err
    assert server.deleted == {f.file_id for f in files if f.folder != "/c/"}
    check_ground_truth(tmp_path / "r2", server)


@pytest.mark.usefixtures("env_key")
def test_selected_dry_run_counts_and_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_served: MakeServed
) -> None:
    """A dry run with a selector lists and counts the files, sends no delete, exits 0."""
    files = seed_files({"/a/": 40}, tags=("expired",), size=5)
    threaded = make_served(files=files)
    server = threaded.server
    code = cli.main(
        [
            "delete",
            "--tag",
            "expired",
            "--dry-run",
            "--base-url",
            threaded.url,
            "--report-dir",
            str(tmp_path / "r"),
            "--json",
        ]
    )
    assert server.deleted == set()
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK
    assert "40 files, 200 bytes in 1 page " in captured.err
    assert "would be deleted (dry run)" in captured.err
    summary = json.loads(captured.out)
    assert summary["counts"]["unique"] == summary["counts"]["not_attempted"] == 40


@pytest.mark.usefixtures("env_key")
def test_selected_delete_whose_listing_keeps_failing_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_served: MakeServed
) -> None:
    """A listing page that fails every attempt stops the run incomplete: exit 1."""
    files = seed_files({"/a/": 10})
    threaded = make_served(files=files, faults=Faults(error_5xx=1.0))
    server = threaded.server
    code = cli.main(
        [
            "delete",
            "--path",
            "/a/",
            "--max-attempts",
            "1",
            "--base-url",
            threaded.url,
            "--report-dir",
            str(tmp_path / "r"),
            "--json",
            "--no-preflight",
        ]
    )
    assert server.deleted == set()
    summary = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_INCOMPLETE
    assert summary["aborted"].startswith("listing failed")
    assert summary["complete"] is False


@pytest.mark.usefixtures("env_key")
def test_files_and_selectors_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file of ids and a selector in one run: exit 2, one line saying why."""
    code = cli.main(["delete", str(tmp_path / "ids.txt"), "--tag", "x", "--dry-run"])
    assert code == cli.EXIT_USAGE
    assert "not both" in capsys.readouterr().err


@pytest.mark.usefixtures("env_key")
def test_list_ids_to_stdout_and_jsonl_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_served: MakeServed
) -> None:
    """`bulkdel list` prints the selected ids, or writes JSONL records to --output; it
    deletes nothing and reports the count on stderr."""
    files = seed_files({"/a/": 30, "/c/": 5}, size=7)
    threaded = make_served(files=files)
    server = threaded.server
    code = cli.main(["list", "--path", "/a/", "--base-url", threaded.url])
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK
    assert captured.out.splitlines() == [f.file_id for f in files if f.folder == "/a/"]
    assert "30 files, 210 bytes" in captured.err

    out = tmp_path / "review.jsonl"
    code = cli.main(
        ["list", "--path", "/c/", "--jsonl", "-o", str(out), "--base-url", threaded.url]
    )
    assert code == cli.EXIT_OK
    assert capsys.readouterr().out == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["fileId"] for r in records] == [f.file_id for f in files if f.folder == "/c/"]
    assert all(r["size"] == 7 for r in records)
    assert server.deleted == set()


@pytest.mark.usefixtures("env_key")
def test_list_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bulkdel list` without a selector exits 2; a refused key exits 3; a page that keeps
    failing exits 1."""
    assert cli.main(["list"]) == cli.EXIT_USAGE
    assert "select files with --path" in capsys.readouterr().err

    refused = ThreadedServer(FakeImageKit("another key", files=seed_files({"/a/": 3})))
    with refused:
        assert cli.main(["list", "--path", "/a/", "--base-url", refused.url]) == cli.EXIT_FATAL
    assert "bulkdel: error: HTTP 403: preflight" in capsys.readouterr().err

    broken = ThreadedServer(
        FakeImageKit(KEY, files=seed_files({"/a/": 3}), faults=Faults(error_5xx=1.0))
    )
    with broken:
        argv = ["list", "--path", "/a/", "--max-attempts", "1", "--base-url", broken.url]
        argv.append("--no-preflight")  # the listing's own failure, not the preflight's
        assert cli.main(argv) == cli.EXIT_INCOMPLETE
    assert "bulkdel: error: listing:" in capsys.readouterr().err
