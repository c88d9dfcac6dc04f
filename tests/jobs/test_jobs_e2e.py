"""End to end, real processes: one submitter and worker processes on one job, through a
private redis-server, against one rate-limited fake server (served on a thread, so that its
ground truth can be read here)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import redis as sync_redis

from bulkdel.jobs.redis_keys import JobKeys
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, MakeServed, ThreadedServer, check_report_dir, hex_ids, read_lines
from tests.jobs.helpers import JobProcess, job_env, run_job, status_of, wait_for_job
from tests.redis_server import RedisServer

#: the fake server's limit, requests per second
RATE = 40.0
#: the two workers of the outage test
NAMES = ("w1", "w2")


def _worker(name: str, env: dict[str, str], tmp_path: Path, *extra: str) -> JobProcess:
    return JobProcess(
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


def _settled_by(env: dict[str, str], name: str) -> int:
    workers = status_of("e2e", env)["workers"]
    assert isinstance(workers, dict)
    return int(workers.get(name, {}).get("batches", 0))


def _submit(tmp_path: Path, env: dict[str, str], count: int) -> JobProcess:
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(hex_ids(count)) + "\n")
    args = ["submit", str(source), "--job", "e2e", "--max-open", "60"]
    return JobProcess(args, env, tmp_path / "submit.log")


def _report(tmp_path: Path, env: dict[str, str]) -> dict[str, object]:
    report_dir = tmp_path / "report"
    done = run_job(["report", "e2e", "--report-dir", str(report_dir), "--json"], env)
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
        env = job_env(redis_server.url, server.url)
        submitter = _submit(tmp_path, env, 24_000)
        wait_for_job("e2e", env)
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


def _until_both_settled(redis: RedisServer, workers: list[JobProcess], batches: int) -> None:
    """Until each worker has settled ``batches`` batches (or one has ended: the job done)."""
    client = sync_redis.Redis.from_url(redis.url)
    workers_key = JobKeys.of("e2e").workers
    deadline = time.monotonic() + 60
    try:
        while any(int(client.hget(workers_key, f"{n}|batches") or 0) < batches for n in NAMES):
            if any(w.process.poll() is not None for w in workers):
                return
            assert time.monotonic() < deadline, "the workers were not both at work in time"
            time.sleep(0.01)
    finally:
        client.close()


def test_redis_down_for_seconds_with_persistence(
    persistent_redis_server: RedisServer, tmp_path: Path, make_served: MakeServed
) -> None:
    """Redis stopped for two seconds mid-run and started again (appendonly yes): the
    workers wait, reconnect and finish; the report still equals the ground truth."""
    redis = persistent_redis_server
    server = make_served(rate=100).server
    env = job_env(redis.url, server.url)
    submitter = _submit(tmp_path, env, 8_000)
    wait_for_job("e2e", env)
    workers = [_worker(n, env, tmp_path, "--rate", "15") for n in NAMES]
    # Both at work before Redis stops: a worker still starting (a loaded host) would meet the
    # outage at its start-up check, which ends it at once (exit 3) by design. Read in Redis
    # itself: on a loaded host a `job status` subprocess can take longer than the whole job.
    _until_both_settled(redis, workers, 2)
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
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """The job is gone: workers exit 3 with an error that says why, never 'finished'."""
    server = served.server
    env = job_env(redis_server.url, server.url)
    submitter = _submit(tmp_path, env, 6_000)
    wait_for_job("e2e", env)
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
    status = run_job(["status", "e2e"], env)
    assert status.returncode == 3 and "restarted without persistence" in status.stderr


def test_sigterm_stops_a_worker_and_another_finishes(
    redis_server: RedisServer, tmp_path: Path, make_served: MakeServed
) -> None:
    """A worker stopped by SIGTERM exits 1 after its requests in flight settle; it gives
    back what it had not sent, so another worker takes it over at once (not after its
    60 s visibility timeout), and the job completes."""
    server = make_served(rate=100).server
    env = job_env(redis_server.url, server.url)
    assert _submit(tmp_path, env, 3_000).finish()[0] == 0
    # Slow enough (30 batches at 2/s, 2 at once) that the batches it has begun when the
    # signal comes, which it finishes, can never be the whole job.
    first = _worker("w1", env, tmp_path, "--rate", "2", "--concurrency", "2")
    while _settled_by(env, "w1") < 1:
        time.sleep(0.05)
    first.process.send_signal(signal.SIGTERM)
    code, err = first.finish()
    assert code == 1 and "stopping" in err and "Traceback" not in err, err
    assert not status_of("e2e", env)["finished"]
    second = _worker("w2", env, tmp_path, "--visibility-timeout", "60")
    code, err = second.finish()
    assert code == 0, err
    summary = _report(tmp_path, env)
    assert summary["complete"] and len(server.deleted) == 3_000


def test_submitter_killed_and_submitted_again_resumes(
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """A submitter killed with SIGKILL (here while it waits for room on the stream) and run
    again with the same input resumes: every id is on the stream once and deleted once."""
    server = served.server
    env = job_env(redis_server.url, server.url)
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(hex_ids(5_000)) + "\n")
    args = ["submit", str(source), "--job", "e2e", "--max-open", "10"]
    first = JobProcess(args, env, tmp_path / "submit1.log")
    wait_for_job("e2e", env)
    while int(str(status_of("e2e", env)["open_batches"])) < 10:
        time.sleep(0.05)
    first.kill()
    worker = _worker("w1", env, tmp_path)
    again = JobProcess(args, env, tmp_path / "submit2.log")
    code, err = again.finish()
    assert code == 0 and "resumed after 1,000 input items" in err, err
    assert worker.finish()[0] == 0
    summary = _report(tmp_path, env)
    counts = summary["counts"]
    assert isinstance(counts, dict) and summary["complete"]
    assert counts["read"] == counts["unique"] == counts["deleted"] == 5_000
    assert len(server.deleted) == 5_000
