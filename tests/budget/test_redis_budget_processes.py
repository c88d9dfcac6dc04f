"""Independent ``bulkdel delete --redis`` processes on one account share its limit.

Real processes against one rate-limited fake server (its own process) and a private
redis-server: together they hold the limit with few 429s, and Redis going away for a while
stops the sending (fail closed) but loses nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import RedisServer

KEY = "private_test_key_0123456789"
RATE = 200.0
BATCH = 10


@dataclass
class FakeServerProcess:
    """``python -m bulkdel.testing`` on a free port."""

    process: subprocess.Popen[str]
    url: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_fake/stats", timeout=10) as answer:
            data: dict[str, Any] = json.load(answer)
            return data


@pytest.fixture
def limited_server() -> Iterator[FakeServerProcess]:
    """A fake server refusing past RATE requests per second (429s state the limit)."""
    argv = [sys.executable, "-m", "bulkdel.testing", "--port", "0", "--private-key", KEY]
    process = subprocess.Popen(
        [*argv, "--rate", str(RATE)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on " in line, line
    try:
        yield FakeServerProcess(process, line.rsplit("listening on ", 1)[1].strip())
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


class _Sampler:
    """The fake server's answered requests (200s), read every 20 ms on a thread."""

    def __init__(self, server: FakeServerProcess) -> None:
        self.server = server
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(0.02):
            ok = self.server.stats()["by_status"].get("200", 0)
            self.samples.append((time.monotonic(), ok))

    def rate(self, total: int) -> float:
        """Answered requests per second from 40% to 90% of ``total``."""
        start = next(s for s in self.samples if s[1] >= total * 4 // 10)
        end = next(s for s in self.samples if s[1] >= total * 9 // 10)
        return (end[1] - start[1]) / (end[0] - start[0])


def _ids(path: Path, start: int, count: int) -> Path:
    path.write_text("".join(f"{i:024x}\n" for i in range(start, start + count)))
    return path


def _delete(
    ids: Path, server: FakeServerProcess, redis_url: str, tmp: Path
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "bulkdel", "delete", str(ids), "--base-url", server.url]
    argv += ["--batch-size", str(BATCH), "--concurrency", "4", "--report-dir", str(tmp / ids.stem)]
    argv += ["--redis", redis_url, "--json", "--quiet", "--yes"]
    env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY}
    env.pop("BULKDEL_REDIS_URL", None)
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The summary the process printed."""
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    summary: dict[str, Any] = json.loads(out)
    return summary


def test_three_processes_split_the_accounts_limit(
    limited_server: FakeServerProcess, redis_server: RedisServer, tmp_path: Path
) -> None:
    per_process = 3_000  # 300 requests each: 3.5 s together at the limit, past its burst
    files = [_ids(tmp_path / f"part{n}.txt", n * 10**6, per_process) for n in range(3)]
    with _Sampler(limited_server) as sampler:
        processes = [_delete(f, limited_server, redis_server.url, tmp_path) for f in files]
        results = [_finish(p) for p in processes]
    stats = limited_server.stats()
    for summary in results:
        assert summary["counts"]["deleted"] == per_process
    assert stats["ids_deleted"] == 3 * per_process
    refused = stats["by_status"].get("429", 0)
    assert refused / stats["requests"] <= 0.02, stats
    # Past the bucket's first second's worth and before the last process drains alone.
    assert sampler.rate(3 * per_process // BATCH) >= 0.9 * RATE, sampler.samples


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_redis_gone_for_a_while_stops_the_sending_and_loses_nothing(
    limited_server: FakeServerProcess, persistent_redis_server: RedisServer, tmp_path: Path
) -> None:
    redis = persistent_redis_server
    per_process = 3_000  # 600 requests: the bucket's first second's worth, then paced
    files = [_ids(tmp_path / f"part{n}.txt", n * 10**6, per_process) for n in range(2)]
    processes = [_delete(f, limited_server, redis.url, tmp_path) for f in files]
    _wait_for(lambda: limited_server.stats()["requests"] >= 300)  # paced by now
    redis.stop()
    time.sleep(1.0)  # what was granted before goes out, then nothing
    during = limited_server.stats()["requests"]
    time.sleep(2.0)
    assert limited_server.stats()["requests"] == during  # fail closed: no turn, no send
    redis.start()
    results = [_finish(p) for p in processes]
    for summary in results:
        assert summary["counts"]["deleted"] == per_process
    stats = limited_server.stats()
    assert stats["ids_deleted"] == 2 * per_process
    # The pace and the gate were kept (appendonly): no fresh first contact after the restart.
    assert stats["by_status"].get("429", 0) / stats["requests"] <= 0.02, stats
