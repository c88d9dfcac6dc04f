"""``bulkdel`` run in-process through ``cli.main``: exit codes and output, the key and the
base URL.

The subprocess tests in test_cli.py check the command as a user runs it; these call the same
``main`` in the test process (the fake server runs in its own thread), so that every branch
of the CLI is measured and each exit path is checked on its own.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from bulkdel import cli
from bulkdel.errors import FatalAPIError
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import (
    KEY,
    ThreadedServer,
    check_ground_truth,
    check_report_dir,
    delete_args,
    hex_ids,
    write_ids,
)

rebuild = importlib.import_module(
    "bulkdel.record.journal.rebuild"
)  # `report` imports it when it runs


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
