"""``job cancel`` against real worker processes, a real redis-server and a fake server that
knows what it deleted: no batch is taken after the cancel returned."""

from __future__ import annotations

import time
from pathlib import Path

import redis as sync_redis

from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, ThreadedServer, hex_ids, write_ids
from tests.jobs.helpers import JobProcess, job_env, report_buckets, run_job, status_of
from tests.redis_server import RedisServer


def _worker(job: str, name: str, env: dict[str, str], tmp_path: Path) -> JobProcess:
    # A 60 s visibility timeout: a heartbeat every 15 s, so a worker that learns of a cancel
    # only from its heartbeat would go on taking for the whole test. 5 requests/s a worker:
    # the job lasts 20 s, so a busy host's slow status polls cannot let it end before the
    # cancel (at 20/s it had, once: the cancel then found it finished).
    args = ["worker", "--job", job, "--name", name, "--allow-insecure-http"]
    args += ["--visibility-timeout", "60", "--rate", "5"]
    return JobProcess(args, env, tmp_path / f"{name}.log")


def _submitted(job: str, count: int, env: dict[str, str], tmp_path: Path) -> None:
    source = write_ids(tmp_path / f"{job}.txt", hex_ids(count))
    done = run_job(["submit", str(source), "--job", job], env)
    assert done.returncode == 0, done.stderr


def test_a_worker_started_after_the_cancel_takes_nothing(
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """Fails before the fix: the worker read the state and went on to take every batch."""
    server = served.server
    env = job_env(redis_server.url, server.url)
    _submitted("late", 3_000, env, tmp_path)
    assert run_job(["cancel", "late"], env).returncode == 0
    code, err = _worker("late", "w1", env, tmp_path).finish()
    assert code == 1, err
    assert "cancelled" in err and "Traceback" not in err
    assert server.deleted == set()


def test_running_workers_take_nothing_after_the_cancel(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Fails before the fix: running workers took new batches until their next heartbeat.

    What the server deletes after the cancel returned is bounded by what the workers held
    then: every id it ever deletes is in a batch settled or pending (held) at a moment
    after the cancel (one MULTI reads both)."""
    fake = FakeImageKit(KEY, rate=100, faults=Faults(latency=0.05))
    with ThreadedServer(fake) as server:
        env = job_env(redis_server.url, server.url)
        _submitted("run", 20_000, env, tmp_path)
        workers = [_worker("run", name, env, tmp_path) for name in ("w1", "w2")]
        try:
            _cancel_while_running(redis_server, server, env, workers, tmp_path)
        finally:
            for worker in workers:
                worker.kill()  # a failed assertion must not leave them running


def _cancel_while_running(
    redis_server: RedisServer,
    server: ThreadedServer,
    env: dict[str, str],
    workers: list[JobProcess],
    tmp_path: Path,
) -> None:
    while sum(w.get("batches", 0) for w in status_of("run", env)["workers"].values()) < 3:
        time.sleep(0.05)
    assert run_job(["cancel", "run"], env).returncode == 0
    keys = JobKeys.of("run")
    client = sync_redis.Redis.from_url(redis_server.url, decode_responses=True)
    with client.pipeline(transaction=True) as pipe:
        pipe.hmget(keys.counts, ["deleted", "missing", "failed"])
        pipe.xpending(keys.batches, GROUP)
        settled, pending = pipe.execute()
    client.close()
    bound = sum(int(n or 0) for n in settled) + 100 * int(pending["pending"])
    # a report while they finish: every submitted id in one bucket
    buckets = report_buckets("run", env, tmp_path / "report")
    assert sorted(i for ids in buckets.values() for i in ids) == hex_ids(20_000)
    for worker in workers:
        code, err = worker.finish()
        assert code == 1 and "job cancelled" in err, err
    assert len(server.deleted) <= bound, (len(server.deleted), bound)
    assert len(server.deleted) < 20_000
