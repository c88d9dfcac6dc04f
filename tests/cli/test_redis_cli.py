"""Real processes: a Redis that is unreachable, refuses the password, is not Redis, or has
another scheme is named in one line (never its password), exit 3 (2 for a bad URL)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers import hex_ids, run_cli, write_ids
from tests.redis_server import RedisServer, require_redis

SECRET = "hunter2-secret"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _commands(tmp_path: Path, url: str) -> list[list[str]]:
    ids = str(write_ids(tmp_path / "ids.txt", hex_ids(5)))
    base = ["--base-url", "http://127.0.0.1:9", "--allow-insecure-http", "--no-preflight"]
    return [
        ["delete", ids, *base, "--yes", "--quiet", "--report-dir", str(tmp_path / "r")],
        ["list", "--path", "/a/", *base],
        ["job", "submit", "--job", "j", ids],
        ["job", "worker", "--job", "j", *base],
        ["job", "status", "j"],
        ["job", "report", "j", "--report-dir", str(tmp_path / "jr")],
        ["job", "cancel", "j"],
    ]


def _check_one_line(done: object, says: str) -> None:
    err = done.stderr  # type: ignore[attr-defined]
    assert done.returncode == 3, err  # type: ignore[attr-defined]
    assert SECRET not in err and SECRET not in done.stdout  # type: ignore[attr-defined]
    assert "Traceback" not in err
    assert says in err, err


def test_an_unreachable_redis_at_start_exits_3_naming_the_url(tmp_path: Path) -> None:
    """delete, list and every job command: one line naming the redacted URL, exit 3."""
    url = f"redis://:{SECRET}@127.0.0.1:{_closed_port()}/0"
    for command in _commands(tmp_path, url):
        done = run_cli([*command, "--redis", url], timeout=60)
        shown = url.replace(SECRET, "***")
        _check_one_line(done, f"bulkdel: error: cannot use Redis at {shown}: ")


def test_a_refused_password_exits_3_at_once(tmp_path: Path) -> None:
    """AuthenticationError is a ConnectionError, but it is never waited on."""
    require_redis()
    server = RedisServer(tmp_path, extra=["--requirepass", "the-right-one"])
    server.start()
    try:
        url = f"redis://:{SECRET}@127.0.0.1:{server.port}/0"
        for command in _commands(tmp_path, url)[::3]:
            done = run_cli([*command, "--redis", url, "--redis-wait", "600"], timeout=60)
            _check_one_line(done, "the password was refused")
    finally:
        server.stop()


def test_a_server_that_is_not_redis_exits_3(tmp_path: Path) -> None:
    """An HTTP answer where Redis should be: named as such."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(100)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        url = f"redis://:{SECRET}@127.0.0.1:{listener.getsockname()[1]}/0"
        done = run_cli(["job", "status", "j", "--redis", url], timeout=60)
        _check_one_line(done, "does not answer as Redis does")
    finally:
        listener.close()


@pytest.mark.parametrize("url", [f"ftp://:{SECRET}@h/0", "localhost:6379", ""])
def test_another_scheme_is_a_usage_error(url: str) -> None:
    """Exit 2, one line naming the option, no ValueError traceback."""
    done = run_cli(["job", "status", "j", "--redis", url], timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert SECRET not in done.stderr and "error: --redis " in done.stderr
