"""Redis restarted from an older snapshot mid-job (SAVE, SIGKILL, start again on the old
dump): the submitter finds its committed position gone back and re-submits from what Redis
holds; settles of batches Redis forgot still record their outcome; the report puts every id
the server deleted in a bucket and is complete only when every id is in one. Restarted so
after the submitter had finished: workers, ``job status`` and ``job report`` say to run the
same submit again, and that run recovers the job."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import redis as sync_redis

from bulkdel.jobs.redis_keys import JobKeys
from tests.helpers import MakeServed, hex_ids, write_ids
from tests.jobs.helpers import (
    JobProcess,
    job_env,
    report_buckets,
    run_job,
    status_of,
    wait_for_job,
)
from tests.redis_server import RedisServer

COUNT = 30_000
#: slow enough (2 x 8 batches/s; the submitter stays within --max-open of them) that the
#: submitter is still reading when Redis goes back (a rollback after a finished submit is
#: the next test's)
_PACE = ("--rate", "8", "--visibility-timeout", "2")


def _read(env: dict[str, str], job: str = "b") -> int:
    return int(status_of(job, env)["counts"]["read"])


def _read_now(client: sync_redis.Redis, job: str = "b") -> int:
    """The job's read count, straight from Redis: a ``job status`` subprocess can take
    seconds on a loaded host, long enough for the whole job to finish between two looks."""
    return int(client.hget(JobKeys.of(job).counts, "read") or 0)


def test_redis_restored_from_an_older_snapshot(
    redis_server: RedisServer, tmp_path: Path, make_served: MakeServed
) -> None:
    """Fails before the fix: the submitter went on from its own position, so the batches
    committed after the snapshot were lost from Redis (read < 30,000, 'submit complete'),
    and ids the server deleted were in no bucket."""
    server = make_served(rate=400).server
    env = job_env(redis_server.url, server.url)
    source = write_ids(tmp_path / "ids.txt", hex_ids(COUNT))
    submit = JobProcess(
        ["submit", str(source), "--job", "b", "--max-open", "20"], env, tmp_path / "s.log"
    )
    wait_for_job("b", env)
    workers = [
        JobProcess(
            ["worker", "--job", "b", "--name", name, "--allow-insecure-http", *_PACE],
            env,
            tmp_path / f"{name}.log",
        )
        for name in ("w1", "w2")
    ]
    client = sync_redis.Redis.from_url(redis_server.url)
    _until(lambda: _read_now(client) >= 5_000)
    client.save()  # the older snapshot: dump.rdb
    snapshot = _read_now(client)
    _until(lambda: _read_now(client) >= snapshot + 5_000)
    # Held still from this look to the restart, so that the submit is mid-input when Redis
    # goes back: on a loaded host it could otherwise finish between the look and the kill.
    submit.process.send_signal(signal.SIGSTOP)
    try:
        assert client.hget(JobKeys.of("b").meta, "state") == b"submitting"
        client.close()
        redis_server.kill()
        redis_server.start()  # loads the older dump.rdb
        client = sync_redis.Redis.from_url(redis_server.url)
        # looked at before the submit goes on: it re-submits what Redis forgot at once
        assert _read_now(client) < snapshot + 5_000
    finally:
        client.close()
        submit.process.send_signal(signal.SIGCONT)
    code, err = submit.finish(timeout=120)
    assert code == 0 and "submit complete" in err, err
    for worker in workers:
        code, err = worker.finish(timeout=120)
        assert code == 0, err
    buckets = report_buckets("b", env, tmp_path / "report")
    every = [i for ids in buckets.values() for i in ids]
    assert sorted(every) == hex_ids(COUNT)
    assert server.deleted == set(buckets["deleted"]) | set(buckets["missing"])
    assert server.deleted == set(hex_ids(COUNT))
    assert status_of("b", env)["finished"]


def _until(done: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.2)


def test_redis_restored_after_the_submit_finished(
    redis_server: RedisServer, tmp_path: Path, make_served: MakeServed
) -> None:
    """Fails before the fix: the job went back to 'submitting' with no submitter and waited
    for good; nothing said why nor what to do (its report incomplete, without a word)."""
    every = hex_ids(3_000)
    server = make_served(existing=every).server
    env = job_env(redis_server.url, server.url)
    source = write_ids(tmp_path / "ids.txt", every)
    args = ["submit", str(source), "--job", "a", "--max-open", "10"]
    submit = JobProcess(args, env, tmp_path / "s.log")
    wait_for_job("a", env)
    # No worker yet: the submitter waits at 10 open batches; Redis saves that state.
    _until(lambda: _read(env, "a") >= 1_000)
    client = sync_redis.Redis.from_url(redis_server.url)
    client.save()
    client.close()
    worker_args = ["worker", "--job", "a", "--allow-insecure-http"]
    first = JobProcess([*worker_args, "--name", "w1"], env, tmp_path / "w1.log")
    code, err = submit.finish(timeout=120)
    assert code == 0 and "submit complete" in err, err
    code, err = first.finish(timeout=120)
    assert code == 0, err
    assert server.deleted == set(every)
    redis_server.kill()
    redis_server.start()  # back to 'submitting' at item 1,000: no submitter will come
    assert status_of("a", env)["state"] == "submitting"
    again = f"run `bulkdel job submit {source} --job a` again"
    second = JobProcess([*worker_args, "--name", "w2"], env, tmp_path / "w2.log")
    _until(lambda: again in second.log.read_text())
    assert again in run_job(["status", "a"], env).stderr
    report = run_job(["report", "a", "--report-dir", str(tmp_path / "mid")], env)
    assert report.returncode == 1 and again in report.stderr
    resubmit = run_job(args, env)
    assert resubmit.returncode == 0 and "resumed after 1,000" in resubmit.stderr
    code, err = second.finish(timeout=120)
    assert code == 0, err
    buckets = report_buckets("a", env, tmp_path / "report")
    assert sorted(i for ids in buckets.values() for i in ids) == every
    assert set(buckets["deleted"]) | set(buckets["missing"]) == set(every)
    assert status_of("a", env)["finished"]
    assert again not in run_job(["status", "a"], env).stderr
