"""A private ``redis-server`` for tests: its own port and directory, stoppable and restartable.

Tests never touch the machine's own Redis. Where ``redis-server`` is missing, Redis tests skip
with the way to install it, unless ``BULKDEL_REQUIRE_REDIS=1`` (set by ``.ci/run``): then they
fail, so that CI cannot silently stop testing the Redis code.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

INSTALL_HINT = "redis-server not found; install it (Debian: apt-get install redis-server)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 in ``directory``.

    Args:
        directory: where it keeps its files (the AOF, when ``persistent``).
        persistent: ``appendonly yes`` with ``appendfsync always``; else nothing on disk.
        extra: more ``redis-server`` options (``--requirepass``, ``--maxmemory``, ...).
    """

    def __init__(
        self, directory: Path, *, persistent: bool = False, extra: Sequence[str] = ()
    ) -> None:
        self.directory = directory
        self.persistent = persistent
        self.extra = list(extra)
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port and directory) and wait until it answers."""
        binary = shutil.which("redis-server")
        assert binary is not None, INSTALL_HINT
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        args += self.extra
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    # -NOAUTH: up, with a password (``--requirepass``)
                    if conn.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Stop it (SIGTERM, so a persistent server writes its AOF) and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def require_redis() -> None:
    """Skip (or fail under ``BULKDEL_REQUIRE_REDIS=1``) when ``redis-server`` is missing."""
    if shutil.which("redis-server") is None:
        if os.environ.get("BULKDEL_REQUIRE_REDIS") == "1":
            pytest.fail(INSTALL_HINT + " (BULKDEL_REQUIRE_REDIS=1)")
        pytest.skip(INSTALL_HINT)


def _running(tmp_path: Path, *, persistent: bool) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path / "redis", persistent=persistent)
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty, non-persistent ``redis-server`` for one test."""
    yield from _running(tmp_path, persistent=False)


@pytest.fixture
def persistent_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` with ``appendonly yes`` (``appendfsync always``) for restart tests."""
    yield from _running(tmp_path, persistent=True)
