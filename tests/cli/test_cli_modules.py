"""The CLI's own parts: lazy imports, settings resolved once, and `bulkdel list` stopped by
signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bulkdel import cli
from bulkdel.cli.args import DEFAULTS
from bulkdel.cli.options import CommandOptions, DeleteOptions, ListOptions, command_options
from bulkdel.cli.parser import build_parser
from bulkdel.cli.settings import delete_run, list_run, resolve_base_url, settings_for
from bulkdel.errors import UsageError
from bulkdel.imagekit import DEFAULT_BASE_URL
from bulkdel.testing import FakeImageKit, Faults, seed_files
from tests.helpers import KEY, ThreadedServer, signal_when, write_ids

_IMPORTS = """
import sys
from bulkdel.cli import main
code = main(sys.argv[1:])
loaded = [m for m in ("aiohttp.web", "bulkdel.testing") if m in sys.modules]
print(code, loaded)
"""


@pytest.mark.parametrize("command", ["delete", "list"])
def test_delete_and_list_never_import_the_fake_server(command: str, tmp_path: Path) -> None:
    """`bulkdel delete` and `list` load neither ``bulkdel.testing`` nor ``aiohttp.web``."""
    source = write_ids(tmp_path / "ids.txt", ["a" * 24])
    argv = {
        "delete": ["delete", str(source), "--dry-run", "--report-dir", str(tmp_path / "r")],
        "list": ["list", "--path", "/a/", "--base-url", "http://127.0.0.1:9", "--timeout", "1"],
    }[command]
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS, *argv, "--max-attempts", "1"],
        capture_output=True,
        text=True,
        check=False,
        env={"IMAGEKIT_PRIVATE_KEY": KEY, "PATH": ""},
        timeout=60,
    )
    assert result.stdout.split(" ", 1)[1].strip() == "[]", result.stdout + result.stderr


def parse(*argv: str) -> CommandOptions:
    return command_options(build_parser().parse_args(list(argv)))


def delete(*argv: str) -> DeleteOptions:
    options = parse("delete", *argv)
    assert isinstance(options, DeleteOptions)
    return options


def listing(*argv: str) -> ListOptions:
    options = parse("list", *argv)
    assert isinstance(options, ListOptions)
    return options


def test_option_defaults_are_the_settings_defaults() -> None:
    """Options not given leave the library's defaults: one place for them."""
    for options in (delete(), listing("--path", "/")):
        settings = settings_for(options.connection, options.requests, {})
        assert settings == DEFAULTS, options


def test_base_url_option_then_environment_then_imagekit() -> None:
    """--base-url wins over $IMAGE_KIT_BASE_URL, which wins over ImageKit's API."""
    env = {"IMAGE_KIT_BASE_URL": "https://env.example"}
    assert resolve_base_url("https://opt.example", env) == "https://opt.example"
    assert resolve_base_url(None, env) == "https://env.example"
    assert resolve_base_url(None, {}) == DEFAULT_BASE_URL


def test_a_setting_the_library_refuses_is_named_as_its_option() -> None:
    """A value Settings refuses becomes a UsageError naming the option."""
    with pytest.raises(UsageError, match=r"^--max-delete must be >= 0, got -5$"):
        parse("delete", "--max-delete", "-5")


def test_jobs_hold_the_key_only_when_it_is_needed_and_never_show_it(tmp_path: Path) -> None:
    """A dry run of files needs no key; selectors and real runs do; repr never shows it."""
    env = {"IMAGEKIT_PRIVATE_KEY": KEY}
    assert delete_run(delete("--dry-run"), {}).private_key is None
    run = delete_run(delete("--dry-run", "--tag", "x"), env)
    assert run.private_key == KEY
    assert KEY not in repr(run)
    assert list_run(listing("--tag", "x"), env).private_key == KEY
    with pytest.raises(UsageError, match="select files with"):
        list_run(listing(), env)


@pytest.fixture
def listing_server(monkeypatch: pytest.MonkeyPatch) -> ThreadedServer:
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.delenv("IMAGE_KIT_BASE_URL", raising=False)
    return ThreadedServer(FakeImageKit(KEY, files=seed_files({"/a/": 5000})))


def test_list_stops_after_the_page_in_flight_on_sigint(
    listing_server: ThreadedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGINT during `bulkdel list`: the pages listed are written whole, their count is on
    stderr, exit 130, no traceback."""
    with listing_server as server:
        thread = signal_when(lambda: server.stats.list_requests >= 2, [signal.SIGINT])
        # paced at 2 pages a second: the signal arrives while the listing has pages to go
        argv = ["list", "--path", "/a/", "--rate", "2", "--no-preflight"]
        code = cli.main([*argv, "--base-url", listing_server.url])
        thread.join()
    captured = capsys.readouterr()
    listed = captured.out.splitlines()
    assert code == cli.EXIT_INTERRUPTED, captured.err
    assert 0 < len(listed) < 5000
    assert listed == [f"{n:024x}" for n in range(len(listed))]  # whole lines, in order
    assert f"bulkdel: {len(listed):,} files" in captured.err
    assert "Traceback" not in captured.err


def test_list_stops_at_once_on_a_second_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second signal does not wait for a slow page: exit 130 at once, no traceback."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    files = seed_files({"/a/": 10})
    threaded = ThreadedServer(FakeImageKit(KEY, files=files, faults=Faults(latency=30.0)))
    with threaded as server:
        thread = signal_when(
            lambda: server.stats.list_requests >= 1, [signal.SIGTERM, signal.SIGINT]
        )
        argv = ["list", "--path", "/a/", "--no-preflight", "--base-url", threaded.url]
        code = cli.main(argv)
        thread.join()
    captured = capsys.readouterr()
    assert code == cli.EXIT_INTERRUPTED
    assert captured.out == ""
    assert "bulkdel: 0 files" in captured.err
    assert "Traceback" not in captured.err


def test_list_jsonl_output_file_is_whole_after_a_signal(
    listing_server: ThreadedServer, tmp_path: Path
) -> None:
    """With -o, what was listed before the signal is in the file as whole JSON records."""
    out = tmp_path / "l.jsonl"
    with listing_server as server:
        thread = signal_when(lambda: server.stats.list_requests >= 2, [signal.SIGTERM])
        argv = ["list", "--path", "/a/", "--rate", "2", "--jsonl", "-o", str(out), "--no-preflight"]
        code = cli.main([*argv, "--base-url", listing_server.url])
        thread.join()
    assert code == cli.EXIT_INTERRUPTED
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert 0 < len(records) < 5000


_PARSER_IMPORTS = """
import sys
from bulkdel.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m.startswith("bulkdel")))
"""
#: what only ``verify``, ``purge`` and the listing need
_COMMAND_MODULES = (
    "bulkdel.verify",
    "bulkdel.purge.plan",
    "bulkdel.purge.cache",
    "bulkdel.cli.verify",
    "bulkdel.cli.purge",
    "bulkdel.cli.listing",
    "bulkdel.listing.pager",
)


@pytest.mark.parametrize("argv", [["delete", "--help"], ["--version"], ["job", "worker", "--help"]])
def test_building_the_parser_imports_no_command_module(argv: list[str]) -> None:
    """`bulkdel delete --help` builds the whole parser, and loads no command's module."""
    result = subprocess.run(
        [sys.executable, "-c", _PARSER_IMPORTS, *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))
    assert "bulkdel.cli.parser" in loaded
    assert [m for m in _COMMAND_MODULES if m in loaded] == []
