"""Real processes: workers that stand before their jobs. A worker named for a job waits for
it; workers with no ``--job`` serve every open job on their Redis and keep running until told
to stop; a kill -9'd worker's batches are taken over within the default visibility timeout."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import redis as sync_redis

from tests.helpers import ThreadedServer, hex_ids
from tests.jobs.helpers import JobProcess, held_by, job_env, report_buckets, run_job, status_of
from tests.redis_server import RedisServer


def _fleet_worker(name: str, env: dict[str, str], tmp_path: Path, *extra: str) -> JobProcess:
    args = ["worker", "--name", name, "--allow-insecure-http", "--record-dir"]
    return JobProcess([*args, str(tmp_path / f"rec-{name}"), *extra], env, tmp_path / f"{name}.log")


def _kill_while_holding(
    worker: JobProcess, name: str, jobs: list[str], redis: RedisServer, fleet: list[JobProcess]
) -> int:
    """SIGKILL ``worker`` at a moment Redis shows it holding batches (in either job: which
    one it turned to first is the scheduler's); returns how many it held. Looked at while
    it is held still, so that it cannot settle them between the look and the kill; read in
    Redis itself, since on a loaded host a ``job status`` subprocess took so long that the
    slow worker had settled all it held by then, and there was nothing left to take over."""
    client = sync_redis.Redis.from_url(redis.url, decode_responses=True)
    deadline = time.monotonic() + 90
    try:
        while True:
            with worker.held_still():
                held = sum(held_by(client, job, name) for job in jobs)
                if held > 0:
                    worker.kill()
                    return held
            for p in fleet:
                assert p.process.poll() is None, p.log.read_text()
            assert time.monotonic() < deadline, f"{name} held no batch in time"
            time.sleep(0.05)
    finally:
        client.close()


def _wait_until(condition: object, processes: list[JobProcess], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        for p in processes:
            assert p.process.poll() is None, p.log.read_text()
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _one_bucket_each(job: str, env: dict[str, str], ids: list[str], report_dir: Path) -> None:
    buckets = report_buckets(job, env, report_dir)
    every = [i for bucket in buckets.values() for i in bucket]
    assert sorted(every) == sorted(ids)  # each id once, in one bucket
    assert set(buckets["deleted"]) == set(ids)


def test_a_named_worker_started_before_its_job_waits_for_it(
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """A worker started before ``job submit`` says once that it waits, then works the job
    and ends with it (fails before the change: it exited 3, "not in Redis")."""
    ids = hex_ids(600)
    server = served.server
    env = job_env(redis_server.url, server.url)
    worker = JobProcess(
        ["worker", "--job", "later", "--allow-insecure-http"], env, tmp_path / "w.log"
    )
    _wait_until(lambda: "waiting" in worker.log.read_text(), [worker])
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n")
    done = run_job(["submit", str(source), "--job", "later"], env)
    assert done.returncode == 0, done.stderr
    code, err = worker.finish(timeout=90)
    assert code == 0, err
    assert err.count("waiting") == 1 and "not in Redis" not in err
    assert server.deleted == set(ids)


def test_a_standing_fleet_serves_jobs_submitted_later_and_takes_over_a_killed_worker(
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """Three workers with no ``--job``, started before any job, serve two jobs submitted
    later; one is killed (-9) while it holds batches, and the others take them over within
    the default visibility timeout: both jobs complete with every id in one bucket, and the
    survivors keep running until SIGTERM, then exit 0 (fails before the change: a worker
    with no --job exited 2)."""
    jobs = {"alpha": hex_ids(6_000), "beta": hex_ids(4_000, start=10_000)}
    server = served.server
    env = job_env(redis_server.url, server.url)
    # w0 is slow: it holds batches it has not sent when it is killed
    fleet = [
        _fleet_worker(f"w{n}", env, tmp_path, "--rate", "1" if n == 0 else "4") for n in range(3)
    ]
    time.sleep(1)  # standing, with no job at all
    for p in fleet:
        assert p.process.poll() is None, p.log.read_text()
    for job, ids in jobs.items():
        source = tmp_path / f"{job}.txt"
        source.write_text("\n".join(ids) + "\n")
        done = run_job(["submit", str(source), "--job", job], env)
        assert done.returncode == 0, done.stderr
    held = _kill_while_holding(fleet[0], "w0", list(jobs), redis_server, fleet)
    survivors = fleet[1:]
    _wait_until(
        lambda: all(status_of(job, env)["finished"] for job in jobs), survivors, timeout=150
    )
    for job, ids in jobs.items():
        _one_bucket_each(job, env, ids, tmp_path / f"report-{job}")
    time.sleep(1)  # no job open: they stand
    for p in survivors:
        assert p.process.poll() is None, p.log.read_text()
        p.process.send_signal(signal.SIGTERM)
    taken_over = 0
    for p in survivors:
        code, err = p.finish(timeout=60)
        assert code == 0, err
        assert "Traceback" not in err
        said = re.search(r"([\d,]+) taken over", err)
        assert said is not None, err
        taken_over += int(said[1].replace(",", ""))
    assert taken_over >= held > 0  # only a takeover can settle what w0 held
    assert server.deleted == set(jobs["alpha"]) | set(jobs["beta"])


def test_exit_when_idle_ends_a_fleet_worker_once_no_job_is_open(
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """``--exit-when-idle``: a worker with no ``--job`` works the open job and exits 0 once
    none is open (fails before the change: exit 2)."""
    ids = hex_ids(500)
    server = served.server
    env = job_env(redis_server.url, server.url)
    source = tmp_path / "ids.txt"
    source.write_text("\n".join(ids) + "\n")
    done = run_job(["submit", str(source), "--job", "only"], env)
    assert done.returncode == 0, done.stderr
    worker = _fleet_worker("w", env, tmp_path, "--exit-when-idle")
    code, err = worker.finish(timeout=90)
    assert code == 0, err
    assert server.deleted == set(ids)
