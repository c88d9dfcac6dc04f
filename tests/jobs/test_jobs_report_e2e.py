"""``job report`` while real workers run: each report is one consistent snapshot, so that
every submitted id is in exactly one bucket and the counts add up."""

from __future__ import annotations

import time
from pathlib import Path

from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, ThreadedServer, hex_ids, write_ids
from tests.jobs.helpers import JobProcess, job_env, report_buckets, run_job
from tests.redis_server import RedisServer

#: ids of the job
COUNT = 12_000


def test_reports_taken_while_workers_run_add_up(redis_server: RedisServer, tmp_path: Path) -> None:
    """Fails before the fix: a report read the counts, the outcomes and the open batches
    one after another, while settles moved ids between them (ids in no bucket, or twice)."""
    fake = FakeImageKit(KEY, rate=200, faults=Faults(latency=0.02))
    with ThreadedServer(fake) as server:
        env = job_env(redis_server.url, server.url)
        submitted = hex_ids(COUNT)
        source = write_ids(tmp_path / "ids.txt", submitted)
        assert run_job(["submit", str(source), "--job", "r"], env).returncode == 0
        workers = [
            JobProcess(
                ["worker", "--job", "r", "--name", name, "--allow-insecure-http", "--rate", "10"],
                env,
                tmp_path / f"{name}.log",
            )
            for name in ("w1", "w2")
        ]
        # The workers' cap (2 x 10 requests/s for 120 batches) makes the job last 6 s at
        # least: the reports are taken while it runs.
        for n in range(6):
            buckets = report_buckets("r", env, tmp_path / f"report{n}")
            every = [i for ids in buckets.values() for i in ids]
            assert sorted(every) == submitted, f"report {n}: {len(every)} ids in buckets"
            assert set(buckets["deleted"]) <= server.deleted
            time.sleep(0.05)
        for worker in workers:
            code, err = worker.finish()
            assert code == 0, err
        assert set(report_buckets("r", env, tmp_path / "final")["deleted"]) == server.deleted
