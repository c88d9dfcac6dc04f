"""Redis restarted from an older snapshot mid-job (SAVE, SIGKILL, start again on the old
dump): the submitter finds its committed position gone back and re-submits from what Redis
holds; settles of batches Redis forgot still record their outcome; the report puts every id
the server deleted in a bucket and is complete only when every id is in one."""

from __future__ import annotations

import time
from pathlib import Path

import redis as sync_redis

from bulkdel.testing import FakeImageKit
from tests.helpers import KEY, ThreadedServer, hex_ids, write_ids
from tests.jobs_helpers import JobProcess, job_env, report_buckets, status_of, wait_for_job
from tests.redis_server import RedisServer

COUNT = 30_000
#: slow enough (2 x 8 batches/s; the submitter stays within --max-open of them) that the
#: submitter is still reading when Redis goes back: a rollback after a finished submit is
#: not recovered yet (the job would wait in 'submitting' for good)
_PACE = ("--rate", "8", "--visibility-timeout", "2")


def _read(env: dict[str, str]) -> int:
    return int(status_of("b", env)["counts"]["read"])


def test_redis_restored_from_an_older_snapshot(redis_server: RedisServer, tmp_path: Path) -> None:
    """Fails before the fix: the submitter went on from its own position, so the batches
    committed after the snapshot were lost from Redis (read < 30,000, 'submit complete'),
    and ids the server deleted were in no bucket."""
    with ThreadedServer(FakeImageKit(KEY, rate=400)) as server:
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
        while _read(env) < 5_000:
            time.sleep(0.05)
        client = sync_redis.Redis.from_url(redis_server.url)
        client.save()  # the older snapshot: dump.rdb
        client.close()
        snapshot = _read(env)
        while _read(env) < snapshot + 5_000:
            time.sleep(0.05)
        redis_server.kill()
        redis_server.start()  # loads the older dump.rdb
        assert _read(env) < snapshot + 5_000
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
