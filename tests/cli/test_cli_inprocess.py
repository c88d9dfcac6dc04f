"""``bulkdel`` run in-process through ``cli.main``: exit codes, output, prompts and signals.

The subprocess tests in test_cli.py check the command as a user runs it; these call the same
``main`` in the test process (the fake server runs in its own thread), so that every branch
of the CLI is measured and each exit path is checked on its own.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import os
import runpy
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkdel import cli
from bulkdel.cli.delete import run_with_signals
from bulkdel.errors import FatalAPIError
from bulkdel.testing import FakeImageKit, Faults, seed_files
from tests.helpers import (
    KEY,
    ThreadedServer,
    check_ground_truth,
    check_report_dir,
    delete_args,
    hex_ids,
    signal_when,
    write_ids,
)

# the module: ``bulkdel.cli.main`` as an attribute is the function
cli_main = importlib.import_module("bulkdel.cli.main")
rebuild = importlib.import_module(
    "bulkdel.record.journal.rebuild"
)  # `report` imports it when it runs


class TtyInput(io.StringIO):
    """stdin as a terminal that answers with ``text``."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def served() -> Iterator[ThreadedServer]:
    """A fake server (every well-formed id exists once) in its own thread."""
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded:
        yield threaded


# -- exit codes --------------------------------------------------------------------------------


@pytest.mark.usefixtures("env_key")
def test_exit_0_prints_summary_json_on_stdout(
    tmp_path: Path, served: ThreadedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clean run returns 0 and --json prints exactly summary.json on stdout."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(250))
    code = cli.main(delete_args(source, served.url, tmp_path / "r", "--json"))
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK
    summary = check_report_dir(tmp_path / "r")
    assert json.loads(out) == summary
    assert summary["counts"]["deleted"] == 250
    check_ground_truth(tmp_path / "r", served.server)


@pytest.mark.usefixtures("env_key")
def test_exit_1_when_ids_fail_with_text_summary_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ids that fail for good give exit 1, and the text summary goes to stderr only."""
    ids = hex_ids(20)
    faults = Faults(permanent_errors=frozenset(ids[:3]))
    threaded = ThreadedServer(FakeImageKit(KEY, existing=ids, faults=faults))
    with threaded:
        source = write_ids(tmp_path / "ids.txt", ids)
        code = cli.main(delete_args(source, threaded.url, tmp_path / "r", "--max-attempts", "1"))
    captured = capsys.readouterr()
    assert code == cli.EXIT_INCOMPLETE
    assert captured.out == ""
    assert "failed.jsonl" in captured.err
    assert check_report_dir(tmp_path / "r")["counts"]["failed"] == 3


@pytest.mark.usefixtures("env_key")
def test_exit_2_when_max_delete_refuses(
    tmp_path: Path, served: ThreadedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """More unique ids than --max-delete: exit 2, nothing sent, the reason on stderr."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(11))
    code = cli.main(delete_args(source, served.url, tmp_path / "r", "--max-delete", "10"))
    assert code == cli.EXIT_USAGE
    assert "--max-delete" in capsys.readouterr().err
    stats = served.server.stats
    assert stats.requests == stats.list_requests == 1  # the preflight; no delete sent


@pytest.mark.usefixtures("env_key")
def test_negative_max_delete_is_a_usage_error(
    tmp_path: Path, served: ThreadedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """--max-delete -1 is refused with one line naming the option."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(1))
    with pytest.raises(SystemExit) as exited:  # refused where it is parsed
        cli.main(delete_args(source, served.url, tmp_path / "r", "--max-delete", "-1"))
    err = capsys.readouterr().err
    assert exited.value.code == cli.EXIT_USAGE
    assert err.strip() == "bulkdel: error: --max-delete must be >= 0, got -1"
    assert served.server.stats.requests == 0


@pytest.mark.usefixtures("env_key")
def test_exit_3_when_the_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 403 aborts the run: exit 3 and an accounted report that says fatal."""
    threaded = ThreadedServer(FakeImageKit("another key"))
    with threaded:
        source = write_ids(tmp_path / "ids.txt", hex_ids(300))
        # the run's own handling of a 403 (the preflight would stop it first)
        argv = delete_args(source, threaded.url, tmp_path / "r", "--json", "--no-preflight")
        code = cli.main(argv)
    assert code == cli.EXIT_FATAL
    summary = json.loads(capsys.readouterr().out)
    assert summary["aborted"].startswith("fatal: HTTP 403")
    assert summary == check_report_dir(tmp_path / "r")


def test_a_fatal_error_raised_outside_the_run_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A BulkdelError that is not a usage error becomes exit 3 and one line, no traceback."""

    def refuse(*args: Any) -> Any:
        raise FatalAPIError(403, "Your account cannot be authenticated.")

    monkeypatch.setattr(rebuild, "report_from_journal", refuse)
    code = cli.main(["report", "--journal", str(tmp_path / "j")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_FATAL
    assert err == "bulkdel: error: HTTP 403: Your account cannot be authenticated.\n"


def test_keyboard_interrupt_outside_the_loop_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl-C that arrives before signal handlers are in place still exits 130, quietly."""

    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(rebuild, "report_from_journal", interrupted)
    code = cli.main(["report", "--journal", str(tmp_path / "j")])
    assert code == cli.EXIT_INTERRUPTED
    assert capsys.readouterr().err == "bulkdel: interrupted\n"


def test_parser_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Bad option values exit 2 with one 'bulkdel: error:' line naming the problem."""
    cases = [
        (["delete", "--concurrency", "0"], "--concurrency must be 1..1,000, got 0"),
        (["delete", "--rate", "0"], "--rate must be > 0 and <= 1e+06, got 0"),
        (["delete", "--batch-size", "0"], "--batch-size must be 1..100, got 0"),
        (["delete", "--format", "xml"], "--format must be one of 'auto', 'lines'"),
        ([], "required"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        err = capsys.readouterr().err
        assert exited.value.code == cli.EXIT_USAGE, argv
        assert err.startswith("bulkdel: error: ") and message in err, (argv, err)
        assert err.count("\n") == 1, err


# -- the key and the base URL ------------------------------------------------------------------


def test_private_key_file_missing_empty_and_good(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--private-key-file: a missing or empty file is a usage error; a good one is used
    (over a wrong key in the environment)."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", "a wrong key from the environment")
    source = write_ids(tmp_path / "ids.txt", hex_ids(5))
    key_file = tmp_path / "key"

    code = cli.main(
        delete_args(source, served.url, tmp_path / "r1", "--private-key-file", str(key_file))
    )
    assert code == cli.EXIT_USAGE
    assert f"cannot read --private-key-file {key_file}" in capsys.readouterr().err

    key_file.write_text("  \n")
    code = cli.main(
        delete_args(source, served.url, tmp_path / "r2", "--private-key-file", str(key_file))
    )
    assert code == cli.EXIT_USAGE
    assert f"--private-key-file {key_file} is empty" in capsys.readouterr().err
    assert served.server.stats.requests == 0

    key_file.write_text(KEY + "\n")
    code = cli.main(
        delete_args(source, served.url, tmp_path / "r3", "--private-key-file", str(key_file))
    )
    assert code == cli.EXIT_OK, capsys.readouterr().err
    assert served.server.deleted == set(hex_ids(5))


def test_no_key_anywhere_is_a_usage_error(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the environment variable or a key file: exit 2 with the fix in the message."""
    monkeypatch.delenv("IMAGEKIT_PRIVATE_KEY", raising=False)
    source = write_ids(tmp_path / "ids.txt", hex_ids(5))
    code = cli.main(delete_args(source, served.url, tmp_path / "r"))
    assert code == cli.EXIT_USAGE
    assert "IMAGEKIT_PRIVATE_KEY is not set" in capsys.readouterr().err
    assert served.server.stats.requests == 0


@pytest.mark.usefixtures("env_key")
def test_base_url_from_the_environment(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --base-url, $IMAGE_KIT_BASE_URL says where the requests go."""
    monkeypatch.setenv("IMAGE_KIT_BASE_URL", served.url)
    source = write_ids(tmp_path / "ids.txt", hex_ids(7))
    code = cli.main(["delete", str(source), "--report-dir", str(tmp_path / "r"), "--quiet"])
    assert code == cli.EXIT_OK, capsys.readouterr().err
    assert served.server.deleted == set(hex_ids(7))


@pytest.mark.usefixtures("env_key")
def test_default_report_dir_is_timestamped_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --report-dir the report goes to ./bulkdel-report-<UTC timestamp>."""
    monkeypatch.chdir(tmp_path)
    source = write_ids(tmp_path / "ids.txt", hex_ids(4))
    code = cli.main(["delete", str(source), "--dry-run", "--json"])
    assert code == cli.EXIT_OK
    (report_dir,) = tmp_path.glob("bulkdel-report-*")
    assert len(report_dir.name) == len("bulkdel-report-20260101T000000Z")
    assert report_dir.name.endswith("Z")
    assert json.loads(capsys.readouterr().out) == check_report_dir(report_dir)


# -- the confirmation prompt -------------------------------------------------------------------


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    """Make stdin and stderr terminals, stdin answering ``answer``."""
    monkeypatch.setattr(sys, "stdin", TtyInput(answer))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


@pytest.mark.usefixtures("env_key")
@pytest.mark.parametrize("answer", ["no\n", "", "maybe\n"])
def test_a_terminal_user_who_does_not_say_yes_deletes_nothing(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
) -> None:
    """Above the threshold on a terminal, 'no', end of input or anything but yes: exit 2,
    no delete sent, no report; the prompt says how many files at most and where from."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(cli.CONFIRM_ABOVE + 1))
    on_a_terminal(monkeypatch, answer)
    code = cli.main(delete_args(source, served.url, tmp_path / "r"))
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert f"about to delete up to 1,001 files listed in {source} from {served.url}" in err
    assert err.endswith("bulkdel: nothing deleted.\n")
    stats = served.server.stats
    assert stats.requests == stats.list_requests == 1  # the preflight; no delete sent
    assert not (tmp_path / "r").exists()


@pytest.mark.usefixtures("env_key")
@pytest.mark.parametrize("answer", ["yes\n", " Y \n"])
def test_a_terminal_user_who_says_yes_goes_on_with_progress(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
) -> None:
    """Answering yes runs the job; the progress line is cleared from the terminal at the end."""
    ids = hex_ids(cli.CONFIRM_ABOVE + 1)
    source = write_ids(tmp_path / "ids.txt", ids)
    on_a_terminal(monkeypatch, answer)
    code = cli.main(delete_args(source, served.url, tmp_path / "r"))
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK, err
    assert "Type 'yes' to go on" in err
    assert "\r\033[K" in err  # the progress display ran and cleared its line
    assert served.server.deleted == set(ids)


@pytest.mark.usefixtures("env_key")
def test_no_prompt_with_yes_or_dry_run_or_below_the_threshold(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--yes and --dry-run never ask, even on a terminal; nor does an input of at most
    CONFIRM_ABOVE lines."""
    big = write_ids(tmp_path / "big.txt", hex_ids(cli.CONFIRM_ABOVE + 1))
    small = write_ids(tmp_path / "small.txt", hex_ids(cli.CONFIRM_ABOVE, 5000))
    for n, extra in enumerate(
        [(str(big), "--yes"), (str(big), "--dry-run"), (str(small), "--json")]
    ):
        on_a_terminal(monkeypatch, "no\n")
        code = cli.main(
            ["delete", *extra, "--base-url", served.url, "--report-dir", str(tmp_path / f"r{n}")]
        )
        err = capsys.readouterr().err
        assert code == cli.EXIT_OK, (extra, err)
        assert "Type 'yes'" not in err, extra
    assert served.server.deleted == set(hex_ids(cli.CONFIRM_ABOVE + 1)) | set(
        hex_ids(cli.CONFIRM_ABOVE, 5000)
    )


# -- signals -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("env_key")
def test_first_sigint_settles_in_flight_and_exits_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGINT mid-run: requests in flight settle, the report adds up, exit 130."""
    ids = hex_ids(5000)
    threaded = ThreadedServer(FakeImageKit(KEY, faults=Faults(latency=0.05)))
    with threaded as server:
        source = write_ids(tmp_path / "ids.txt", ids)
        # Ids are deleted only once the run (and so its signal handler) has started.
        thread = signal_when(lambda: server.stats.ids_deleted >= 100, [signal.SIGINT])
        code = cli.main(
            delete_args(source, threaded.url, tmp_path / "r", "--rate", "20", "--batch-size", "10")
        )
        thread.join()
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERRUPTED
    assert "bulkdel: stopping: letting requests in flight settle" in err
    summary = check_report_dir(tmp_path / "r")
    check_ground_truth(tmp_path / "r", server)
    assert summary["aborted"] == "interrupted by SIGINT"
    assert summary["counts"]["not_attempted"] > 0
    assert summary["counts"]["failed"] == 0  # in-flight requests were answered, not cut off
    assert summary["counts"]["deleted"] == len(server.deleted)


@pytest.mark.usefixtures("env_key")
def test_second_signal_stops_at_once_and_still_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM then SIGINT: the run is cancelled without waiting for slow answers, exit 130,
    and the report still accounts for every id."""
    ids = hex_ids(3000)
    threaded = ThreadedServer(FakeImageKit(KEY, faults=Faults(latency=5.0)))
    with threaded as server:
        source = write_ids(tmp_path / "ids.txt", ids)
        # Requests are in flight (held 5 s by the server) once it counts them.
        thread = signal_when(lambda: server.stats.in_flight >= 2, [signal.SIGTERM, signal.SIGINT])
        started = time.monotonic()
        code = cli.main(
            delete_args(
                source,
                threaded.url,
                tmp_path / "r",
                "--concurrency",
                "2",
                "--json",
                "--no-preflight",
            )
        )
        elapsed = time.monotonic() - started
        thread.join()
    out = capsys.readouterr().out
    assert code == cli.EXIT_INTERRUPTED
    assert elapsed < 4.5, "the second signal did not stop the run at once"
    summary = check_report_dir(tmp_path / "r")
    assert json.loads(out) == summary
    assert summary["aborted"] == "interrupted by SIGTERM"
    counts = summary["counts"]
    assert counts["unique"] == 3000
    # the two batches on the wire may have been applied: they fail as outcome unknown
    assert counts["failed"] == 200
    assert counts["deleted"] == 0


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_fake_server_command_serves_existing_ids_until_sigint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulkdel fake-server --existing FILE` knows only those ids, checks its key, and stops
    on SIGINT with exit 0 and its counters on stderr."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", "key_from_the_environment")
    existing = tmp_path / "existing.txt"
    existing.write_text("\n".join(hex_ids(3)) + "\n\n")
    port = free_port()
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


# -- listing selectors and `bulkdel list` ------------------------------------------------------


@pytest.mark.usefixtures("env_key")
def test_selected_delete_asks_on_a_terminal_then_deletes_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`delete --path /a/ --recursive` on a terminal names the selection in the prompt;
    'no' deletes nothing (exit 2), 'yes' deletes exactly the folder tree (exit 0)."""
    files = seed_files({"/a/": 150, "/a/b/": 50, "/c/": 30})
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dry run with a selector lists and counts the files, sends no delete, exits 0."""
    files = seed_files({"/a/": 40}, tags=("expired",), size=5)
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A listing page that fails every attempt stops the run incomplete: exit 1."""
    files = seed_files({"/a/": 10})
    threaded = ThreadedServer(FakeImageKit(KEY, files=files, faults=Faults(error_5xx=1.0)))
    with threaded as server:
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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulkdel list` prints the selected ids, or writes JSONL records to --output; it
    deletes nothing and reports the count on stderr."""
    files = seed_files({"/a/": 30, "/c/": 5}, size=7)
    threaded = ThreadedServer(FakeImageKit(KEY, files=files))
    with threaded as server:
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


async def test_cancelling_the_run_without_a_signal_propagates(tmp_path: Path) -> None:
    """Cancelled from outside (not by a second signal) while still reading, the run
    re-raises the cancellation and still leaves an accounted report saying so."""
    from bulkdel import BulkDeleter, Settings
    from bulkdel.engine.sources import open_files

    source = write_ids(tmp_path / "ids.txt", hex_ids(5000))  # more than the pool holds
    async with FakeImageKit(KEY, faults=Faults(latency=5.0)) as server:
        deleter = BulkDeleter(
            KEY, settings=Settings(base_url=server.url, concurrency=1), report_dir=tmp_path / "r"
        )
        task = asyncio.ensure_future(
            run_with_signals(deleter, open_files([str(source)]), show_progress=False)
        )
        while server.stats.in_flight == 0:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    summary = check_report_dir(tmp_path / "r")
    assert summary["aborted"] == "cancelled"
    assert summary["complete"] is False
    assert summary["counts"]["failed"] == 100  # the batch on the wire: outcome unknown
    assert summary["counts"]["not_attempted"] > 0
