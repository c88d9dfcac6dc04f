"""``bulkdel purge``: from a finished report dir it purges what ``--purge-cache`` would have;
``--folder`` and ``--url`` purge what they name; silly values are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkdel import cli
from bulkdel.testing import FakeImageKit, seed_files
from tests.helpers import KEY, ThreadedServer, hex_ids, write_ids

ENDPOINT = "https://ik.imagekit.io/fake"


@pytest.fixture(autouse=True)
def env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.delenv("IMAGEKIT_URL_ENDPOINT", raising=False)
    monkeypatch.delenv("IMAGE_KIT_BASE_URL", raising=False)


def purged_by(tmp_path: Path, selectors: list[str], purge_cache: str, after: list[str]) -> None:
    """Run the same delete on two identical servers, one with ``purge_cache`` and one
    followed by ``bulkdel purge REPORT_DIR AFTER``: both purge the same URLs."""
    seen = []
    for name, extra in (("during", [purge_cache]), ("after", [])):
        files = seed_files({"/a/b/": 40, "/a/b/c/": 5, "/z/": 7})
        threaded = ThreadedServer(FakeImageKit(KEY, files=files))
        report = tmp_path / name
        with threaded as server:
            server.purge.pending_polls = 0
            base = ["--base-url", threaded.url, "--url-endpoint", ENDPOINT]
            code = cli.main(["delete", *selectors, *extra, *base, "--purge-limit", "50",
                             "--report-dir", str(report), "--quiet", "--yes"])  # fmt: skip
            assert code == 0
            if name == "after":
                assert server.purge.purged == []
                code = cli.main(["purge", str(report), *after, "--purge-limit", "50", *base])
                assert code == 0
            seen.append(sorted(server.purge.purged))
            assert seen[-1], "nothing was purged"
        purge = json.loads((report / "purge.json").read_text())
        assert purge["completed"] == len(seen[-1]) and purge["failed"] == 0
    assert seen[0] == seen[1]


def test_purge_a_folder_run_after_the_fact(tmp_path: Path) -> None:
    """--path /a/b/ --recursive: one wildcard, as --purge-cache would have sent."""
    purged_by(tmp_path, ["--path", "/a/b/", "--recursive"], "--purge-cache", [])


def test_purge_each_file_of_a_run_after_the_fact(tmp_path: Path) -> None:
    """--purge-cache=files: each deleted file's URL, from the manifest."""
    purged_by(tmp_path, ["--path", "/a/b/"], "--purge-cache=files", ["--mode", "files"])


def test_purge_folders_and_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--folder purges its wildcard, --url each URL; purge.json goes to --output-dir."""
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded as server:
        server.purge.pending_polls = 0
        code = cli.main(["purge", "--folder", "/a/b/", "--url", ENDPOINT + "/x.jpg",
                         "--url-endpoint", ENDPOINT, "--base-url", threaded.url,
                         "--output-dir", str(tmp_path / "p")])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        assert server.purge.purged == [ENDPOINT + "/a/b/*", ENDPOINT + "/x.jpg"]
    assert json.loads((tmp_path / "p" / "purge.json").read_text())["requests"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["purge"], "give a REPORT_DIR, or --folder / --url"),
        (["purge", "--folder", "/tmp/", "--url-endpoint", ENDPOINT], "one level"),
        (["purge", "--folder", "/a/b/"], "needs your URL endpoint"),
        (["purge", "--url", "ftp://x", "--url-endpoint", ENDPOINT], "got 'ftp://x'"),
        (
            ["purge", "--url", ENDPOINT + "/a", "--url", ENDPOINT + "/b", "--purge-limit", "1"],
            "above --purge-limit 1",
        ),
        (["purge", "--purge-limit", "0", "--url", ENDPOINT], "must be >= 1"),
        (["purge", "/nonexistent-report"], "has no summary.json"),
        (["purge", "--mode", "everything", "--url", ENDPOINT], "must be one of"),
    ],
)
def test_silly_values_are_one_line_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each is exit 2 with its reason, nothing sent, no traceback."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_an_ids_only_report_has_no_urls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run of bare ids: `purge REPORT_DIR` says to use --folder or --url; after a dry run
    nothing is purged (exit 0)."""
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded as server:
        source = write_ids(tmp_path / "ids.txt", hex_ids(3))
        base = ["--base-url", threaded.url]
        assert cli.main(["delete", str(source), *base, "--report-dir", str(tmp_path / "r"),
                         "--quiet"]) == 0  # fmt: skip
        assert cli.main(["purge", str(tmp_path / "r"), *base]) == 2
        assert "no manifest.jsonl" in capsys.readouterr().err
        assert cli.main(["delete", str(source), *base, "--report-dir", str(tmp_path / "d"),
                         "--quiet", "--dry-run"]) == 0  # fmt: skip
        assert cli.main(["purge", str(tmp_path / "d"), *base]) == 0
        assert "nothing purged: dry run" in capsys.readouterr().err
        assert server.purge.purged == []
