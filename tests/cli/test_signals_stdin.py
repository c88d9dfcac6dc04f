"""Signals while stdin is an idle pipe, with real processes: a blocked read never holds a stop.

``(echo ID; sleep 30) | bulkdel delete -``: the first SIGINT stops reading at once, the
second ends the run at once (exit 130, the report written) whatever is in flight. The bounds
below are generous on purpose: they tell "at once" from "when the input ends" (30 s away).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, ThreadedServer, check_report_dir, hex_ids

#: far under the 30 s the input stays open, far over any scheduling delay
BOUND = 5.0
BULKDEL = (sys.executable, "-m", "bulkdel")
FAST = ("--batch-size", "1", "--json", "--no-preflight")


def _start(url: str, report_dir: Path) -> subprocess.Popen[str]:
    """``bulkdel delete -`` with stdin a pipe that the test keeps open and idle."""
    process = subprocess.Popen(
        [*BULKDEL, "delete", "-", "--base-url", url, "--report-dir", str(report_dir), *FAST],
        env={**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write("".join(i + "\n" for i in hex_ids(2)))
    process.stdin.flush()  # and then nothing: the pipe stays open
    return process


def _ended(process: subprocess.Popen[str]) -> tuple[float, str]:
    """When the process ended (``time.monotonic()``) and its stderr; stdin stays open and
    idle until then (``communicate`` would close it: an end of input, not a stop)."""
    assert process.stdin is not None and process.stderr is not None and process.stdout
    try:
        process.wait(timeout=25)
        ended = time.monotonic()
    finally:
        process.kill()
        process.stdin.close()
    stderr = process.stderr.read()
    process.stderr.close()
    process.stdout.close()
    return ended, stderr


def _wait_for(condition: object, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    assert condition(), "the condition never held"  # type: ignore[operator]


def test_a_second_sigint_with_an_idle_stdin_ends_the_run_at_once(tmp_path: Path) -> None:
    """Requests held by the server for 30 s and stdin idle: the first SIGINT waits for them,
    the second ends the run with exit 130 and an accounted report, long before either ends."""
    threaded = ThreadedServer(FakeImageKit(KEY, faults=Faults(latency=30.0)))
    with threaded as server:
        process = _start(threaded.url, tmp_path / "r")
        _wait_for(lambda: server.stats.in_flight >= 2)  # both ids are on the wire
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)  # the first one is being handled: not a timing assertion
        process.send_signal(signal.SIGINT)
        second = time.monotonic()
        took, stderr = _ended(process)
        took -= second
    assert process.returncode == 130, stderr
    assert took < BOUND, f"the second SIGINT took {took:.1f}s to end the run"
    summary = check_report_dir(tmp_path / "r")
    assert summary["aborted"] == "interrupted by SIGINT"
    assert summary["counts"]["unique"] == 2
    assert summary["counts"]["failed"] == 2  # cut off on the wire: outcome unknown
    assert summary["elapsed_s"] < 20  # the duration is the run's, not the input's


def test_the_first_sigint_stops_reading_an_idle_stdin(tmp_path: Path) -> None:
    """Nothing in flight and stdin idle: the first SIGINT alone ends the run (exit 130), the
    ids read accounted, without waiting for the input to end."""
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded as server:
        process = _start(threaded.url, tmp_path / "r")
        _wait_for(lambda: server.stats.ids_deleted >= 2)
        process.send_signal(signal.SIGINT)
        first = time.monotonic()
        took, stderr = _ended(process)
        took -= first
    assert process.returncode == 130, stderr
    assert "stopping" in stderr
    assert took < BOUND, f"the first SIGINT took {took:.1f}s to stop reading"
    summary = check_report_dir(tmp_path / "r")
    assert summary["counts"]["deleted"] == 2
    assert summary["complete"] is False
