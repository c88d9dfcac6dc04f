"""The task-queue recipe (docs/task-queue.md): a real Dramatiq worker process, on a private
redis-server, deletes batches sent to ``delete_ids`` from the fake server; the outcomes it
returns add up to the fake's ground truth."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bulkdel.delete.batch import BatchOutcome
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import hex_ids
from tests.redis_server import RedisServer

pytest.importorskip("dramatiq", reason="the task-queue recipe needs bulkdel[dramatiq]")

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
KEY = "private_task_queue_key"


@pytest.fixture
def tasks(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The recipe's module, imported here (to enqueue and read results) on the test's Redis."""
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop("bulkdel_tasks", None)
    module = importlib.import_module("bulkdel_tasks")
    try:
        yield module
    finally:
        module.broker.close()
        sys.modules.pop("bulkdel_tasks", None)


def _worker(redis_url: str, base_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "IMAGEKIT_BASE_URL": base_url,
        "IMAGEKIT_PRIVATE_KEY": KEY,
    }
    argv = [sys.executable, "-m", "dramatiq", "bulkdel_tasks", "--processes", "2"]
    argv += ["--threads", "2", "--path", str(EXAMPLES)]
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


async def test_a_dramatiq_worker_deletes_the_batches_and_the_outcomes_add_up(
    tasks: ModuleType, redis_server: RedisServer, tmp_path: Path
) -> None:
    """1,000 ids in 10 tasks, 900 of them on the server, 15% 5xx: every id in exactly one
    bucket, the deleted ones exactly the server's, through two worker processes."""
    ids = hex_ids(1000)
    faults = Faults(seed=5, error_5xx=0.15)
    async with FakeImageKit(KEY, existing=ids[:900], faults=faults) as server:
        worker = _worker(redis_server.url, server.url, tmp_path / "worker.log")
        try:
            messages = [tasks.delete_ids.send(ids[i : i + 100]) for i in range(0, 1000, 100)]
            results = [
                await asyncio.to_thread(m.get_result, block=True, timeout=120_000) for m in messages
            ]
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    outcomes = [BatchOutcome.from_dict(r) for r in results]
    deleted = [i for o in outcomes for i in o.deleted]
    missing = [i for o in outcomes for i in o.missing + o.missing_after_retry]
    failed = [f[0] for o in outcomes for f in o.failed]
    assert sorted(deleted + missing + failed) == sorted(ids), (tmp_path / "worker.log").read_text()
    assert set(deleted) == server.deleted
    assert set(missing) <= set(ids[900:])
    assert len(deleted) >= 890  # six attempts an id: hardly any should fail
    assert server.stats.faults["error_5xx"] > 0
