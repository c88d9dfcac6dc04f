"""``bulkdel delete`` as a user runs it: exit codes, formats, report, secrets."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import (
    KEY,
    ThreadedServer,
    check_ground_truth,
    check_report_dir,
    delete_args,
    hex_ids,
    read_jsonl,
    run_cli,
    write_ids,
)


def test_delete_a_file_exit_0_and_json_summary(tmp_path: Path) -> None:
    """A clean run exits 0 and --json prints exactly summary.json."""
    ids = hex_ids(450)
    source = write_ids(tmp_path / "ids.txt", ids)
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids))
    with threaded as server:
        result = run_cli(delete_args(source, threaded.url, tmp_path / "r", "--json"))
    assert result.returncode == 0, result.stderr
    summary = check_report_dir(tmp_path / "r")
    assert json.loads(result.stdout) == summary
    assert summary["counts"]["deleted"] == 450
    check_ground_truth(tmp_path / "r", server)


def test_text_summary_on_stderr_and_exit_1_on_failures(tmp_path: Path) -> None:
    """Failed ids give exit 1 and the text summary says where the failures went."""
    ids = hex_ids(50)
    source = write_ids(tmp_path / "ids.txt", ids)
    faults = Faults(permanent_errors=frozenset(ids[:2]))
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids, faults=faults))
    with threaded:
        result = run_cli(delete_args(source, threaded.url, tmp_path / "r", "--max-attempts", "1"))
    assert result.returncode == 1
    assert "failed.jsonl" in result.stderr
    assert result.stdout == ""
    assert len(read_jsonl(tmp_path / "r" / "failed.jsonl")) == 2


def test_stdin_csv_and_jsonl_sources(tmp_path: Path) -> None:
    """Ids come from stdin, a CSV with a custom column and JSONL, de-duplicated across them."""
    ids = hex_ids(30)
    csv_file = tmp_path / "ids.csv"
    csv_file.write_text("name,id\n" + "".join(f"f{n},{i}\n" for n, i in enumerate(ids[:10])))
    jsonl_file = tmp_path / "ids.jsonl"
    jsonl_file.write_text("".join(json.dumps({"id": i}) + "\n" for i in ids[10:20]))
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids))
    with threaded as server:
        result = run_cli(
            [
                "delete",
                "-",
                str(csv_file),
                str(jsonl_file),
                "--column",
                "id",
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path / "r"),
                "--json",
            ],
            stdin="\ufeff# header comment\r\n" + "".join(i + "\r\n" for i in ids[15:30]),
        )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"]["unique"] == 30
    assert summary["counts"]["duplicate"] == 5
    assert server.deleted == set(ids)


def test_usage_errors_exit_2_without_a_request(tmp_path: Path) -> None:
    """No key, a missing file, a directory, a CSV without the column, a bad option: exit 2,
    one line on stderr, no traceback, no request."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(5))
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("name,other\na,b\n")
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded as server:
        url = ["--base-url", threaded.url, "--report-dir", str(tmp_path / "r")]
        cases = [
            (["delete", str(source), *url], None, "IMAGEKIT_PRIVATE_KEY is not set"),
            (["delete", str(tmp_path / "nope.txt"), *url], KEY, "no such file"),
            (["delete", str(tmp_path), *url], KEY, "is a directory"),
            (["delete", str(bad_csv), *url], KEY, "no column 'fileId'"),
            (["delete", str(source), "--batch-size", "101", *url], KEY, "must be 1..100"),
            (["delete", str(source), "--base-url", "ftp://x"], KEY, "not an http(s) URL"),
            (["delete", str(source), "--base-url", "http://example.com"], KEY, "plain http"),
        ]
        for args, key, message in cases:
            result = run_cli(args, key=key)
            assert result.returncode == 2, (args, result.stderr)
            assert message in result.stderr, (args, result.stderr)
            assert "Traceback" not in result.stderr
        assert server.stats.requests == 0


def test_wrong_key_exits_3(tmp_path: Path) -> None:
    """A key the server refuses stops at the preflight: exit 3 naming the key, one listing
    request, nothing deleted and no report; with --no-preflight the run itself aborts with
    exit 3 and an accounted report."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(2000))
    threaded = ThreadedServer(FakeImageKit("the right key"))
    with threaded as server:
        result = run_cli(delete_args(source, threaded.url, tmp_path / "r", "--concurrency", "4"))
        assert result.returncode == 3, result.stderr
        assert "HTTP 403" in result.stderr and "private key" in result.stderr
        assert server.stats.requests == server.stats.list_requests == 1
        assert not (tmp_path / "r").exists()
        args = delete_args(source, threaded.url, tmp_path / "r", "--concurrency", "4")
        result = run_cli([*args, "--no-preflight"])
    assert result.returncode == 3, result.stderr
    summary = check_report_dir(tmp_path / "r")
    assert summary["aborted"].startswith("fatal: HTTP 403")
    assert server.stats.requests <= 5


def test_max_delete_refuses_with_exit_2(tmp_path: Path) -> None:
    """--max-delete below the unique count: exit 2 and nothing sent."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(101))
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded as server:
        result = run_cli(delete_args(source, threaded.url, tmp_path / "r", "--max-delete", "100"))
    assert result.returncode == 2
    assert "--max-delete" in result.stderr
    assert server.stats.requests == server.stats.list_requests == 1  # the preflight only


def test_dry_run_exit_0_without_key_or_request(tmp_path: Path) -> None:
    """--dry-run needs no key, sends nothing and exits 0 with invalid lines reported."""
    source = tmp_path / "ids.txt"
    source.write_text("a" * 24 + "\nnot valid!\n" + "b" * 24 + "\n")
    result = run_cli(
        ["delete", str(source), "--dry-run", "--report-dir", str(tmp_path / "r"), "--json"],
        key=None,
    )
    assert result.returncode == 0, result.stderr
    summary = check_report_dir(tmp_path / "r")
    assert summary["counts"]["invalid"] == 1
    invalid = read_jsonl(tmp_path / "r" / "invalid.jsonl")
    assert invalid[0]["line"] == 2 and invalid[0]["source"] == str(source)


def test_the_key_never_appears_in_any_output(tmp_path: Path) -> None:
    """Neither the key nor its base64 form reaches stdout, stderr or any report file."""
    ids = hex_ids(300)
    source = write_ids(tmp_path / "ids.txt", ids)
    faults = Faults(seed=3, error_5xx=0.2, html_error=0.1, permanent_errors=frozenset(ids[:3]))
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids[::2], faults=faults))
    with threaded:
        result = run_cli(
            delete_args(source, threaded.url, tmp_path / "r", "--json", "--max-attempts", "3")
        )
    forms = [KEY, base64.b64encode(f"{KEY}:".encode()).decode()]
    texts = [result.stdout, result.stderr]
    texts += [p.read_text() for p in (tmp_path / "r").iterdir() if p.is_file()]
    for text in texts:
        for form in forms:
            assert form not in text


def test_report_files_are_private(tmp_path: Path) -> None:
    """The report directory and its files are readable by the owner only."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(3))
    result = run_cli(["delete", str(source), "--dry-run", "--report-dir", str(tmp_path / "r")])
    assert result.returncode == 0
    assert (tmp_path / "r").stat().st_mode & 0o077 == 0
    for path in (tmp_path / "r").iterdir():
        assert path.stat().st_mode & 0o077 == 0, path


def test_sigint_settles_and_exits_130(tmp_path: Path) -> None:
    """The first SIGINT stops taking batches, writes an accounted report and exits 130."""
    ids = hex_ids(100_000)
    source = write_ids(tmp_path / "ids.txt", ids)
    threaded = ThreadedServer(FakeImageKit(KEY, rate=40))
    with threaded as server:
        env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bulkdel",
                "delete",
                str(source),
                "--base-url",
                threaded.url,
                "--report-dir",
                str(tmp_path / "r"),
                "--rate",
                "40",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while server.stats.ids_deleted < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    summary = check_report_dir(tmp_path / "r")
    check_ground_truth(tmp_path / "r", server)
    assert summary["aborted"] == "interrupted by SIGINT"
    assert summary["counts"]["not_attempted"] > 0
    assert summary["counts"]["deleted"] == len(server.deleted)
