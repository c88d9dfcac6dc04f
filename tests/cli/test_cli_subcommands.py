"""``bulkdel`` run in-process through ``cli.main``: ``report``, ``demo`` and ``fake-server``,
and the ``python -m`` entry modules."""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bulkdel import cli
from bulkdel.testing import FakeImageKit
from tests.helpers import (
    KEY,
    ThreadedServer,
    check_report_dir,
    closed_port,
    delete_args,
    hex_ids,
    write_ids,
)

# -- other subcommands -------------------------------------------------------------------------


@pytest.mark.usefixtures("env_key")
def test_report_from_a_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bulkdel report --journal` rebuilds the report of a finished job, exit 0."""
    ids = hex_ids(120)
    journal = str(tmp_path / "job.journal")
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids[:100]))
    with threaded:
        source = write_ids(tmp_path / "ids.txt", ids)
        args = delete_args(source, threaded.url, tmp_path / "r", "--journal", journal)
        code = cli.main([*args, "--quiet"])
    assert code == cli.EXIT_OK
    capsys.readouterr()
    again = str(tmp_path / "again")
    code = cli.main(["report", "--journal", journal, "--report-dir", again, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_OK
    assert summary == check_report_dir(tmp_path / "again")
    assert summary["counts"]["deleted"] == 100
    assert summary["counts"]["missing"] == 20
    assert summary["complete"] is True


def test_report_of_a_missing_journal_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulkdel report` on a path that holds no journal: exit 2, one line."""
    missing = str(tmp_path / "nope")
    code = cli.main(["report", "--journal", missing, "--report-dir", str(tmp_path / "r")])
    assert code == cli.EXIT_USAGE
    assert capsys.readouterr().err == f"bulkdel: error: {tmp_path / 'nope'}: no such journal\n"


def test_demo_in_process_adds_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bulkdel demo --ids 2000` runs the whole job; its report adds up and names the locked
    files as failed; it agrees with the fake server's truth (exit 0)."""
    code = cli.main(["demo", "--ids", "2000", "--report-dir", str(tmp_path / "r"), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary == check_report_dir(tmp_path / "r")
    counts = summary["counts"]
    assert counts["unique"] == 2000
    assert counts["invalid"] == 1  # one bad line every 2,000 ids
    assert counts["duplicate"] == 4  # one repeat every 500 ids
    assert counts["failed"] == 5  # the five locked files
    assert counts["not_attempted"] == 0
    assert counts["deleted"] + counts["missing"] == 1995
    assert summary["complete"] is True
    assert code == cli.EXIT_OK


def test_fake_server_command_serves_existing_ids_until_sigint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulkdel fake-server --existing FILE` knows only those ids, checks its key, and stops
    on SIGINT with exit 0 and its counters on stderr."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", "key_from_the_environment")
    existing = tmp_path / "existing.txt"
    existing.write_text("\n".join(hex_ids(3)) + "\n\n")
    port = closed_port()
    base = f"http://127.0.0.1:{port}"
    answers: list[tuple[int, dict[str, Any]]] = []

    def post(ids: list[str]) -> tuple[int, dict[str, Any]]:
        import base64

        token = base64.b64encode(b"key_from_the_environment:").decode()
        request = urllib.request.Request(
            base + "/v1/files/batch/deleteByFileIds",
            data=json.dumps({"fileIds": ids}).encode(),
            headers={"Authorization": "Basic " + token, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def ready() -> bool:
        # An answer means the server's loop is waiting for its stop signal.
        try:
            with urllib.request.urlopen(base + "/_fake/stats", timeout=1):
                return True
        except OSError:
            return False

    def client() -> None:
        deadline = time.monotonic() + 20
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        answers.append(post([hex_ids(1, 5)[0], hex_ids(1)[0]]))
        answers.append(post(hex_ids(2)))
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    code = cli.main(
        ["fake-server", "--port", str(port), "--existing", str(existing), "--window", "100/1"]
    )
    thread.join()
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK
    assert captured.out == f"fake ImageKit listening on {base}\n"
    assert answers[0][0] == 404
    assert answers[0][1]["missingFileIds"] == [hex_ids(1, 5)[0]]
    assert answers[1] == (200, {"successfullyDeletedFileIds": hex_ids(2)})
    assert "fake ImageKit stopped: {'requests': 2" in captured.err


# -- entry modules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "argv", "expected"),
    [
        ("bulkdel", ["--version"], "bulkdel 0.1.0"),
        ("bulkdel", ["--help"], "usage: bulkdel"),
        ("bulkdel.testing", ["--help"], "usage: bulkdel fake-server"),
    ],
)
def test_python_dash_m_entry_points(
    module: str,
    argv: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m bulkdel` and `python -m bulkdel.testing` run their command lines."""
    monkeypatch.setattr(sys, "argv", [module, *argv])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert exited.value.code == 0
    assert expected in capsys.readouterr().out
