"""Checks shared by the end-to-end tests: the report's equalities and the server's truth."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bulkdel.testing import FakeImageKit

#: the key of the shared fake servers (the ``fake_server`` fixture, the CLI tests)
KEY = "private_test_key_0123456789"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_ids(path: Path, ids: list[str]) -> Path:
    """Write ``ids`` one a line to ``path``; returns ``path``."""
    path.write_text("".join(i + "\n" for i in ids))
    return path


def delete_args(source: Path, url: str, report_dir: Path, *extra: str) -> list[str]:
    """``bulkdel delete SOURCE --base-url URL --report-dir DIR EXTRA...``."""
    return ["delete", str(source), "--base-url", url, "--report-dir", str(report_dir), *extra]


def hex_ids(count: int, start: int = 0) -> list[str]:
    """``count`` distinct 24-hex ids."""
    return [f"{i:024x}" for i in range(start, start + count)]


def read_lines(path: Path) -> list[str]:
    """The non-empty lines of a report list."""
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a report JSONL file."""
    return [json.loads(line) for line in read_lines(path)]


def check_report_dir(report_dir: Path) -> dict[str, Any]:
    """Assert the report files agree with summary.json and its equalities; return the summary."""
    summary = json.loads((report_dir / "summary.json").read_text())
    counts = summary["counts"]
    assert counts["read"] == counts["invalid"] + counts["duplicate"] + counts["unique"], counts
    assert counts["unique"] == (
        counts["deleted"] + counts["missing"] + counts["failed"] + counts["not_attempted"]
    ), counts
    deleted = read_lines(report_dir / "deleted.txt")
    missing = read_lines(report_dir / "missing.txt")
    failed = [r["fileId"] for r in read_jsonl(report_dir / "failed.jsonl")]
    not_attempted = read_lines(report_dir / "not_attempted.txt")
    after_retry = read_lines(report_dir / "missing_after_retry.txt")
    assert len(deleted) == counts["deleted"]
    assert len(missing) == counts["missing"]
    assert len(failed) == counts["failed"]
    assert len(not_attempted) == counts["not_attempted"]
    assert len(after_retry) == counts["missing_after_retry"]
    assert set(after_retry) <= set(missing)
    every = deleted + missing + failed + not_attempted
    assert len(every) == len(set(every)), "an id is in two buckets"
    assert len(read_jsonl(report_dir / "invalid.jsonl")) == counts["invalid"]
    assert len(read_lines(report_dir / "duplicates.txt")) == counts["duplicate"]
    return summary


def check_ground_truth(report_dir: Path, server: FakeImageKit) -> None:
    """Nothing deleted that is not reported deleted or missing; nothing reported deleted
    that the server did not delete."""
    deleted = set(read_lines(report_dir / "deleted.txt"))
    missing = set(read_lines(report_dir / "missing.txt"))
    assert deleted <= server.deleted, "reported deleted but not deleted on the server"
    assert server.deleted <= deleted | missing, "deleted on the server but not reported"


class ThreadedServer:
    """Serves a FakeImageKit from its own event loop thread, for tests that run the CLI as a
    subprocess and still want the server's ground truth in-process."""

    def __init__(self, server: FakeImageKit) -> None:
        self.server = server
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FakeImageKit:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.server.start(), self._loop)
        self.url = future.result(timeout=10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=10)
        # A handler still waiting (a stalled answer) is cancelled and awaited here, as
        # asyncio.run does: left pending, it would be collected during a later test, and
        # asyncio's "Task was destroyed" would land in that test's log.
        asyncio.run_coroutine_threadsafe(_cancel_the_rest(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


async def _cancel_the_rest() -> None:
    """Cancel every other task of the running loop and wait for them to end."""
    rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


def run_cli(
    args: list[str],
    *,
    key: str | None = KEY,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bulkdel ARGS`` with the key in the environment; capture everything."""
    env = {k: v for k, v in os.environ.items() if k != "IMAGEKIT_PRIVATE_KEY"}
    if key is not None:
        env["IMAGEKIT_PRIVATE_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "bulkdel", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def signal_when(
    condition: Any, signals: list[signal.Signals], limit: float = 30
) -> threading.Thread:
    """Send ``signals`` to this process (from a thread) once ``condition()`` holds."""

    def wait_and_signal() -> None:
        deadline = time.monotonic() + limit
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        for sig in signals:
            os.kill(os.getpid(), sig)

    thread = threading.Thread(target=wait_and_signal, daemon=True)
    thread.start()
    return thread


class VirtualClock:
    """Time that passes only when someone sleeps on it; sleeps are recorded and return at
    once (after one turn of the loop, so other tasks run)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class TtyInput(io.StringIO):
    """stdin as a terminal that answers with ``text``."""

    def isatty(self) -> bool:
        return True


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    """Make stdin and stderr terminals, stdin answering ``answer``."""
    monkeypatch.setattr(sys, "stdin", TtyInput(answer))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)


#: the ``make_fake`` fixture (conftest.py): ``await make_fake(**options)`` starts a fake server
MakeFake = Callable[..., Awaitable[FakeImageKit]]
#: the ``make_served`` fixture (conftest.py): ``make_served(**options)`` serves one in a thread
MakeServed = Callable[..., ThreadedServer]
