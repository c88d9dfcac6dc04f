"""``bulkdel purge``: from a finished report dir it purges what ``--purge-cache`` would have;
``--folder`` and ``--url`` purge what they name; silly values are one-line errors."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from bulkdel import cli
from bulkdel.testing import FakeImageKit, seed_files
from tests.helpers import KEY, ThreadedServer, hex_ids, write_ids

ENDPOINT = "https://ik.imagekit.io/fake"


pytestmark = pytest.mark.usefixtures("env_key")


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


def _suggested(err: str) -> list[str]:
    """The arguments of the `bulkdel purge ...` command the closing note suggests."""
    (command,) = re.findall(r"'bulkdel (purge [^']*)'", err)
    return shlex.split(command)


def test_the_closing_note_suggests_a_purge_that_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a selector run of 150 files in a folder ImageKit will not purge by wildcard
    (and no URL endpoint known), the note names a command that `bulkdel purge` accepts:
    run as it is, it purges every deleted file."""
    threaded = ThreadedServer(FakeImageKit(KEY, files=seed_files({"/a/": 150})))
    report = tmp_path / "r"
    with threaded as server:
        server.purge.pending_polls = 0
        code = cli.main(["delete", "--path", "/a/", "--base-url", threaded.url,
                         "--report-dir", str(report), "--quiet", "--yes"])  # fmt: skip
        assert code == 0
        suggested = _suggested(capsys.readouterr().err)
        assert cli.main(suggested) == 0, capsys.readouterr().err
        assert len(server.purge.purged) == 150


def test_an_ids_only_report_says_first_that_it_has_no_urls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulkdel purge` of a report of bare ids above --purge-limit: the real reason (no
    manifest, no URLs) comes first, not "raise the limit"."""
    ids = hex_ids(150)
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids))
    with threaded:
        source = write_ids(tmp_path / "ids.txt", ids)
        code = cli.main(["delete", str(source), "--base-url", threaded.url,
                         "--report-dir", str(tmp_path / "r"), "--quiet"])  # fmt: skip
        assert code == 0
        note = capsys.readouterr().err
        assert cli.main(["purge", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "no manifest.jsonl" in err and "purge-limit" not in err
    assert "'bulkdel purge --folder FOLDER'" in note


def test_a_bad_url_names_the_url_option(capsys: pytest.CaptureFixture[str]) -> None:
    """`bulkdel purge --url ftp://x` says what --url takes (not --url-endpoint)."""
    assert cli.main(["purge", "--url", "ftp://x"]) == 2
    err = capsys.readouterr().err
    assert "--url takes" in err and "--url-endpoint" not in err and "'ftp://x'" in err


def test_counts_of_one_are_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One file, one page, one request: "1 file", "1 page", "1 request", "the deleted file"
    (the listing line and the CDN note; the text summary's lines are format_text's)."""
    threaded = ThreadedServer(FakeImageKit(KEY, files=seed_files({"/one/two/": 1})))
    with threaded:
        code = cli.main(["delete", "--path", "/one/two/", "--base-url", threaded.url,
                         "--report-dir", str(tmp_path / "r"), "--quiet", "--yes"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert "listing: 1 file, " in err and " in 1 page (1 request, 0 retried)" in err
    assert "may still serve the deleted file until its cache expires" in err
    assert "1 pages" not in err and "1 deleted files" not in err
