"""End to end, real processes: one submitter and worker processes on one job, through a
private redis-server, against one rate-limited fake server (served on a thread, so that its
ground truth can be read here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, ThreadedServer, check_report_dir, hex_ids, read_lines
from tests.redis_server import RedisServer

#: the fake server's limit, requests per second
RATE = 40.0


def _env(redis: RedisServer, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "IMAGEKIT_PRIVATE_KEY": KEY,
        "BULKDEL_REDIS_URL": redis.url,
        "IMAGE_KIT_BASE_URL": url,
    }


class _Job:
    """``python -m bulkdel job ARGS`` in the background, its stderr in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bulkdel", "job", *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for it to exit: its exit code and stderr."""
        code = self.process.wait(timeout=timeout)
        return code, self.log.read_text()

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def _worker(name: str, env: dict[str, str], tmp_path: Path, *extra: str) -> _Job:
    return _Job(
        [
            "worker",
            "--job",
            "e2e",
            "--name",
            name,
            "--allow-insecure-http",
            "--visibility-timeout",
            "2",
            *extra,
        ],
        env,
        tmp_path / f"{name}.log",
    )


def _status(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "bulkdel", "job", "status", "e2e", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def _settled_by(env: dict[str, str], name: str) -> int:
    workers = _status(env)["workers"]
    assert isinstance(workers, dict)
    return int(workers.get(name, {}).get("batches", 0))


def _submit(tmp_path: Path, env: dict[str, str], count: int) -> _Job:
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(hex_ids(count)) + "\n")
    args = ["submit", str(source), "--job", "e2e", "--max-open", "60"]
    return _Job(args, env, tmp_path / "submit.log")


def _report(tmp_path: Path, env: dict[str, str]) -> dict[str, object]:
    report_dir = tmp_path / "report"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bulkdel",
            "job",
            "report",
            "e2e",
            "--report-dir",
            str(report_dir),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return check_report_dir(report_dir)


def test_three_workers_one_killed(redis_server: RedisServer, tmp_path: Path) -> None:
    """Kill -9 one of three workers mid-run: nothing is lost, nothing is counted deleted
    twice, the report equals the server's ground truth. (The share of the limit the workers
    hold and their 429 share are measurements, not assertions: ``python -m
    benchmarks.jobs_scenarios`` reports them.)"""
    # Answers take 50 ms, so the killed worker most likely dies with requests in flight.
    fake = FakeImageKit(KEY, rate=RATE, faults=Faults(latency=0.05))
    with ThreadedServer(fake) as server:
        env = _env(redis_server, server.url)
        submitter = _submit(tmp_path, env, 24_000)
        _wait_for_job(env)
        # The account's pace set to the limit (--account-rate), shared through Redis.
        pace = ["--account-rate", str(RATE)]
        workers = {n: _worker(n, env, tmp_path, *pace) for n in ("w1", "w2", "w3")}
        while _settled_by(env, "w1") < 3:
            time.sleep(0.05)
        workers["w1"].kill()
        for name in ("w2", "w3"):
            code, err = workers[name].finish()
            assert code == 0, err
        assert submitter.finish()[0] == 0
        summary = _report(tmp_path, env)
        report_dir = tmp_path / "report"
        deleted = read_lines(report_dir / "deleted.txt")
        after_retry = set(read_lines(report_dir / "missing_after_retry.txt"))
        counts = summary["counts"]
        assert isinstance(counts, dict) and summary["complete"]
        assert len(deleted) == len(set(deleted)) == counts["deleted"]
        # Every id existed once: it was deleted, by a request whose answer was either
        # recorded (deleted) or lost with the killed worker (then re-sent: a 404 after retry).
        assert server.deleted == set(deleted) | after_retry
        assert set(deleted).isdisjoint(after_retry)
        assert counts["missing"] == len(after_retry) and counts["failed"] == 0
        assert len(server.deleted) == 24_000
        job = json.loads((report_dir / "summary.json").read_text())["job"]
        assert job["live_counts_agree"]


def _wait_for_job(env: dict[str, str]) -> None:
    """Until the submitter has created the job (a worker on a job not in Redis stops)."""
    while True:
        done = subprocess.run(
            [sys.executable, "-m", "bulkdel", "job", "status", "e2e"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return
        time.sleep(0.05)


def test_redis_down_for_seconds_with_persistence(
    persistent_redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis stopped for two seconds mid-run and started again (appendonly yes): the
    workers wait, reconnect and finish; the report still equals the ground truth."""
    redis = persistent_redis_server
    with ThreadedServer(FakeImageKit(KEY, rate=100)) as server:
        env = _env(redis, server.url)
        submitter = _submit(tmp_path, env, 8_000)
        _wait_for_job(env)
        workers = [_worker(n, env, tmp_path, "--rate", "15") for n in ("w1", "w2")]
        while _settled_by(env, "w1") + _settled_by(env, "w2") < 4:
            time.sleep(0.1)
        redis.stop()
        time.sleep(2)
        redis.start()
        for worker in workers:
            code, err = worker.finish()
            assert code == 0, err
        assert submitter.finish()[0] == 0
        summary = _report(tmp_path, env)
        report_dir = tmp_path / "report"
        deleted = read_lines(report_dir / "deleted.txt")
        after_retry = set(read_lines(report_dir / "missing_after_retry.txt"))
        assert summary["complete"] and len(deleted) == len(set(deleted))
        assert server.deleted == set(deleted) | after_retry
        assert len(server.deleted) == 8_000


def test_redis_restarted_without_persistence_stops_workers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The job is gone: workers exit 3 with an error that says why, never 'finished'."""
    with ThreadedServer(FakeImageKit(KEY)) as server:
        env = _env(redis_server, server.url)
        submitter = _submit(tmp_path, env, 6_000)
        _wait_for_job(env)
        # 60 batches at 2 x 2/s: far from done whatever the status polls' lag on a busy host
        workers = [_worker(n, env, tmp_path, "--rate", "2") for n in ("w1", "w2")]
        while _settled_by(env, "w1") + _settled_by(env, "w2") < 2:
            time.sleep(0.1)
        assert submitter.finish()[0] == 0
        redis_server.stop()
        redis_server.start()
        for worker in workers:
            code, err = worker.finish()
            assert code == 3, err
            assert "not in Redis" in err and "appendonly yes" in err
            assert "job finished" not in err
        status = subprocess.run(
            [sys.executable, "-m", "bulkdel", "job", "status", "e2e"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert status.returncode == 3 and "restarted without persistence" in status.stderr


def test_sigterm_stops_a_worker_and_another_finishes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A worker stopped by SIGTERM exits 1 after its requests in flight settle; it gives
    back what it had not sent, so another worker takes it over at once (not after its
    60 s visibility timeout), and the job completes."""
    with ThreadedServer(FakeImageKit(KEY, rate=100)) as server:
        env = _env(redis_server, server.url)
        assert _submit(tmp_path, env, 3_000).finish()[0] == 0
        # Slow enough (30 batches at 2/s, 2 at once) that the batches it has begun when the
        # signal comes, which it finishes, can never be the whole job.
        first = _worker("w1", env, tmp_path, "--rate", "2", "--concurrency", "2")
        while _settled_by(env, "w1") < 1:
            time.sleep(0.05)
        first.process.send_signal(signal.SIGTERM)
        code, err = first.finish()
        assert code == 1 and "stopping" in err and "Traceback" not in err, err
        assert not _status(env)["finished"]
        second = _worker("w2", env, tmp_path, "--visibility-timeout", "60")
        code, err = second.finish()
        assert code == 0, err
        summary = _report(tmp_path, env)
        assert summary["complete"] and len(server.deleted) == 3_000


def test_submitter_killed_and_submitted_again_resumes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A submitter killed with SIGKILL (here while it waits for room on the stream) and run
    again with the same input resumes: every id is on the stream once and deleted once."""
    with ThreadedServer(FakeImageKit(KEY)) as server:
        env = _env(redis_server, server.url)
        source = tmp_path / "ids.txt"
        source.write_text("\n".join(hex_ids(5_000)) + "\n")
        args = ["submit", str(source), "--job", "e2e", "--max-open", "10"]
        first = _Job(args, env, tmp_path / "submit1.log")
        _wait_for_job(env)
        while int(str(_status(env)["open_batches"])) < 10:
            time.sleep(0.05)
        first.kill()
        worker = _worker("w1", env, tmp_path)
        again = _Job(args, env, tmp_path / "submit2.log")
        code, err = again.finish()
        assert code == 0 and "resumed after 1,000 input items" in err, err
        assert worker.finish()[0] == 0
        summary = _report(tmp_path, env)
        counts = summary["counts"]
        assert isinstance(counts, dict) and summary["complete"]
        assert counts["read"] == counts["unique"] == counts["deleted"] == 5_000
        assert len(server.deleted) == 5_000
