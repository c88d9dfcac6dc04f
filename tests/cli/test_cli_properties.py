"""Every option of every command, given a hostile value (``--``, empty, huge, unicode, a
number out of range): one clear line and a documented exit code, never an internal error or a
traceback, never a request to a host the command line did not name, never stdin read when
sources were given.

The option list is read from the parser itself, so that a new option is covered the day it
is added. Hypothesis runs derandomized with bounded examples (part of the normal suite).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulkdel import cli
from bulkdel.cli.fake_server import fake_server_parser
from bulkdel.cli.parser import build_parser
from bulkdel.errors import UsageError
from bulkdel.testing import FakeImageKit
from tests.helpers import KEY, ThreadedServer, hex_ids, write_ids

#: the exit codes of docs/contract.md, "Exit codes"
DOCUMENTED = {0, 1, 2, 3, 130}
#: an id only stdin holds: a command given sources must never read it
STDIN_ID = "feedfacefeedfacefeedface"


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name != "fake-server":  # its options are its own parser's, below
                    yield from _options(sub, (*path, name))
        elif action.option_strings:
            yield (path, max(action.option_strings, key=len))


OPTIONS = sorted(_options(build_parser(), ()))
FAKE_SERVER_OPTIONS = sorted(
    max(a.option_strings, key=len) for a in fake_server_parser()._actions if a.option_strings
)

HOSTILE = st.one_of(
    st.sampled_from(
        [
            "--",
            "",
            " ",
            "-",
            "-1",
            "0",
            "nan",
            "inf",
            "1e400",
            "9" * 5000,
            "a" * 100_000,
            "\x00",
            "é",
            "=",
            "--x",
            "/",
            "redis://example.com:6379/0",
            "https://example.com",
        ]
    ),
    st.text(max_size=20),
)


def _baseline(command: tuple[str, ...], tmp: Path, url: str) -> list[str]:
    """A command line that runs quickly against the fake server (or fails fast for want
    of Redis), before the option under test is appended (the last value given wins)."""
    ids = str(write_ids(tmp / "ids.txt", hex_ids(2)))
    report = str(tmp / "r")
    first = command[0] if command else ""
    if first == "delete":
        return [ids, "--base-url", url, "--report-dir", report, "--yes", "--max-attempts", "1"]
    if first == "list":
        return ["--path", "/a/", "--base-url", url, "-o", str(tmp / "out.txt")]
    if first == "report":
        return ["--journal", str(tmp / "no-journal"), "--report-dir", report]
    if first == "demo":
        return ["--ids", "20", "--report-dir", report]
    if command == ("job",):
        return []
    if first == "job":
        sends = ["--base-url", url] if command[1] in ("submit", "worker") else []
        return [
            "--job",
            "j",
            "--redis-wait",
            "0",
            *sends,
            *([ids] if command[1] == "submit" else []),
        ]
    if first in ("verify", "purge"):
        return [str(tmp / "no-report"), "--base-url", url]
    return ["delete", ids, "--base-url", url, "--dry-run", "--report-dir", report]


class Network:
    """Refuses and records every connection or name lookup that is not loopback."""

    def __init__(self) -> None:
        self.hosts: list[str] = []

    @staticmethod
    def _loopback(host: Any) -> bool:
        if not isinstance(host, str):
            return True  # a unix socket
        if host in ("localhost", ""):
            return True
        try:
            address = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        return address.is_loopback or address.is_unspecified  # 0.0.0.0: a bind, not a request

    @contextlib.contextmanager
    def guard(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        real_lookup = socket.getaddrinfo
        real_connect = socket.socket.connect

        def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if not self._loopback(name):
                self.hosts.append(str(name))
                raise socket.gaierror(socket.EAI_NONAME, "blocked in tests")
            return real_lookup(host, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> Any:
            host = address[0] if isinstance(address, tuple) else address
            if not self._loopback(host):
                self.hosts.append(str(host))
                raise ConnectionRefusedError("blocked in tests")
            return real_connect(sock, address)

        with monkeypatch.context() as patch:
            patch.setattr(socket, "getaddrinfo", lookup)
            patch.setattr(socket.socket, "connect", connect)
            yield


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ThreadedServer, FakeImageKit]]:
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded as server:
        yield threaded, server


def _run(
    argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, list[str]]:
    """``bulkdel ARGV`` in ``cwd`` (a relative path such as ``-o 1e400`` lands there)."""
    network = Network()
    with network.guard(monkeypatch), monkeypatch.context() as patch:
        patch.chdir(cwd)
        patch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
        for name in ("IMAGE_KIT_BASE_URL", "IMAGEKIT_BASE_URL", "BULKDEL_REDIS_URL"):
            patch.delenv(name, raising=False)
        patch.setattr("sys.stdin", io.StringIO(STDIN_ID + "\n"))
        try:
            code = cli.main(argv)
        except SystemExit as exit_:  # a bad option exits at once; --help, --version: 0
            code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out + captured.err, network.hosts


def _check(argv: list[str], code: int, output: str, hosts: list[str], server: FakeImageKit) -> None:
    shown = " ".join(a[:80] for a in argv)
    assert code in DOCUMENTED, (shown, code, output[-2000:])
    assert "bulkdel: internal error" not in output, (shown, output[-2000:])
    assert "Traceback" not in output, (shown, output[-2000:])
    named = " ".join(argv)
    assert all(host in named for host in hosts), (shown, hosts)
    assert STDIN_ID not in server.deleted, shown


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=lambda v: " ".join(v) or "-")
def test_a_double_dash_value_is_refused_by_every_option(
    command: tuple[str, ...],
    option: str,
    served: tuple[ThreadedServer, FakeImageKit],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--opt=--` (argparse gives [] and skips the type check): exit 2 naming the option."""
    threaded, server = served
    with tempfile.TemporaryDirectory() as tmp:
        argv = [*command, *_baseline(command, Path(tmp), threaded.url), f"{option}=--"]
        code, output, hosts = _run(argv, Path(tmp), monkeypatch, capsys)
    _check(argv, code, output, hosts, server)
    assert code == 2, (argv, output)
    assert output.startswith("bulkdel: error: ") and option in output, output
    assert output.count("\n") == 1, output


@pytest.mark.parametrize("option", FAKE_SERVER_OPTIONS)
def test_a_double_dash_value_is_refused_by_the_fake_server(option: str) -> None:
    """The fake server's own parser refuses `--opt=--` too."""
    with pytest.raises(UsageError) as info:
        fake_server_parser().parse_args([f"{option}=--"])
    assert option in str(info.value)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(choice=st.sampled_from(OPTIONS), value=HOSTILE, joined=st.booleans())
def test_any_option_value_gives_a_documented_outcome(
    choice: tuple[tuple[str, ...], str],
    value: str,
    joined: bool,
    served: tuple[ThreadedServer, FakeImageKit],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Any value for any option: a documented exit code, no internal error or traceback, no
    host the command line did not name, stdin never read when sources were given."""
    command, option = choice
    threaded, server = served
    given_as = [f"{option}={value}"] if joined else [option, value]
    with tempfile.TemporaryDirectory() as tmp:
        argv = [*command, *_baseline(command, Path(tmp), threaded.url), *given_as]
        code, output, hosts = _run(argv, Path(tmp), monkeypatch, capsys)
    _check(argv, code, output, hosts, server)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("base-url-empty", "bulkdel: error: --base-url needs a value, got ''"),
        ("report-dir-blank", "bulkdel: error: --report-dir needs a value, got ' '"),
        ("journal-too-long", "bulkdel: error: --journal holds a name too long for a file"),
        ("key-file-binary", "is not UTF-8 text"),
        ("list-output-dir", "bulkdel: error: --output '/' cannot be written: Is a directory"),
    ],
)
def test_what_the_property_found(
    case: str,
    expected: str,
    served: tuple[ThreadedServer, FakeImageKit],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The values the property above found, each a one-line error and exit 2 (they fell
    back to the real API, ended in an internal error, or wrote into the working directory)."""
    threaded, server = served
    with tempfile.TemporaryDirectory() as tmp:
        base = _baseline(("delete",), Path(tmp), threaded.url)
        binary = Path(tmp) / "key.bin"
        binary.write_bytes(b"\xf8\xff" * 10)
        argv = {
            "base-url-empty": ["delete", *base, "--base-url", ""],
            "report-dir-blank": ["delete", *base, "--report-dir", " "],
            "journal-too-long": ["delete", *base, "--journal", "9" * 300],
            "key-file-binary": ["delete", *base, "--private-key-file", str(binary)],
            "list-output-dir": [
                "list",
                *_baseline(("list",), Path(tmp), threaded.url),
                "--output",
                "/",
            ],
        }[case]
        code, output, hosts = _run(argv, Path(tmp), monkeypatch, capsys)
    _check(argv, code, output, hosts, server)
    assert code == 2, output
    assert expected in output and output.count("\n") == 1, output
