"""Issue 12's "Done when", through ``cli.main`` in-process against the fake server: the
refused bare ``m``, the cutoff stated, the preflight, the first-page 400 and the CDN purge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkdel import cli
from bulkdel.testing import FakeImageKit, seed_files
from tests.helpers import KEY, ThreadedServer, check_report_dir, closed_port, hex_ids, write_ids

ENDPOINT = "https://ik.imagekit.io/fake"


pytestmark = pytest.mark.usefixtures("env_key")


def test_a_bare_m_is_refused_naming_months_and_minutes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--older-than 6m exits 2 before anything is sent; the message names both readings."""
    code = cli.main(["delete", "--older-than", "6m", "--base-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2
    assert "6 months" in err and "6 minutes" in err and "6mo" in err and "6min" in err


@pytest.mark.parametrize("age", ["6mo", "6min"])
def test_mo_and_min_work_and_the_cutoff_is_stated(
    age: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """6mo and 6min run; the dry run and summary.json state the absolute cutoff."""
    files = seed_files({"/a/": 5})  # created in 2024: older than either age
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded:
        code = cli.main(
            [
                "delete",
                "--older-than",
                age,
                "--dry-run",
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path),
                "--quiet",
            ]
        )
    err = capsys.readouterr().err
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    cutoff = summary["selection"]["cutoff"]
    assert f"createdAt < {cutoff}" in err
    assert summary["counts"]["unique"] == 5 and summary["dry_run"]


def test_a_wrong_base_url_exits_3_before_reading_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Connection refused: exit 3 naming the URL and the cause; no report, input unread."""
    url = f"http://127.0.0.1:{closed_port()}"
    source = write_ids(tmp_path / "ids.txt", hex_ids(5))
    code = cli.main(["delete", str(source), "--base-url", url, "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 3
    assert f"cannot reach {url}/v1/files" in err and "Connect call failed" in err
    assert not (tmp_path / "r").exists()


def test_a_wrong_key_exits_3_before_reading_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """403 to the preflight: exit 3, one listing request, no delete sent."""
    threaded = ThreadedServer(FakeImageKit("another_key_0123456789"))
    with threaded as server:
        source = write_ids(tmp_path / "ids.txt", hex_ids(5))
        code = cli.main(
            ["delete", str(source), "--base-url", threaded.url, "--report-dir", str(tmp_path / "r")]
        )
        assert server.stats.list_requests == 1 and server.stats.requests == 1
    err = capsys.readouterr().err
    assert code == 3 and "HTTP 403" in err and "private key" in err


def test_no_preflight_and_a_run_that_never_connected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--no-preflight skips the check; a run none of whose requests connected says so."""
    url = f"http://127.0.0.1:{closed_port()}"
    source = write_ids(tmp_path / "ids.txt", hex_ids(3))
    code = cli.main(
        [
            "delete",
            str(source),
            "--base-url",
            url,
            "--report-dir",
            str(tmp_path / "r"),
            "--no-preflight",
            "--max-attempts",
            "1",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 3  # as the preflight's failure: the API was never reached
    assert "bulkdel: NO CONNECTION" in err and "bulkdel: complete" not in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["complete"] is False and summary["aborted"].startswith("unreachable: ")


def test_list_runs_the_preflight(capsys: pytest.CaptureFixture[str]) -> None:
    """bulkdel list against a closed port exits 3 with the preflight's message."""
    url = f"http://127.0.0.1:{closed_port()}"
    assert cli.main(["list", "--path", "/a/", "--base-url", url]) == 3
    assert "cannot reach" in capsys.readouterr().err


def test_a_refused_query_on_the_first_page_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A query ImageKit refuses: exit 2, nothing deleted, the query named."""
    threaded = ThreadedServer(FakeImageKit(KEY, files=seed_files({"/a/": 5})))
    with threaded as server:
        code = cli.main(
            [
                "delete",
                "--search-query",
                'colour = "red"',
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path),
                "--quiet",
            ]
        )
        assert server.deleted == set()
    err = capsys.readouterr().err
    assert code == 2 and 'colour = "red"' in err


def test_purge_cache_on_a_folder_delete_purges_it_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--purge-cache deletes /a/b/'s files, then purges <endpoint>/a/b/* once; purge.json
    shows the request and its final status; the summary counts it."""
    files = seed_files({"/a/b/": 500, "/c/": 10})
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        server.purge.pending_polls = 0
        code = cli.main(
            [
                "delete",
                "--path",
                "/a/b/",
                "--purge-cache",
                "--url-endpoint",
                ENDPOINT,
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path),
                "--quiet",
            ]
        )
        assert server.purge.purged == [ENDPOINT + "/a/b/*"]
        assert server.deleted == {f.file_id for f in files if f.folder == "/a/b/"}
    err = capsys.readouterr().err
    assert code == 0, err
    purge = json.loads((tmp_path / "purge.json").read_text())
    assert purge["requests"] == 1
    assert purge["purges"][0]["url"] == ENDPOINT + "/a/b/*"
    assert purge["purges"][0]["status"] == "Completed"
    summary = check_report_dir(tmp_path)
    assert summary["purge"]["requests"] == 1 and summary["purge"]["completed"] == 1
    assert "CDN purge (folders): 1 requests, 1 completed" in err


def test_purge_cache_files_is_refused_above_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--purge-cache=files above --purge-limit exits 2 with nothing deleted; under it, each
    deleted file's URL is purged."""
    files = seed_files({"/x/": 6})
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
        server.purge.pending_polls = 0
        base = ["delete", "--path", "/x/", "--purge-cache=files", "--url-endpoint", ENDPOINT]
        base += ["--base-url", threaded.url, "--quiet"]
        code = cli.main([*base, "--purge-limit", "5", "--report-dir", str(tmp_path / "a")])
        assert code == 2 and server.deleted == set()
        assert "--purge-limit 5" in capsys.readouterr().err
        code = cli.main([*base, "--purge-limit", "6", "--report-dir", str(tmp_path / "b")])
        assert code == 0
        assert sorted(server.purge.purged) == sorted(ENDPOINT + f.file_path for f in files)


def test_a_purge_needs_selectors_and_an_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--purge-cache with a file of ids, or without an endpoint, is a usage error."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(2))
    assert cli.main(["delete", str(source), "--purge-cache", "--url-endpoint", ENDPOINT]) == 2
    assert "a file of ids has no URLs" in capsys.readouterr().err
    assert cli.main(["delete", "--path", "/a/b/", "--purge-cache"]) == 2
    assert "IMAGEKIT_URL_ENDPOINT" in capsys.readouterr().err


def test_a_file_of_ids_ends_with_the_cdn_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After deleting ids from a file, the CDN may still serve them: the note says how to
    purge."""
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded:
        source = write_ids(tmp_path / "ids.txt", hex_ids(3))
        code = cli.main(
            [
                "delete",
                str(source),
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path / "r"),
                "--quiet",
            ]
        )
    err = capsys.readouterr().err
    assert code == 0
    assert "CDN may still serve the 3 deleted files" in err and "--purge-cache" in err
