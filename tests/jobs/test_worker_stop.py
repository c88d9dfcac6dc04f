"""Real processes: a job worker stopped by SIGTERM while 207s are being re-sent finishes the
batches it had begun and gives back whole only those it had not sent, so nothing it deleted
comes back "missing after retry" at the next worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bulkdel.testing import Faults
from tests.helpers import KEY, MakeServed, ThreadedServer, check_report_dir, hex_ids, read_lines
from tests.redis_server import RedisServer

JOB = "stop207"


def _env(redis: RedisServer, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "IMAGEKIT_PRIVATE_KEY": KEY,
        "BULKDEL_REDIS_URL": redis.url,
        "IMAGE_KIT_BASE_URL": url,
    }


def _bulkdel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulkdel", "job", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _worker(env: dict[str, str], name: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("w") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "bulkdel", "job", "worker", "--job", JOB, "--name", name,
             "--allow-insecure-http", "--visibility-timeout", "60", *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )  # fmt: skip


def _settled(env: dict[str, str], name: str) -> int:
    done = _bulkdel(env, "status", "--job", JOB, "--json")
    assert done.returncode == 0, done.stderr
    workers = json.loads(done.stdout)["workers"]
    return int(workers.get(name, {}).get("batches", 0))


def test_sigterm_finishes_begun_batches_and_gives_back_unsent_ones(
    redis_server: RedisServer, tmp_path: Path, make_served: MakeServed
) -> None:
    """With 207 errors that go away on a re-send, a SIGTERM'd worker settles every batch it
    had begun (its 207 re-sends done) and gives back the rest unsent; another worker
    finishes the job; no id the server deleted is "missing after retry", and every id it
    deleted is in deleted.txt (fails before the fix: the stop dropped the queued 207
    re-sends and gave back half-deleted batches)."""
    ids = hex_ids(4_000)
    faults = Faults(seed=7, transient_207=0.05)
    server = make_served(faults=faults).server
    env = _env(redis_server, server.url)
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n")
    done = _bulkdel(env, "submit", str(source), "--job", JOB)
    assert done.returncode == 0, done.stderr
    first = _worker(env, "w1", tmp_path / "w1.log", "--rate", "4", "--concurrency", "4")
    deadline = time.monotonic() + 60
    while _settled(env, "w1") < 1:
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 1, (tmp_path / "w1.log").read_text()
    second = _worker(env, "w2", tmp_path / "w2.log")
    assert second.wait(timeout=120) == 0, (tmp_path / "w2.log").read_text()
    report_dir = tmp_path / "report"
    done = _bulkdel(env, "report", "--job", JOB, "--report-dir", str(report_dir))
    assert done.returncode == 0, done.stderr
    summary = check_report_dir(report_dir)
    deleted = set(read_lines(report_dir / "deleted.txt"))
    assert summary["complete"] and server.stats.by_status[207] > 0
    assert read_lines(report_dir / "missing_after_retry.txt") == []
    assert deleted == server.deleted == set(ids)


def test_redis_restarted_empty_leaves_the_workers_record_on_its_host(
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """Redis restarted without persistence while a worker deletes: the worker exits 3
    naming its record directory, and every id the server deleted is on record there, as
    deleted or as "outcome unknown" for a request cut off (fails before the fix: the worker
    kept no record of its own, and those deletions were on record nowhere)."""
    ids = hex_ids(3_000)
    server = served.server
    env = _env(redis_server, server.url)
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n")
    done = _bulkdel(env, "submit", str(source), "--job", JOB)
    assert done.returncode == 0, done.stderr
    record = tmp_path / "record"
    log = tmp_path / "w1.log"
    worker = _worker(env, "w1", log, "--rate", "5", "--record-dir", str(record))
    deadline = time.monotonic() + 60
    while _settled(env, "w1") < 2:
        assert time.monotonic() < deadline and worker.poll() is None
        time.sleep(0.05)
    redis_server.stop()
    redis_server.start()  # empty: the job is gone
    assert worker.wait(timeout=120) == 3
    err = log.read_text()
    assert "not in Redis" in err and str(record) in err and "Traceback" not in err
    deleted = set(read_lines(record / "deleted.txt"))
    unknown = {
        json.loads(line)["fileId"]
        for line in read_lines(record / "failed.jsonl")
        if "outcome unknown" in line
    }
    assert server.deleted and server.deleted <= deleted | unknown
    assert deleted <= server.deleted
    summary = json.loads((record / "summary.json").read_text())
    assert summary["counts"]["deleted"] == len(deleted)
